#pragma once
// The Wan2.1 diffusion transformer (T2V and I2V): patch embedding, time and text (and image) embeddings,
// the blocks, the modulated head and unpatchify. Written only against platform ops.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "models/wan/dit_block.h"
#include "offload/offload_options.h"

namespace x2v {

struct WanDitInputs {
  Tensor x;              // [16 (or in_dim for t2v), F, H, W] f32, host
  double timestep = 0;   // 0..1000
  Tensor context;        // [tokens <= text_len, text_dim] f32, host, unpadded
  Tensor clip_features;  // i2v: [257, clip_dim] f32
  Tensor y;              // i2v: [in_dim - x channels, F, H, W] f32 (mask + image latent)
  // Wan2.2 TI2V i2v: the first latent frame is the given image, and its tokens take this timestep (0) while
  // the rest take `timestep`.
  std::optional<double> first_frame_timestep;
};

// A context prepared for the sampling loop: the text (and image) embedding and every block's cross-attention
// keys and values, computed once (WanDit::prepare_context) and reused by every step with that context.
struct WanDitPreparedContext {
  std::vector<WanCrossContext> blocks;
};

class WanBlockUnits;  // the streamed blocks (dit_model.cpp)

// Feature caching's hook around the blocks (TeaCache, MagCache): it sees the step's time embedding and
// decides whether the blocks run. When they run it gets their residual (blocks' output minus input); when
// they do not, the residual it kept is added to the blocks' input instead.
class WanBlockCache {
 public:
  virtual ~WanBlockCache() = default;
  // e [dim] (time embedding) and e0 [6, dim] (time projection), f32 on the model's device.
  virtual bool should_compute(const Tensor& e, const Tensor& e0) = 0;
  virtual void store_residual(Tensor residual) = 0;
  // The residual to add when should_compute said no (a tensor store_residual got).
  virtual const Tensor& residual() const = 0;
};

class WanDit {
 public:
  // Every weight resident on `device`.
  WanDit(const WanDitCheckpoint& checkpoint, const WanDitKernels& kernels, Precision precision,
         Device& device);
  // With `offload`: the blocks stream through the device unit by unit (cpu_offload, lazy_load) as
  // offload/unit_stream.h describes, or stay resident when it asks for nothing to stream. Errors name a
  // missing or misshaped block tensor before anything runs.
  WanDit(std::shared_ptr<const WanDitCheckpoint> checkpoint, const WanDitKernels& kernels,
         Precision precision, Device& device, const OffloadOptions& offload);
  WanDit(WanDit&&) = default;
  ~WanDit();

  const WanDitConfig& config() const { return config_; }
  const Precision& precision() const { return precision_; }
  // One forward pass: the velocity [out_dim, F, H, W] f32 on the host. `prepared` (from prepare_context of
  // inputs.context and inputs.clip_features) skips recomputing what depends on the context alone.
  // `cache` (may be null) decides whether the blocks run (feature caching).
  Tensor forward(const WanDitInputs& inputs, const WanDitPreparedContext* prepared = nullptr,
                 WanBlockCache* cache = nullptr) const;
  // The context's share of the work, for every step that uses it (the same results as forward computes).
  WanDitPreparedContext prepare_context(const Tensor& context, const Tensor& clip_features) const;

  // Called with intermediate results ("time_embedding", "time_projection", "text_embedding",
  // "block_<i>") as f32 host tensors; for tests and debugging.
  using Observer = std::function<void(const std::string& name, const Tensor& value)>;
  void set_observer(Observer observer) { observer_ = std::move(observer); }

  // Throws Error naming the problem when `inputs` do not fit this model.
  void check_inputs(const WanDitInputs& inputs) const;

  // Ulysses sequence parallel over `group` (null or one rank: off): every rank of the group runs forward with
  // the same inputs, holds 1/P of the tokens through the blocks, and returns the whole velocity. The heads
  // must divide by the group's size.
  void set_sequence_parallel(Communicator* group);

 private:
  void observe(const std::string& name, const Tensor& value) const;
  Tensor embed_time(double timestep, Tensor& e0) const;
  Tensor embed_text(const Tensor& context) const;
  Tensor embed_image(const Tensor& clip_features) const;
  void load_non_block(const WanDitCheckpoint& checkpoint, const WanDitKernels& kernels);
  void load_resident(const WanDitCheckpoint& checkpoint, const WanDitKernels& kernels);
  // Runs every block on x, resident or streamed.
  void run_blocks(Tensor& x, const WanTimeConditioning& time, const WanDitPreparedContext& prepared,
                  const RopeTables& rope, const SequenceShard& shard) const;

  WanDitConfig config_;
  Precision precision_;
  Device* device_;
  std::unique_ptr<ConvKernel> patch_embedding_;
  Linear time_embedding_0_, time_embedding_2_, time_projection_;
  Linear text_embedding_0_, text_embedding_2_;
  std::unique_ptr<LayerNormKernel> image_norm_in_, image_norm_out_;
  Linear image_projection_1_, image_projection_3_;
  std::vector<WanBlock> blocks_;  // resident blocks; empty when they stream
  // Streaming: the blocks' checkpoint, their units and the parts of a block each unit holds.
  std::shared_ptr<const WanDitCheckpoint> streamed_checkpoint_;
  std::shared_ptr<WanBlockUnits> source_;
  std::unique_ptr<UnitStream> units_;
  std::vector<unsigned> unit_parts_;  // per unit of one block: kWanStepParts, or one phase each
  WanDitKernels kernels_;
  OffloadOptions offload_;
  Tensor head_modulation_;  // [2, dim] f32
  std::unique_ptr<LayerNormKernel> head_norm_;
  Linear head_;
  Observer observer_;
  Communicator* sequence_group_ = nullptr;
};

}  // namespace x2v
