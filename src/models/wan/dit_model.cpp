#include "models/wan/dit_model.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/log.h"
#include "platform/ops.h"
#include "platform/platform.h"

namespace x2v {

namespace {

// dit_quantized_ckpt, checked to hold the model the model's checkpoint describes.
WanDitCheckpoint open_quantized_checkpoint(const std::string& path, const WanDitConfig& expected) {
  WanDitCheckpoint checkpoint = WanDitCheckpoint::open(path);
  const WanDitConfig& c = checkpoint.config();
  if (c.dim != expected.dim || c.ffn_dim != expected.ffn_dim || c.num_layers != expected.num_layers ||
      c.in_dim != expected.in_dim || c.out_dim != expected.out_dim || c.text_dim != expected.text_dim ||
      c.model_type != expected.model_type)
    throw Error("wan dit", concat("dit_quantized_ckpt ", path, " holds a ", c.describe(), " model, not the ",
                                  expected.describe(), " model of the model path"));
  return checkpoint;
}

}  // namespace

// The blocks of a streamed DiT as offload units: unit u holds parts[u % parts.size()] of block
// u / parts.size().
class WanBlockUnits final : public UnitSource {
 public:
  WanBlockUnits(std::shared_ptr<const WanDitCheckpoint> checkpoint, const WanDitKernels& kernels,
                Precision precision, Device& device, std::vector<unsigned> parts,
                const OffloadOptions& offload)
      : checkpoint_(std::move(checkpoint)),
        config_(checkpoint_->config()),
        kernels_(kernels),
        precision_(precision),
        device_(&device),
        parts_(std::move(parts)),
        lazy_(offload.lazy_load),
        workers_(offload.num_disk_workers) {
    if (lazy_) return;
    // cpu_offload: the host copy, read once (tensors the file holds as they run stay mapped, not copied).
    host_.reserve(unit_count());
    for (size_t unit = 0; unit < unit_count(); ++unit)
      host_.push_back(read_parts(block_of(unit), parts_of(unit)));
  }

  size_t unit_count() const override { return static_cast<size_t>(config_.num_layers) * parts_.size(); }
  WeightSet read(size_t unit) const override {
    return lazy_ ? read_parts(block_of(unit), parts_of(unit)) : host_[unit];
  }
  std::unique_ptr<OffloadUnit> build(size_t unit, const WeightSet& weights) const override {
    auto block = std::make_unique<WanBlock>();
    block->build(config_, weights, kernels_, precision_, *device_, parts_of(unit));
    return block;
  }

  // `parts` of `block` as host tensors; with lazy_load read from disk into memory of their own, the file's
  // pages given back.
  WeightSet read_parts(int block, unsigned parts) const {
    WeightSet weights =
        WanBlock::read_weights(config_, *checkpoint_, block, kernels_, precision_, *device_, parts);
    if (!lazy_) return weights;
    weights.read_pages(workers_);
    // The file's pages go back once the unit is done with them: right after its kernels are built on a
    // device computing in host memory (packed weights are copies), after its copy to a device otherwise.
    const std::shared_ptr<const WanDitCheckpoint> checkpoint = checkpoint_;
    std::vector<std::string> names;
    for (const auto& entry : weights.entries()) names.push_back(concat("blocks.", block, ".", entry.name));
    weights.on_release([checkpoint, names] {
      for (const std::string& name : names) checkpoint->release(name);
    });
    return weights;
  }

 private:
  int block_of(size_t unit) const { return static_cast<int>(unit / parts_.size()); }
  unsigned parts_of(size_t unit) const { return parts_[unit % parts_.size()]; }

  std::shared_ptr<const WanDitCheckpoint> checkpoint_;
  WanDitConfig config_;
  WanDitKernels kernels_;
  Precision precision_;
  Device* device_;
  std::vector<unsigned> parts_;
  bool lazy_;
  int workers_;
  std::vector<WeightSet> host_;
};

WanDit::WanDit(const WanDitCheckpoint& model_checkpoint, const WanDitKernels& kernels, Precision precision,
               Device& device)
    : config_(model_checkpoint.config()), precision_(precision), device_(&device), kernels_(kernels) {
  // With dit_quantized_ckpt every weight comes from there (LightX2V's quantized exports are complete);
  // the model's checkpoint gave the architecture.
  std::optional<WanDitCheckpoint> quantized;
  if (!kernels.quantized_checkpoint.empty())
    quantized = open_quantized_checkpoint(kernels.quantized_checkpoint, config_);
  load_resident(quantized ? *quantized : model_checkpoint, kernels);
}

void WanDit::load_resident(const WanDitCheckpoint& checkpoint, const WanDitKernels& kernels) {
  load_non_block(checkpoint, kernels);
  blocks_.resize(config_.num_layers);
  for (int64_t i = 0; i < config_.num_layers; ++i)
    blocks_[i].load(config_, checkpoint, static_cast<int>(i), kernels, precision_, *device_);
}

WanDit::WanDit(std::shared_ptr<const WanDitCheckpoint> model_checkpoint, const WanDitKernels& kernels,
               Precision precision, Device& device, const OffloadOptions& offload)
    : config_(model_checkpoint->config()),
      precision_(precision),
      device_(&device),
      kernels_(kernels),
      offload_(offload) {
  std::shared_ptr<const WanDitCheckpoint> checkpoint = model_checkpoint;
  if (!kernels.quantized_checkpoint.empty())
    checkpoint = std::make_shared<const WanDitCheckpoint>(
        open_quantized_checkpoint(kernels.quantized_checkpoint, config_));
  if (!offload.streams(device.host_accessible())) {
    load_resident(*checkpoint, kernels);
    return;
  }
  if (offload.lazy_load && !checkpoint->checkpoint().reads_by_ranges())
    throw Error(
        "wan dit",
        concat("lazy_load reads a checkpoint file by byte ranges, and ", checkpoint->checkpoint().path(),
               " is held in memory (", checkpoint->checkpoint().format(), "); write it with `x2v convert",
               " --source <model> --output <folder> --save_by_block` and give that folder"));
  checkpoint->check_tensors();
  load_non_block(*checkpoint, kernels);
  streamed_checkpoint_ = checkpoint;
  unit_parts_ = offload.granularity == OffloadGranularity::phase
                    ? std::vector<unsigned>{kWanSelfAttention, kWanCrossAttention, kWanFeedForward}
                    : std::vector<unsigned>{kWanStepParts};
  source_ = std::make_shared<WanBlockUnits>(checkpoint, kernels, precision, device, unit_parts_, offload);
  units_ = std::make_unique<UnitStream>(source_, device, offload.lazy_load);
  log_info("wan dit", offload.describe(device.host_accessible()), ": ", config_.num_layers, " blocks",
           unit_parts_.size() > 1 ? " of 3 phases" : "", " stream through ", device.device_string(),
           ", two units at a time");
}

WanDit::~WanDit() {
  if (units_)
    log_info("wan dit", "streamed blocks held at most ", format_bytes(units_->peak_weight_bytes()),
             " of weights on ", device_->device_string(), " at a time (units of ",
             unit_parts_.size() > 1 ? "one phase" : "one block", ", ",
             config_.num_layers * unit_parts_.size(), " in all); compute waited ", units_->waited_seconds(),
             " s for reads");
}

void WanDit::load_non_block(const WanDitCheckpoint& checkpoint, const WanDitKernels& kernels) {
  const WanDitConfig& c = config_;
  Device& device = *device_;
  const DType compute = precision_.compute;
  auto weight = [&](const std::string& name, const Shape& shape, DType dtype) {
    return checkpoint.load(name, shape, dtype, device);
  };
  // Time and head layers run in f32 as in the reference (autocast to float32 there).
  auto linear = [&](Linear& layer, const std::string& name, int64_t out, int64_t in, DType dtype) {
    layer.load(device, kernels.mm, weight(name + ".weight", {out, in}, dtype),
               weight(name + ".bias", {out}, dtype));
  };
  patch_embedding_ = device.kernels().conv.create(kernels.conv);
  ConvOptions patch_options;
  patch_options.spatial_dims = 3;
  patch_options.stride = {c.patch[0], c.patch[1], c.patch[2]};
  patch_embedding_->load(
      weight("patch_embedding.weight", {c.dim, c.in_dim, c.patch[0], c.patch[1], c.patch[2]}, DType::f32),
      weight("patch_embedding.bias", {c.dim}, DType::f32), patch_options);
  linear(time_embedding_0_, "time_embedding.0", c.dim, c.freq_dim, DType::f32);
  linear(time_embedding_2_, "time_embedding.2", c.dim, c.dim, DType::f32);
  linear(time_projection_, "time_projection.1", 6 * c.dim, c.dim, DType::f32);
  linear(text_embedding_0_, "text_embedding.0", c.dim, c.text_dim, compute);
  linear(text_embedding_2_, "text_embedding.2", c.dim, c.dim, compute);
  if (c.image_branch()) {
    image_norm_in_ = device.kernels().layer_norm.create(kernels.layer_norm);
    image_norm_in_->load(weight("img_emb.proj.0.weight", {c.clip_dim}, DType::f32),
                         weight("img_emb.proj.0.bias", {c.clip_dim}, DType::f32), 1e-5f);
    linear(image_projection_1_, "img_emb.proj.1", c.clip_dim, c.clip_dim, compute);
    linear(image_projection_3_, "img_emb.proj.3", c.dim, c.clip_dim, compute);
    image_norm_out_ = device.kernels().layer_norm.create(kernels.layer_norm);
    image_norm_out_->load(weight("img_emb.proj.4.weight", {c.dim}, DType::f32),
                          weight("img_emb.proj.4.bias", {c.dim}, DType::f32), 1e-5f);
  }
  head_modulation_ = weight("head.modulation", {2, c.dim}, DType::f32);
  head_norm_ = device.kernels().layer_norm.create(kernels.layer_norm);
  head_norm_->load(Tensor(), Tensor(), static_cast<float>(c.eps));
  const int64_t patch_volume = c.patch[0] * c.patch[1] * c.patch[2];
  linear(head_, "head.head", c.out_dim * patch_volume, c.dim, DType::f32);
}

void WanDit::observe(const std::string& name, const Tensor& value) const {
  if (observer_) observer_(name, ops::to_device(value, host_device()).to_host(DType::f32));
}

void WanDit::check_inputs(const WanDitInputs& inputs) const {
  const WanDitConfig& c = config_;
  const Tensor& x = inputs.x;
  const int64_t y_channels = inputs.y.defined() ? inputs.y.size(0) : 0;
  if (!x.defined() || x.ndim() != 4)
    throw Error("wan dit", concat("x is ", x.describe(), "; expected [channels, frames, height, width]"));
  if (x.size(0) + y_channels != c.in_dim)
    throw Error(
        "wan dit",
        concat("x has ", x.size(0), " channels", y_channels ? concat(" and y ", y_channels) : "", "; this ",
               c.model_type, " model takes ", c.in_dim, " input channels",
               c.takes_y() ? concat(" (", c.out_dim, " noise + ", c.in_dim - c.out_dim, " from y)") : ""));
  if (x.size(2) % c.patch[1] || x.size(3) % c.patch[2] || x.size(1) % c.patch[0])
    throw Error("wan dit",
                concat("latent height and width (", x.size(2), "x", x.size(3), ") must be multiples of ",
                       c.patch[1], "; the video size must be a multiple of 16"));
  if (c.takes_y()) {
    if (!inputs.y.defined())
      throw Error("wan dit", concat("an i2v model needs 'y' [", c.in_dim - c.out_dim, ", F, H, W]",
                                    c.image_branch() ? " and 'clip_fea' [257, clip_dim]" : "", " inputs"));
    if (inputs.y.ndim() != 4 || inputs.y.size(1) != x.size(1) || inputs.y.size(2) != x.size(2) ||
        inputs.y.size(3) != x.size(3))
      throw Error("wan dit", concat("y is ", inputs.y.describe(), "; expected [", c.in_dim - x.size(0), ", ",
                                    x.size(1), ", ", x.size(2), ", ", x.size(3), "]"));
  } else if (inputs.y.defined()) {
    throw Error("wan dit", "'y' is an i2v input; this is a t2v model");
  }
  if (c.image_branch()) {
    if (!inputs.clip_features.defined())
      throw Error("wan dit",
                  "this Wan2.1 i2v model needs 'clip_fea' [257, clip_dim], the CLIP image features");
    if (inputs.clip_features.ndim() != 2 || inputs.clip_features.size(1) != c.clip_dim)
      throw Error("wan dit", concat("clip_fea is ", inputs.clip_features.describe(), "; expected [257, ",
                                    c.clip_dim, "]"));
  } else if (inputs.clip_features.defined()) {
    throw Error("wan dit", "'clip_fea' is for a DiT with the CLIP branch (Wan2.1 i2v); this one has none");
  }
  const Tensor& context = inputs.context;
  if (!context.defined() || context.ndim() != 2 || context.size(1) != c.text_dim)
    throw Error("wan dit", concat("context is ", context.describe(), "; expected [tokens, ", c.text_dim,
                                  "] (the text encoder's output width is this model's text_dim)"));
  if (context.size(0) < 1 || context.size(0) > c.text_len)
    throw Error("wan dit", concat("context has ", context.size(0), " tokens; expected 1..", c.text_len));
  if (!std::isfinite(inputs.timestep) || inputs.timestep < 0 || inputs.timestep > 1000)
    throw Error("wan dit", concat("timestep ", inputs.timestep, " is outside 0..1000"));
}

Tensor WanDit::embed_time(double timestep, Tensor& e0) const {
  // Sinusoid with cos first, in f64 as the reference: freq_i = 10000^(-i/half).
  const int64_t half = config_.freq_dim / 2;
  std::vector<float> sinusoid(config_.freq_dim);
  for (int64_t i = 0; i < half; ++i) {
    const double angle = timestep * std::pow(10000.0, -static_cast<double>(i) / static_cast<double>(half));
    sinusoid[i] = static_cast<float>(std::cos(angle));
    sinusoid[half + i] = static_cast<float>(std::sin(angle));
  }
  Tensor input = ops::to_device(Tensor::host_from(sinusoid, {1, config_.freq_dim}), *device_);
  Tensor hidden = time_embedding_0_.forward(input, DType::f32);
  ops::silu(hidden, hidden);
  Tensor e = time_embedding_2_.forward(hidden, DType::f32);
  Tensor activated = empty_like(e);
  ops::silu(e, activated);
  e0 = time_projection_.forward(activated, DType::f32).reshape({6, config_.dim});
  return e.reshape({config_.dim});
}

WanDitPreparedContext WanDit::prepare_context(const Tensor& context, const Tensor& clip_features) const {
  const Tensor text = embed_text(context);
  observe("text_embedding", text);
  const Tensor image = config_.image_branch() ? embed_image(clip_features) : Tensor();
  WanDitPreparedContext prepared;
  prepared.blocks.reserve(config_.num_layers);
  if (!units_) {
    for (const WanBlock& block : blocks_) prepared.blocks.push_back(block.cross_context(text, image));
    return prepared;
  }
  // Streamed: each block's key and value projections come in for this pass alone.
  Device& device = *device_;
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    const WeightSet host = source_->read_parts(static_cast<int>(i), kWanCrossContext);
    WanBlock block;
    block.build(config_, host.copied_to(device), kernels_, precision_, device, kWanCrossContext);
    prepared.blocks.push_back(block.cross_context(text, image));
  }
  return prepared;
}

Tensor WanDit::embed_text(const Tensor& context) const {
  // Zero rows pad the prompt to text_len; cross-attention attends to all of them, as in the reference.
  Tensor padded = empty({config_.text_len, config_.text_dim}, precision_.compute, *device_);
  ops::fill(padded, 0.0f);
  Tensor rows = padded.slice(0, 0, context.size(0));
  ops::copy(ops::to_device(context, *device_), rows);
  Tensor hidden = text_embedding_0_.forward(padded, precision_.compute);
  ops::gelu(hidden, hidden, /*tanh_approximation=*/true);
  return text_embedding_2_.forward(hidden, precision_.compute);
}

Tensor WanDit::embed_image(const Tensor& clip_features) const {
  Tensor features = ops::to_device(clip_features, *device_);
  Tensor normed = empty({features.size(0), config_.clip_dim}, precision_.compute, *device_);
  image_norm_in_->apply(features, normed);
  Tensor hidden = image_projection_1_.forward(normed, precision_.compute);
  ops::gelu(hidden, hidden, /*tanh_approximation=*/false);
  Tensor projected = image_projection_3_.forward(hidden, precision_.compute);
  image_norm_out_->apply(projected, projected);
  return projected;
}

Tensor WanDit::forward(const WanDitInputs& inputs, const WanDitPreparedContext* prepared,
                       WanBlockCache* cache) const {
  check_inputs(inputs);
  const WanDitConfig& c = config_;
  Device& device = *device_;
  // Patch embedding of [x ; y] (i2v concatenates the conditioning channels).
  Tensor video = ops::to_device(inputs.x.to_host(DType::f32), device);
  if (c.takes_y()) {
    Tensor joined =
        empty({c.in_dim, inputs.x.size(1), inputs.x.size(2), inputs.x.size(3)}, DType::f32, device);
    Tensor first = joined.slice(0, 0, inputs.x.size(0)), second = joined.slice(0, inputs.x.size(0), c.in_dim);
    ops::copy(video, first);
    ops::copy(ops::to_device(inputs.y, device), second);
    video = joined;
  }
  Tensor patches = empty(patch_embedding_->output_shape(video.shape()), DType::f32, device);
  patch_embedding_->apply(video, patches);
  const RopeGrid grid{patches.size(1), patches.size(2), patches.size(3)};
  const int64_t tokens = grid.tokens();
  // Sequence parallel: this rank's share of the tokens (all of them otherwise) goes through the blocks.
  const SequenceShard shard = SequenceShard::make(sequence_group_, tokens);
  const RopeTables rope = wan_rope_tables(grid, c.head_dim(), 10000.0, device, shard.begin, shard.count);
  Tensor x = empty({tokens, c.dim}, precision_.sensitive, device);
  ops::copy(patches.reshape({c.dim, tokens}).transpose(0, 1), x);
  patches = Tensor();
  x = shard_rows(shard, x);

  WanTimeConditioning time;
  const Tensor e = embed_time(inputs.timestep, time.e0);
  const Tensor& e0 = time.e0;
  observe("time_embedding", e);
  observe("time_projection", e0);
  Tensor first_e;
  int64_t first_tokens = 0;  // of the whole sequence
  if (inputs.first_frame_timestep) {
    first_e = embed_time(*inputs.first_frame_timestep, time.first_e0);
    first_tokens = grid.height * grid.width;  // the first latent frame's tokens come first
    time.first_tokens = std::clamp<int64_t>(first_tokens - shard.begin, 0, shard.count);
  }
  WanDitPreparedContext computed;
  if (prepared == nullptr) {
    computed = prepare_context(inputs.context, inputs.clip_features);
    prepared = &computed;
  }
  if (static_cast<int64_t>(prepared->blocks.size()) != c.num_layers)
    throw InternalError(
        "wan dit", concat("prepared context has ", prepared->blocks.size(), " blocks, model ", c.num_layers));
  if (cache != nullptr && inputs.first_frame_timestep)
    throw Error("wan dit", "feature caching does not run with per-token timesteps (Wan2.2 TI2V i2v)");
  if (cache == nullptr) {
    run_blocks(x, time, *prepared, rope, shard);
  } else if (cache->should_compute(e, e0)) {
    // residual = out - in, one rounding as in LightX2V (the negation is exact).
    Tensor negated_input = empty_like(x);
    ops::scale(x, -1.0f, 0.0f, negated_input);
    run_blocks(x, time, *prepared, rope, shard);
    Tensor residual = empty_like(x);
    ops::add(x, negated_input, residual);
    cache->store_residual(residual);
  } else {
    ops::add(x, cache->residual(), x);
  }

  x = gather_rows(shard, x);

  // Head: LN(x) * (1 + scale) + shift with [shift, scale] = head.modulation + e, then a linear to patches.
  Tensor normed = empty({tokens, c.dim}, DType::f32, device);
  head_norm_->apply(x, normed);
  const auto modulate_rows = [&](const Tensor& embedding, int64_t begin, int64_t end) {
    if (begin == end) return;
    Tensor head_modulation = empty({2, c.dim}, DType::f32, device);
    ops::add(head_modulation_, embedding, head_modulation);
    Tensor rows = normed.slice(0, begin, end);
    ops::modulate(rows, head_modulation.select(0, 0), head_modulation.select(0, 1), rows);
  };
  modulate_rows(first_e, 0, first_tokens);
  modulate_rows(e, first_tokens, tokens);
  Tensor patch_values = head_.forward(normed, DType::f32);

  // Unpatchify: token (f, h, w) holds values ordered (pt, ph, pw, c) -> out[c, f*pt, h*ph, w*pw].
  const int64_t pt = c.patch[0], ph = c.patch[1], pw = c.patch[2];
  Tensor out = empty({c.out_dim, grid.frames * pt, grid.height * ph, grid.width * pw}, DType::f32, device);
  Tensor source = patch_values.reshape({grid.frames, grid.height, grid.width, pt, ph, pw, c.out_dim})
                      .permute({6, 0, 3, 1, 4, 2, 5});
  Tensor target = out.reshape({c.out_dim, grid.frames, pt, grid.height, ph, grid.width, pw});
  ops::copy(source, target);
  return ops::to_device(out, host_device());
}

void WanDit::set_sequence_parallel(Communicator* group) {
  if (group != nullptr && config_.num_heads % group->size() != 0)
    throw Error("wan dit",
                concat("seq_p_size ", group->size(), " does not divide this model's ", config_.num_heads,
                       " attention heads; use a divisor of ", config_.num_heads));
  sequence_group_ = group;
}

void WanDit::run_blocks(Tensor& x, const WanTimeConditioning& time, const WanDitPreparedContext& prepared,
                        const RopeTables& rope, const SequenceShard& shard) const {
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    if (!units_) {
      blocks_[i].forward(x, time, prepared.blocks[i], rope, shard);
    } else {
      for (size_t p = 0; p < unit_parts_.size(); ++p) {
        const auto& block = static_cast<const WanBlock&>(units_->take(i * unit_parts_.size() + p));
        const unsigned parts = unit_parts_[p];
        if (parts & kWanSelfAttention) block.self_attention(x, time, rope, shard);
        if (parts & kWanCrossAttention) block.cross_attention(x, prepared.blocks[i]);
        if (parts & kWanFeedForward) block.feed_forward(x, time);
      }
    }
    observe(concat("block_", i), x);
  }
}

}  // namespace x2v
