#include "pipeline/feature_cache.h"

#include <cmath>

#include "core/error.h"
#include "core/text.h"
#include "platform/ops.h"
#include "platform/platform.h"

namespace x2v {
namespace {

// LightX2V names x2v knows but does not run; they warn through the config key accounting.
const char* const kAllowed = "NoCaching, Tea, Mag";

std::vector<double> number_list(const nlohmann::json& value, const std::string& what,
                                const std::string& source) {
  if (!value.is_array()) throw Error("config", concat(what, " is not a list of numbers (in ", source, ")"));
  std::vector<double> numbers;
  for (const nlohmann::json& item : value) {
    if (!item.is_number()) throw Error("config", concat(what, " has a non-number entry (in ", source, ")"));
    numbers.push_back(item.get<double>());
  }
  return numbers;
}

// The pair of lists [first, second] under `key`.
std::pair<std::vector<double>, std::vector<double>> list_pair(const io::Config& config,
                                                              const std::string& key,
                                                              const std::string& shape) {
  const nlohmann::json& value = config.json().at(key);
  if (!value.is_array() || value.size() != 2 || !value[0].is_array() || !value[1].is_array())
    throw Error("config", concat(key, " must be ", shape, " (in ", config.source(), ")"));
  return {number_list(value[0], key + "[0]", config.source()),
          number_list(value[1], key + "[1]", config.source())};
}

// TeaCache: the time embedding's relative L1 change since the last step, rescaled by the polynomial and
// accumulated; the blocks run once the sum reaches the threshold (and in the first and last steps).
class TeaCache final : public FeatureCache {
 public:
  using FeatureCache::FeatureCache;

 private:
  bool decide(const Tensor& e, const Tensor& e0) override {
    // use_ret_steps: e0 and 5 warm-up steps; else e, the first step, and the last step always computed.
    const Tensor host = ops::to_device(options_.use_ret_steps ? e0 : e, host_device()).to_host(DType::f32);
    std::vector<float> input(host.data<float>(), host.data<float>() + host.numel());
    const int64_t warmup = options_.use_ret_steps ? 5 : 1;
    const int64_t cutoff = options_.use_ret_steps ? options_.steps : options_.steps - 1;
    bool compute = true;
    if (step_ < warmup || step_ >= cutoff || previous_.size() != input.size()) {
      accumulated_ = 0;
    } else {
      double difference = 0, magnitude = 0;
      for (size_t i = 0; i < input.size(); ++i) {
        difference += std::fabs(static_cast<double>(input[i]) - previous_[i]);
        magnitude += std::fabs(static_cast<double>(previous_[i]));
      }
      const double relative = static_cast<double>(static_cast<float>(difference / magnitude));
      double rescaled = 0;  // np.poly1d: highest degree first
      for (double coefficient : options_.coefficients) rescaled = rescaled * relative + coefficient;
      accumulated_ += rescaled;
      compute = accumulated_ >= options_.tea_thresh;
      if (compute) accumulated_ = 0;
    }
    previous_ = std::move(input);
    return compute;
  }

  double accumulated_ = 0;
  std::vector<float> previous_;
};

// MagCache: the product of the calibrated magnitude ratios since the last computed step; skipping goes on
// while the accumulated error stays under the threshold for at most K steps, after the retention steps.
class MagCache final : public FeatureCache {
 public:
  using FeatureCache::FeatureCache;

 private:
  bool decide(const Tensor&, const Tensor&) override {
    if (step_ < static_cast<int64_t>(static_cast<double>(options_.steps) * options_.mag_retention_ratio))
      return true;
    ratio_ *= options_.mag_ratios[conditional_ ? 0 : 1].at(static_cast<size_t>(step_));
    ++skipped_in_row_;
    error_ += std::fabs(1.0 - ratio_);
    if (error_ < options_.mag_thresh && skipped_in_row_ <= options_.mag_k) return false;
    error_ = 0;
    skipped_in_row_ = 0;
    ratio_ = 1.0;
    return true;
  }

  double ratio_ = 1.0, error_ = 0.0;
  int64_t skipped_in_row_ = 0;
};

}  // namespace

FeatureCacheOptions FeatureCacheOptions::from_config(const io::Config& config, int64_t steps) {
  FeatureCacheOptions options;
  options.steps = steps;
  const std::string method = config.get_string("feature_caching", "NoCaching");
  const std::string& source = config.source();
  if (method == "NoCaching") return options;
  if (method == "Tea") {
    options.kind = FeatureCaching::tea;
    options.tea_thresh = config.get_double("teacache_thresh", 0.26);
    options.use_ret_steps = config.get_bool("use_ret_steps", false);
    if (!config.has("coefficients"))
      throw Error("config",
                  concat("feature_caching Tea needs coefficients [[ret...], [non-ret...]] (the fitted ",
                         "polynomials); configs/caching/ has LightX2V's for Wan2.1 (in ", source, ")"));
    auto [ret, non_ret] = list_pair(config, "coefficients", "[[ret coefficients], [non-ret coefficients]]");
    options.coefficients = options.use_ret_steps ? ret : non_ret;
    if (options.coefficients.empty())
      throw Error("config",
                  concat("coefficients[", options.use_ret_steps ? 0 : 1, "] is empty; use_ret_steps ",
                         options.use_ret_steps ? "true" : "false", " reads it (in ", source, ")"));
    if (!(options.tea_thresh > 0))
      throw Error("config",
                  concat("teacache_thresh ", options.tea_thresh, " is not above 0 (in ", source, ")"));
    return options;
  }
  if (method == "Mag") {
    options.kind = FeatureCaching::mag;
    options.mag_thresh = config.get_double("magcache_thresh", 0.12);
    options.mag_k = config.get_int("magcache_K", 4);
    options.mag_retention_ratio = config.get_double("magcache_retention_ratio", 0.2);
    if (config.get_bool("magcache_calibration", false))
      throw Error("config",
                  concat("magcache_calibration is not implemented in x2v; calibrate with LightX2V and ",
                         "give its magcache_ratios (in ", source, ")"));
    if (!config.has("magcache_ratios"))
      throw Error("config",
                  concat("feature_caching Mag needs magcache_ratios [[cond...], [uncond...]], one ",
                         "ratio per step; configs/caching/ has LightX2V's for Wan2.1 (in ", source, ")"));
    auto [cond, uncond] = list_pair(config, "magcache_ratios", "[[cond ratios], [uncond ratios]]");
    for (const auto* list : {&cond, &uncond})
      if (static_cast<int64_t>(list->size()) != steps)
        throw Error("config",
                    concat("magcache_ratios has ", list->size(), " ratios per branch for ", steps,
                           " steps; give one per step (calibrated for this step count) (in ", source, ")"));
    options.mag_ratios[0] = cond;
    options.mag_ratios[1] = uncond;
    if (options.mag_k < 1)
      throw Error("config", concat("magcache_K ", options.mag_k, " is below 1 (in ", source, ")"));
    if (options.mag_retention_ratio < 0 || options.mag_retention_ratio > 1)
      throw Error("config", concat("magcache_retention_ratio ", options.mag_retention_ratio,
                                   " is not in 0..1 (in ", source, ")"));
    return options;
  }
  throw Error("config",
              concat("feature_caching '", method, "' is not one of ", kAllowed,
                     " (LightX2V's TaylorSeer, Ada, Custom, FirstBlock, DualBlock and DynamicBlock are not",
                     " implemented) (in ", source, ")"));
}

std::string FeatureCacheOptions::describe() const {
  switch (kind) {
    case FeatureCaching::none:
      return "off";
    case FeatureCaching::tea:
      return concat("Tea (teacache_thresh ", tea_thresh, use_ret_steps ? ", use_ret_steps" : "", ")");
    case FeatureCaching::mag:
      return concat("Mag (magcache_thresh ", mag_thresh, ", K ", mag_k, ", retention ", mag_retention_ratio,
                    ")");
  }
  return "?";
}

std::unique_ptr<FeatureCache> FeatureCache::create(const FeatureCacheOptions& options, bool conditional) {
  switch (options.kind) {
    case FeatureCaching::none:
      return nullptr;
    case FeatureCaching::tea:
      return std::unique_ptr<FeatureCache>(new TeaCache(options, conditional));
    case FeatureCaching::mag:
      return std::unique_ptr<FeatureCache>(new MagCache(options, conditional));
  }
  return nullptr;
}

bool FeatureCache::should_compute(const Tensor& e, const Tensor& e0) {
  // Without a residual yet there is nothing to reuse.
  const bool compute = decide(e, e0) || !residual_.defined();
  computed_.push_back(compute);
  return compute;
}

int64_t FeatureCache::skipped() const {
  int64_t count = 0;
  for (bool computed : computed_) count += computed ? 0 : 1;
  return count;
}

}  // namespace x2v
