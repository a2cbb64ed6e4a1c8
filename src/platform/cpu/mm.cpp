// The cpu matmul-with-weight kernel on oneDNN: y = x W^T + b with fp32 accumulation.
//
// W [out, in] row-major is oneDNN's K x N weights matrix in format "ba", so no transpose is ever needed.
// f32 weights are reordered once at load into the layout the matmul asks for (format any) when that is
// a blocked (packed) layout, as brgemm picks on AVX-512 machines; here (AVX2, gemm:jit) it asks for plain
// "ab", a mere transpose that gains nothing, so the caller's tensor is used as it is and nothing is copied.
//
// bf16 and f16 weights where oneDNN has that matmul natively (bf16: AVX512-bf16 and AMX; probed at run time,
// so X2V_CPU_ISA can turn it off): packed once at load into the layout the native matmul prefers, replacing
// the caller's copy (one 2-byte copy in memory either way), and activations of the weight's dtype run on it.
// Measured on 2 Zen4 cores at DiT shapes: 939-966 GFLOP/s packed, 856-867 on the plain "ba" weights, against
// 452-491 for f32. f32 activations (DTYPE=FP32, the sensitive layers) still get an f32 product: the packed
// weights are reordered back to plain f32 for that call, since rounding the activations to bf16 would lose
// what the caller asked to keep.

// Without a native matmul: oneDNN 2.6 implements bf16/f16 matmul only for AVX-512 (bf16 also for AMX);
// on an AVX2 machine creating the primitive fails with "unimplemented" (checked with DNNL_VERBOSE=1),
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
#include <memory>
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
    weight_dtype_ = weight.dtype();
    native_ = weight.dtype() != DType::f32 && onednn_matmul_is_native(weight.dtype());
    widen_.reset();
    if (native_) {
      log_once(
          LogLevel::debug, "mm",
          concat(dtype_name(weight.dtype()), " weights run on oneDNN's native ", dtype_name(weight.dtype()),
                 " matmul (isa ", onednn_isa_name(), "), packed once at load"));
      weights_desc_ = plain_f32;  // for f32 activations, after widening
      const memory::desc plain({in_features_, out_features_}, onednn_data_type(weight.dtype()), tag::ba);
      native_desc_ = onednn_build("mm", "the weight layout query", [&] {
        const memory::desc any({in_features_, out_features_}, onednn_data_type(weight.dtype()), tag::any);
        return make_descriptor(kLayoutQueryRows, any, weight.dtype()).weights_desc();
      });
      if (is_plain(native_desc_)) {
        native_desc_ = plain;
        weight_ = contiguous;
        return;
      }
      weight_ = reordered(contiguous, plain, native_desc_);
      return;
    }
    if (weight.dtype() != DType::f32) {
      // Widened per call into plain "ba", the layout a streaming conversion writes.
      weights_desc_ = plain_f32;
      weight_ = contiguous;
      log_once(LogLevel::debug, "mm",
               concat(dtype_name(weight.dtype()), " weights are kept in ", dtype_name(weight.dtype()),
                      " and widened to f32 for oneDNN's f32 matmul at each call (oneDNN isa ",
                      onednn_isa_name(), ": no native ", dtype_name(weight.dtype()), " matmul)"));
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
    weight_ = reordered(contiguous, plain_f32, weights_desc_);
  }

  void apply(const Tensor& x, Tensor& y) override {
    if (in_features_ == 0) throw Error("mm", "apply called before load");
    check_call(x, y);
    if (!x.is_host_accessible() || !y.is_host_accessible())
      throw Error("mm", "onednn_mm works on host memory; move the tensors to the cpu device first");
    const int64_t rows = x.numel() / in_features_;
    if (rows == 0) return;
    const bool native = native_ && x.dtype() == weight_dtype_;
    // A copy (shared handles): the cache may be pruned.
    const Compiled compiled = compiled_for(rows, native ? weight_dtype_ : DType::f32);

    // Weights: the packed copy, the 2-byte weight as it is (native), or widened now.
    Tensor weight_scratch;
    void* weight_data = weight_.raw_data();
    if (!native && weight_dtype_ != DType::f32) {
      weight_scratch = f32_scratch(in_features_ * out_features_);
      if (native_)
        widen_packed(weight_scratch);
      else
        convert_to_f32(weight_.raw_data(), weight_dtype_, weight_scratch.data<float>(),
                       in_features_ * out_features_);
      weight_data = weight_scratch.raw_data();
    }
    Tensor source_scratch, destination_scratch;
    void* source_data = x.raw_data();
    if (x.dtype() != DType::f32 && !native) {
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
        empty({std::max<int64_t>(compiled.scratchpad_bytes, 1)}, DType::u8, host_device());

    const dnnl::engine& engine = onednn_engine();
    std::unordered_map<int, memory> arguments{
        {DNNL_ARG_SRC, memory(compiled.source_desc, engine, source_data)},
        {DNNL_ARG_WEIGHTS, memory(native ? native_weights_desc() : weights_desc_, engine, weight_data)},
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
  memory::desc native_weights_desc() const { return native_desc_; }

  // `weight` (contiguous, in `from`) copied into bytes we own in the layout `to`.
  Tensor reordered(const Tensor& weight, const memory::desc& from, const memory::desc& to) {
    Tensor result = empty({static_cast<int64_t>(to.get_size())}, DType::u8, host_device());
    memory user(from, onednn_engine(), weight.raw_data());
    memory packed(to, onednn_engine(), result.raw_data());
    onednn_build("mm", "the weight reorder", [&] {
      return dnnl::reorder(user, packed);
    }).execute(onednn_stream(), user, packed);
    onednn_stream().wait();
    return result;
  }

  // The packed native weights widened into plain f32 "ba" in `target`, for f32 activations.
  void widen_packed(Tensor& target) {
    std::shared_ptr<dnnl::reorder> widen;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!widen_) {
        widen_ = std::make_shared<dnnl::reorder>(onednn_build("mm", "the weight widening", [&] {
          return dnnl::reorder::primitive_desc(onednn_engine(), native_desc_, onednn_engine(), weights_desc_);
        }));
      }
      widen = widen_;
    }
    memory packed(native_desc_, onednn_engine(), weight_.raw_data());
    memory wide(weights_desc_, onednn_engine(), target.raw_data());
    widen->execute(onednn_stream(), packed, wide);
    onednn_stream().wait();
  }

  // `source_dtype`: f32, or the weights' 2-byte dtype for the native matmul.
  dnnl::matmul::primitive_desc make_descriptor(int64_t rows, const memory::desc& weights,
                                               DType source_dtype = DType::f32) const {
    const memory::desc source({rows, in_features_}, onednn_data_type(source_dtype), tag::ab);
    const memory::desc destination({rows, out_features_}, memory::data_type::f32, tag::ab);
    dnnl::primitive_attr attributes;
    // Scratch comes from our caching allocator per call instead of living in every cached primitive.
    attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const auto description = bias_.empty() ? dnnl::matmul::desc(source, weights, destination)
                                           : dnnl::matmul::desc(source, weights, bias_desc(), destination);
    return dnnl::matmul::primitive_desc(description, attributes, onednn_engine());
  }

  Compiled compiled_for(int64_t rows, DType source_dtype) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::pair<int64_t, DType> key{rows, source_dtype};
    auto found = primitives_.find(key);
    if (found != primitives_.end()) return found->second;
    if (primitives_.size() >= kMaxCachedRowCounts) primitives_.clear();
    const bool native = source_dtype != DType::f32;
    const auto descriptor = onednn_build(
        "mm",
        concat("a ", rows, "x", in_features_, "x", out_features_, " ", dtype_name(source_dtype), " matmul"),
        [&] { return make_descriptor(rows, native ? native_weights_desc() : weights_desc_, source_dtype); });
    Compiled compiled{dnnl::matmul(descriptor), descriptor.src_desc(), descriptor.dst_desc(),
                      descriptor.scratchpad_desc(),
                      static_cast<int64_t>(descriptor.scratchpad_desc().get_size())};
    return primitives_.emplace(key, std::move(compiled)).first->second;
  }

  std::mutex mutex_;
  memory::desc weights_desc_;
  // f32: the weights in weights_desc_ (the caller's tensor when that is the layout, else bytes we own);
  // bf16/f16 with a native matmul: in native_desc_ (packed bytes, or the caller's tensor when plain);
  // bf16/f16 without: the caller's tensor, widened at every call into weights_desc_ (plain f32).
  Tensor weight_;
  DType weight_dtype_ = DType::f32;
  bool native_ = false;  // oneDNN has a native matmul for weight_dtype_ on this CPU
  memory::desc native_desc_;
  std::shared_ptr<dnnl::reorder> widen_;  // native_desc_ -> plain f32, made on the first f32 call
  std::vector<float> bias_;               // empty: no bias
  std::map<std::pair<int64_t, DType>, Compiled> primitives_;  // per row count and source dtype
};

}  // namespace

void register_cpu_mm(KernelRegistries& kernels) {
  kernels.mm.add(
      "onednn_mm", [] { return std::make_unique<OnednnMatmul>(); },
      "oneDNN matmul, fp32 accumulation; f32/bf16/f16 weights (bf16 activations on bf16 weights run on the "
      "native bf16 matmul where the CPU has it, the rest in f32), f32/bf16/f16 activations");
}

}  // namespace x2v
