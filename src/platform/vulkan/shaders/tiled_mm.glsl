// The block shape the tiled matmuls share (mm.comp, mm_int8.comp): 64 invocations as 8 x 8 lanes, each
// computing 4 x 4 outputs of a 32 x 32 block of y, spaced 8 apart so neighbouring lanes read neighbouring
// shared-memory words.
#include "dtypes.glsl"
layout(local_size_x = 64) in;
const uint kGroupSize = 64u;
const uint kLanes = 8u;
const uint kPerInvocation = 4u;
const uint kTileRows = 32u;
const uint kTileColumns = 32u;
const uint kSliceK = 16u;
