#pragma once
// The umT5-XXL text encoder of Wan2.1 (the official wan/modules/t5.py T5Encoder, which transformers'
// UMT5EncoderModel computes too): token embedding, pre-norm blocks of self-attention with a per-layer
// relative position bias (no 1/sqrt(d) scaling) and a gated-GELU(tanh) feed-forward, final T5 RMSNorm.
// Written only against platform ops.
#include <memory>
#include <string>
#include <vector>

#include "models/common/linear.h"
#include "models/common/linear_quant_options.h"
#include "models/common/precision.h"
#include "models/wan/t5_tokenizer.h"
#include "models/wan/t5_weights.h"
#include "offload/offload_options.h"
#include "offload/unit_stream.h"

namespace x2v {

// T5's bidirectional relative position bucket of `relative_position` = key index - query index: half the
// buckets for keys after the query; within each half, distances below num_buckets / 4 get a bucket each
// and larger ones share logarithmically wider buckets up to max_distance (the last bucket beyond it).
int64_t t5_relative_position_bucket(int64_t relative_position, int64_t num_buckets, int64_t max_distance);

// How the blocks' attention and FFN linears run: the ones LightX2V quantizes in the T5 (t5_quantized,
// t5_quant_scheme). Everything else (embedding, norms, position tables) is never quantized.
using T5LinearOptions = LinearQuantOptions;

class T5BlockUnits;  // the streamed blocks (t5_encoder.cpp)

class T5Encoder {
 public:
  // Loads every tensor of a umT5 encoder checkpoint (either naming) onto `device`, as stored (bf16 stays
  // bf16; the norm weights and position tables become f32). Residual stream and norms run in
  // precision.sensitive, matmuls and attention in precision.compute. The checkpoint may be closed after.
  T5Encoder(const io::Checkpoint& checkpoint, Precision precision, Device& device,
            const T5LinearOptions& linears = {});
  T5Encoder(const T5Encoder&) = delete;
  T5Encoder& operator=(const T5Encoder&) = delete;
  // With `offload` asking for lazy_load: the blocks are read from the checkpoint (which the encoder keeps)
  // one at a time ahead of use, as the DiT's are (offload/unit_stream.h); otherwise as above.
  T5Encoder(std::shared_ptr<const io::Checkpoint> checkpoint, Precision precision, Device& device,
            const T5LinearOptions& linears, const OffloadOptions& offload);
  ~T5Encoder();
  // `path`: a checkpoint file (.pth, .safetensors, index.json), a diffusers text_encoder/ folder, or a Wan
  // model folder holding models_t5_umt5-xxl-enc-bf16.pth (or text_encoder/). Error naming what was expected.
  static std::unique_ptr<T5Encoder> open(const std::string& path, Precision precision, Device& device,
                                         const T5LinearOptions& linears = {},
                                         const OffloadOptions& offload = {});

  const T5Config& config() const { return config_; }
  const Precision& precision() const { return precision_; }

  // Encodes the `length` real tokens of `tokens` (the reference masks the padded keys, so leaving the
  // padding out gives the same rows) into [length, dim] f32 on the host: the context the DiT takes.
  Tensor encode(const TokenizedText& tokens) const;

  struct Block : OffloadUnit {
    std::unique_ptr<RmsNormKernel> norm1, norm2;
    Linear q, k, v, o, gate, fc1, fc2;
    std::vector<float> position_table;  // [num_buckets, num_heads] on the host
    std::unique_ptr<AttentionKernel> attention;
  };

 private:
  friend class T5BlockUnits;
  void load_non_block(const T5Weights& weights);
  void load_resident(const T5Weights& weights);
  // Block `index`'s weights as host tensors, in the dtypes (and quantized layouts) its kernels take.
  WeightSet read_block(const T5Weights& weights, int64_t index) const;
  // The block from its weights on the device.
  std::unique_ptr<Block> build_block(const WeightSet& weights) const;

  // x [tokens, dim] (precision.sensitive) is updated in place; `buckets` [tokens, tokens] row-major;
  // `host_bias` [heads, tokens, tokens] f32 host scratch for the position bias.
  void run_block(const Block& block, Tensor& x, const std::vector<int32_t>& buckets, Tensor& host_bias) const;
  // The block's position table looked up by bucket into `host_bias`, then on the device.
  Tensor position_bias(const Block& block, const std::vector<int32_t>& buckets, Tensor& host_bias) const;
  Tensor heads_view(const Tensor& tokens) const;

  T5Config config_;
  Precision precision_;
  Device* device_;
  T5LinearOptions linears_;
  Tensor token_embedding_;                      // [vocab, dim] as stored, on the device
  std::vector<std::unique_ptr<Block>> blocks_;  // resident blocks; empty when they stream
  std::unique_ptr<RmsNormKernel> final_norm_;
  // lazy_load: the checkpoint, its names and the stream of blocks.
  std::shared_ptr<const io::Checkpoint> streamed_checkpoint_;
  std::unique_ptr<T5Weights> streamed_weights_;
  std::unique_ptr<UnitStream> units_;
};

}  // namespace x2v
