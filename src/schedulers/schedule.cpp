#include "schedulers/schedule.h"

#include <cmath>

#include "core/error.h"

namespace x2v {
namespace {

double shifted(double sigma, double shift) {
  return shift * sigma / (1.0 + (shift - 1.0) * sigma);
}

void check_shift(double shift) {
  if (!(shift > 0.0) || !std::isfinite(shift))
    throw Error("scheduler", concat("sample_shift ", shift, " must be a positive number"));
}

}  // namespace

FlowSchedule wan_flow_schedule(int steps, double shift) {
  if (steps < 1) throw Error("scheduler", concat("infer_steps is ", steps, "; it must be at least 1"));
  check_shift(shift);
  // The reference builds 1000 training sigmas in float32; its largest is float32(1 - 0.001).
  const double sigma_max = static_cast<double>(static_cast<float>(1.0 - 0.001));
  FlowSchedule schedule;
  for (int i = 0; i < steps; ++i) {
    const double linear = sigma_max + (0.0 - sigma_max) * static_cast<double>(i) / steps;
    const double sigma = shifted(linear, shift);
    schedule.timesteps.push_back(std::trunc(sigma * 1000.0));
    schedule.sigmas.push_back(static_cast<float>(sigma));
  }
  schedule.sigmas.push_back(0.0);
  return schedule;
}

FlowSchedule step_distill_schedule(const std::vector<int>& denoising_step_list, double shift) {
  if (denoising_step_list.empty())
    throw Error("scheduler", "denoising_step_list is empty; e.g. [1000, 750, 500, 250]");
  check_shift(shift);
  FlowSchedule schedule;
  for (int step : denoising_step_list) {
    if (step < 1 || step > 1000)
      throw Error("scheduler", concat("denoising_step_list entry ", step, " is outside 1..1000"));
    const double linear =
        1.0 - static_cast<double>(1000 - step) / 1000.0;  // linspace(1, 0, 1001)[1000 - step]
    const double sigma = shifted(linear, shift);
    schedule.sigmas.push_back(sigma);
    schedule.timesteps.push_back(sigma * 1000.0);
  }
  schedule.sigmas.push_back(0.0);
  return schedule;
}

}  // namespace x2v
