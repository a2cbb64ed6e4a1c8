#include "pipeline/config_keys.h"

#include <algorithm>

#include "core/log.h"
#include "core/text.h"

namespace x2v {
namespace {

// Keys x2v reads (LightX2V's meaning unless the README says otherwise; sample_solver, weight_auto_quant and
// strict_config are x2v's own).
const std::vector<std::string> kUsedKeys = {
    "infer_steps", "sample_shift", "sample_guide_scale", "enable_cfg", "denoising_step_list", "sample_solver",
    "target_video_length", "target_height", "target_width", "seed", "fps", "text_len", "sample_neg_prompt",
    "self_attn_1_type", "cross_attn_1_type", "cross_attn_2_type", "rms_norm_type", "layer_norm_type",
    "rope_type", "dit_quantized", "dit_quant_scheme", "dit_quantized_ckpt", "weight_auto_quant",
    "t5_quantized", "t5_quant_scheme", "t5_quantized_ckpt", "dit_original_ckpt", "t5_original_ckpt",
    "t5_tokenizer_path", "vae_path", "use_tiling_vae", "vae_dtype", "t5_cpu_offload", "vae_cpu_offload",
    "cpu_offload", "offload_granularity", "lazy_load", "num_disk_workers", "unload_modules", "t5_lazy_load",
    "lora_configs", "strict_config", "use_tae", "tae_path", "need_scaled", "use_lightvae", "vae_name",
    "feature_caching", "teacache_thresh", "use_ret_steps", "coefficients", "magcache_K", "magcache_thresh",
    "magcache_retention_ratio", "magcache_ratios", "magcache_calibration", "use_image_encoder",
    "clip_original_ckpt", "clip_cpu_offload", "boundary", "boundary_step_index", "high_noise_original_ckpt",
    "low_noise_original_ckpt", "high_noise_quantized_ckpt", "low_noise_quantized_ckpt", "clip_quantized",
    "clip_quant_scheme", "clip_quantized_ckpt", "parallel", "vae_parallel",
    // x2v always decodes chunk by chunk (LightX2V's streaming decode), so either value is honoured.
    "use_stream_vae"};

// LightX2V keys x2v knows but does not implement. `instead` says what happens instead; a value that asks
// for nothing (false, null, 0, "", [], {} or one of `off_values`) is silent. Keys with no `instead` only
// matter together with another key (tae_path with use_tae, ...), which is the one warned about.
struct UnimplementedKey {
  const char* key;
  const char* instead;
  std::vector<nlohmann::json> off_values = {};
};

const char* const kFullVae = "the video is decoded with the full Wan2.1 VAE";
const char* const kNeverRead = "LightX2V documents it but never reads it, so it does nothing there either";
const char* const kFromModel = "x2v reads the architecture from the model's config.json and weights";
const char* const kExactAttention = "attention is exact (no sparse attention)";
const char* const kOtherFamily = "it belongs to a LightX2V model x2v does not run";
const char* const kNoAutoregressive = "autoregressive (causal) generation is not implemented";
const char* const kNoWan22 = "it belongs to Wan2.2, which x2v does not run yet";

const std::vector<UnimplementedKey>& unimplemented_keys() {
  static const std::vector<UnimplementedKey> keys = {
      {"vae_type", kFullVae, {"wan", "wan2.1"}},
      {"lightvae_pruning_rate", nullptr},
      {"vae_weight_dtype", "the VAE weights run in vae_dtype"},
      {"vae_sensitive_layer_dtype", "the VAE runs in vae_dtype"},
      {"residual_diff_threshold", nullptr},
      {"downsample_factor", nullptr},
      {"use_taylor_cache", "every step runs the whole DiT"},
      {"video_frame_interpolation", "the video keeps its fps (no frame interpolation)"},
      {"target_fps", nullptr},
      {"video_super_resolution", "the video keeps its size (no super-resolution)"},
      {"use_prompt_enhancer", "the prompt is used as given"},
      {"changing_resolution", "every step samples at the target size"},
      {"resolution_rate", nullptr},
      {"changing_resolution_steps", nullptr},
      {"mm_config", "no linear is quantized by it; use dit_quantized and dit_quant_scheme"},
      {"offload_to_disk", kNeverRead},
      {"offload_ratio", kNeverRead},
      {"max_memory", "LightX2V never reads it either; set X2V_MEMORY_LIMIT to bound the allocator"},
      {"t5_offload_granularity", kNeverRead},
      {"vae_offload_cache", kNoWan22},
      {"cpu_offload_activations", "activations stay on the device"},
      {"clean_cuda_cache", "cached blocks go back to the system after each stage"},
      {"seq_parallel", "LightX2V derives it from parallel.seq_p_size; set that instead"},
      {"cfg_parallel", "LightX2V derives it from parallel.cfg_p_size; set that instead"},
      {"compile", "kernels run as registered (no graph compilation)"},
      {"use_compile", "kernels run as registered (no graph compilation)"},
      {"vae_use_compile", "kernels run as registered (no graph compilation)"},
      {"rotary_chunk", "RoPE is applied in one pass; the result is the same"},
      {"rotary_chunk_size", nullptr},
      {"do_mm_calib", "no calibration is run"},
      {"use_bfloat16", "set DTYPE=FP32 for f32 compute", {true}},
      {"lora_dynamic_apply", "lora_configs are merged into the weights at load"},
      {"use_31_block", "the image features are always those after all CLIP blocks but the last", {true}},
      {"clip_attn_type",
       "the CLIP encoder uses the platform's exact attention",
       {"torch_sdpa", "flash_attn2", "flash_attn3"}},
      {"image_path", "the image comes from --image_path"},
      {"last_frame_path", "first-and-last-frame (flf2v) is not built"},
      {"resize_mode",
       "the i2v size is LightX2V's default: the target area at the image's aspect ratio (no resize buckets)"},
      {"max_area", "the i2v area is target_height x target_width"},
      {"aspect_ratio", "set target_height and target_width"},
      {"video_duration", "set target_video_length"},
      {"model_cls", "x2v takes it from --model_cls"},
      {"task", "x2v takes it from --task"},
      {"model_path", "x2v takes it from --model_path"},
      {"dim", kFromModel},
      {"ffn_dim", kFromModel},
      {"num_heads", kFromModel},
      {"num_layers", kFromModel},
      {"freq_dim", kFromModel},
      {"in_dim", kFromModel},
      {"out_dim", kFromModel},
      {"text_dim", kFromModel},
      {"eps", kFromModel},
      {"model_type", kFromModel},
      {"window_size", kFromModel},
      {"qk_norm", kFromModel},
      {"cross_attn_norm", kFromModel},
      {"modulate_type", "modulation runs on the platform's elementwise kernel (the same math)"},
      {"general_sparse_attn_setting", kExactAttention},
      {"dynamic_sparse_attn_setting", kExactAttention},
      {"nbhd_attn_setting", kExactAttention},
      {"sol_attn_setting", kExactAttention},
      {"sparge", kExactAttention},
      {"sparge_attn_setting", nullptr},
      {"sparge_ckpt", nullptr},
      {"spas_flash_attn4_setting", kExactAttention},
      {"spas_sage_attn2_setting", kExactAttention},
      {"spas_sage_attn3_setting", kExactAttention},
      {"draft_attn_sparsity_ratio", kExactAttention},
      {"disagg_mode", "disaggregated serving is not implemented: one process runs every stage"},
      {"disagg_config", nullptr},
      {"sub_servers", nullptr},
      {"causal_rope_type", kNoAutoregressive},
      {"ar_config", kNoAutoregressive},
      {"num_frame_per_block", kNoAutoregressive},
      {"num_blocks", kNoAutoregressive},
      {"frame_seq_length", kNoAutoregressive},
      {"dancer_stage", kOtherFamily},
      {"music_inject_layers", kOtherFamily},
      {"refert_num", kOtherFamily},
      {"replace_flag", kOtherFamily},
      {"adapter_attn_type", kOtherFamily},
      {"enable_reuse", kOtherFamily},
      {"num_fragments", kOtherFamily},
      {"auto_target_shape", kOtherFamily},
      {"num_channels_latents", "x2v reads the latent channels from the model's VAE and DiT", {16, 48}},
      {"clip_embed_dim", kFromModel},
      {"comment", nullptr},
      {"comment_parallel", nullptr},
      {"vae_stride",
       "x2v reads the VAE's stride from its file ([4, 8, 8] for Wan2.1's, [4, 16, 16] for Wan2.2's)",
       {nlohmann::json::array({4, 8, 8}), nlohmann::json::array({4, 16, 16})}},
      {"patch_size", "Wan2.1's patch size is [1, 2, 2]", {nlohmann::json::array({1, 2, 2})}},
  };
  return keys;
}

bool asks_for_nothing(const nlohmann::json& value, const UnimplementedKey& key) {
  const bool true_is_off =
      std::find(key.off_values.begin(), key.off_values.end(), true) != key.off_values.end();
  // A key whose default is true (use_bfloat16) asks for something when false.
  if (true_is_off) return value.is_null() || value == true;
  if (value.is_null() || (value.is_boolean() && !value.get<bool>())) return true;
  if (value.is_number() && value.get<double>() == 0) return true;
  if ((value.is_string() || value.is_array() || value.is_object()) && value.empty()) return true;
  return std::find(key.off_values.begin(), key.off_values.end(), value) != key.off_values.end();
}

std::string shortened_value(const nlohmann::json& value) {
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 40) + "...";
  return printable(text);
}

}  // namespace

const std::vector<std::string>& used_config_keys() {
  return kUsedKeys;
}

std::vector<std::string> config_key_problems(const io::Config& user_config) {
  std::vector<std::string> problems;
  const std::string source = printable(user_config.source());
  for (const std::string& key : user_config.duplicate_keys()) {
    const auto found = user_config.json().find(key);
    const std::string kept =
        found == user_config.json().end() ? "" : concat(" (", shortened_value(*found), ")");
    problems.push_back(concat("config key '", printable(key), "' is written more than once in ", source,
                              "; the last one", kept, " is used; keep one"));
  }
  std::vector<std::string> known = kUsedKeys;
  for (const UnimplementedKey& entry : unimplemented_keys()) known.push_back(entry.key);
  for (const auto& [key, value] : user_config.json().items()) {
    if (std::find(kUsedKeys.begin(), kUsedKeys.end(), key) != kUsedKeys.end()) continue;
    const auto& table = unimplemented_keys();
    const std::string& name = key;  // a structured binding cannot be captured before C++20 in clang 14
    const auto entry = std::find_if(table.begin(), table.end(),
                                    [&](const UnimplementedKey& known_key) { return known_key.key == name; });
    if (entry != table.end()) {
      if (entry->instead == nullptr || asks_for_nothing(value, *entry)) continue;
      problems.push_back(concat("x2v ignores ", key, " = ", shortened_value(value),
                                " (not implemented): ", entry->instead, " (in ", source, ")"));
      continue;
    }
    const std::string nearest = nearest_name(key, known);
    problems.push_back(concat("unknown config key '", printable(key), "' in ", source,
                              nearest.empty() ? std::string("; it is not used (see the README's config keys)")
                                              : concat("; did you mean '", nearest, "'?")));
  }
  return problems;
}

void report_config_key_problems(const std::vector<std::string>& problems, bool strict) {
  if (problems.empty()) return;
  if (strict)
    throw Error("config", concat(problems.front(), " [strict: fix it, or drop --strict / strict_config]"));
  for (const std::string& problem : problems) log_warn("config", problem);
}

}  // namespace x2v
