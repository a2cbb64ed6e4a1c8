// cpu attention: exact flash-style attention. Per (batch, head) the keys and values are packed once into
// f32 panels; each query tile of kQueryTile rows then walks the keys kKeyTile at a time with an online
// softmax (running max and sum, accumulator rescaled when the max grows), so no q_len x kv_len matrix
// exists and the working memory is linear in the sequence length: the packed keys/values of the heads
// in flight plus a few hundred KiB per thread. OpenMP threads share (head, query group) work items.
// An optional logit bias (T5) is added to each score tile before the running max sees it. The tile math
// is in attention_tiles.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "core/log.h"
#include "platform/cpu/attention_tiles.h"
#include "platform/cpu/cpu_device.h"
#include "platform/cpu/cpu_features.h"
#include "platform/platform.h"

namespace x2v {
namespace {

using namespace cpu_attention;

// Packed keys and values of several heads are built together when they fit this budget (more work items
// per parallel pass for short sequences); past it one head at a time, which keeps memory linear in L.
constexpr int64_t kPackBudgetBytes = int64_t{32} << 20;
constexpr int64_t kPackKeyBlock = 64;  // keys per packing work item (multiple of kPanelWidth)
// When a head's packed keys/values pass this size (no longer comfortably in L3), kTilesPerGroup query
// tiles walk the keys together, so a key tile fetched from memory serves all of them (measured: +15% at
// L = 32760); below it single tiles keep the work items small (measured: 3% faster at L = 4680).
constexpr int64_t kGroupingBytes = int64_t{8} << 20;
constexpr int kTilesPerGroup = 4;
constexpr double kParallelFlop = 4e6;  // below this a call runs on the calling thread alone
constexpr float kLog2E = 1.4426950408889634f;

// Where the rows of one [batch, heads, len, dim] operand are (element strides; batch stride 0 if rank 3).
struct RowAddressing {
  char* base;
  int64_t batch_stride, head_stride, row_stride;
  size_t element_size;

  explicit RowAddressing(const Tensor& tensor)
      : base(static_cast<char*>(tensor.raw_data())),
        batch_stride(tensor.ndim() == 4 ? tensor.stride(0) : 0),
        head_stride(tensor.stride(-3)),
        row_stride(tensor.stride(-2)),
        element_size(tensor.element_size()) {}

  char* head(int64_t batch, int64_t head_index) const {
    return base + (batch * batch_stride + head_index * head_stride) * static_cast<int64_t>(element_size);
  }
  char* row(int64_t batch, int64_t head_index, int64_t row_index) const {
    return head(batch, head_index) + row_index * row_stride * static_cast<int64_t>(element_size);
  }
};

// Sizes of one call and the layout of its workspace: the packed keys/values of a chunk of heads, then
// per thread the scores of one tile and kTilesPerGroup tiles of queries, accumulator and row state.
struct Plan {
  int64_t batch, heads, query_len, key_len, head_dim;
  int64_t padded_dim, panel_rows;   // value panel width, rows of a key/value panel
  int64_t key_floats, head_floats;  // packed keys of one head; packed keys + values of one head
  int64_t chunk_heads;              // heads packed at once
  int64_t group_rows;               // query rows that walk the keys together (1 or kTilesPerGroup tiles)
  int64_t query_groups;             // groups per head
  int64_t query_floats, tile_floats, thread_floats;

  Plan(const Tensor& q, const Tensor& k) {
    batch = q.ndim() == 4 ? q.size(0) : 1;
    heads = q.size(-3);
    query_len = q.size(-2);
    key_len = k.size(-2);
    head_dim = q.size(-1);
    padded_dim = round_up(head_dim, kPanelWidth);
    panel_rows = round_up(key_len, kPanelWidth);
    key_floats = panel_rows * head_dim;
    head_floats = key_floats + panel_rows * padded_dim;
    chunk_heads =
        std::clamp<int64_t>(kPackBudgetBytes / (head_floats * int64_t{sizeof(float)}), 1, batch * heads);
    group_rows =
        head_floats * int64_t{sizeof(float)} > kGroupingBytes ? kTilesPerGroup * kQueryTile : kQueryTile;
    query_groups = (query_len + group_rows - 1) / group_rows;
    query_floats = round_up(kQueryTile * head_dim, 16);
    tile_floats = query_floats + kQueryTile * padded_dim + 3 * kQueryTile;  // (all multiples of 16 floats)
    thread_floats = kQueryTile * kKeyTile + kTilesPerGroup * tile_floats;
  }

  // The tile buffers of `tile` in a thread's scratch; all tiles share the scores.
  TileBuffers tile_buffers(float* thread_scratch, int tile) const {
    float* base = thread_scratch + kQueryTile * kKeyTile + tile * tile_floats;
    TileBuffers buffers{};
    buffers.scores = thread_scratch;
    buffers.queries = base;
    buffers.accumulator = base + query_floats;
    buffers.row_max = buffers.accumulator + kQueryTile * padded_dim;
    buffers.row_sum = buffers.row_max + kQueryTile;
    buffers.rescale = buffers.row_sum + kQueryTile;
    return buffers;
  }
};

class CpuFlashAttention final : public AttentionKernel {
 public:
  bool supports_bias() const override { return true; }

  void run(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out,
           const AttentionCall& call) override {
    check_attention_arguments(q, k, v, out, call);
    for (const Tensor* tensor : {&q, &k, &v, static_cast<const Tensor*>(&out), &call.bias})
      if (tensor->defined() && !tensor->is_host_accessible())
        throw Error("attention", concat("cpu_flash_attn needs host memory; ", tensor->describe(),
                                        " is on a device the cpu cannot read"));
    const Plan plan(q, k);
    if (plan.query_len == 0 || plan.heads == 0 || plan.batch == 0) return;
    if (plan.key_len == 0) throw Error("attention", concat("k ", k.describe(), " has no keys to attend to"));
    const float scale =
        options_.scale != 0.0f ? options_.scale : 1.0f / std::sqrt(static_cast<float>(plan.head_dim));
    // Tiny calls run on the calling thread: waking the team would cost more than the work.
    const double flop = 4.0 * plan.batch * plan.heads * plan.query_len * plan.key_len * plan.head_dim;
    const int threads = flop < kParallelFlop ? 1 : std::max(1, omp_get_max_threads());
    Tensor workspace =
        empty({plan.chunk_heads * plan.head_floats + threads * plan.thread_floats}, DType::f32, device_of(q));
    float* packed = workspace.data<float>();
    float* scratch = packed + plan.chunk_heads * plan.head_floats;
    const RowAddressing queries(q), keys(k), values(v), outputs(out);
    // All-bf16 operands on a CPU with AVX512-BF16 stay bf16 (attention_tiles_bf16); the rest run in f32.
    const bool bf16 = bf16_tiles_ && q.dtype() == DType::bf16 && k.dtype() == DType::bf16 &&
                      v.dtype() == DType::bf16 && plan.head_dim % 2 == 0;
    // The AVX-512 tiles load and store whole 64-byte lines of the workspace.
    X2V_ASSERT(!bf16 || reinterpret_cast<uintptr_t>(packed) % 64 == 0, "attention",
               "the workspace is not 64-byte aligned");
    const int64_t total_heads = plan.batch * plan.heads;
    const int64_t key_blocks = (plan.key_len + kPackKeyBlock - 1) / kPackKeyBlock;

#pragma omp parallel num_threads(threads)
    {
      float* thread_scratch = scratch + omp_get_thread_num() * plan.thread_floats;
      for (int64_t chunk_start = 0; chunk_start < total_heads; chunk_start += plan.chunk_heads) {
        const int64_t chunk_size = std::min(plan.chunk_heads, total_heads - chunk_start);
#pragma omp for schedule(dynamic)
        for (int64_t item = 0; item < chunk_size * key_blocks; ++item) {
          const int64_t slot = item / key_blocks, flat_head = chunk_start + slot;
          const int64_t batch_index = flat_head / plan.heads, head_index = flat_head % plan.heads;
          const int64_t first = (item % key_blocks) * kPackKeyBlock;
          const int64_t last = std::min(first + kPackKeyBlock, key_length(plan, call, batch_index));
          if (first >= last) continue;
          float* head_pack = packed + slot * plan.head_floats;
          if (bf16) {
            auto* key_panels = reinterpret_cast<uint16_t*>(head_pack);
            auto* value_panels = reinterpret_cast<uint16_t*>(head_pack + plan.key_floats);
            pack_key_panels_bf16(reinterpret_cast<const uint16_t*>(keys.head(batch_index, head_index)),
                                 keys.row_stride, plan.head_dim, first, last, key_panels);
            pack_value_panels_bf16(reinterpret_cast<const uint16_t*>(values.head(batch_index, head_index)),
                                   values.row_stride, plan.head_dim, first, last, plan.panel_rows,
                                   value_panels);
            if (last == key_length(plan, call, batch_index))
              zero_value_panel_rows_bf16(plan.head_dim, last, plan.panel_rows, plan.panel_rows, value_panels);
            continue;
          }
          pack_key_panels(keys.head(batch_index, head_index), k.dtype(), keys.row_stride, plan.head_dim,
                          first, last, head_pack);
          pack_value_panels(values.head(batch_index, head_index), v.dtype(), values.row_stride, plan.head_dim,
                            first, last, plan.panel_rows, head_pack + plan.key_floats);
        }
#pragma omp for schedule(dynamic)
        for (int64_t item = 0; item < chunk_size * plan.query_groups; ++item) {
          const int64_t slot = item / plan.query_groups, flat_head = chunk_start + slot;
          attend_query_group(plan, call, flat_head / plan.heads, flat_head % plan.heads,
                             (item % plan.query_groups) * plan.group_rows, scale, queries, q.dtype(), outputs,
                             out.dtype(), packed + slot * plan.head_floats, thread_scratch, bf16);
        }
      }
    }
  }

 private:
  const bool bf16_tiles_ = bf16_tiles_available();

  static int64_t key_length(const Plan& plan, const AttentionCall& call, int64_t batch_index) {
    return call.key_lengths.empty() ? plan.key_len : call.key_lengths[batch_index];
  }

  // Queries [first_query, first_query + group_rows) of one head against all its (packed) keys. The
  // group's tiles take each key tile in turn, so a key tile is read from memory once per group.
  void attend_query_group(const Plan& plan, const AttentionCall& call, int64_t batch_index,
                          int64_t head_index, int64_t first_query, float scale, const RowAddressing& queries,
                          DType query_dtype, const RowAddressing& outputs, DType out_dtype,
                          const float* head_pack, float* thread_scratch, bool bf16) const {
    const int64_t group_rows = std::min(plan.group_rows, plan.query_len - first_query);
    const int tiles = static_cast<int>((group_rows + kQueryTile - 1) / kQueryTile);
    TileBuffers buffers[kTilesPerGroup];
    TileShape shapes[kTilesPerGroup];
    for (int tile = 0; tile < tiles; ++tile) {
      const int64_t tile_first = first_query + tile * kQueryTile;
      const int64_t rows = std::min<int64_t>(kQueryTile, plan.query_len - tile_first);
      buffers[tile] = plan.tile_buffers(thread_scratch, tile);
      shapes[tile] = TileShape{round_up(rows, kRowBlock), plan.head_dim, plan.padded_dim, plan.panel_rows};
      for (int64_t row = 0; row < shapes[tile].rows; ++row) {
        if (bf16) {  // as they are: the score factor is applied to the f32 scores
          auto* target = reinterpret_cast<uint16_t*>(buffers[tile].queries) + row * plan.head_dim;
          if (row < rows)
            std::memcpy(target, queries.row(batch_index, head_index, tile_first + row),
                        plan.head_dim * sizeof(uint16_t));
          else
            std::fill(target, target + plan.head_dim, uint16_t{0});
          continue;
        }
        float* target = buffers[tile].queries + row * plan.head_dim;
        if (row < rows)
          load_row(queries.row(batch_index, head_index, tile_first + row), query_dtype, plan.head_dim,
                   scale * kLog2E, target);
        else
          std::fill(target, target + plan.head_dim, 0.0f);
      }
      start_tile(shapes[tile], buffers[tile]);
    }
    ScoreBias biases[kTilesPerGroup];
    if (call.bias.defined()) {
      const float* head_bias = call.bias.data<float>() + head_index * plan.query_len * plan.key_len;
      for (int tile = 0; tile < tiles; ++tile) {
        const int64_t tile_first = first_query + tile * kQueryTile;
        biases[tile] = ScoreBias{head_bias + tile_first * plan.key_len, plan.key_len,
                                 std::min<int64_t>(kQueryTile, plan.query_len - tile_first)};
      }
    }
    const int64_t length = key_length(plan, call, batch_index);
    for (int64_t first_key = 0; first_key < length; first_key += kKeyTile)
      for (int tile = 0; tile < tiles; ++tile) {
        const int64_t count = std::min<int64_t>(kKeyTile, length - first_key);
        if (bf16)
          attend_key_tile_bf16(shapes[tile], reinterpret_cast<const uint16_t*>(buffers[tile].queries),
                               reinterpret_cast<const uint16_t*>(head_pack),
                               reinterpret_cast<const uint16_t*>(head_pack + plan.key_floats), first_key,
                               count, scale * kLog2E, buffers[tile], biases[tile]);
        else
          attend_key_tile(shapes[tile], head_pack, head_pack + plan.key_floats, first_key, count,
                          buffers[tile], biases[tile]);
      }
    for (int tile = 0; tile < tiles; ++tile) {
      const int64_t tile_first = first_query + tile * kQueryTile;
      const int64_t rows = std::min<int64_t>(kQueryTile, plan.query_len - tile_first);
      for (int64_t row = 0; row < rows; ++row)
        store_row(buffers[tile].accumulator + row * plan.padded_dim, 1.0f / buffers[tile].row_sum[row],
                  plan.head_dim, out_dtype, outputs.row(batch_index, head_index, tile_first + row));
    }
  }
};

}  // namespace

void register_cpu_attention(KernelRegistries& kernels) {
  // The tiles are AVX2 + FMA + F16C code (attention_tiles.cpp).
  if (cpu::vector_level() != cpu::VectorLevel::avx2) {
    log_info("cpu",
             "this CPU lacks AVX2/FMA/F16C (or X2V_CPU_ISA=sse41); cpu_flash_attn is not registered "
             "('torch' runs)");
    return;
  }
  kernels.attention.add(
      "cpu_flash_attn", [] { return std::make_unique<CpuFlashAttention>(); },
      "exact flash-style attention (online softmax, memory linear in L): AVX2 f32 tiles, or AVX512-BF16 "
      "tiles "
      "for bf16 operands where the CPU has them",
      KernelTraits::with_bias());
}

}  // namespace x2v
