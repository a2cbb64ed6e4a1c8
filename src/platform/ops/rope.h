#pragma once
// Wan 3D rotary embedding. x [tokens, heads, head_dim] with tokens in row-major (frame, height, width)
// order over `grid`. head_dim/2 complex pairs are interleaved (dims 2j, 2j+1 form pair j). The pairs are
// split frame/height/width as d - 4*(d/6), 2*(d/6), 2*(d/6) dims (d = head_dim); each part uses
// frequencies theta^(-2k/part_dims) and the token's integer index along its axis.
#include <cstdint>

#include "core/tensor.h"

namespace x2v {

struct RopeGrid {
  int64_t frames = 1;
  int64_t height = 1;
  int64_t width = 1;
  int64_t tokens() const { return frames * height * width; }
};

struct RopeOptions {
  int64_t head_dim = 128;
  double theta = 10000.0;
};

// Dims (not pairs) given to the frame, height and width axes for a head dim.
struct RopeSplit {
  int64_t frame_dims, height_dims, width_dims;
};
RopeSplit wan_rope_split(int64_t head_dim);

class RopeKernel {
 public:
  virtual ~RopeKernel() = default;
  virtual void load(const RopeOptions& options) { options_ = options; }
  // out may be x itself (in place).
  virtual void apply(const Tensor& x, const RopeGrid& grid, Tensor& out) = 0;

 protected:
  RopeOptions options_;
};

void check_rope_arguments(const Tensor& x, const RopeGrid& grid, const Tensor& out,
                          const RopeOptions& options);

}  // namespace x2v
