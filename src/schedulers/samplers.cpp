// Euler, UniPC (order 2, bh2, predicting x0, as Wan's FlowUniPCMultistepScheduler) and LightX2V's
// step-distill sampler.
#include <cmath>

#include "schedulers/sampler.h"

namespace x2v {

void Sampler::check_step(int step, const Tensor& velocity, const Tensor& latents) const {
  if (step < 0 || step >= steps()) throw InternalError("sampler", concat("step ", step, " of ", steps()));
  if (velocity.shape() != latents.shape() || velocity.dtype() != DType::f32 ||
      latents.dtype() != DType::f32 || !velocity.is_contiguous() || !latents.is_contiguous())
    throw InternalError("sampler", concat("velocity ", velocity.describe(), " and latents ",
                                          latents.describe(), " must be matching contiguous f32"));
}

namespace {

class EulerSampler : public Sampler {
 public:
  using Sampler::Sampler;
  void step(int step, const Tensor& velocity, Tensor& latents) override {
    check_step(step, velocity, latents);
    const float delta = static_cast<float>(sigma(step + 1) - sigma(step));
    const float* v = velocity.data<float>();
    float* x = latents.data<float>();
    for (int64_t i = 0; i < latents.numel(); ++i) x[i] += delta * v[i];
  }
};

class StepDistillSampler : public Sampler {
 public:
  using Sampler::Sampler;
  void step(int step, const Tensor& velocity, Tensor& latents) override {
    check_step(step, velocity, latents);
    const float current = static_cast<float>(sigma(step));
    const bool last = step + 1 == steps();
    const float next = static_cast<float>(sigma(step + 1));
    const float* v = velocity.data<float>();
    float* x = latents.data<float>();
    for (int64_t i = 0; i < latents.numel(); ++i) {
      const float x0 = x[i] - current * v[i];
      x[i] = last ? x0 : x0 + next * v[i];
    }
  }
};

// UniPC with a predictor (UniP) and corrector (UniC), both of order up to 2, on data predictions
// m = x - sigma * v. Orders drop to 1 at the first step and at the last (lower_order_final).
class UniPcSampler : public Sampler {
 public:
  using Sampler::Sampler;

  void step(int step, const Tensor& velocity, Tensor& latents) override {
    check_step(step, velocity, latents);
    if (step != next_step_) throw InternalError("unipc", "steps must be taken in order");
    const int64_t count = latents.numel();
    const float* v = velocity.data<float>();
    float* x = latents.data<float>();
    std::vector<float> prediction(count);
    const double current_sigma = sigma(step);
    for (int64_t i = 0; i < count; ++i) prediction[i] = static_cast<float>(x[i] - current_sigma * v[i]);

    if (step > 0 && !last_sample_.empty()) correct(step, prediction, x);
    older_prediction_ = std::move(last_prediction_);
    last_prediction_ = std::move(prediction);
    const int order = std::min({2, steps() - step, warmup_ + 1});
    last_sample_.assign(x, x + count);
    predict(step, order, x);
    order_ = order;
    warmup_ = std::min(warmup_ + 1, 2);
    ++next_step_;
  }

 private:
  // log(alpha) - log(sigma) with alpha = 1 - sigma; +inf at sigma = 0.
  static double lambda(double sigma_value) { return std::log(1.0 - sigma_value) - std::log(sigma_value); }

  // UniC: refines the sample at `step` with the new prediction, using the previous step's order.
  void correct(int step, const std::vector<float>& prediction, float* x) {
    const double sigma_t = sigma(step), sigma_s0 = sigma(step - 1);
    const double alpha_t = 1.0 - sigma_t;
    const double h = lambda(sigma_t) - lambda(sigma_s0);
    const double hh = -h;
    const double h_phi_1 = std::expm1(hh);
    const double b_h = std::expm1(hh);
    const std::vector<float>& m0 = last_prediction_;
    double rho_previous = 0.0, rho_last = 0.5;
    double r = 1.0;
    if (order_ == 2) {
      r = (lambda(sigma(step - 2)) - lambda(sigma_s0)) / h;
      const double phi_k1 = h_phi_1 / hh - 1.0;
      const double phi_k2 = phi_k1 / hh - 0.5;
      const double b1 = phi_k1 / b_h, b2 = phi_k2 * 2.0 / b_h;
      // Solve [[1, 1], [r, 1]] [rho_previous, rho_last] = [b1, b2].
      rho_previous = (b1 - b2) / (1.0 - r);
      rho_last = b1 - rho_previous;
    }
    const double ratio = sigma_t / sigma_s0;
    for (size_t i = 0; i < prediction.size(); ++i) {
      double correction = rho_last * (static_cast<double>(prediction[i]) - m0[i]);
      if (order_ == 2) correction += rho_previous * (static_cast<double>(older_prediction_[i]) - m0[i]) / r;
      x[i] = static_cast<float>(ratio * last_sample_[i] - alpha_t * h_phi_1 * m0[i] -
                                alpha_t * b_h * correction);
    }
  }

  // UniP: extrapolates from the sample at `step` to `step + 1`.
  void predict(int step, int order, float* x) {
    const double sigma_t = sigma(step + 1), sigma_s0 = sigma(step);
    const double alpha_t = 1.0 - sigma_t;
    const std::vector<float>& m0 = last_prediction_;
    if (sigma_t == 0.0) {  // lambda is infinite: the update is exactly the data prediction
      for (size_t i = 0; i < m0.size(); ++i) x[i] = m0[i];
      return;
    }
    const double h = lambda(sigma_t) - lambda(sigma_s0);
    const double h_phi_1 = std::expm1(-h);
    const double b_h = std::expm1(-h);
    const double ratio = sigma_t / sigma_s0;
    const double r = order == 2 ? (lambda(sigma(step - 1)) - lambda(sigma_s0)) / h : 1.0;
    for (size_t i = 0; i < m0.size(); ++i) {
      double value = ratio * x[i] - alpha_t * h_phi_1 * m0[i];
      if (order == 2) value -= alpha_t * b_h * 0.5 * (static_cast<double>(older_prediction_[i]) - m0[i]) / r;
      x[i] = static_cast<float>(value);
    }
  }

  int next_step_ = 0;
  int order_ = 1;   // the order of the last predictor, used by the next corrector
  int warmup_ = 0;  // steps taken, capped at the solver order
  std::vector<float> last_prediction_, older_prediction_, last_sample_;
};

}  // namespace

std::unique_ptr<Sampler> make_sampler(const SamplerOptions& options) {
  if (options.solver == "unipc")
    return std::make_unique<UniPcSampler>(wan_flow_schedule(options.steps, options.shift));
  if (options.solver == "euler")
    return std::make_unique<EulerSampler>(wan_flow_schedule(options.steps, options.shift));
  if (options.solver == "distill")
    return std::make_unique<StepDistillSampler>(
        step_distill_schedule(options.denoising_step_list, options.shift));
  throw Error("scheduler",
              concat("unknown sample_solver '", options.solver, "'; use unipc, euler or distill"));
}

}  // namespace x2v
