#pragma once
// Feature caching (LightX2V's feature_caching): a DiT evaluation whose blocks would change little reuses
// the residual (blocks' output minus input) of the last evaluation that ran them. TeaCache decides from
// how far the time embedding moved since the last step, rescaled by a fitted polynomial; MagCache from
// calibrated per-step magnitude ratios of the residual. Each keeps its own state for the conditional and
// the unconditional pass, as LightX2V does.
#include <memory>
#include <string>
#include <vector>

#include "io/config.h"
#include "models/wan/dit_model.h"

namespace x2v {

enum class FeatureCaching { none, tea, mag };

struct FeatureCacheOptions {
  FeatureCaching kind = FeatureCaching::none;
  int64_t steps = 0;  // sampling steps (infer_steps, or the step list's length)
  // Tea: teacache_thresh, use_ret_steps and the coefficients it selects (highest degree first).
  double tea_thresh = 0.26;
  bool use_ret_steps = false;
  std::vector<double> coefficients;
  // Mag: magcache_thresh, magcache_K, magcache_retention_ratio, magcache_ratios [cond, uncond].
  double mag_thresh = 0.12;
  int64_t mag_k = 4;
  double mag_retention_ratio = 0.2;
  std::vector<double> mag_ratios[2];

  // feature_caching ("NoCaching" default, "Tea", "Mag") and its keys, for a run of `steps` sampling steps.
  // Errors name an unknown method (the allowed ones listed), coefficients or ratios of the wrong shape or
  // length, and a threshold or K out of range.
  static FeatureCacheOptions from_config(const io::Config& config, int64_t steps);
  // "Tea (teacache_thresh 0.26, use_ret_steps)", "Mag (...)", "off"
  std::string describe() const;
};

// One branch's cache (the conditional or the unconditional pass) over one sampling run.
class FeatureCache : public WanBlockCache {
 public:
  // Null for FeatureCaching::none.
  static std::unique_ptr<FeatureCache> create(const FeatureCacheOptions& options, bool conditional);

  // The sampling step the next should_compute() is for.
  void begin_step(int64_t step) { step_ = step; }
  bool should_compute(const Tensor& e, const Tensor& e0) final;
  void store_residual(Tensor residual) final { residual_ = std::move(residual); }
  const Tensor& residual() const final { return residual_; }

  // Per evaluation so far: true where the blocks ran.
  const std::vector<bool>& computed() const { return computed_; }
  int64_t skipped() const;

 protected:
  explicit FeatureCache(const FeatureCacheOptions& options, bool conditional)
      : options_(options), conditional_(conditional) {}
  // The method's decision for step_ (it may update its state).
  virtual bool decide(const Tensor& e, const Tensor& e0) = 0;

  FeatureCacheOptions options_;
  bool conditional_;
  int64_t step_ = 0;

 private:
  Tensor residual_;
  std::vector<bool> computed_;
};

}  // namespace x2v
