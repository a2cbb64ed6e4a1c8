#include "platform/collectives.h"

#include "core/error.h"
#include "platform/ops.h"
#include "platform/platform.h"

namespace x2v::collectives {
namespace {

// A contiguous host tensor holding `tensor`'s values (the tensor itself when it already is one).
Tensor host_contiguous(const Tensor& tensor) {
  if (tensor.is_host_accessible()) return ops::contiguous(tensor);
  return ops::to_device(ops::contiguous(tensor), host_device());
}

Tensor on_device_of(const Tensor& host, const Tensor& like) {
  Device* device = like.device();
  if (device == nullptr || like.is_host_accessible()) return host;
  return ops::to_device(host, *device);
}

}  // namespace

Tensor all_to_all(Communicator& group, const Tensor& send) {
  const int ranks = group.size();
  if (send.ndim() < 1 || send.size(0) % ranks != 0)
    throw InternalError("collectives", concat("all_to_all of ", send.describe(), " over ", ranks, " ranks"));
  const Tensor source = host_contiguous(send);
  Tensor received = Tensor::host(send.shape(), send.dtype());
  group.all_to_all(source.raw_data(), received.raw_data(), send.nbytes() / static_cast<size_t>(ranks));
  return on_device_of(received, send);
}

std::vector<Tensor> all_gather(Communicator& group, const Tensor& local, const std::vector<Shape>& shapes) {
  if (static_cast<int>(shapes.size()) != group.size() || shapes[group.rank()] != local.shape())
    throw InternalError("collectives", concat("all_gather of ", local.describe(), " with ", shapes.size(),
                                              " shapes over ", group.size(), " ranks"));
  const Tensor source = host_contiguous(local);
  std::vector<size_t> counts;
  Shape total_shape{0};
  for (const Shape& shape : shapes) {
    counts.push_back(static_cast<size_t>(shape_numel(shape)) * local.element_size());
    total_shape[0] += shape_numel(shape);
  }
  Tensor gathered = Tensor::host(total_shape, local.dtype());
  group.all_gather(source.raw_data(), gathered.raw_data(), counts);
  std::vector<Tensor> parts;
  int64_t offset = 0;
  for (const Shape& shape : shapes) {
    const int64_t count = shape_numel(shape);
    parts.push_back(on_device_of(gathered.slice(0, offset, offset + count).reshape(shape), local));
    offset += count;
  }
  return parts;
}

void broadcast(Communicator& group, Tensor& tensor, int root) {
  if (group.size() == 1) return;
  Tensor host = host_contiguous(tensor);
  group.broadcast(host.raw_data(), host.nbytes(), root);
  if (group.rank() != root) ops::copy(on_device_of(host, tensor), tensor);
}

Tensor send_receive(Communicator& group, const Tensor& send, int destination, const Shape& receive_shape,
                    int source, int tag) {
  const Tensor outgoing = destination >= 0 ? host_contiguous(send) : Tensor();
  Tensor incoming = source >= 0 ? Tensor::host(receive_shape, send.dtype()) : Tensor();
  group.send_receive(outgoing.defined() ? outgoing.raw_data() : nullptr,
                     outgoing.defined() ? outgoing.nbytes() : 0, destination,
                     incoming.defined() ? incoming.raw_data() : nullptr,
                     incoming.defined() ? incoming.nbytes() : 0, source, tag);
  return incoming.defined() ? on_device_of(incoming, send) : Tensor();
}

}  // namespace x2v::collectives
