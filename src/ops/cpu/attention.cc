// Attention with grouped KV heads and index-based causality, one (query row, head) pair at a
// time: each pair streams its kv head's keys into a row of n_kv logits, softmaxes the row in
// place, and accumulates the values weighted by it. No n_q x n_kv matrix is ever formed.
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

// logits[j] = scale * q.k_j for the keys this query sees, -infinity for the others.
void ComputeLogits(const AttentionArgs& args, int64_t row, const float* query, const float* keys,
                   float* logits) {
  const int64_t head_dim = args.shape.head_dim;
  const int64_t kv_stride = args.shape.num_kv_heads * head_dim;
  DotRows(query, keys, kv_stride, args.n_kv, head_dim, args.shape.scale, logits);
  if (!args.causal) return;
  for (int64_t j = 0; j < args.n_kv; ++j) {
    if (args.key_index[j] > args.query_index[row]) {
      logits[j] = -std::numeric_limits<float>::infinity();
    }
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

void AttendOneHead(const AttentionArgs& args, const ScoreSlots& slots, int64_t row, int64_t head,
                   float* logits) {
  const AttentionShape& shape = args.shape;
  const int64_t kv_head = head / (shape.num_heads / shape.num_kv_heads);
  const int64_t offset = (row * shape.num_heads + head) * shape.head_dim;
  const int64_t kv_stride = shape.num_kv_heads * shape.head_dim;
  const float* values = args.v + kv_head * shape.head_dim;
  float* output = args.out + offset;

  ComputeLogits(args, row, args.q + offset, args.k + kv_head * shape.head_dim, logits);
  const float sum = ExpLogits(logits, args.n_kv);
  const float inv_sum = sum > 0 ? 1.0f / sum : 0.0f;
  std::fill_n(output, shape.head_dim, 0.0f);
  AddScaledRows(values, kv_stride, logits, args.n_kv, shape.head_dim, output);
  Scale(output, inv_sum, shape.head_dim);

  const auto [first, last] =
      std::equal_range(slots.begin(), slots.end(), std::pair{row, int64_t{0}},
                       [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto it = first; it != last; ++it) {
    float* probabilities = args.scores + (it->second * shape.num_heads + head) * args.n_kv;
    for (int64_t j = 0; j < args.n_kv; ++j) probabilities[j] = logits[j] * inv_sum;
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
  // Enough (row, head) pairs per task (about 32K multiply-adds) that waking a thread pays off.
  const int64_t work_per_pair = std::max<int64_t>(1, n_kv * shape.head_dim);
  pool.ParallelFor(
      n_q * shape.num_heads,
      [&](int64_t begin, int64_t end) {
        std::vector<float> logits(n_kv);  // this task's scratch row
        for (int64_t pair = begin; pair < end; ++pair) {
          AttendOneHead(args, slots, pair / shape.num_heads, pair % shape.num_heads, logits.data());
        }
      },
      std::max<int64_t>(1, 32768 / work_per_pair));
}

}  // namespace lightvlm::ops
