// Attention with grouped KV heads and index-based causality, one (query row, kv head) pair at a
// time: the pair streams its kv head's keys, block by block, into one row of n_kv logits per
// query head of the group, softmaxes each row in place, and accumulates the values weighted by
// it. No n_q x n_kv matrix is ever formed.
#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "base/error.h"
#include "ops/cpu/vector_ops.h"
#include "ops/ops.h"

namespace lightvlm::ops {
namespace {

struct AttentionArgs {
  const float* q;              // [n_q, num_heads * head_dim]
  const int64_t* query_index;  // [n_q], read only when causal
  int64_t n_q;
  const float* k;            // [n_kv, num_kv_heads * head_dim]
  const float* v;            // [n_kv, num_kv_heads * head_dim]
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
  for (int64_t row : score_rows) {
    Check(row >= 0 && row < args.n_q, "Attention: score row ", row, " is out of range [0, ",
          args.n_q, ")");
  }
}

// Turns logits into unnormalised probabilities in place; returns their sum, 0 when no key is
// visible (the output of such a query is then zero).
float ExpLogits(float* logits, int64_t n_kv) {
  const float max = Max(logits, n_kv);
  if (max == -std::numeric_limits<float>::infinity()) {
    std::fill_n(logits, n_kv, 0.0f);
    return 0.0f;
  }
  return ExpShiftedSum(logits, max, n_kv);
}

// Key and value rows per block: a block of the kv head's rows stays in cache while every query
// head of the group reads it, so grouped-query attention reads each cached row from memory once
// rather than once per query head (decode is bound by those bytes).
constexpr int64_t kKeyBlock = 256;

// The heads of kv head `kv_head` for query `row`: logits [group, n_kv] is this task's scratch.
void AttendOneGroup(const AttentionArgs& args, const ScoreSlots& slots, int64_t row,
                    int64_t kv_head, float* logits) {
  const AttentionShape& shape = args.shape;
  const int64_t group = shape.num_heads / shape.num_kv_heads, n_kv = args.n_kv;
  const int64_t kv_stride = shape.num_kv_heads * shape.head_dim;
  const int64_t first_head = kv_head * group;
  const float* keys = args.k + kv_head * shape.head_dim;
  const float* values = args.v + kv_head * shape.head_dim;
  const auto query = [&](int64_t g) {
    return (row * shape.num_heads + first_head + g) * shape.head_dim;
  };

  for (int64_t start = 0; start < n_kv; start += kKeyBlock) {
    const int64_t count = std::min(kKeyBlock, n_kv - start);
    for (int64_t g = 0; g < group; ++g) {
      DotRows(args.q + query(g), keys + start * kv_stride, kv_stride, count, shape.head_dim,
              shape.scale, logits + g * n_kv + start);
    }
  }
  std::vector<float> inv_sum(group);
  for (int64_t g = 0; g < group; ++g) {
    float* row_logits = logits + g * n_kv;
    if (args.causal) {  // query i sees key j iff key_index[j] <= query_index[i]
      for (int64_t j = 0; j < n_kv; ++j) {
        if (args.key_index[j] > args.query_index[row]) {
          row_logits[j] = -std::numeric_limits<float>::infinity();
        }
      }
    }
    const float sum = ExpLogits(row_logits, n_kv);
    inv_sum[g] = sum > 0 ? 1.0f / sum : 0.0f;
    std::fill_n(args.out + query(g), shape.head_dim, 0.0f);
  }
  for (int64_t start = 0; start < n_kv; start += kKeyBlock) {
    const int64_t count = std::min(kKeyBlock, n_kv - start);
    for (int64_t g = 0; g < group; ++g) {
      AddScaledRows(values + start * kv_stride, kv_stride, logits + g * n_kv + start, count,
                    shape.head_dim, args.out + query(g));
    }
  }
  const auto [first, last] =
      std::equal_range(slots.begin(), slots.end(), std::pair{row, int64_t{0}},
                       [](const auto& a, const auto& b) { return a.first < b.first; });
  for (int64_t g = 0; g < group; ++g) {
    Scale(args.out + query(g), inv_sum[g], shape.head_dim);
    for (auto it = first; it != last; ++it) {
      float* probabilities = args.scores + (it->second * shape.num_heads + first_head + g) * n_kv;
      for (int64_t j = 0; j < n_kv; ++j) probabilities[j] = logits[g * n_kv + j] * inv_sum[g];
    }
  }
}

}  // namespace

void Attention(ThreadPool& pool, const float* q, const int64_t* query_index, int64_t n_q,
               const float* k, const float* v, const int64_t* key_index, int64_t n_kv,
               const AttentionShape& shape, bool causal, float* out,
               std::span<const int64_t> score_rows, float* scores) {
  const AttentionArgs args{q, query_index, n_q, k, v, key_index, n_kv, shape, causal, out, scores};
  CheckAttentionArgs(args, score_rows);
  const ScoreSlots slots = SortScoreSlots(score_rows);
  // Enough (row, kv head) pairs per task (about 32K multiply-adds) that waking a thread pays off.
  const int64_t group = shape.num_heads / shape.num_kv_heads;
  const int64_t work_per_pair = std::max<int64_t>(1, n_kv * shape.head_dim * group);
  pool.ParallelFor(
      n_q * shape.num_kv_heads,
      [&](int64_t begin, int64_t end) {
        std::vector<float> logits(group * n_kv);  // this task's scratch rows
        for (int64_t pair = begin; pair < end; ++pair) {
          AttendOneGroup(args, slots, pair / shape.num_kv_heads, pair % shape.num_kv_heads,
                         logits.data());
        }
      },
      std::max<int64_t>(1, 32768 / work_per_pair));
}

}  // namespace lightvlm::ops
