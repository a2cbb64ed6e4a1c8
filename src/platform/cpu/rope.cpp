// cpu Wan 3D RoPE: per-axis cos/sin tables (built in f64, as the original does, then stored as f32),
// applied to interleaved pairs token by token.
#include <cmath>
#include <vector>

#include "platform/cpu/cpu_device.h"
#include "platform/cpu/row_access.h"

namespace x2v {
namespace {

struct AxisTable {
  int64_t pairs = 0;
  std::vector<float> cosines, sines;  // [positions, pairs]
};

AxisTable build_axis_table(int64_t positions, int64_t part_dims, double theta) {
  AxisTable table;
  table.pairs = part_dims / 2;
  table.cosines.resize(positions * table.pairs);
  table.sines.resize(positions * table.pairs);
  for (int64_t position = 0; position < positions; ++position)
    for (int64_t k = 0; k < table.pairs; ++k) {
      const double angle =
          static_cast<double>(position) * std::pow(theta, -2.0 * static_cast<double>(k) / part_dims);
      table.cosines[position * table.pairs + k] = static_cast<float>(std::cos(angle));
      table.sines[position * table.pairs + k] = static_cast<float>(std::sin(angle));
    }
  return table;
}

class CpuWanRope : public RopeKernel {
 public:
  void apply(const Tensor& x, const RopeGrid& grid, Tensor& out) override {
    check_rope_arguments(x, grid, out, options_);
    prepare_tables(grid);
    const int64_t tokens = x.size(0), heads = x.size(1), d = x.size(2);
    const char* x_base = static_cast<const char*>(x.raw_data());
    char* out_base = static_cast<char*>(out.raw_data());
    const int64_t x_size = static_cast<int64_t>(x.element_size()),
                  out_size = static_cast<int64_t>(out.element_size());
#pragma omp parallel
    {
      std::vector<float> cosines(d / 2), sines(d / 2), row(d);
#pragma omp for schedule(static)
      for (int64_t t = 0; t < tokens; ++t) {
        const int64_t f = t / (grid.height * grid.width), h = (t / grid.width) % grid.height,
                      w = t % grid.width;
        int64_t pair = 0;
        for (const auto& [table, position] :
             {std::pair{&frame_, f}, std::pair{&height_, h}, std::pair{&width_, w}}) {
          for (int64_t k = 0; k < table->pairs; ++k, ++pair) {
            cosines[pair] = table->cosines[position * table->pairs + k];
            sines[pair] = table->sines[position * table->pairs + k];
          }
        }
        for (int64_t head = 0; head < heads; ++head) {
          cpu::load_row(x_base + (t * x.stride(0) + head * x.stride(1)) * x_size, x.dtype(), d, row.data());
#pragma omp simd
          for (int64_t j = 0; j < d / 2; ++j) {
            const float even = row[2 * j], odd = row[2 * j + 1];
            row[2 * j] = even * cosines[j] - odd * sines[j];
            row[2 * j + 1] = even * sines[j] + odd * cosines[j];
          }
          cpu::store_row(row.data(), d, out_base + (t * out.stride(0) + head * out.stride(1)) * out_size,
                         out.dtype());
        }
      }
    }
  }

 private:
  void prepare_tables(const RopeGrid& grid) {
    if (grid.frames == cached_.frames && grid.height == cached_.height && grid.width == cached_.width &&
        !frame_.cosines.empty())
      return;
    const RopeSplit split = wan_rope_split(options_.head_dim);
    frame_ = build_axis_table(grid.frames, split.frame_dims, options_.theta);
    height_ = build_axis_table(grid.height, split.height_dims, options_.theta);
    width_ = build_axis_table(grid.width, split.width_dims, options_.theta);
    cached_ = grid;
  }

  RopeGrid cached_{0, 0, 0};
  AxisTable frame_, height_, width_;
};

}  // namespace

void register_cpu_rope(KernelRegistries& kernels) {
  kernels.rope.add(
      "cpu_wan_rope", [] { return std::make_unique<CpuWanRope>(); },
      "Wan 3D RoPE, interleaved pairs, per-axis tables");
  // LightX2V's rope implementations all compute this same rotation.
  kernels.rope.alias("torch_complex_rope", "cpu_wan_rope");
  kernels.rope.alias("torch_real_rope", "cpu_wan_rope");
  kernels.rope.alias("flashinfer_rope", "cpu_wan_rope");
}

}  // namespace x2v
