#include "parallel/patch_grid.h"

#include <limits>

#include "platform/collectives.h"
#include "platform/ops.h"
#include "platform/platform.h"

namespace x2v {
namespace {

std::vector<int64_t> even_bounds(int64_t length, int parts) {
  std::vector<int64_t> bounds;
  for (int i = 0; i <= parts; ++i) bounds.push_back(length * i / parts);
  return bounds;
}

// Message tags of the halo exchanges: two per dimension, one per direction of travel.
constexpr int kColumnTags = 11, kRowTags = 13;

// `x` [C, T, h, w] with one more pixel on both sides of `dim` (2 or 3): the last line of the neighbour
// `before` and the first line of `after` (-1: none, zeros there).
Tensor bordered_along(Communicator& group, const Tensor& x, int dim, int before, int after, int tag) {
  const int64_t length = x.size(dim);
  Shape shape = x.shape();
  shape[dim] = length + 2;
  Tensor out = empty(shape, x.dtype(), device_of(x));
  Tensor middle = out.slice(dim, 1, length + 1);
  ops::copy(x, middle);
  Shape line = x.shape();
  line[dim] = 1;
  // My first line goes back while the next tile's first line comes in; then my last line goes forward.
  const Tensor from_after = collectives::send_receive(group, x.slice(dim, 0, 1), before, line, after, tag);
  const Tensor from_before =
      collectives::send_receive(group, x.slice(dim, length - 1, length), after, line, before, tag + 1);
  Tensor first = out.slice(dim, 0, 1), last = out.slice(dim, length + 1, length + 2);
  for (auto [received, target] : {std::pair{&from_before, &first}, std::pair{&from_after, &last}}) {
    if (received->defined())
      ops::copy(*received, *target);
    else
      ops::fill(*target, 0.0f);
  }
  return out;
}

}  // namespace

std::pair<int, int> PatchGrid::shape_for(int ranks, int64_t height, int64_t width) {
  std::pair<int, int> best{0, 0};
  double best_border = std::numeric_limits<double>::infinity();
  for (int rows = 1; rows <= ranks; ++rows) {
    if (ranks % rows != 0) continue;
    const int columns = ranks / rows;
    if (rows > height || columns > width) continue;
    const double border = static_cast<double>(height) / rows + static_cast<double>(width) / columns;
    if (border < best_border) {
      best_border = border;
      best = {rows, columns};
    }
  }
  if (best.first == 0)
    throw Error("patch parallel", concat("a ", height, "x", width, " latent cannot be split into ", ranks,
                                         " tiles of at least one pixel; use fewer ranks or set ",
                                         "\"vae_parallel\": false in \"parallel\""));
  return best;
}

PatchGrid::PatchGrid(Communicator& group, int64_t height, int64_t width) : group_(&group) {
  std::tie(rows_, columns_) = shape_for(group.size(), height, width);
  row_ = group.rank() / columns_;
  column_ = group.rank() % columns_;
  row_bounds_ = even_bounds(height, rows_);
  column_bounds_ = even_bounds(width, columns_);
}

int PatchGrid::rank_at(int row, int column) const {
  if (row < 0 || row >= rows_ || column < 0 || column >= columns_) return -1;
  return row * columns_ + column;
}

int64_t PatchGrid::scale_of(const Tensor& tile) const {
  const int64_t latent_height = row_bounds_[row_ + 1] - row_bounds_[row_];
  const int64_t latent_width = column_bounds_[column_ + 1] - column_bounds_[column_];
  const int64_t scale = tile.size(2) / latent_height;
  if (tile.ndim() != 4 || scale < 1 || tile.size(2) != scale * latent_height ||
      tile.size(3) != scale * latent_width)
    throw InternalError("patch parallel",
                        concat("tile ", tile.describe(), " is not a multiple of the latent tile ",
                               latent_height, "x", latent_width));
  return scale;
}

Tensor PatchGrid::with_halo(const Tensor& tile) const {
  scale_of(tile);
  const int left = rank_at(row_, column_ - 1), right = rank_at(row_, column_ + 1);
  const int up = rank_at(row_ - 1, column_), down = rank_at(row_ + 1, column_);
  // Columns first, then rows of the widened tile, so the corners come from the diagonal neighbours.
  const Tensor wide = bordered_along(*group_, ops::contiguous(tile), 3, left, right, kColumnTags);
  return bordered_along(*group_, wide, 2, up, down, kRowTags);
}

Tensor PatchGrid::whole(const Tensor& tile) const {
  const int64_t scale = scale_of(tile);
  const int64_t channels = tile.size(0), frames = tile.size(1);
  std::vector<Shape> shapes;
  for (int rank = 0; rank < group_->size(); ++rank) {
    const int row = rank / columns_, column = rank % columns_;
    shapes.push_back({channels, frames, (row_bounds_[row + 1] - row_bounds_[row]) * scale,
                      (column_bounds_[column + 1] - column_bounds_[column]) * scale});
  }
  const std::vector<Tensor> parts = collectives::all_gather(*group_, ops::contiguous(tile), shapes);
  Tensor frames_out = empty({channels, frames, row_bounds_.back() * scale, column_bounds_.back() * scale},
                            tile.dtype(), device_of(tile));
  for (int rank = 0; rank < group_->size(); ++rank) {
    const int row = rank / columns_, column = rank % columns_;
    Tensor target = frames_out.slice(2, row_bounds_[row] * scale, row_bounds_[row + 1] * scale)
                        .slice(3, column_bounds_[column] * scale, column_bounds_[column + 1] * scale);
    ops::copy(parts[rank], target);
  }
  return frames_out;
}

Tensor PatchGrid::tile(const Tensor& whole) const {
  const int64_t scale = whole.size(2) / row_bounds_.back();
  if (whole.ndim() != 4 || whole.size(2) != row_bounds_.back() * scale ||
      whole.size(3) != column_bounds_.back() * scale)
    throw InternalError("patch parallel", concat("frames ", whole.describe(), " do not fit the latent grid ",
                                                 row_bounds_.back(), "x", column_bounds_.back()));
  return ops::contiguous(whole.slice(2, row_bounds_[row_] * scale, row_bounds_[row_ + 1] * scale)
                             .slice(3, column_bounds_[column_] * scale, column_bounds_[column_ + 1] * scale));
}

}  // namespace x2v
