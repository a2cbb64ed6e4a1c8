#pragma once
// Patch parallel (the VAE decode's): frames [C, T, H, W] split into a rows x columns grid of tiles, one per
// rank of a group, at any integer scale of a base grid (a VAE's latent). Unlike LightX2V's overlapping tiles
// (two latents of padding, cropped), a layer asks for the one-pixel border its 3x3 convolution needs from the
// neighbouring tiles, or for the whole frames (attention), so the assembled result is the single-rank one.
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "platform/communicator.h"

namespace x2v {

class PatchGrid {
 public:
  // A grid over `group`'s ranks for base frames of `height` x `width`.
  PatchGrid(Communicator& group, int64_t height, int64_t width);
  // The grid shape for `ranks` ranks: the factor pair whose tiles have the shortest border (LightX2V's
  // choices for its table's sizes: 60x104 gives 1x2, 2x2, 2x4 for 2, 4, 8 ranks). Throws Error when no pair
  // leaves every tile at least one base pixel.
  static std::pair<int, int> shape_for(int ranks, int64_t height, int64_t width);

  int rows() const { return rows_; }
  int columns() const { return columns_; }

  // This rank's tile with a one-pixel border: the neighbouring tiles' edge pixels, zeros at the frame's edge
  // (collective: every rank of the group calls it for the same layer).
  Tensor with_halo(const Tensor& tile) const;
  // The whole frames, assembled from every rank's tile (collective).
  Tensor whole(const Tensor& tile) const;
  // This rank's tile of whole frames.
  Tensor tile(const Tensor& whole) const;

 private:
  // Rank of the tile at (row, column); -1 outside the grid.
  int rank_at(int row, int column) const;
  // The scale of `tile` (this rank's) relative to the base grid.
  int64_t scale_of(const Tensor& tile) const;

  Communicator* group_;
  int rows_ = 1, columns_ = 1, row_ = 0, column_ = 0;
  std::vector<int64_t> row_bounds_, column_bounds_;  // base pixels, rows_ + 1 and columns_ + 1 entries
};

}  // namespace x2v
