#include "platform/profiler.h"

#include <chrono>
#include <mutex>

namespace x2v {
namespace {

std::mutex& profiler_mutex() {
  static std::mutex mutex;
  return mutex;
}

class ScopedTimer {
 public:
  explicit ScopedTimer(const std::string& category)
      : category_(category), start_(std::chrono::steady_clock::now()) {}
  ~ScopedTimer() {
    OpProfiler::instance().add(
        category_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }

 private:
  const std::string& category_;
  std::chrono::steady_clock::time_point start_;
};

class TimedAttention : public AttentionKernel {
 public:
  TimedAttention(std::unique_ptr<AttentionKernel> inner, std::string category)
      : inner_(std::move(inner)), category_(std::move(category)) {}
  void load(const AttentionOptions& options) override { inner_->load(options); }
  bool supports_bias() const override { return inner_->supports_bias(); }
  void run(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out,
           const AttentionCall& call) override {
    ScopedTimer timer(category_);
    inner_->apply(q, k, v, out, call);
  }

 private:
  std::unique_ptr<AttentionKernel> inner_;
  std::string category_;
};

class TimedMatmul : public MatmulKernel {
 public:
  TimedMatmul(std::unique_ptr<MatmulKernel> inner, std::string category)
      : inner_(std::move(inner)), category_(std::move(category)) {}
  void load(const Tensor& weight, const Tensor& bias) override {
    inner_->load(weight, bias);
    in_features_ = inner_->in_features();
    out_features_ = inner_->out_features();
  }
  void load_quantized(const QuantizedWeight& weight, const Tensor& bias) override {
    inner_->load_quantized(weight, bias);
    in_features_ = inner_->in_features();
    out_features_ = inner_->out_features();
  }
  QuantFormat quantized_format() const override { return inner_->quantized_format(); }
  void apply(const Tensor& x, Tensor& y) override {
    ScopedTimer timer(category_);
    inner_->apply(x, y);
  }

 private:
  std::unique_ptr<MatmulKernel> inner_;
  std::string category_;
};

class TimedRmsNorm : public RmsNormKernel {
 public:
  TimedRmsNorm(std::unique_ptr<RmsNormKernel> inner, std::string category)
      : inner_(std::move(inner)), category_(std::move(category)) {}
  void load(const Tensor& weight, float eps) override { inner_->load(weight, eps); }
  void apply(const Tensor& x, Tensor& out) override {
    ScopedTimer timer(category_);
    inner_->apply(x, out);
  }

 private:
  std::unique_ptr<RmsNormKernel> inner_;
  std::string category_;
};

class TimedLayerNorm : public LayerNormKernel {
 public:
  TimedLayerNorm(std::unique_ptr<LayerNormKernel> inner, std::string category)
      : inner_(std::move(inner)), category_(std::move(category)) {}
  void load(const Tensor& weight, const Tensor& bias, float eps) override { inner_->load(weight, bias, eps); }
  void apply(const Tensor& x, Tensor& out) override {
    ScopedTimer timer(category_);
    inner_->apply(x, out);
  }

 private:
  std::unique_ptr<LayerNormKernel> inner_;
  std::string category_;
};

class TimedRope : public RopeKernel {
 public:
  TimedRope(std::unique_ptr<RopeKernel> inner, std::string category)
      : inner_(std::move(inner)), category_(std::move(category)) {}
  void apply(const Tensor& x, const RopeTables& tables, Tensor& out) override {
    ScopedTimer timer(category_);
    inner_->apply(x, tables, out);
  }

 private:
  std::unique_ptr<RopeKernel> inner_;
  std::string category_;
};

class TimedConv : public ConvKernel {
 public:
  TimedConv(std::unique_ptr<ConvKernel> inner, std::string category)
      : inner_(std::move(inner)), category_(std::move(category)) {}
  void load(const Tensor& weight, const Tensor& bias, const ConvOptions& options) override {
    inner_->load(weight, bias, options);
    check_and_store(weight, bias, options);  // so output_shape works on the wrapper
    weight_ = Tensor();                      // the shape is enough; the inner kernel decides what it keeps
    bias_ = Tensor();
  }
  void apply(const Tensor& x, Tensor& out) override {
    ScopedTimer timer(category_);
    inner_->apply(x, out);
  }

 private:
  std::unique_ptr<ConvKernel> inner_;
  std::string category_;
};

class TimedElementwise : public ElementwiseKernel {
 public:
  TimedElementwise(std::unique_ptr<ElementwiseKernel> inner, std::string category)
      : inner_(std::move(inner)), category_(std::move(category)) {}
  void load(const std::vector<float>& params) override { inner_->load(params); }
  void apply(const std::vector<Tensor>& inputs, Tensor& out) override {
    ScopedTimer timer(category_);
    inner_->apply(inputs, out);
  }

 private:
  std::unique_ptr<ElementwiseKernel> inner_;
  std::string category_;
};

template <class Timed, class Kernel>
std::unique_ptr<Kernel> wrap(std::unique_ptr<Kernel> kernel, const std::string& category) {
  if (!OpProfiler::instance().enabled()) return kernel;
  return std::make_unique<Timed>(std::move(kernel), category);
}

}  // namespace

OpProfiler& OpProfiler::instance() {
  static OpProfiler profiler;
  return profiler;
}

void OpProfiler::add(const std::string& category, double seconds) {
  std::lock_guard<std::mutex> lock(profiler_mutex());
  totals_[category] += seconds;
}

std::map<std::string, double> OpProfiler::totals() const {
  std::lock_guard<std::mutex> lock(profiler_mutex());
  return totals_;
}

void OpProfiler::reset() {
  std::lock_guard<std::mutex> lock(profiler_mutex());
  totals_.clear();
}

std::unique_ptr<AttentionKernel> profiled(std::unique_ptr<AttentionKernel> kernel,
                                          const std::string& category) {
  return wrap<TimedAttention>(std::move(kernel), category);
}
std::unique_ptr<MatmulKernel> profiled(std::unique_ptr<MatmulKernel> kernel, const std::string& category) {
  return wrap<TimedMatmul>(std::move(kernel), category);
}
std::unique_ptr<RmsNormKernel> profiled(std::unique_ptr<RmsNormKernel> kernel, const std::string& category) {
  return wrap<TimedRmsNorm>(std::move(kernel), category);
}
std::unique_ptr<LayerNormKernel> profiled(std::unique_ptr<LayerNormKernel> kernel,
                                          const std::string& category) {
  return wrap<TimedLayerNorm>(std::move(kernel), category);
}
std::unique_ptr<RopeKernel> profiled(std::unique_ptr<RopeKernel> kernel, const std::string& category) {
  return wrap<TimedRope>(std::move(kernel), category);
}
std::unique_ptr<ConvKernel> profiled(std::unique_ptr<ConvKernel> kernel, const std::string& category) {
  return wrap<TimedConv>(std::move(kernel), category);
}
std::unique_ptr<ElementwiseKernel> profiled(std::unique_ptr<ElementwiseKernel> kernel,
                                            const std::string& category) {
  return wrap<TimedElementwise>(std::move(kernel), category);
}

}  // namespace x2v
