#pragma once
// Spatial tiling of the VAE decode, laid out and blended as diffusers' AutoencoderKLWan.tiled_decode:
// latent tiles of tile_size/8 every stride/8, each decoded as its own causal stream; decoded tiles are
// blended linearly with the tile above and the tile to the left over size - stride pixels (in raster
// order, in place, so a tile blends with already blended neighbours), then cropped to stride x stride
// and placed on the stride grid.
#include <vector>

#include "core/tensor.h"
#include "platform/device.h"

namespace x2v {

struct VaeTilePlan {
  int64_t latent_tile = 0, latent_stride = 0;  // latent pixels
  int64_t sample_stride = 0, blend = 0;        // video pixels
  std::vector<int64_t> rows, columns;          // latent origins of the tiles

  // Throws Error unless the sizes are multiples of 8 with 0 < stride <= size.
  static VaeTilePlan make(int64_t latent_height, int64_t latent_width, int64_t tile_sample_size,
                          int64_t tile_sample_stride);
  // Whether a latent this large is tiled at all (as diffusers: larger than one tile in either dim).
  static bool needed(int64_t latent_height, int64_t latent_width, int64_t tile_sample_size) {
    return latent_height > tile_sample_size / 8 || latent_width > tile_sample_size / 8;
  }
};

// Blends `tiles` ([row][column], each [3, n, th, tw] on one device; modified in place) and returns the
// assembled frames [3, n, height, width] in their dtype.
Tensor assemble_vae_tiles(std::vector<std::vector<Tensor>>& tiles, const VaeTilePlan& plan, int64_t height,
                          int64_t width);

}  // namespace x2v
