#pragma once
// Optional per-category op timing. When enabled before kernels are created, the registries hand out
// kernels wrapped in timers, so model code stays untouched. Benchmarks use it for time shares.
#include <map>
#include <memory>
#include <string>

#include "platform/ops/attention.h"
#include "platform/ops/conv.h"
#include "platform/ops/elementwise.h"
#include "platform/ops/mm.h"
#include "platform/ops/norm.h"
#include "platform/ops/rope.h"

namespace x2v {

class OpProfiler {
 public:
  static OpProfiler& instance();
  bool enabled() const { return enabled_; }
  void set_enabled(bool enabled) { enabled_ = enabled; }
  void add(const std::string& category, double seconds);
  std::map<std::string, double> totals() const;
  void reset();

 private:
  bool enabled_ = false;
  std::map<std::string, double> totals_;
};

// Wraps `kernel` in a timer for `category` when profiling is enabled (else returns it as is).
std::unique_ptr<AttentionKernel> profiled(std::unique_ptr<AttentionKernel> kernel,
                                          const std::string& category);
std::unique_ptr<MatmulKernel> profiled(std::unique_ptr<MatmulKernel> kernel, const std::string& category);
std::unique_ptr<RmsNormKernel> profiled(std::unique_ptr<RmsNormKernel> kernel, const std::string& category);
std::unique_ptr<LayerNormKernel> profiled(std::unique_ptr<LayerNormKernel> kernel,
                                          const std::string& category);
std::unique_ptr<RopeKernel> profiled(std::unique_ptr<RopeKernel> kernel, const std::string& category);
std::unique_ptr<ConvKernel> profiled(std::unique_ptr<ConvKernel> kernel, const std::string& category);
std::unique_ptr<ElementwiseKernel> profiled(std::unique_ptr<ElementwiseKernel> kernel,
                                            const std::string& category);

}  // namespace x2v
