// Attention with grouped KV heads and index-based causality, one query row at a time: the row
// streams the cached keys front to back, block by block, into one row of n_kv logits per head
// (each key row read once for every head, grouped-query heads sharing it), exponentiates each
// row in place, and accumulates the values weighted by it. No n_q x n_kv matrix is ever formed.
// A decode step (a few rows) also splits its keys into parts that run on all cores and are
// merged by their maxima and sums. Keys and values may be bfloat16 (a KV cache's): they are
// widened as they load, and every sum stays float32. From kTiledRows query rows on (a prefill, a
// vision tower) attention_tiles.cc does the work as matrix products instead.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "base/error.h"
#include "ops/cpu/attention_tiles.h"
#include "ops/cpu/vector_ops.h"
#include "ops/ops.h"

namespace lightvlm::ops {
namespace {

struct AttentionArgs {
  const float* q;              // [n_q, num_heads * head_dim]
  const int64_t* query_index;  // [n_q], read only when causal
  int64_t n_q;
  KeyValues kv;              // [n_kv, num_kv_heads * head_dim] each
  const int64_t* key_index;  // [n_kv], read only when causal
  int64_t n_kv;
  AttentionShape shape;
  bool causal;
  float* out;     // [n_q, num_heads * head_dim]
  float* scores;  // [score_rows.size(), num_heads, n_kv], or null
};

// (query row, slot in `scores`) for each requested row, sorted by row so that a row finds its
// slots by binary search; a row may be listed more than once.
using ScoreSlots = std::vector<std::pair<int64_t, int64_t>>;

ScoreSlots SortScoreSlots(std::span<const int64_t> score_rows) {
  ScoreSlots slots;
  slots.reserve(score_rows.size());
  for (size_t slot = 0; slot < score_rows.size(); ++slot) {
    slots.emplace_back(score_rows[slot], static_cast<int64_t>(slot));
  }
  std::sort(slots.begin(), slots.end());
  return slots;
}

void CheckAttentionArgs(const AttentionArgs& args, std::span<const int64_t> score_rows) {
  const AttentionShape& shape = args.shape;
  Check(shape.num_heads > 0 && shape.num_kv_heads > 0 && shape.head_dim > 0,
        "Attention: invalid shape num_heads=", shape.num_heads,
        " num_kv_heads=", shape.num_kv_heads, " head_dim=", shape.head_dim);
  Check(shape.num_heads % shape.num_kv_heads == 0, "Attention: num_kv_heads (", shape.num_kv_heads,
        ") does not divide num_heads (", shape.num_heads, ")");
  Check(args.n_q >= 0 && args.n_kv >= 0, "Attention: negative token count n_q=", args.n_q,
        " n_kv=", args.n_kv);
  Check(!args.causal || ((args.query_index || args.n_q == 0) && (args.key_index || args.n_kv == 0)),
        "Attention: causal attention needs query_index and key_index");
  Check(score_rows.empty() || args.scores, "Attention: score_rows given but scores is null");
  Check(args.kv.dtype == DType::kF32 || args.kv.dtype == DType::kBF16,
        "Attention: keys and values must be F32 or BF16, got ", DTypeName(args.kv.dtype));
  for (int64_t row : score_rows) {
    Check(row >= 0 && row < args.n_q, "Attention: score row ", row, " is out of range [0, ",
          args.n_q, ")");
  }
}

// A decode step has a row or a few: its keys are then split into parts, attended in parallel
// and merged (as flash-decoding does), so that every core streams the cache. Parts of kPartKeys
// keys; a cache too short for kMinParts of them is cut into kMinParts parts (of at least
// kMinPartKeys keys), so that a short cache, such as each sequence's early in a batch's answers,
// still has a part for every core. Measured on the LLaVA-1.5-7B shape at batch 8 with 640 keys
// a sequence: the whole cache as one part left one of two cores idle in attention. The split
// depends on the sizes only, never on the thread count, so results do not change with it.
constexpr int64_t kFewRows = 4;
constexpr int64_t kPartKeys = 1024;
constexpr int64_t kMinParts = 4;
constexpr int64_t kMinPartKeys = 64;

int64_t DecodePartKeys(int64_t n_kv) {
  if (n_kv >= kMinParts * kPartKeys) return kPartKeys;
  const int64_t quarter = (n_kv + kMinParts - 1) / kMinParts;
  return std::max(kMinPartKeys, (quarter + 15) / 16 * 16);  // whole blocks of 16 keys
}

// Query rows from which tiles of matrix products beat one row at a time.
constexpr int64_t kTiledRows = 32;

// One part of one query row: for each head h, the largest logit `max[h]` of keys [begin, end),
// the sum of exp(logit - max[h]) and the values weighted by those exponentials.
struct PartialAttention {
  std::vector<float> max;  // [num_heads]
  std::vector<float> sum;  // [num_heads]
  std::vector<float> out;  // [num_heads, head_dim], not yet divided by the sum
};

// Logits of every head of `query` for key rows [start, start + count) into logits + start.
void DotKeys(const AttentionArgs& args, const float* query, int64_t start, int64_t count,
             float* logits) {
  const AttentionShape& shape = args.shape;
  const int64_t group = shape.num_heads / shape.num_kv_heads;
  const int64_t stride = shape.num_kv_heads * shape.head_dim;
  if (args.kv.dtype == DType::kBF16) {
    GroupedDotRowsBf16(query, shape.num_heads, group,
                       static_cast<const uint16_t*>(args.kv.keys) + start * stride, stride, count,
                       shape.head_dim, shape.scale, logits + start, args.n_kv);
  } else {
    GroupedDotRows(query, shape.num_heads, group,
                   static_cast<const float*>(args.kv.keys) + start * stride, stride, count,
                   shape.head_dim, shape.scale, logits + start, args.n_kv);
  }
}

// Adds value rows [start, start + count), weighted by logits + start, into out.
void AddValues(const AttentionArgs& args, const float* logits, int64_t start, int64_t count,
               float* out) {
  const AttentionShape& shape = args.shape;
  const int64_t group = shape.num_heads / shape.num_kv_heads;
  const int64_t stride = shape.num_kv_heads * shape.head_dim;
  if (args.kv.dtype == DType::kBF16) {
    GroupedAddScaledRowsBf16(static_cast<const uint16_t*>(args.kv.values) + start * stride, stride,
                             logits + start, args.n_kv, count, shape.head_dim, shape.num_heads,
                             group, out);
  } else {
    GroupedAddScaledRows(static_cast<const float*>(args.kv.values) + start * stride, stride,
                         logits + start, args.n_kv, count, shape.head_dim, shape.num_heads, group,
                         out);
  }
}

// Attends every head of query `row` over keys [begin, end). logits [num_heads, n_kv] is the
// row's logits; its [begin, end) columns end up as exp(logit - part max), 0 for masked keys.
void AttendKeys(const AttentionArgs& args, int64_t row, int64_t begin, int64_t end, float* logits,
                PartialAttention& part) {
  const AttentionShape& shape = args.shape;
  const int64_t heads = shape.num_heads, n_kv = args.n_kv;
  part.max.assign(heads, 0.0f);
  part.sum.assign(heads, 0.0f);
  part.out.assign(heads * shape.head_dim, 0.0f);
  // One call for all the part's keys: each call sets up its query and scratch once, and
  // prefetches ahead only within its own keys.
  DotKeys(args, args.q + row * heads * shape.head_dim, begin, end - begin, logits);
  // Query i sees key j iff key_index[j] <= query_index[i]; a decode step usually sees them all,
  // so the keys are checked once for the part rather than once per head.
  const bool masked =
      args.causal && std::any_of(args.key_index + begin, args.key_index + end,
                                 [&](int64_t key) { return key > args.query_index[row]; });
  const float lowest = -std::numeric_limits<float>::infinity();
  for (int64_t h = 0; h < heads; ++h) {
    float* row_logits = logits + h * n_kv + begin;
    if (masked) {
      for (int64_t j = begin; j < end; ++j) {
        if (args.key_index[j] > args.query_index[row]) row_logits[j - begin] = lowest;
      }
    }
    part.max[h] = Max(row_logits, end - begin);
    if (part.max[h] == lowest) {  // no visible key in this part
      std::fill_n(row_logits, end - begin, 0.0f);
    } else {
      part.sum[h] = ExpShiftedSum(row_logits, part.max[h], end - begin);
    }
  }
  AddValues(args, logits, begin, end - begin, part.out.data());
}

// Combines a row's parts (parts[p] covers keys [p * part_keys, ...)) into its output and, when
// it is a requested score row, its probabilities: each part's exponentials are rescaled from the
// part's max to the overall max, and everything is divided by the overall sum.
void MergeParts(const AttentionArgs& args, const ScoreSlots& slots, int64_t row,
                const float* logits, std::span<const PartialAttention> parts, int64_t part_keys) {
  const AttentionShape& shape = args.shape;
  const int64_t n_kv = args.n_kv;
  const auto [first, last] =
      std::equal_range(slots.begin(), slots.end(), std::pair{row, int64_t{0}},
                       [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<float> factor(parts.size());
  for (int64_t h = 0; h < shape.num_heads; ++h) {
    float max = -std::numeric_limits<float>::infinity();
    for (const PartialAttention& part : parts) max = std::max(max, part.max[h]);
    double sum = 0;
    for (size_t p = 0; p < parts.size(); ++p) {
      factor[p] = parts[p].sum[h] > 0 ? std::exp(parts[p].max[h] - max) : 0.0f;
      sum += static_cast<double>(parts[p].sum[h]) * factor[p];
    }
    const float inv_sum = sum > 0 ? static_cast<float>(1.0 / sum) : 0.0f;
    float* out = args.out + (row * shape.num_heads + h) * shape.head_dim;
    std::fill_n(out, shape.head_dim, 0.0f);
    for (size_t p = 0; p < parts.size(); ++p) {
      if (factor[p] > 0) {
        AddScaled(parts[p].out.data() + h * shape.head_dim, factor[p], out, shape.head_dim);
      }
    }
    Scale(out, inv_sum, shape.head_dim);
    for (auto it = first; it != last; ++it) {
      float* probabilities = args.scores + (it->second * shape.num_heads + h) * n_kv;
      for (int64_t j = 0; j < n_kv; ++j) {
        probabilities[j] = logits[h * n_kv + j] * factor[j / part_keys] * inv_sum;
      }
    }
  }
}

}  // namespace

void Attention(ThreadPool& pool, const float* q, const int64_t* query_index, int64_t n_q,
               const float* k, const float* v, const int64_t* key_index, int64_t n_kv,
               const AttentionShape& shape, bool causal, float* out,
               std::span<const int64_t> score_rows, float* scores) {
  Attention(pool, q, query_index, n_q, KeyValues{k, v, DType::kF32}, key_index, n_kv, shape, causal,
            out, score_rows, scores);
}

void Attention(ThreadPool& pool, const float* q, const int64_t* query_index, int64_t n_q,
               const KeyValues& kv, const int64_t* key_index, int64_t n_kv,
               const AttentionShape& shape, bool causal, float* out,
               std::span<const int64_t> score_rows, float* scores) {
  const AttentionArgs args{q, query_index, n_q, kv, key_index, n_kv, shape, causal, out, scores};
  CheckAttentionArgs(args, score_rows);
  if (n_q >= kTiledRows) {
    AttendQueryTiles(pool, q, query_index, n_q, kv, key_index, n_kv, shape, causal, out, score_rows,
                     scores);
    return;
  }
  const ScoreSlots slots = SortScoreSlots(score_rows);
  const int64_t heads = shape.num_heads;
  if (n_q >= kFewRows) {
    // Several rows: each row in one part, with its task's scratch logits. Enough rows
    // per task (about 32K multiply-adds) that waking a thread pays off.
    const int64_t work_per_row = std::max<int64_t>(1, n_kv * shape.head_dim * heads);
    pool.ParallelFor(
        n_q,
        [&](int64_t begin, int64_t end) {
          // This task's scratch rows, every entry written before it is read.
          const auto logits = std::make_unique_for_overwrite<float[]>(heads * n_kv);
          std::vector<PartialAttention> part(1);
          for (int64_t row = begin; row < end; ++row) {
            AttendKeys(args, row, 0, n_kv, logits.get(), part[0]);
            MergeParts(args, slots, row, logits.get(), part, std::max<int64_t>(1, n_kv));
          }
        },
        std::max<int64_t>(1, 32768 / work_per_row));
    return;
  }
  // Few rows (decode): every row's keys in parts, all parts in parallel.
  const int64_t part_keys = DecodePartKeys(n_kv);
  const int64_t parts_per_row = std::max<int64_t>(1, (n_kv + part_keys - 1) / part_keys);
  // [n_q, num_heads, n_kv], every entry written by its part before it is read.
  const auto logits = std::make_unique_for_overwrite<float[]>(n_q * heads * n_kv);
  std::vector<PartialAttention> parts(n_q * parts_per_row);
  pool.ParallelFor(n_q * parts_per_row, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t row = task / parts_per_row, first_key = task % parts_per_row * part_keys;
      AttendKeys(args, row, first_key, std::min(n_kv, first_key + part_keys),
                 logits.get() + row * heads * n_kv, parts[task]);
    }
  });
  for (int64_t row = 0; row < n_q; ++row) {
    MergeParts(args, slots, row, logits.get() + row * heads * n_kv,
               std::span(parts).subspan(row * parts_per_row, parts_per_row), part_keys);
  }
}

}  // namespace lightvlm::ops
