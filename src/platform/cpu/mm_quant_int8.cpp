// The cpu W8A8 kernel: int8 weights with per-output-channel scales (LightX2V's layout), activations
// quantized per token on every call, int8 x int8 products summed exactly in int32 and scaled back in
// the W8A8 epilogue. On CPUs with VNNI (or AMX) the products run on oneDNN's s8 x s8 -> s32 matmul, exact
// there (2 Zen4 cores at DiT shapes: 1820-1950 GOP/s, against 355-390 for the AVX2 GEMM); elsewhere on
// the AVX2 GEMM of mm_quant_int8_gemm (which says why oneDNN's int8 GEMM is wrong without VNNI). Both
// quantize and scale with the same code, so the outputs are identical.
#include <omp.h>

#include <map>
#include <mutex>
#include <unordered_map>

#include "core/log.h"
#include "platform/cpu/cpu_device.h"
#include "platform/cpu/cpu_features.h"
#include "platform/cpu/mm_quant.h"
#include "platform/cpu/mm_quant_int8_gemm.h"
#include "platform/cpu/onednn_context.h"
#include "platform/platform.h"

namespace x2v {
namespace {

constexpr const char* kName = "int8-cpu";

class CpuInt8Matmul final : public MatmulKernel {
 public:
  QuantFormat quantized_format() const override { return QuantFormat::int8; }

  void load(const Tensor& weight, const Tensor&) override {
    throw Error("mm", concat(kName, " takes int8 weights with per-channel scales (load_quantized), not ",
                             weight.describe(), "; quantize the weight first (weight_auto_quant) or pick an ",
                             "unquantized kernel"));
  }

  void load_quantized(const QuantizedWeight& quantized, const Tensor& bias) override {
    check_quantized_weights(quantized, bias, QuantFormat::int8);
    const Tensor& weight = quantized.weight;
    if (!weight.is_host_accessible() || !quantized.scale.is_host_accessible() ||
        (bias.defined() && !bias.is_host_accessible()))
      throw Error("mm", concat(kName, " needs its weights in host memory"));
    scales_ = quantized.scale.to_floats();
    bias_ = bias.defined() ? bias.to_floats() : std::vector<float>();
    std::lock_guard<std::mutex> lock(mutex_);
    primitives_.clear();
    vnni_ = onednn_int8_matmul_is_exact();
    if (vnni_) {
      // oneDNN packs the weights (with the compensation its u8 x s8 instructions need) once, here.
      const Tensor contiguous = weight.is_contiguous() ? weight : weight.to_host(DType::i8);
      const dnnl::memory::desc plain({in_features_, out_features_}, dnnl::memory::data_type::s8,
                                     dnnl::memory::format_tag::ba);
      weights_desc_ = onednn_build("mm", "the int8 weight layout query", [&] {
        return make_descriptor(kLayoutQueryRows, any_weights()).weights_desc();
      });
      packed_ = empty({static_cast<int64_t>(weights_desc_.get_size())}, DType::i8, host_device());
      dnnl::memory user(plain, onednn_engine(), contiguous.raw_data());
      dnnl::memory packed(weights_desc_, onednn_engine(), packed_.raw_data());
      onednn_build("mm", "the int8 weight reorder", [&] {
        return dnnl::reorder(user, packed);
      }).execute(onednn_stream(), user, packed);
      onednn_stream().wait();
      return;
    }
    const Tensor rows = weight.stride(1) == 1 ? weight : weight.to_host(DType::i8);
    packed_ = Tensor::host({cpu_int8::packed_weight_bytes(out_features_, in_features_)}, DType::i8);
    cpu_int8::pack_weights(rows.data<int8_t>(), out_features_, in_features_, rows.stride(0),
                           packed_.data<int8_t>());
  }

  void apply(const Tensor& x, Tensor& y) override {
    if (!packed_.defined()) throw Error("mm", concat(kName, ": apply called before load_quantized"));
    check_call(x, y);
    if (!x.is_host_accessible() || !y.is_host_accessible())
      throw Error("mm", concat(kName, " works on host memory; move the tensors to the cpu device first"));
    const int64_t rows = x.numel() / in_features_;
    if (rows == 0) return;
    Device& device = host_device();
    if (vnni_) {
      apply_onednn(x, y, rows);
      return;
    }
    const Tensor activations =
        empty({cpu_int8::packed_activation_words(rows, in_features_)}, DType::i32, device);
    const Tensor activation_scales = empty({rows}, DType::f32, device);
    cpu_int8::quantize_and_pack_activations(x.raw_data(), x.dtype(), rows, in_features_,
                                            activations.data<int32_t>(), activation_scales.data<float>());
    const int64_t scratch_words =
        cpu_int8::int32_scratch_words(rows, out_features_, in_features_, omp_get_max_threads());
    const Tensor scratch = empty({std::max<int64_t>(scratch_words, 1)}, DType::i32, device);
    cpu_int8::Int8GemmArguments arguments = epilogue_arguments(rows, activation_scales, y);
    arguments.activations = activations.data<int32_t>();
    arguments.weights = packed_.data<int8_t>();
    cpu_int8::int8_gemm(arguments, scratch.data<int32_t>());
  }

 private:
  // What the W8A8 epilogue reads (scales, bias, sizes, output), shared by both paths.
  cpu_int8::Int8GemmArguments epilogue_arguments(int64_t rows, const Tensor& activation_scales,
                                                 Tensor& y) const {
    cpu_int8::Int8GemmArguments arguments;
    arguments.activation_scales = activation_scales.data<float>();
    arguments.weight_scales = scales_.data();
    arguments.bias = bias_.empty() ? nullptr : bias_.data();
    arguments.m = rows;
    arguments.n = out_features_;
    arguments.k = in_features_;
    arguments.y = y.raw_data();
    arguments.y_dtype = y.dtype();
    return arguments;
  }

  // The VNNI path: per-token int8 rows into oneDNN's matmul, int32 products, then the W8A8 epilogue.
  void apply_onednn(const Tensor& x, Tensor& y, int64_t rows) {
    Device& device = host_device();
    const Tensor q = empty({rows * in_features_}, DType::i8, device);
    const Tensor activation_scales = empty({rows}, DType::f32, device);
    cpu_int8::quantize_activations(x.raw_data(), x.dtype(), rows, in_features_, q.data<int8_t>(),
                                   activation_scales.data<float>());
    const Tensor sums = empty({rows * out_features_}, DType::i32, device);
    const Compiled compiled = compiled_for(rows);
    const Tensor scratchpad = empty({std::max<int64_t>(compiled.scratchpad_bytes, 1)}, DType::u8, device);
    const dnnl::engine& engine = onednn_engine();
    compiled.primitive.execute(
        onednn_stream(),
        std::unordered_map<int, dnnl::memory>{
            {DNNL_ARG_SRC, dnnl::memory(compiled.source_desc, engine, q.raw_data())},
            {DNNL_ARG_WEIGHTS, dnnl::memory(weights_desc_, engine, packed_.raw_data())},
            {DNNL_ARG_DST, dnnl::memory(compiled.destination_desc, engine, sums.raw_data())},
            {DNNL_ARG_SCRATCHPAD, dnnl::memory(compiled.scratchpad_desc, engine, scratchpad.raw_data())}});
    onednn_stream().wait();
    cpu_int8::apply_epilogue(sums.data<int32_t>(), epilogue_arguments(rows, activation_scales, y));
  }

  struct Compiled {
    dnnl::matmul primitive;
    dnnl::memory::desc source_desc, destination_desc, scratchpad_desc;
    int64_t scratchpad_bytes = 0;
  };
  // Row count the packed weight layout is queried with (layouts depend on K and N, not on M), and the
  // distinct row counts kept compiled.
  static constexpr int64_t kLayoutQueryRows = 1024;
  static constexpr size_t kMaxCachedRowCounts = 64;

  dnnl::memory::desc any_weights() const {
    return dnnl::memory::desc({in_features_, out_features_}, dnnl::memory::data_type::s8,
                              dnnl::memory::format_tag::any);
  }

  dnnl::matmul::primitive_desc make_descriptor(int64_t rows, const dnnl::memory::desc& weights) const {
    using type = dnnl::memory::data_type;
    const dnnl::memory::desc source({rows, in_features_}, type::s8, dnnl::memory::format_tag::ab);
    const dnnl::memory::desc destination({rows, out_features_}, type::s32, dnnl::memory::format_tag::ab);
    dnnl::primitive_attr attributes;
    attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(source, weights, destination), attributes,
                                        onednn_engine());
  }

  Compiled compiled_for(int64_t rows) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = primitives_.find(rows);
    if (found != primitives_.end()) return found->second;
    if (primitives_.size() >= kMaxCachedRowCounts) primitives_.clear();
    const auto descriptor =
        onednn_build("mm", concat("a ", rows, "x", in_features_, "x", out_features_, " int8 matmul"),
                     [&] { return make_descriptor(rows, weights_desc_); });
    Compiled compiled{dnnl::matmul(descriptor), descriptor.src_desc(), descriptor.dst_desc(),
                      descriptor.scratchpad_desc(),
                      static_cast<int64_t>(descriptor.scratchpad_desc().get_size())};
    return primitives_.emplace(rows, std::move(compiled)).first->second;
  }

  std::mutex mutex_;
  bool vnni_ = false;                       // oneDNN's exact int8 matmul (VNNI, AMX) instead of the AVX2 GEMM
  dnnl::memory::desc weights_desc_;         // vnni_: the packed layout of packed_
  std::map<int64_t, Compiled> primitives_;  // vnni_: per row count
  Tensor packed_;                           // pack_weights layout (or oneDNN's, when vnni_), 1 byte a weight
  std::vector<float> scales_;               // per output channel
  std::vector<float> bias_;                 // empty: no bias
};

}  // namespace

void register_cpu_int8_mm(KernelRegistries& kernels) {
  if (cpu::vector_level() != cpu::VectorLevel::avx2) {
    log_info("cpu", "this CPU lacks AVX2/FMA/F16C (or X2V_CPU_ISA=sse41); ", kName,
             " is not registered ('int8-torch' runs)");
    return;
  }
  kernels.mm.add(
      kName, [] { return std::make_unique<CpuInt8Matmul>(); },
      "W8A8: int8 weights with per-channel scales, activations quantized per token; exact int8 products "
      "(oneDNN's matmul on VNNI/AMX CPUs, else AVX2 int16 pairs), scales and bias applied per tile",
      KernelTraits::quantized(QuantFormat::int8));
}

}  // namespace x2v
