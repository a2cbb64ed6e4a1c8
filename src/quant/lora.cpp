#include "quant/lora.h"

#include <cmath>
#include <memory>
#include <set>

#include "core/log.h"

namespace x2v {
namespace {

constexpr const char* kPlace = "lora";

struct PairLayout {
  const char* up;
  const char* down;
};
// LightX2V's LoRA layouts (lightx2v/utils/lora_loader.py), tried in this order on each key.
constexpr PairLayout kPairLayouts[] = {{".lora_up.weight", ".lora_down.weight"},
                                       {"_lora.up.weight", "_lora.down.weight"},
                                       {".lora_B.weight", ".lora_A.weight"},
                                       {".lora.up.weight", ".lora.down.weight"},
                                       {".lora_B", ".lora_A"},
                                       {".lora_linear_layer.up.weight", ".lora_linear_layer.down.weight"},
                                       {".lora_B.default.weight", ".lora_A.default.weight"}};

struct DiffLayout {
  const char* suffix;
  const char* target;
};
constexpr DiffLayout kDiffLayouts[] = {
    {".diff", ".weight"}, {".diff_b", ".bias"}, {".diff_m", ".modulation"}};

constexpr const char* kPrefixes[] = {"diffusion_model.", "model.", "unet.", "transformer."};
constexpr const char* kAlphaSuffix = ".alpha";

std::string without_suffix(const std::string& text, const std::string& suffix) {
  return text.substr(0, text.size() - suffix.size());
}

std::string without_prefix(const std::string& key) {
  for (const char* prefix : kPrefixes) {
    const std::string text = prefix;
    if (key.rfind(text, 0) == 0) return key.substr(text.size());
  }
  return key;
}

const PairLayout* up_layout_of(const std::string& key) {
  for (const PairLayout& layout : kPairLayouts)
    if (key.ends_with(layout.up)) return &layout;
  return nullptr;
}

const PairLayout* down_layout_of(const std::string& key) {
  for (const PairLayout& layout : kPairLayouts)
    if (key.ends_with(layout.down)) return &layout;
  return nullptr;
}

const DiffLayout* diff_layout_of(const std::string& key) {
  for (const DiffLayout& layout : kDiffLayouts)
    if (key.ends_with(layout.suffix)) return &layout;
  return nullptr;
}

// The `.alpha` of a pair: a scalar; 0 counts as absent, as in LightX2V.
std::optional<double> read_alpha(const io::Checkpoint& file, const std::string& base) {
  const std::string key = base + kAlphaSuffix;
  if (!file.contains(key)) return std::nullopt;
  const Tensor alpha = file.load(key, DType::f32);
  if (alpha.numel() != 1 || !std::isfinite(alpha.to_floats()[0]))
    throw Error(kPlace, concat(file.path(), ": '", key, "' is ", alpha.describe(),
                               "; a LoRA alpha is one finite number"));
  const double value = alpha.to_floats()[0];
  return value != 0.0 ? std::optional<double>(value) : std::nullopt;
}

bool is_float_dtype(DType dtype) {
  return dtype == DType::f32 || dtype == DType::bf16 || dtype == DType::f16;
}

// Why `delta` does not fit a tensor of `shape`, or "" when it does.
std::string shape_problem(const LoraDelta& delta, const Shape& shape) {
  if (delta.is_pair()) {
    const Shape& up = delta.up.shape();
    const Shape& down = delta.down.shape();
    if (up.size() != 2 || down.size() != 2 || up[1] != down[0])
      return concat("up ", shape_to_string(up), " and down ", shape_to_string(down),
                    " are not a [out, rank] x [rank, in] pair");
    if (shape != Shape{up[0], down[1]})
      return concat("up ", shape_to_string(up), " x down ", shape_to_string(down), " gives [", up[0], ", ",
                    down[1], "], but the tensor is ", shape_to_string(shape));
    return {};
  }
  const Shape& diff = delta.diff.shape();
  // Unit dims may differ ([1, 6, dim] modulations), the values may not.
  if (shape_numel(diff) != shape_numel(shape) || (diff.size() == shape.size() && diff != shape))
    return concat("the diff is ", shape_to_string(diff), ", but the tensor is ", shape_to_string(shape));
  return {};
}

// w[out, in] += scale * up[out, r] @ down[r, in], the product summed first as a matmul would.
void add_low_rank(float* w, const LoraDelta& delta) {
  const int64_t out = delta.up.size(0), rank = delta.up.size(1), in = delta.down.size(1);
  const float* up = delta.up.data<float>();
  const float* down = delta.down.data<float>();
  const float scale = static_cast<float>(delta.scale);
#pragma omp parallel for schedule(static) if (out * in * rank >= (int64_t{1} << 18))
  for (int64_t row = 0; row < out; ++row) {
    std::vector<float> product(static_cast<size_t>(in), 0.0f);
    for (int64_t k = 0; k < rank; ++k) {
      const float a = up[row * rank + k];
      const float* d = down + k * in;
      for (int64_t i = 0; i < in; ++i) product[i] += a * d[i];
    }
    float* target = w + row * in;
    for (int64_t i = 0; i < in; ++i) target[i] += product[i] * scale;
  }
}

}  // namespace

std::vector<LoraConfig> lora_configs_from(const io::Config& config) {
  std::vector<LoraConfig> configs;
  if (!config.has("lora_configs")) return configs;
  const nlohmann::json& list = config.json().at("lora_configs");
  if (!list.is_array())
    throw Error("config",
                concat("config key 'lora_configs' is ", list.type_name(),
                       "; expected a list of {\"path\": ..., \"strength\": ...} (in ", config.source(), ")"));
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_object())
      throw Error("config",
                  concat("config key 'lora_configs[", i, "]' is ", list[i].type_name(),
                         "; expected {\"path\": ..., \"strength\": ...} (in ", config.source(), ")"));
    const io::Config entry(list[i], config.source(), concat("lora_configs[", i, "]."));
    configs.push_back({entry.get_string("path"), entry.get_double("strength", 1.0), std::nullopt});
  }
  return configs;
}

std::vector<LoraDelta> read_lora(const LoraConfig& config) {
  if (!std::isfinite(config.strength))
    throw Error(kPlace, concat(config.path, ": strength ", config.strength, " is not a finite number"));
  if (config.alpha && !std::isfinite(*config.alpha))
    throw Error(kPlace, concat(config.path, ": alpha ", *config.alpha, " is not a finite number"));
  const std::unique_ptr<io::Checkpoint> file = io::open_checkpoint(config.path);
  std::vector<LoraDelta> deltas;
  std::set<std::string> paired_downs;
  for (const std::string& key : file->names()) {
    if (key.ends_with(kAlphaSuffix)) continue;  // read with its pair
    LoraDelta delta;
    delta.key = key;
    delta.path = config.path;
    if (const PairLayout* layout = up_layout_of(key)) {
      const std::string base = without_suffix(key, layout->up);
      const std::string down_key = base + layout->down;
      if (!file->contains(down_key))
        throw Error(kPlace, concat(config.path, ": '", key, "' has no '", down_key,
                                   "'; a LoRA pair needs both matrices (the file is incomplete)"));
      paired_downs.insert(down_key);
      delta.up = file->load(key, DType::f32);
      delta.down = file->load(down_key, DType::f32);
      if (delta.down.ndim() != 2)
        throw Error(kPlace, concat(config.path, ": '", down_key, "' is ", delta.down.describe(),
                                   "; x2v merges only 2-D (linear) LoRA pairs"));
      const std::optional<double> alpha = read_alpha(*file, base);
      const std::optional<double> used = alpha ? alpha : config.alpha;
      const double rank = static_cast<double>(delta.down.size(0));
      delta.scale = config.strength * (used ? *used / rank : 1.0);
      delta.target = without_prefix(base) + ".weight";
    } else if (const DiffLayout* layout = diff_layout_of(key)) {
      delta.diff = file->load(key, DType::f32);
      delta.scale = config.strength * config.alpha.value_or(1.0);
      delta.target = without_prefix(without_suffix(key, layout->suffix)) + layout->target;
    } else if (down_layout_of(key) != nullptr) {
      continue;  // checked below: every down must have been paired
    } else if (key.ends_with(".lora_mid.weight")) {
      throw Error(kPlace, concat(config.path, ": '", key,
                                 "' is a LoCon/Tucker mid matrix, which x2v (like LightX2V) cannot merge"));
    } else {
      throw Error(kPlace, concat(config.path, ": '", key, "' is not a LoRA tensor x2v knows (pairs .lora_up/",
                                 ".lora_down, .lora_B/.lora_A, ..., with .alpha; .diff, .diff_b, .diff_m)"));
    }
    deltas.push_back(std::move(delta));
  }
  for (const std::string& key : file->names())
    if (!key.ends_with(kAlphaSuffix) && up_layout_of(key) == nullptr && diff_layout_of(key) == nullptr &&
        down_layout_of(key) != nullptr && paired_downs.count(key) == 0)
      throw Error(kPlace,
                  concat(config.path, ": '", key,
                         "' has no up matrix to pair with; a LoRA pair needs both (the file is incomplete)"));
  if (deltas.empty())
    throw Error(kPlace, concat(config.path, " holds no LoRA tensors (pairs or diffs); is it a LoRA file?"));
  return deltas;
}

LoraMerge::LoraMerge(const std::vector<LoraConfig>& configs, const io::Checkpoint& checkpoint,
                     const Resolver& resolve) {
  for (const LoraConfig& config : configs) {
    size_t count = 0;
    for (LoraDelta& delta : read_lora(config)) {
      const std::string name = resolve(delta.target);
      if (name.empty())
        throw Error(kPlace, concat(delta.path, ": '", delta.key, "' changes '", delta.target, "', which ",
                                   checkpoint.path(), " does not have; the LoRA is for another model"));
      const io::TensorInfo info = checkpoint.info(name);
      if (!info.dtype || !is_float_dtype(*info.dtype))
        throw Error(kPlace, concat(delta.path, ": '", delta.key, "' changes '", name, "', which is stored ",
                                   info.dtype_label(), "; merge LoRAs into the unquantized (f32/bf16/f16) ",
                                   "checkpoint, then quantize"));
      const std::string problem = shape_problem(delta, info.shape);
      if (!problem.empty())
        throw Error(kPlace, concat(delta.path, ": '", delta.key, "' does not fit '", name, "': ", problem));
      deltas_[name].push_back(std::move(delta));
      ++count;
    }
    delta_count_ += count;
    log_info(kPlace, config.path, ": ", count, " changes at strength ", config.strength);
  }
}

Tensor LoraMerge::apply(const std::string& name, const Tensor& tensor) const {
  const auto found = deltas_.find(name);
  if (found == deltas_.end()) return tensor;
  if (!is_float_dtype(tensor.dtype()) || !tensor.is_host_accessible())
    throw InternalError(kPlace, concat("cannot merge into '", name, "' ", tensor.describe()));
  Tensor sum = tensor.to_host(DType::f32);
  float* w = sum.data<float>();
  for (const LoraDelta& delta : found->second) {
    if (shape_numel(tensor.shape()) != sum.numel() || !shape_problem(delta, tensor.shape()).empty())
      throw InternalError(kPlace, concat("'", name, "' ", tensor.describe(), " is not the tensor ", delta.key,
                                         " was checked against"));
    if (delta.is_pair()) {
      add_low_rank(w, delta);
    } else {
      const float* diff = delta.diff.data<float>();
      const float scale = static_cast<float>(delta.scale);
      for (int64_t i = 0; i < sum.numel(); ++i) w[i] += diff[i] * scale;
    }
  }
  return tensor.dtype() == DType::f32 ? sum : sum.to_host(tensor.dtype());
}

}  // namespace x2v
