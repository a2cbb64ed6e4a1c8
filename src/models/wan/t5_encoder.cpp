#include "models/wan/t5_encoder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "platform/ops.h"
#include "platform/platform.h"
#include "quant/quant_kernels.h"
#include "quant/quantized_linear.h"

namespace x2v {
namespace {

constexpr float kNormEps = 1e-6f;
constexpr const char* kWanT5File = "models_t5_umt5-xxl-enc-bf16.pth";

// A T5 RMSNorm kernel over the last dim with `weight` (f32 copy of the stored one). The platform's
// rms_norm computes x * rsqrt(mean(x^2) + eps) * w in f32 and rounds once; the reference rounds
// x * rsqrt(...) to the weight's dtype before the multiply, which differs only in bf16 runs, by at most
// one bf16 rounding.
std::unique_ptr<RmsNormKernel> make_norm(Device& device, const Tensor& weight) {
  std::unique_ptr<RmsNormKernel> norm = device.kernels().rms_norm.create("");
  norm->load(ops::to_device(weight.to_host(DType::f32), device), kNormEps);
  return norm;
}

}  // namespace

int64_t t5_relative_position_bucket(int64_t relative_position, int64_t num_buckets, int64_t max_distance) {
  const int64_t half = num_buckets / 2;
  int64_t bucket = relative_position > 0 ? half : 0;
  const int64_t distance = std::abs(relative_position);
  const int64_t exact = half / 2;
  if (distance < exact) return bucket + distance;
  // The reference truncates log(distance / exact) / log(max_distance / exact) * (half - exact) towards 0;
  // float32 and float64 give the same buckets (checked against torch's float32 for distances to 5000).
  const double scaled = std::log(static_cast<double>(distance) / static_cast<double>(exact)) /
                        std::log(static_cast<double>(max_distance) / static_cast<double>(exact)) *
                        static_cast<double>(half - exact);
  bucket += std::min<int64_t>(exact + static_cast<int64_t>(scaled), half - 1);
  return bucket;
}

WeightSet T5Encoder::read_block(const T5Weights& weights, int64_t index) const {
  const T5Config& c = config_;
  Device& host = host_device();
  const std::string prefix = concat("blocks.", index, ".");
  const QuantFormat format = mm_kernel_format(*device_, linears_.scheme, "t5_quant_scheme");
  const io::Checkpoint& checkpoint = weights.checkpoint();
  WeightSet set;
  const auto linear = [&](const std::string& name, int64_t out, int64_t in) {
    const std::string wan_name = prefix + name + ".weight";
    const io::TensorInfo info = weights.info(wan_name, {out, in});
    if (format == QuantFormat::none) {
      if (info.dtype && quant_format_of(*info.dtype) != QuantFormat::none)
        throw Error("t5", concat("tensor '", weights.file_name(wan_name), "' is ",
                                 quant_format_name(quant_format_of(*info.dtype)), ": ", checkpoint.path(),
                                 " is a quantized umT5; set t5_quantized true and t5_quant_scheme (",
                                 quant_format_name(quant_format_of(*info.dtype)), "-vllm, ...)"));
      set.add(name, weights.load(wan_name, {out, in}));
      return;
    }
    const QuantizedLinearRequest request = quantized_linear_request(
        weights.file_name(wan_name), {out, in}, format, linears_.scheme, "t5", "t5", linears_.auto_quant);
    const QuantizedWeight quantized = read_quantized_linear(checkpoint, request, host);
    set.add(name, quantized.weight);
    set.add(name + "_scale", quantized.scale);
  };
  set.add("norm1", weights.load(prefix + "norm1.weight", {c.dim}).to_host(DType::f32));
  set.add("norm2", weights.load(prefix + "norm2.weight", {c.dim}).to_host(DType::f32));
  linear("attn.q", c.dim_attn, c.dim);
  linear("attn.k", c.dim_attn, c.dim);
  linear("attn.v", c.dim_attn, c.dim);
  linear("attn.o", c.dim, c.dim_attn);
  linear("ffn.gate.0", c.dim_ffn, c.dim);
  linear("ffn.fc1", c.dim_ffn, c.dim);
  linear("ffn.fc2", c.dim, c.dim_ffn);
  set.add_host_only("position_table",
                    weights.load(prefix + "pos_embedding.embedding.weight", {c.num_buckets, c.num_heads})
                        .to_host(DType::f32));
  return set;
}

std::unique_ptr<T5Encoder::Block> T5Encoder::build_block(const WeightSet& weights) const {
  Device& device = *device_;
  const QuantFormat format = mm_kernel_format(device, linears_.scheme, "t5_quant_scheme");
  auto block = std::make_unique<Block>();
  const auto linear = [&](Linear& layer, const std::string& name) {
    if (format == QuantFormat::none)
      layer.load(device, linears_.scheme, weights.get(name), Tensor());
    else
      layer.load_quantized(device, linears_.scheme,
                           QuantizedWeight{weights.get(name), weights.get(name + "_scale")}, Tensor());
  };
  // The norm weights were made f32 when read.
  block->norm1 = device.kernels().rms_norm.create("");
  block->norm1->load(weights.get("norm1"), kNormEps);
  block->norm2 = device.kernels().rms_norm.create("");
  block->norm2->load(weights.get("norm2"), kNormEps);
  linear(block->q, "attn.q");
  linear(block->k, "attn.k");
  linear(block->v, "attn.v");
  linear(block->o, "attn.o");
  linear(block->gate, "ffn.gate.0");
  linear(block->fc1, "ffn.fc1");
  linear(block->fc2, "ffn.fc2");
  const Tensor& table = weights.get("position_table");
  block->position_table.assign(table.data<float>(), table.data<float>() + table.numel());
  block->attention = device.kernels().attention.create("");
  block->attention->load(AttentionOptions{1.0f});  // T5's logits are q k^T, unscaled
  return block;
}

namespace {

// The file names of block `index`'s tensors (scales included, where a quantized file has them).
std::vector<std::string> block_file_names(const T5Weights& weights, int64_t index) {
  std::vector<std::string> names;
  const std::string prefix = concat("blocks.", index, ".");
  for (const char* name : {"norm1", "norm2", "attn.q", "attn.k", "attn.v", "attn.o", "ffn.gate.0", "ffn.fc1",
                           "ffn.fc2", "pos_embedding.embedding"}) {
    names.push_back(weights.file_name(prefix + name + ".weight"));
    names.push_back(names.back() + "_scale");
  }
  return names;
}

}  // namespace

// The encoder's blocks read from disk one at a time ahead of use (lazy_load).
class T5BlockUnits final : public UnitSource {
 public:
  T5BlockUnits(const T5Encoder& encoder, const T5Weights& weights, int workers)
      : encoder_(encoder), weights_(weights), workers_(workers) {}
  size_t unit_count() const override { return static_cast<size_t>(encoder_.config().num_layers); }
  WeightSet read(size_t index) const override {
    WeightSet weights = encoder_.read_block(weights_, static_cast<int64_t>(index));
    weights.read_pages(workers_);
    // The file's pages go back once the block's kernels are built (or its copy to a device is done).
    std::vector<std::string> names = block_file_names(weights_, static_cast<int64_t>(index));
    const io::Checkpoint* checkpoint = &weights_.checkpoint();
    weights.on_release([checkpoint, names] {
      for (const std::string& name : names) checkpoint->release(name);
    });
    return weights;
  }
  std::unique_ptr<OffloadUnit> build(size_t, const WeightSet& weights) const override {
    return encoder_.build_block(weights);
  }

 private:
  const T5Encoder& encoder_;
  const T5Weights& weights_;
  int workers_;
};

T5Encoder::T5Encoder(const io::Checkpoint& checkpoint, Precision precision, Device& device,
                     const T5LinearOptions& linears)
    : precision_(precision), device_(&device), linears_(linears) {
  load_resident(T5Weights(checkpoint));
}

void T5Encoder::load_resident(const T5Weights& weights) {
  load_non_block(weights);
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    blocks_.push_back(build_block(read_block(weights, i).copied_to(*device_)));
    // The kernels hold their own copies: give the file's pages back, as the DiT's resident blocks do.
    for (const std::string& name : block_file_names(weights, i)) weights.checkpoint().release(name);
  }
}

T5Encoder::T5Encoder(std::shared_ptr<const io::Checkpoint> checkpoint, Precision precision, Device& device,
                     const T5LinearOptions& linears, const OffloadOptions& offload)
    : precision_(precision), device_(&device), linears_(linears) {
  if (!offload.lazy_load) {
    load_resident(T5Weights(*checkpoint));
    return;
  }
  streamed_checkpoint_ = std::move(checkpoint);
  streamed_weights_ = std::make_unique<T5Weights>(*streamed_checkpoint_);
  load_non_block(*streamed_weights_);
  units_ = std::make_unique<UnitStream>(
      std::make_shared<T5BlockUnits>(*this, *streamed_weights_, offload.num_disk_workers), device,
      /*background_reads=*/true);
  log_info("t5", "lazy_load: ", config_.num_layers, " blocks stream through ", device.device_string(),
           ", two at a time");
}

void T5Encoder::load_non_block(const T5Weights& weights) {
  config_ = weights.config();
  const T5Config& c = config_;
  token_embedding_ = ops::to_device(weights.load("token_embedding.weight", {c.vocab_size, c.dim}), *device_);
  final_norm_ = make_norm(*device_, weights.load("norm.weight", {c.dim}));
}

T5Encoder::~T5Encoder() = default;

std::unique_ptr<T5Encoder> T5Encoder::open(const std::string& path, Precision precision, Device& device,
                                           const T5LinearOptions& linears, const OffloadOptions& offload) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::path target(path);
  if (!fs::exists(target, error))
    throw Error("t5", concat("'", path, "' does not exist; give ", kWanT5File,
                             ", a text_encoder/ folder or the Wan model folder holding one of them"));
  if (fs::is_directory(target, error)) {
    if (fs::exists(target / kWanT5File, error)) {
      target /= kWanT5File;
    } else if (fs::is_directory(target / "text_encoder", error)) {
      target /= "text_encoder";
    } else {
      bool has_weights = false;
      for (const auto& entry : fs::directory_iterator(target, error))
        has_weights = has_weights || entry.path().extension() == ".safetensors";
      if (!has_weights)
        throw Error("t5", concat("folder '", path, "' has no ", kWanT5File,
                                 ", no text_encoder/ folder and no .safetensors files; give the umT5 encoder "
                                 "weights (the Wan model folder, its ",
                                 kWanT5File, ", or a diffusers text_encoder/ folder)"));
    }
  }
  std::shared_ptr<const io::Checkpoint> checkpoint = io::open_checkpoint(target.string());
  return std::make_unique<T5Encoder>(std::move(checkpoint), precision, device, linears, offload);
}

Tensor T5Encoder::heads_view(const Tensor& tokens) const {
  return tokens.reshape({tokens.size(0), config_.num_heads, config_.head_dim()}).permute({1, 0, 2});
}

Tensor T5Encoder::position_bias(const Block& block, const std::vector<int32_t>& buckets,
                                Tensor& host_bias) const {
  const int64_t heads = config_.num_heads, pairs = host_bias.numel() / heads;
  float* values = host_bias.data<float>();
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t pair = 0; pair < pairs; ++pair)
      values[h * pairs + pair] = block.position_table[buckets[pair] * heads + h];
  return ops::to_device(host_bias, *device_);
}

void T5Encoder::run_block(const Block& block, Tensor& x, const std::vector<int32_t>& buckets,
                          Tensor& host_bias) const {
  Device& device = *device_;
  const int64_t tokens = x.size(0);
  const DType compute = precision_.compute;
  Tensor normed = empty({tokens, config_.dim}, compute, device);

  // Self-attention: logits q k^T (no scaling) + the block's position bias.
  block.norm1->apply(x, normed);
  {
    const Tensor q = block.q.forward(normed, compute);
    const Tensor k = block.k.forward(normed, compute);
    const Tensor v = block.v.forward(normed, compute);
    Tensor attended = empty({tokens, config_.dim_attn}, compute, device);
    Tensor attended_heads = heads_view(attended);
    AttentionCall call;
    call.bias = position_bias(block, buckets, host_bias);
    block.attention->apply(heads_view(q), heads_view(k), heads_view(v), attended_heads, call);
    const Tensor y = block.o.forward(attended, compute);
    ops::add(x, y, x);
  }

  // Feed-forward: fc2(fc1(h) * gelu_tanh(gate(h))).
  block.norm2->apply(x, normed);
  {
    Tensor gate = block.gate.forward(normed, compute);
    ops::gelu(gate, gate, /*tanh_approximation=*/true);
    Tensor hidden = block.fc1.forward(normed, compute);
    ops::mul(hidden, gate, hidden);
    const Tensor y = block.fc2.forward(hidden, compute);
    ops::add(x, y, x);
  }
}

Tensor T5Encoder::encode(const TokenizedText& tokens) const {
  const int64_t length = tokens.length;
  if (length < 1 || length > static_cast<int64_t>(tokens.ids.size()))
    throw Error("t5", concat("tokenized text has length ", length, " for ", tokens.ids.size(),
                             " ids; expected 1..ids (the tokenizer appends EOS, so at least 1)"));
  Device& device = *device_;
  Tensor x = empty({length, config_.dim}, precision_.sensitive, device);
  for (int64_t i = 0; i < length; ++i) {
    const int64_t id = tokens.ids[i];
    if (id < 0 || id >= config_.vocab_size)
      throw Error("t5", concat("token id ", id, " at position ", i, " is outside the vocabulary of ",
                               config_.vocab_size, "; the tokenizer does not belong to this encoder"));
    Tensor row = x.select(0, i);
    ops::copy(token_embedding_.select(0, id), row);
  }

  // Buckets depend only on key - query, the same in every block; each block has its own table.
  std::vector<int32_t> buckets(length * length);
  std::vector<int32_t> by_offset(2 * length - 1);
  for (int64_t offset = -(length - 1); offset < length; ++offset)
    by_offset[offset + length - 1] =
        static_cast<int32_t>(t5_relative_position_bucket(offset, config_.num_buckets, config_.max_distance));
  for (int64_t i = 0; i < length; ++i)
    for (int64_t j = 0; j < length; ++j) buckets[i * length + j] = by_offset[j - i + length - 1];

  // One host buffer for every block's bias (64 MiB at 512 tokens and 64 heads): apply() has finished with
  // it when the next block refills it.
  Tensor host_bias = Tensor::host({config_.num_heads, length, length}, DType::f32);
  if (units_) {
    for (int64_t i = 0; i < config_.num_layers; ++i)
      run_block(static_cast<const Block&>(units_->take(static_cast<size_t>(i))), x, buckets, host_bias);
  } else {
    for (const auto& block : blocks_) run_block(*block, x, buckets, host_bias);
  }
  Tensor out = empty({length, config_.dim}, DType::f32, device);
  final_norm_->apply(x, out);
  return ops::to_device(out, host_device());
}

}  // namespace x2v
