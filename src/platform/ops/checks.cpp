// Argument checks shared by every backend's kernels: one message per mistake, naming the op, the
// tensor and what was expected.
#include <cmath>

#include "platform/ops/attention.h"
#include "platform/ops/conv.h"
#include "platform/ops/elementwise.h"
#include "platform/ops/mm.h"
#include "platform/ops/norm.h"
#include "platform/ops/rope.h"

namespace x2v {
namespace {

bool is_activation_dtype(DType dtype) {
  return dtype == DType::f32 || dtype == DType::bf16 || dtype == DType::f16;
}

void require_activation_dtype(const char* place, const char* what, const Tensor& tensor) {
  if (!tensor.defined()) throw Error(place, concat(what, " is missing"));
  if (!is_activation_dtype(tensor.dtype()))
    throw Error(place, concat(what, " is ", tensor.describe(), "; expected f32, bf16 or f16"));
}

}  // namespace

void check_attention_arguments(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                               const AttentionCall& call) {
  const char* place = "attention";
  require_activation_dtype(place, "q", q);
  require_activation_dtype(place, "k", k);
  require_activation_dtype(place, "v", v);
  require_activation_dtype(place, "out", out);
  const int rank = q.ndim();
  if (rank != 3 && rank != 4)
    throw Error(place,
                concat("q is ", q.describe(), "; expected [heads, q_len, head_dim] or with a batch dim"));
  if (k.ndim() != rank || v.ndim() != rank || out.ndim() != rank)
    throw Error(place, concat("q ", q.describe(), ", k ", k.describe(), ", v ", v.describe(), ", out ",
                              out.describe(), " differ in rank"));
  if (k.shape() != v.shape())
    throw Error(place, concat("k ", k.describe(), " and v ", v.describe(), " differ"));
  if (out.shape() != q.shape())
    throw Error(place, concat("out ", out.describe(), " must match q ", q.describe()));
  for (int dim = 0; dim < rank - 2; ++dim)
    if (k.size(dim) != q.size(dim))
      throw Error(place, concat("q ", q.describe(), " and k ", k.describe(), " differ in batch/heads"));
  if (k.size(-1) != q.size(-1))
    throw Error(place, concat("q ", q.describe(), " and k ", k.describe(), " differ in head_dim"));
  for (const Tensor* tensor : {&q, &k, &v, &out})
    if (tensor->stride(-1) != 1)
      throw Error(place, concat("the head_dim of ", tensor->describe(), " must be contiguous (stride 1)"));
  const int64_t batch = rank == 4 ? q.size(0) : 1;
  if (!call.key_lengths.empty()) {
    if (static_cast<int64_t>(call.key_lengths.size()) != batch)
      throw Error(place, concat(call.key_lengths.size(), " key lengths for a batch of ", batch));
    for (int64_t length : call.key_lengths)
      if (length < 1 || length > k.size(-2))
        throw Error(place, concat("key length ", length, " is outside 1..", k.size(-2)));
  }
  if (call.bias.defined()) {
    const Tensor& bias = call.bias;
    const Shape expected = {q.size(-3), q.size(-2), k.size(-2)};
    if (bias.dtype() != DType::f32 || bias.shape() != expected)
      throw Error(place, concat("bias is ", bias.describe(), "; expected f32", shape_to_string(expected),
                                " ([heads, q_len, kv_len])"));
    if (!bias.is_contiguous()) throw Error(place, concat("bias ", bias.describe(), " must be contiguous"));
  }
}

void MatmulKernel::check_weights(const Tensor& weight, const Tensor& bias) {
  if (!weight.defined() || weight.ndim() != 2)
    throw Error("mm", concat("weight is ", weight.describe(), "; expected [out_features, in_features]"));
  if (bias.defined() && (bias.ndim() != 1 || bias.size(0) != weight.size(0)))
    throw Error("mm", concat("bias is ", bias.describe(), "; expected [", weight.size(0), "]"));
  out_features_ = weight.size(0);
  in_features_ = weight.size(1);
}

void MatmulKernel::check_call(const Tensor& x, const Tensor& y) const {
  require_activation_dtype("mm", "x", x);
  require_activation_dtype("mm", "y", y);
  if (x.ndim() < 1 || x.size(-1) != in_features_)
    throw Error("mm", concat("input ", x.describe(), " has last dim ", x.ndim() ? x.size(-1) : 0,
                             "; the weight expects ", in_features_));
  if (y.ndim() != x.ndim() || y.size(-1) != out_features_ ||
      y.numel() / out_features_ != x.numel() / in_features_)
    throw Error("mm", concat("output ", y.describe(), " does not fit input ", x.describe(), " and ",
                             out_features_, " out features"));
  if (!x.is_contiguous() || !y.is_contiguous()) throw Error("mm", "input and output must be contiguous");
}

void check_norm_arguments(const char* place, const Tensor& x, const Tensor& out, const Tensor& weight,
                          const Tensor& bias) {
  require_activation_dtype(place, "x", x);
  require_activation_dtype(place, "out", out);
  if (x.ndim() < 1) throw Error(place, "x has no dims");
  if (out.shape() != x.shape())
    throw Error(place, concat("out ", out.describe(), " must match x ", x.describe()));
  if (x.stride(-1) != 1 || out.stride(-1) != 1) throw Error(place, "the last dim must be contiguous");
  for (const Tensor* parameter : {&weight, &bias}) {
    if (!parameter->defined()) continue;
    if (parameter->numel() != x.size(-1))
      throw Error(place,
                  concat("parameter ", parameter->describe(), " does not match last dim ", x.size(-1)));
    if (!parameter->is_contiguous()) throw Error(place, "parameters must be contiguous");
  }
}

void check_rope_arguments(const Tensor& x, const RopeTables& tables, const Tensor& out) {
  require_activation_dtype("rope", "x", x);
  require_activation_dtype("rope", "out", out);
  if (x.ndim() != 3)
    throw Error("rope", concat("x is ", x.describe(), "; expected [tokens, heads, head_dim]"));
  if (x.size(2) % 2 != 0) throw Error("rope", concat("head_dim ", x.size(2), " must be even"));
  const Shape table_shape{x.size(0), x.size(2) / 2};
  for (const Tensor* table : {&tables.cos, &tables.sin}) {
    if (!table->defined() || table->dtype() != DType::f32 || table->shape() != table_shape ||
        !table->is_contiguous())
      throw Error("rope",
                  concat("the cos/sin tables are ", table->defined() ? table->describe() : "missing",
                         "; expected contiguous f32", shape_to_string(table_shape), " for x ", x.describe()));
    if (table->device() != x.device() && !(table->is_host_accessible() && x.is_host_accessible()))
      throw Error("rope", "the cos/sin tables live on another device than x; build them on x's device");
  }
  if (out.shape() != x.shape())
    throw Error("rope", concat("out ", out.describe(), " must match x ", x.describe()));
  if (x.stride(-1) != 1 || out.stride(-1) != 1) throw Error("rope", "head_dim must be contiguous");
}

void ConvKernel::check_and_store(const Tensor& weight, const Tensor& bias, const ConvOptions& options) {
  const int dims = options.spatial_dims;
  if (dims != 2 && dims != 3) throw Error("conv", concat("spatial_dims is ", dims, "; expected 2 or 3"));
  if (!weight.defined() || weight.ndim() != dims + 2)
    throw Error("conv", concat("weight is ", weight.describe(), "; expected ", dims + 2, " dims"));
  if (bias.defined() && (bias.ndim() != 1 || bias.size(0) != weight.size(0)))
    throw Error("conv", concat("bias is ", bias.describe(), "; expected [", weight.size(0), "]"));
  ConvOptions filled = options;
  auto fill = [&](std::vector<int64_t>& values, int64_t default_value, const char* what) {
    if (values.empty()) values.assign(dims, default_value);
    if (static_cast<int>(values.size()) != dims)
      throw Error("conv", concat(what, " has ", values.size(), " entries; expected ", dims));
  };
  fill(filled.stride, 1, "stride");
  fill(filled.pad_begin, 0, "pad_begin");
  fill(filled.pad_end, 0, "pad_end");
  fill(filled.dilation, 1, "dilation");
  weight_ = weight;
  weight_shape_ = weight.shape();
  bias_ = bias;
  options_ = filled;
}

Shape ConvKernel::output_shape(const Shape& input_shape) const {
  const int dims = options_.spatial_dims;
  const int rank = static_cast<int>(input_shape.size());
  if (rank != dims + 1 && rank != dims + 2)
    throw Error("conv", concat("input ", shape_to_string(input_shape), " must have ", dims + 1, " or ",
                               dims + 2, " dims"));
  const int channel_dim = rank - dims - 1;
  if (input_shape[channel_dim] != weight_shape_.at(1))
    throw Error("conv", concat("input ", shape_to_string(input_shape), " has ", input_shape[channel_dim],
                               " channels; the weight expects ", weight_shape_.at(1)));
  Shape output = input_shape;
  output[channel_dim] = weight_shape_.at(0);
  for (int i = 0; i < dims; ++i) {
    const int64_t extent = input_shape[channel_dim + 1 + i] + options_.pad_begin[i] + options_.pad_end[i];
    const int64_t kernel = (weight_shape_.at(2 + i) - 1) * options_.dilation[i] + 1;
    if (extent < kernel)
      throw Error("conv", concat("input ", shape_to_string(input_shape), " is smaller than the kernel"));
    output[channel_dim + 1 + i] = (extent - kernel) / options_.stride[i] + 1;
  }
  return output;
}

void check_broadcast_operand(const char* op, const Tensor& target, const Tensor& operand) {
  require_activation_dtype(op, "operand", operand);
  const int offset = target.ndim() - operand.ndim();
  bool fits = offset >= 0;
  for (int i = 0; fits && i < operand.ndim(); ++i) fits = operand.size(i) == target.size(offset + i);
  if (!fits)
    throw Error(op, concat("operand ", operand.describe(), " does not broadcast over ", target.describe(),
                           " (its shape must be a suffix)"));
  if (!operand.is_contiguous())
    throw Error(op, concat("operand ", operand.describe(), " must be contiguous"));
}

}  // namespace x2v
