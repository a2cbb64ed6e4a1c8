#include "pipeline/wan_model_files.h"

#include <filesystem>
#include <tuple>

#include "core/error.h"
#include "core/text.h"
#include "models/wan/clip_encoder.h"

namespace x2v {
namespace {

namespace fs = std::filesystem;

bool path_exists(const fs::path& path) {
  std::error_code error;
  return fs::exists(path, error);
}

bool has_dit_weights(const fs::path& folder) {
  std::error_code error;
  if (!fs::is_directory(folder, error)) return false;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("diffusion_pytorch_model", 0) == 0 &&
        (name.ends_with(".safetensors") || name.ends_with(".safetensors.index.json")))
      return true;
  }
  return false;
}

// A file named by a config key must exist; the message names the key so the user knows what to fix.
std::string from_key(const io::Config& config, const std::string& key) {
  const std::string path = config.get_string(key);
  if (!path_exists(path))
    throw Error("model", concat(key, " '", path, "' does not exist; fix the path in ", config.source()));
  return path;
}

// LightX2V's find_torch_model_path: the subfolders first, then the model folder itself.
std::string find_in_model_folder(const fs::path& root, const std::string& file) {
  for (const char* folder : {"original", "fp8", "int8", "distill_models", "distill_fp8", "distill_int8"})
    if (path_exists(root / folder / file)) return (root / folder / file).string();
  return path_exists(root / file) ? (root / file).string() : std::string();
}

}  // namespace

std::string wan_quantized_t5_file(const std::string& scheme) {
  return concat("models_t5_umt5-xxl-enc-", scheme.substr(0, scheme.find('-')), ".pth");
}

WanModelFiles WanModelFiles::locate(const std::string& model_path, const io::Config& config,
                                    const WanModelNeeds& needs) {
  const fs::path root(model_path);
  std::error_code error;
  if (!fs::exists(root, error))
    throw Error("model",
                concat("--model_path '", model_path,
                       "' does not exist; give the Wan2.1 model folder (e.g. models/Wan2.1-T2V-1.3B)"));
  if (!fs::is_directory(root, error))
    throw Error("model", concat("--model_path '", model_path,
                                "' is not a directory; give the Wan2.1 model folder (e.g. Wan2.1-T2V-1.3B)"));
  const bool diffusers = path_exists(root / "transformer") && path_exists(root / "vae");
  WanModelFiles files;
  // Every missing part is named at once, so one download fixes them all.
  std::vector<std::string> missing_files, override_keys;
  const auto missing = [&](const std::string& expected, const std::string& key) {
    missing_files.push_back(expected);
    override_keys.push_back(key);
  };

  if (needs.experts) {
    // Wan2.2 A14B: one DiT per noise range, each a folder of (sharded) safetensors.
    for (const auto& [folder, key, target] :
         {std::tuple{"high_noise_model", "high_noise_original_ckpt", &files.dit_high_noise},
          std::tuple{"low_noise_model", "low_noise_original_ckpt", &files.dit}}) {
      if (config.has(key))
        *target = from_key(config, key);
      else if (has_dit_weights(root / folder))
        *target = (root / folder).string();
      else
        missing(concat(folder, "/ (the ", std::string(folder).substr(0, std::string(folder).find('_')),
                       "-noise expert's DiT)"),
                key);
    }
  } else if (config.has("dit_original_ckpt")) {
    files.dit = from_key(config, "dit_original_ckpt");
  } else if (diffusers) {
    files.dit = (root / "transformer").string();
  } else if (has_dit_weights(root)) {
    files.dit = model_path;
  } else {
    missing(concat(kWanDitFile, " (or its shards and index.json)"), "dit_original_ckpt");
  }

  if (config.get_bool("t5_quantized", false)) {
    files.t5_quant_scheme = config.get_string("t5_quant_scheme", "");
    const std::string& scheme = files.t5_quant_scheme;
    if (scheme.empty() || scheme == "Default")
      throw Error("config", concat("t5_quantized is true but t5_quant_scheme is '", scheme,
                                   "'; name the umT5 checkpoint's scheme (int8-vllm, fp8-sgl, ...) in ",
                                   config.source()));
    if (config.has("t5_quantized_ckpt"))
      files.t5 = from_key(config, "t5_quantized_ckpt");
    else
      files.t5 = find_in_model_folder(root, wan_quantized_t5_file(scheme));
    files.t5_auto_quant = config.get_bool("weight_auto_quant", false);
    if (files.t5.empty() && !files.t5_auto_quant)
      throw Error("model",
                  concat("t5_quantized: model directory ", model_path, " has no ",
                         wan_quantized_t5_file(scheme), " (nor in its int8/, fp8/, original/ folders); ",
                         "set t5_quantized_ckpt, or weight_auto_quant to quantize ", kWanT5File, " at load"));
  }
  if (files.t5.empty()) {  // the float umT5 (also what weight_auto_quant quantizes)
    if (config.has("t5_original_ckpt"))
      files.t5 = from_key(config, "t5_original_ckpt");
    else if (diffusers && path_exists(root / "text_encoder"))
      files.t5 = (root / "text_encoder").string();
    else if (path_exists(root / kWanT5File))
      files.t5 = (root / kWanT5File).string();
    else
      missing(kWanT5File, "t5_original_ckpt");
  }

  if (config.has("t5_tokenizer_path")) {
    files.tokenizer = from_key(config, "t5_tokenizer_path");
  } else if (diffusers && path_exists(root / "tokenizer" / "spiece.model")) {
    files.tokenizer = (root / "tokenizer" / "spiece.model").string();
  } else if (path_exists(root / kWanTokenizerFile)) {
    files.tokenizer = (root / kWanTokenizerFile).string();
  } else {
    missing(kWanTokenizerFile, "t5_tokenizer_path");
  }

  files.lightvae = config.get_bool("use_lightvae", false);
  if (files.lightvae && !config.has("vae_path")) {
    const std::string name = config.get_string("vae_name", "lightvaew2_1.pth");
    files.vae = find_in_model_folder(root, name);
    if (files.vae.empty())
      throw Error("model",
                  concat("use_lightvae is true but vae_path is unset and the model folder ", model_path,
                         " (and its original/, fp8/, int8/, distill_* folders) has no ", name,
                         "; download LightX2V's lightvaew2_1.pth (huggingface.co/lightx2v/Autoencoders)",
                         " or set vae_path"));
  } else if (config.has("vae_path")) {
    files.vae = from_key(config, "vae_path");
  } else if (diffusers) {
    files.vae = (root / "vae").string();
  } else if (const char* vae_file = needs.wan22_vae ? kWan22VaeFile : kWanVaeFile;
             path_exists(root / vae_file)) {
    files.vae = (root / vae_file).string();
  } else {
    missing(needs.wan22_vae ? kWan22VaeFile : kWanVaeFile, "vae_path");
  }
  if (needs.i2v) {
    if (!files.lightvae)
      files.vae_encoder = files.vae;
    else if (diffusers)
      files.vae_encoder = (root / "vae").string();
    else if (path_exists(root / kWanVaeFile))
      files.vae_encoder = (root / kWanVaeFile).string();
    else
      missing(concat(kWanVaeFile, " (i2v encodes the image with the full VAE; use_lightvae only decodes)"),
              "a full VAE beside the LightVAE");
    if (needs.clip && config.get_bool("use_image_encoder", true) &&
        config.get_bool("clip_quantized", false)) {
      // LightX2V's quantized CLIP file, or (weight_auto_quant) the float one quantized at load.
      files.clip_quant_scheme = config.get_string("clip_quant_scheme", "");
      if (files.clip_quant_scheme.empty() || files.clip_quant_scheme == "Default")
        throw Error(
            "config",
            concat("clip_quantized is true but clip_quant_scheme is '", files.clip_quant_scheme,
                   "'; name the CLIP checkpoint's scheme (int8-vllm, fp8-sgl, ...) in ", config.source()));
      files.clip_auto_quant = config.get_bool("weight_auto_quant", false);
      if (config.has("clip_quantized_ckpt"))
        files.clip = from_key(config, "clip_quantized_ckpt");
      else
        files.clip = find_in_model_folder(root, wan_quantized_clip_file(files.clip_quant_scheme));
      if (files.clip.empty() && !files.clip_auto_quant)
        throw Error("model",
                    concat("clip_quantized: model directory ", model_path, " has no ",
                           wan_quantized_clip_file(files.clip_quant_scheme),
                           " (nor in its int8/, fp8/, original/ folders); set clip_quantized_ckpt, or "
                           "weight_auto_quant to quantize ",
                           kWanClipFile, " at load"));
    }
    if (needs.clip && config.get_bool("use_image_encoder", true) && files.clip.empty()) {
      if (config.has("clip_original_ckpt")) {
        files.clip = from_key(config, "clip_original_ckpt");
      } else {
        files.clip = find_in_model_folder(root, kWanClipFile);
        if (files.clip.empty() && path_exists(root / "image_encoder"))
          files.clip = (root / "image_encoder").string();
        if (files.clip.empty())
          missing(concat(kWanClipFile, " (the CLIP image encoder; or diffusers' image_encoder/)"),
                  "clip_original_ckpt");
      }
    }
  }
  if (config.get_bool("use_tae", false)) {
    if (config.has("tae_path")) {
      files.tae = from_key(config, "tae_path");
    } else {
      std::string searched;
      for (const char* name : {"taew2_1.pth", "taew2_1.safetensors"}) {
        files.tae = find_in_model_folder(root, name);
        if (!files.tae.empty()) break;
        searched += concat(searched.empty() ? "" : ", ", name);
      }
      if (files.tae.empty())
        throw Error("model",
                    concat("use_tae is true but tae_path is unset and the model folder ", model_path,
                           " (and its original/, fp8/, int8/, distill_models/, distill_fp8/, "
                           "distill_int8/ folders) has no ",
                           searched, "; download taew2_1 from github.com/madebyollin/taehv or set tae_path"));
    }
    files.tae_need_scaled = config.get_bool(
        "need_scaled", fs::path(files.tae).filename().string().find("lighttae") != std::string::npos);
  }
  if (!missing_files.empty()) {
    std::string names, keys;
    for (size_t i = 0; i < missing_files.size(); ++i) {
      names += (i == 0 ? "" : ", ") + missing_files[i];
      keys += (i == 0 ? "" : ", ") + override_keys[i];
    }
    throw Error("model", concat("model directory ", model_path, " has no ", names,
                                "; download the complete model, or set ", keys, " in the config"));
  }
  return files;
}

}  // namespace x2v
