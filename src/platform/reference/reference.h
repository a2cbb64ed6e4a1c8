#pragma once
// Portable reference implementations: plain loops over host tensors with fp64 accumulation. They define
// what every backend's kernels must compute (the conformance suite compares against them) and are
// registered on cpu under the name "torch", LightX2V's name for its portable path.
#include <string>
#include <vector>

#include "platform/ops/attention.h"
#include "platform/ops/conv.h"
#include "platform/ops/elementwise.h"
#include "platform/ops/norm.h"
#include "platform/ops/rope.h"

namespace x2v::reference {

// All outputs are written into `out` (any floating dtype, host memory, any strides where noted).
// `scale` 0: 1/sqrt(head_dim).
void attention(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out, float scale,
               const AttentionCall& call);
void mm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& y);
void rms_norm(const Tensor& x, const Tensor& weight, float eps, Tensor& out);
void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps, Tensor& out);
void rope(const Tensor& x, const RopeTables& tables, Tensor& out);
// `options` must have every per-dim vector filled.
void conv(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvOptions& options, Tensor& out);
// One of elementwise_op_names(), with the op's inputs and params (see platform/ops/elementwise.h).
void elementwise(const std::string& op, const std::vector<Tensor>& inputs, const std::vector<float>& params,
                 Tensor& out);

}  // namespace x2v::reference
