#pragma once
// Wan's 3-D rotary angles: the head_dim/2 interleaved pairs are split frame/height/width as
// d - 4*(d/6), 2*(d/6), 2*(d/6) dims (d = head_dim); each part uses frequencies theta^(-2k/part_dims) and the
// token's integer index along its axis (tokens in row-major (frame, height, width) order).
#include <cstdint>

#include "platform/device.h"

namespace x2v {

struct RopeGrid {
  int64_t frames = 1;
  int64_t height = 1;
  int64_t width = 1;
  int64_t tokens() const { return frames * height * width; }
};

// Dims (not pairs) given to the frame, height and width axes for a head dim.
struct RopeSplit {
  int64_t frame_dims, height_dims, width_dims;
};
RopeSplit wan_rope_split(int64_t head_dim);

// The cos/sin tables of tokens [first, first + count) of `grid` (count < 0: to the end) on `device`. Angles
// are computed in f64, as the original does, and stored as f32. Rows past the grid's tokens (a
// sequence-parallel shard's padding) get angle 0.
RopeTables wan_rope_tables(const RopeGrid& grid, int64_t head_dim, double theta, Device& device,
                           int64_t first = 0, int64_t count = -1);

}  // namespace x2v
