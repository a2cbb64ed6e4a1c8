// Wan's CLIP image encoder at its real size (ViT-H/14: 1280 wide, 32 blocks of which I2V runs 31, 257 tokens;
// random weights made in-process) encoding one 480x832 image, preprocessing included: seconds per image,
// GFLOP/s.
//   build/bench/x2v_bench --benchmark_filter=ClipEncode
#include <benchmark/benchmark.h>

#include "bench_common.h"
#include "models/wan/clip_encoder.h"
#include "platform/platform.h"

namespace x2v {
namespace {

void ClipEncode(benchmark::State& state) {
  Device& device = selected_device();
  const ClipVisionConfig config;  // ViT-H/14
  const ClipVisionEncoder encoder(*bench::random_checkpoint(clip_vision_tensor_shapes(config), "CLIP", 2027),
                                  Precision::from_environment(), device);
  std::vector<float> pixels(3 * 480 * 832);
  for (size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<float>((i * 2654435761u) % 2001) / 1000.0f - 1;
  const Tensor image = Tensor::host_from(pixels, {3, 480, 832});
  encoder.encode(image);  // warm-up: primitives and packed weights
  const bench::IterationTimes times = bench::time_iterations(state, [&] { encoder.encode(image); });
  // Per block: qkv, projection and the MLP (2 FLOPs a multiply-add) plus attention's two products.
  const double tokens = static_cast<double>(config.tokens()), dim = static_cast<double>(config.dim);
  const double per_block =
      2 * tokens * (4 * dim * dim + 2 * dim * config.mlp_dim) + 4 * tokens * tokens * dim;
  const double flops = per_block * static_cast<double>(config.num_layers - 1);
  state.counters["s_per_image"] = times.best_seconds;
  state.counters["GFLOP/s"] = flops / times.best_seconds / 1e9;
  state.SetLabel(device.device_string() + ": " + device.hardware());
}
BENCHMARK(ClipEncode)->Unit(benchmark::kSecond)->Iterations(3)->UseManualTime();

}  // namespace
}  // namespace x2v
