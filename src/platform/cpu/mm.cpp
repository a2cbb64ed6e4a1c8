// The cpu matmul-with-weight kernel on oneDNN: y = x W^T + b with fp32 accumulation.
//
// W [out, in] row-major is oneDNN's K x N weights matrix in format "ba", so no transpose is ever needed.
// f32 weights are reordered once at load into the layout the matmul asks for (format any) when that is
// a blocked (packed) layout, as brgemm picks on AVX-512 machines; here (AVX2, gemm:jit) it asks for plain
// "ab", a mere transpose that gains nothing, so the caller's tensor is used as it is and nothing is copied.
//
// bf16 and f16 weights: oneDNN 2.6 implements bf16/f16 matmul only for AVX-512 (bf16 also for AMX);
// on this AVX2 machine creating the primitive fails with "unimplemented" (checked with DNNL_VERBOSE=1),
// and there is no slow reference fallback either. So the weight stays in its 2-byte dtype and each call
// widens all of it into an f32 scratch buffer (a shift per element, memory-bound, parallel) and runs the
// f32 matmul, which is the fastest matmul oneDNN has here. Measured on 2 Zen3 cores at the Wan2.1 DiT
// shapes: 0.90-1.0 of the f32 matmul itself. Alternatives measured and rejected: widening column
// panels that stay in cache (0.7-0.95: gemm:jit then repacks x for every panel), and widening to f32 at
// load (1.0, but twice the weight memory: the 5.7B-parameter T5 encoder would take 23 GB instead of 11.4).
//
// Activations of any dtype are converted to/from f32 around the primitive; primitives are cached per
// row count M so repeated calls of one shape only execute.
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/log.h"
#include "platform/cpu/cpu_device.h"
#include "platform/cpu/onednn_context.h"
#include "platform/platform.h"

namespace x2v {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

// Row count the preferred weight layout is queried with at load (layouts depend on K and N, not on M).
constexpr int64_t kLayoutQueryRows = 1024;
// Distinct row counts kept compiled per kernel; past this the cache restarts (text lengths vary).
constexpr size_t kMaxCachedRowCounts = 64;

// True for a dense row-major-like layout without inner blocks (a permutation of dims, nothing packed).
bool is_plain(const memory::desc& desc) {
  return desc.data.format_kind == dnnl_blocked && desc.data.format_desc.blocking.inner_nblks == 0;
}

class OnednnMatmul final : public MatmulKernel {
 public:
  void load(const Tensor& weight, const Tensor& bias) override {
    check_weights(weight, bias);
    if (!weight.is_host_accessible())
      throw Error("mm", concat("weight ", weight.describe(), " is not in host memory"));
    if (weight.dtype() != DType::f32 && weight.dtype() != DType::bf16 && weight.dtype() != DType::f16)
      throw Error("mm", concat("onednn_mm takes f32, bf16 or f16 weights, not ", weight.describe(),
                               "; pick a quantized mm kernel (dit_quant_scheme) for quantized weights"));
    std::lock_guard<std::mutex> lock(mutex_);
    primitives_.clear();
    bias_.clear();
    if (bias.defined()) {
      bias_.resize(out_features_);
      const Tensor bias_f32 = bias.to_host(DType::f32);
      std::copy_n(bias_f32.data<float>(), out_features_, bias_.data());
    }
    const Tensor contiguous = weight.is_contiguous() ? weight : weight.to_host(weight.dtype());
    const memory::desc plain_f32({in_features_, out_features_}, memory::data_type::f32, tag::ba);
    if (weight.dtype() != DType::f32) {
      // Widened per call into plain "ba", the layout a streaming conversion writes.
      weights_desc_ = plain_f32;
      weight_ = contiguous;
      log_once(
          LogLevel::debug, "mm",
          concat(dtype_name(weight.dtype()), " weights are kept in ", dtype_name(weight.dtype()),
                 " and widened to f32 for oneDNN's f32 matmul at each call (oneDNN isa ", onednn_isa_name(),
                 ", native ", dtype_name(weight.dtype()), " matmul ",
                 onednn_matmul_is_native(weight.dtype()) ? "available but not used yet" : "not available",
                 ")"));
      return;
    }
    weights_desc_ = onednn_build("mm", "the weight layout query", [&] {
      const memory::desc any({in_features_, out_features_}, memory::data_type::f32, tag::any);
      return make_descriptor(kLayoutQueryRows, any).weights_desc();
    });
    if (is_plain(weights_desc_)) {
      // A plain preferred layout ("ab" from gemm:jit on AVX2) gains nothing over the caller's "ba":
      // gemm packs panels itself, and both measured 150 GFLOP/s here. Borrow the tensor, copy nothing.
      weights_desc_ = plain_f32;
      weight_ = contiguous;
      return;
    }
    weight_ = empty({static_cast<int64_t>(weights_desc_.get_size())}, DType::u8, cpu_device());
    memory user(plain_f32, onednn_engine(), contiguous.raw_data());
    memory packed(weights_desc_, onednn_engine(), weight_.raw_data());
    onednn_build("mm", "the weight reorder", [&] {
      return dnnl::reorder(user, packed);
    }).execute(onednn_stream(), user, packed);
    onednn_stream().wait();
  }

  void apply(const Tensor& x, Tensor& y) override {
    if (in_features_ == 0) throw Error("mm", "apply called before load");
    check_call(x, y);
    if (!x.is_host_accessible() || !y.is_host_accessible())
      throw Error("mm", "onednn_mm works on host memory; move the tensors to the cpu device first");
    const int64_t rows = x.numel() / in_features_;
    if (rows == 0) return;
    const Compiled compiled = compiled_for(rows);  // a copy (shared handles): the cache may be pruned

    // Weights: the packed copy, or the 2-byte weight widened now.
    Tensor weight_scratch;
    void* weight_data = weight_.raw_data();
    if (weight_.dtype() == DType::bf16 || weight_.dtype() == DType::f16) {
      weight_scratch = f32_scratch(in_features_ * out_features_);
      convert_to_f32(weight_.raw_data(), weight_.dtype(), weight_scratch.data<float>(),
                     in_features_ * out_features_);
      weight_data = weight_scratch.raw_data();
    }
    Tensor source_scratch, destination_scratch;
    void* source_data = x.raw_data();
    if (x.dtype() != DType::f32) {
      source_scratch = f32_scratch(x.numel());
      convert_to_f32(x.raw_data(), x.dtype(), source_scratch.data<float>(), x.numel());
      source_data = source_scratch.raw_data();
    }
    void* destination_data = y.raw_data();
    if (y.dtype() != DType::f32) {
      destination_scratch = f32_scratch(y.numel());
      destination_data = destination_scratch.raw_data();
    }
    const Tensor scratchpad =
        empty({std::max<int64_t>(compiled.scratchpad_bytes, 1)}, DType::u8, cpu_device());

    const dnnl::engine& engine = onednn_engine();
    std::unordered_map<int, memory> arguments{
        {DNNL_ARG_SRC, memory(compiled.source_desc, engine, source_data)},
        {DNNL_ARG_WEIGHTS, memory(weights_desc_, engine, weight_data)},
        {DNNL_ARG_DST, memory(compiled.destination_desc, engine, destination_data)},
        {DNNL_ARG_SCRATCHPAD, memory(compiled.scratchpad_desc, engine, scratchpad.raw_data())}};
    if (!bias_.empty()) arguments.emplace(DNNL_ARG_BIAS, memory(bias_desc(), engine, bias_.data()));
    compiled.primitive.execute(onednn_stream(), arguments);
    onednn_stream().wait();

    if (y.dtype() != DType::f32)
      convert_from_f32(destination_scratch.data<float>(), y.raw_data(), y.dtype(), y.numel());
  }

 private:
  struct Compiled {
    dnnl::matmul primitive;
    memory::desc source_desc;
    memory::desc destination_desc;
    memory::desc scratchpad_desc;
    int64_t scratchpad_bytes = 0;
  };

  memory::desc bias_desc() const { return memory::desc({1, out_features_}, memory::data_type::f32, tag::ab); }

  dnnl::matmul::primitive_desc make_descriptor(int64_t rows, const memory::desc& weights) const {
    const memory::desc source({rows, in_features_}, memory::data_type::f32, tag::ab);
    const memory::desc destination({rows, out_features_}, memory::data_type::f32, tag::ab);
    dnnl::primitive_attr attributes;
    // Scratch comes from our caching allocator per call instead of living in every cached primitive.
    attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const auto description = bias_.empty() ? dnnl::matmul::desc(source, weights, destination)
                                           : dnnl::matmul::desc(source, weights, bias_desc(), destination);
    return dnnl::matmul::primitive_desc(description, attributes, onednn_engine());
  }

  Compiled compiled_for(int64_t rows) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = primitives_.find(rows);
    if (found != primitives_.end()) return found->second;
    if (primitives_.size() >= kMaxCachedRowCounts) primitives_.clear();
    const auto descriptor =
        onednn_build("mm", concat("a ", rows, "x", in_features_, "x", out_features_, " matmul"),
                     [&] { return make_descriptor(rows, weights_desc_); });
    Compiled compiled{dnnl::matmul(descriptor), descriptor.src_desc(), descriptor.dst_desc(),
                      descriptor.scratchpad_desc(),
                      static_cast<int64_t>(descriptor.scratchpad_desc().get_size())};
    return primitives_.emplace(rows, std::move(compiled)).first->second;
  }

  std::mutex mutex_;
  memory::desc weights_desc_;
  // f32: the weights in weights_desc_ (the caller's tensor when that is the layout, else bytes we own);
  // bf16/f16: the caller's tensor, widened at every call.
  Tensor weight_;
  std::vector<float> bias_;                 // empty: no bias
  std::map<int64_t, Compiled> primitives_;  // per row count
};

}  // namespace

void register_cpu_mm(KernelRegistries& kernels) {
  kernels.mm.add(
      "onednn_mm", [] { return std::make_unique<OnednnMatmul>(); },
      "oneDNN matmul, fp32 accumulation; f32/bf16/f16 weights (2-byte weights computed in f32 on CPUs "
      "without native bf16 matmul), f32/bf16/f16 activations");
  // LightX2V's dit_quant_scheme for unquantized weights.
  kernels.mm.alias("Default", "onednn_mm");
}

}  // namespace x2v
