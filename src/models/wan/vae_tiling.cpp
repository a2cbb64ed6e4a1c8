#include "models/wan/vae_tiling.h"

#include <algorithm>

#include "platform/ops.h"
#include "platform/platform.h"

namespace x2v {
namespace {

// b = a * (1 - w) + b * w over the `extent` rows (dim 2) or columns (dim 3) where the tiles overlap,
// w = i / extent at offset i, as diffusers' blend_v / blend_h.
void blend(const Tensor& a, Tensor& b, int dim, int64_t limit) {
  const int64_t extent = std::min({a.size(dim), b.size(dim), limit});
  if (extent <= 0) return;
  Device& device = device_of(b);
  const int64_t width = dim == 2 ? b.size(3) : 1;
  std::vector<float> incoming(extent * width), outgoing(extent * width);
  for (int64_t i = 0; i < extent; ++i)
    for (int64_t j = 0; j < width; ++j) {
      incoming[i * width + j] = static_cast<float>(static_cast<double>(i) / static_cast<double>(extent));
      outgoing[i * width + j] =
          static_cast<float>(1.0 - static_cast<double>(i) / static_cast<double>(extent));
    }
  // Weights shaped as a suffix of the overlap ([extent, W] for rows, [extent] for columns).
  const Shape weight_shape = dim == 2 ? Shape{extent, width} : Shape{extent};
  const Tensor w_in = ops::to_device(Tensor::host_from(incoming, weight_shape), device);
  const Tensor w_out = ops::to_device(Tensor::host_from(outgoing, weight_shape), device);
  const Tensor a_part = a.slice(dim, a.size(dim) - extent, a.size(dim));
  Tensor b_part = b.slice(dim, 0, extent);
  Tensor from_a = empty(a_part.shape(), b.dtype(), device), from_b = empty(b_part.shape(), b.dtype(), device);
  ops::mul(a_part, w_out, from_a);
  ops::mul(b_part, w_in, from_b);
  ops::add(from_a, from_b, from_a);
  ops::copy(from_a, b_part);
}

}  // namespace

VaeTilePlan VaeTilePlan::make(int64_t latent_height, int64_t latent_width, int64_t tile_sample_size,
                              int64_t tile_sample_stride) {
  if (tile_sample_size <= 0 || tile_sample_size % 8 || tile_sample_stride <= 0 || tile_sample_stride % 8 ||
      tile_sample_stride > tile_sample_size)
    throw Error("wan vae",
                concat("tile size ", tile_sample_size, " and stride ", tile_sample_stride,
                       " must be multiples of 8 pixels with 0 < stride <= size (e.g. 256 and 192)"));
  VaeTilePlan plan;
  plan.latent_tile = tile_sample_size / 8;
  plan.latent_stride = tile_sample_stride / 8;
  plan.sample_stride = tile_sample_stride;
  plan.blend = tile_sample_size - tile_sample_stride;
  for (int64_t row = 0; row < latent_height; row += plan.latent_stride) plan.rows.push_back(row);
  for (int64_t column = 0; column < latent_width; column += plan.latent_stride)
    plan.columns.push_back(column);
  return plan;
}

Tensor assemble_vae_tiles(std::vector<std::vector<Tensor>>& tiles, const VaeTilePlan& plan, int64_t height,
                          int64_t width) {
  const Tensor& first = tiles.at(0).at(0);
  Tensor out = empty({first.size(0), first.size(1), height, width}, first.dtype(), device_of(first));
  for (size_t i = 0; i < tiles.size(); ++i)
    for (size_t j = 0; j < tiles[i].size(); ++j) {
      Tensor& tile = tiles[i][j];
      if (i > 0) blend(tiles[i - 1][j], tile, 2, plan.blend);
      if (j > 0) blend(tiles[i][j - 1], tile, 3, plan.blend);
      const int64_t top = static_cast<int64_t>(i) * plan.sample_stride;
      const int64_t left = static_cast<int64_t>(j) * plan.sample_stride;
      const int64_t rows = std::min({plan.sample_stride, tile.size(2), height - top});
      const int64_t columns = std::min({plan.sample_stride, tile.size(3), width - left});
      Tensor target = out.slice(2, top, top + rows).slice(3, left, left + columns);
      ops::copy(tile.slice(2, 0, rows).slice(3, 0, columns), target);
    }
  return out;
}

}  // namespace x2v
