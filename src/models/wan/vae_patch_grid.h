#pragma once
// Patch parallel for the VAE decode: the latent frame split into a rows x columns grid of tiles, one per rank
// of a group. Unlike LightX2V's overlapping tiles (two latents of padding, cropped), every convolution gets
// its border from the neighbouring tiles at its own layer and the middle attention sees the whole frame, so
// the assembled video is the single-rank one.
#include <utility>
#include <vector>

#include "models/wan/vae_blocks.h"
#include "platform/communicator.h"

namespace x2v {

class VaePatchGrid final : public VaeSpatialSplit {
 public:
  // A grid over `group`'s ranks for latent frames of `height` x `width`.
  VaePatchGrid(Communicator& group, int64_t height, int64_t width);
  // The grid shape for `ranks` ranks: the factor pair whose tiles have the shortest border (LightX2V's
  // choices for its table's sizes: 60x104 gives 1x2, 2x2, 2x4 for 2, 4, 8 ranks). Throws Error when no pair
  // leaves every tile at least one latent pixel.
  static std::pair<int, int> shape_for(int ranks, int64_t height, int64_t width);

  int rows() const { return rows_; }
  int columns() const { return columns_; }

  Tensor with_halo(const Tensor& tile) const override;
  Tensor whole(const Tensor& tile) const override;
  Tensor tile(const Tensor& whole) const override;

 private:
  // Rank of the tile at (row, column); -1 outside the grid.
  int rank_at(int row, int column) const;
  // The scale of `tile` (this rank's) relative to the latent grid.
  int64_t scale_of(const Tensor& tile) const;

  Communicator* group_;
  int rows_ = 1, columns_ = 1, row_ = 0, column_ = 0;
  std::vector<int64_t> row_bounds_, column_bounds_;  // latent pixels, rows_ + 1 and columns_ + 1 entries
};

}  // namespace x2v
