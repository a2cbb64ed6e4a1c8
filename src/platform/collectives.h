#pragma once
// Communicator calls on tensors of any device: a device whose memory the host cannot read is staged through
// host copies; results come back on the tensor's device, in its dtype.
#include <vector>

#include "core/tensor.h"
#include "platform/communicator.h"

namespace x2v::collectives {

// `send` [P * n, ...] (P = group size): its rows [i*n, (i+1)*n) go to rank i. Returns the rows every rank
// sent this one, in rank order, in send's shape.
Tensor all_to_all(Communicator& group, const Tensor& send);
// Every rank's tensor, in rank order; `shapes[i]` is rank i's shape (the same dtype everywhere).
std::vector<Tensor> all_gather(Communicator& group, const Tensor& local, const std::vector<Shape>& shapes);
// Rank `root`'s tensor on every rank (`tensor` is overwritten elsewhere; same shape and dtype everywhere).
void broadcast(Communicator& group, Tensor& tensor, int root);
// Sends `send` to `destination` (negative: nobody) while receiving a `receive_shape` tensor from `source`
// (negative: nobody, and the result is undefined). Same dtype on both sides.
Tensor send_receive(Communicator& group, const Tensor& send, int destination, const Shape& receive_shape,
                    int source, int tag);

}  // namespace x2v::collectives
