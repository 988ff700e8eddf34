#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "base/error.h"
#include "hwy/targets.h"
#include "ops/cpu/test_data.h"
#include "ops/ops.h"
#include "support/test_files.h"

namespace lightvlm::ops {
namespace {

using testing::ExpectClose;
using testing::RandomFloats;

struct AttentionInputs {
  AttentionShape shape;
  std::vector<float> q;              // [n_q, num_heads * head_dim]
  std::vector<float> k;              // [n_kv, num_kv_heads * head_dim]
  std::vector<float> v;              // [n_kv, num_kv_heads * head_dim]
  std::vector<int64_t> query_index;  // [n_q]
  std::vector<int64_t> key_index;    // [n_kv]
  bool causal = true;
  // BF16: the kernel reads k and v as bfloat16, and k and v hold the values those round to.
  DType kv_dtype = DType::kF32;

  int64_t n_q() const { return static_cast<int64_t>(query_index.size()); }
  int64_t n_kv() const { return static_cast<int64_t>(key_index.size()); }
};

AttentionInputs MakeInputs(std::mt19937& rng, int64_t num_heads, int64_t num_kv_heads,
                           int64_t head_dim, std::vector<int64_t> query_index,
                           std::vector<int64_t> key_index, bool causal) {
  AttentionInputs in;
  in.shape = {num_heads, num_kv_heads, head_dim, static_cast<float>(1.0 / std::sqrt(head_dim))};
  in.query_index = std::move(query_index);
  in.key_index = std::move(key_index);
  in.causal = causal;
  in.q = RandomFloats(rng, in.n_q() * num_heads * head_dim, -2.0f, 2.0f);
  in.k = RandomFloats(rng, in.n_kv() * num_kv_heads * head_dim, -2.0f, 2.0f);
  in.v = RandomFloats(rng, in.n_kv() * num_kv_heads * head_dim);
  return in;
}

// `in` with its keys and values rounded to bfloat16, which the kernel then reads as such.
AttentionInputs RoundedToBf16(AttentionInputs in) {
  in.kv_dtype = DType::kBF16;
  for (float& x : in.k) x = BF16ToF32(F32ToBF16(x));
  for (float& x : in.v) x = BF16ToF32(F32ToBF16(x));
  return in;
}

std::vector<uint16_t> Bf16Bits(const std::vector<float>& values) {
  std::vector<uint16_t> bits(values.size());
  ConvertFromF32(values.data(), DType::kBF16, bits.data(), values.size());
  return bits;
}

// Probabilities [n_q, num_heads, n_kv] by the textbook formula, in double.
std::vector<double> ReferenceProbabilities(const AttentionInputs& in) {
  const AttentionShape& s = in.shape;
  const int64_t group = s.num_heads / s.num_kv_heads;
  std::vector<double> probabilities(in.n_q() * s.num_heads * in.n_kv(), 0.0);
  for (int64_t i = 0; i < in.n_q(); ++i) {
    for (int64_t h = 0; h < s.num_heads; ++h) {
      double* row = &probabilities[(i * s.num_heads + h) * in.n_kv()];
      std::vector<double> logits(in.n_kv(), -std::numeric_limits<double>::infinity());
      double max = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < in.n_kv(); ++j) {
        if (in.causal && in.key_index[j] > in.query_index[i]) continue;
        double dot = 0;
        for (int64_t d = 0; d < s.head_dim; ++d) {
          dot += static_cast<double>(in.q[(i * s.num_heads + h) * s.head_dim + d]) *
                 in.k[(j * s.num_kv_heads + h / group) * s.head_dim + d];
        }
        logits[j] = dot * s.scale;
        max = std::max(max, logits[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < in.n_kv(); ++j) sum += std::exp(logits[j] - max);
      for (int64_t j = 0; j < in.n_kv(); ++j) row[j] = std::exp(logits[j] - max) / sum;
    }
  }
  return probabilities;
}

// out = probabilities * V, per head.
std::vector<double> ReferenceOutput(const AttentionInputs& in,
                                    const std::vector<double>& probabilities) {
  const AttentionShape& s = in.shape;
  const int64_t group = s.num_heads / s.num_kv_heads;
  std::vector<double> out(in.n_q() * s.num_heads * s.head_dim, 0.0);
  for (int64_t i = 0; i < in.n_q(); ++i) {
    for (int64_t h = 0; h < s.num_heads; ++h) {
      for (int64_t j = 0; j < in.n_kv(); ++j) {
        const double p = probabilities[(i * s.num_heads + h) * in.n_kv() + j];
        for (int64_t d = 0; d < s.head_dim; ++d) {
          out[(i * s.num_heads + h) * s.head_dim + d] +=
              p * in.v[(j * s.num_kv_heads + h / group) * s.head_dim + d];
        }
      }
    }
  }
  return out;
}

struct AttentionResult {
  std::vector<float> out;     // [n_q, num_heads * head_dim]
  std::vector<float> scores;  // [score_rows.size(), num_heads, n_kv]
};

AttentionResult RunAttention(const AttentionInputs& in, int threads,
                             const std::vector<int64_t>& score_rows) {
  ThreadPool pool(threads);
  AttentionResult result;
  result.out.assign(in.n_q() * in.shape.num_heads * in.shape.head_dim, 99.0f);
  result.scores.assign(score_rows.size() * in.shape.num_heads * in.n_kv(), 99.0f);
  if (in.kv_dtype == DType::kBF16) {
    const std::vector<uint16_t> k = Bf16Bits(in.k), v = Bf16Bits(in.v);
    Attention(pool, in.q.data(), in.query_index.data(), in.n_q(),
              KeyValues{k.data(), v.data(), DType::kBF16}, in.key_index.data(), in.n_kv(), in.shape,
              in.causal, result.out.data(), score_rows, result.scores.data());
    return result;
  }
  Attention(pool, in.q.data(), in.query_index.data(), in.n_q(), in.k.data(), in.v.data(),
            in.key_index.data(), in.n_kv(), in.shape, in.causal, result.out.data(), score_rows,
            result.scores.data());
  return result;
}

// Checks outputs and requested probability rows against the reference, with 1 and 3 threads
// giving bit-identical results.
void ExpectMatchesReference(const AttentionInputs& in, const std::vector<int64_t>& score_rows) {
  const auto probabilities = ReferenceProbabilities(in);
  const AttentionResult single = RunAttention(in, 1, score_rows);
  ExpectClose(single.out, ReferenceOutput(in, probabilities), 1e-5, "output");

  const int64_t row_size = in.shape.num_heads * in.n_kv();
  for (size_t slot = 0; slot < score_rows.size(); ++slot) {
    const auto expected = std::span(probabilities).subspan(score_rows[slot] * row_size, row_size);
    const auto actual = std::span(single.scores).subspan(slot * row_size, row_size);
    ExpectClose(actual, expected, 1e-5, "scores of row " + std::to_string(score_rows[slot]));
    for (int64_t h = 0; h < in.shape.num_heads; ++h) {
      double sum = 0;
      for (int64_t j = 0; j < in.n_kv(); ++j) {
        sum += actual[h * in.n_kv() + j];
        if (expected[h * in.n_kv() + j] == 0) {
          EXPECT_EQ(actual[h * in.n_kv() + j], 0.0f);
        }
      }
      EXPECT_NEAR(sum, 1.0, 1e-5);
    }
  }

  const AttentionResult threaded = RunAttention(in, 3, score_rows);
  EXPECT_EQ(threaded.out, single.out);
  EXPECT_EQ(threaded.scores, single.scores);
}

TEST(AttentionTest, GroupedHeadsCausalWithGapsInIndices) {
  std::mt19937 rng(61);
  const auto in = MakeInputs(rng, 8, 2, 33, {5, 6, 9}, {0, 1, 2, 5, 6, 9}, true);
  ExpectMatchesReference(in, {0, 2});
}

TEST(AttentionTest, CausalityFollowsIndicesNotRowOrder) {
  std::mt19937 rng(62);
  const auto in = MakeInputs(rng, 4, 4, 16, {9, 2, 5}, {5, 0, 9, 1, 6, 2}, true);
  ExpectMatchesReference(in, {1, 0, 1});  // a row may be asked for twice
}

TEST(AttentionTest, NonCausalSeesEveryKey) {
  std::mt19937 rng(63);
  std::vector<int64_t> keys(130);
  for (int64_t j = 0; j < 130; ++j) keys[j] = j;
  const auto in = MakeInputs(rng, 6, 3, 64, {0, 1, 2, 3, 4, 5, 6}, keys, false);
  ExpectMatchesReference(in, {0, 6});
}

TEST(AttentionTest, PrefillOfOddSizes) {
  std::mt19937 rng(64);
  std::vector<int64_t> tokens(37);
  for (int64_t j = 0; j < 37; ++j) tokens[j] = j;
  const auto in = MakeInputs(rng, 8, 2, 7, tokens, tokens, true);
  ExpectMatchesReference(in, {0, 36});
}

// A decode step over a long cache: its keys are split into parts attended in parallel and
// merged. Gaps in the indices and a query that cannot see the last part's keys (all masked in
// that part) included; 1 and 3 threads agree bit for bit.
TEST(AttentionTest, DecodeOverALongCacheMergesItsParts) {
  std::mt19937 rng(66);
  std::vector<int64_t> keys(2500);
  for (int64_t j = 0; j < 2500; ++j) keys[j] = 2 * j;
  ExpectMatchesReference(MakeInputs(rng, 6, 2, 64, {4999}, keys, true), {0});
  ExpectMatchesReference(MakeInputs(rng, 6, 2, 64, {1500}, keys, true), {0});
  ExpectMatchesReference(MakeInputs(rng, 4, 1, 40, {0, 3}, keys, false), {1});
}

// From 32 query rows on, attention runs as tiles of matrix products (attention_tiles.cc): 600
// rows make tiles of 256, 256 and 88; gaps in the indices, grouped heads, score rows in every
// tile, keys after a tile's last query skipped; f32 and bf16; 1 and 3 threads alike.
TEST(AttentionTest, ManyRowsRunAsTilesOfMatrixProducts) {
  std::mt19937 rng(71);
  std::vector<int64_t> queries(600), keys(600);
  for (int64_t i = 0; i < 600; ++i) {
    queries[i] = 2 * i + i % 2;
    keys[i] = 2 * i;
  }
  const auto causal = MakeInputs(rng, 6, 2, 24, queries, keys, true);
  ExpectMatchesReference(causal, {0, 255, 599, 3, 300});
  ExpectMatchesReference(RoundedToBf16(causal), {1, 530});
  ExpectMatchesReference(MakeInputs(rng, 4, 4, 16, queries, keys, false), {0, 599});
}

// A long cache makes the tiles shorter (at most 2^20 logits each), still exact.
TEST(AttentionTest, TilesShrinkForLongCaches) {
  std::mt19937 rng(72);
  std::vector<int64_t> queries(40), keys(70000);
  for (int64_t j = 0; j < 70000; ++j) keys[j] = j;
  for (int64_t i = 0; i < 40; ++i) queries[i] = 69960 + i;
  ExpectMatchesReference(MakeInputs(rng, 2, 1, 8, queries, keys, true), {39});
}

// bfloat16 keys and values (a KV cache's) give what float32 ones of the same values give: odd
// head sizes (vector tails), grouped heads, prefill and a decode step over a long cache's parts.
TEST(AttentionTest, Bf16KeysAndValuesMatchTheReferenceOnTheirValues) {
  std::mt19937 rng(68);
  ExpectMatchesReference(
      RoundedToBf16(MakeInputs(rng, 8, 2, 33, {5, 6, 9}, {0, 1, 2, 5, 6, 9}, true)), {0, 2});
  std::vector<int64_t> tokens(37);
  for (int64_t j = 0; j < 37; ++j) tokens[j] = j;
  ExpectMatchesReference(RoundedToBf16(MakeInputs(rng, 8, 2, 7, tokens, tokens, true)), {36});
  std::vector<int64_t> keys(2500);
  for (int64_t j = 0; j < 2500; ++j) keys[j] = 2 * j;
  ExpectMatchesReference(RoundedToBf16(MakeInputs(rng, 9, 3, 64, {4999}, keys, true)), {0});
  ExpectMatchesReference(RoundedToBf16(MakeInputs(rng, 4, 1, 40, {0, 3}, keys, false)), {1});
}

// The same on every SIMD target this build has and the CPU runs (SSE4, AVX2, AVX-512...): the
// bf16 kernels' shuffles work per 128-bit block, whose count differs between targets.
TEST(AttentionTest, Bf16MatchesTheReferenceOnEverySimdTarget) {
  for (const int64_t target : hwy::SupportedAndGeneratedTargets()) {
    SCOPED_TRACE(hwy::TargetName(target));
    hwy::SetSupportedTargetsForTest(target);
    std::mt19937 rng(70);
    ExpectMatchesReference(
        RoundedToBf16(MakeInputs(rng, 9, 3, 33, {5, 6, 9}, {0, 1, 2, 5, 6, 9}, true)), {0, 2});
    std::vector<int64_t> keys(1100);
    for (int64_t j = 0; j < 1100; ++j) keys[j] = j;
    ExpectMatchesReference(RoundedToBf16(MakeInputs(rng, 6, 2, 64, {1099}, keys, true)), {0});
  }
  hwy::SetSupportedTargetsForTest(0);  // back to what the CPU supports
}

// A decode step reads its cache in blocks of rows, one per SIMD lane (bf16): caches of 1 row,
// of fewer and more rows than a block and than a part, grouped heads in sets of up to four
// (9 over 3, 7 over 1, 8 over 8), head sizes with a tail (33) and of many chunks (130); float32
// alike, on every SIMD target.
TEST(AttentionTest, DecodeMatchesTheReferenceForEveryCacheLength) {
  for (const int64_t target : hwy::SupportedAndGeneratedTargets()) {
    SCOPED_TRACE(hwy::TargetName(target));
    hwy::SetSupportedTargetsForTest(target);
    std::mt19937 rng(73);
    for (const int64_t n_kv : {1, 15, 17, 100, 1100}) {
      SCOPED_TRACE("n_kv=" + std::to_string(n_kv));
      std::vector<int64_t> keys(n_kv);
      for (int64_t j = 0; j < n_kv; ++j) keys[j] = j;
      const auto grouped = MakeInputs(rng, 9, 3, 64, {n_kv - 1}, keys, true);
      ExpectMatchesReference(RoundedToBf16(grouped), {0});
      ExpectMatchesReference(grouped, {0});
      ExpectMatchesReference(RoundedToBf16(MakeInputs(rng, 7, 1, 33, {n_kv}, keys, true)), {0});
      ExpectMatchesReference(RoundedToBf16(MakeInputs(rng, 8, 8, 130, {0, 1}, keys, false)), {1});
    }
  }
  hwy::SetSupportedTargetsForTest(0);  // back to what the CPU supports
}

// A decode step cuts a cache shorter than four parts of 1024 keys into four parts (of at least
// 64 keys, whole blocks of 16), so that short caches use every core: lengths at each edge of that
// rule, a query that sees every key and one that sees the first third only (whole parts masked).
TEST(AttentionTest, DecodeSplitsShortCachesIntoPartsThatMergeExactly) {
  std::mt19937 rng(79);
  for (const int64_t n_kv : {64, 65, 256, 257, 640, 4095, 4096, 4097}) {
    SCOPED_TRACE("n_kv=" + std::to_string(n_kv));
    std::vector<int64_t> keys(n_kv);
    for (int64_t j = 0; j < n_kv; ++j) keys[j] = j;
    const auto in = MakeInputs(rng, 9, 3, 64, {n_kv - 1, n_kv / 3}, keys, true);
    ExpectMatchesReference(RoundedToBf16(in), {0, 1});
    ExpectMatchesReference(in, {1});
  }
}

// The bf16 path reads bfloat16: float32 keys would give other logits than their rounded values.
TEST(AttentionTest, Bf16DiffersFromFloat32BeforeRounding) {
  std::mt19937 rng(69);
  const auto exact = MakeInputs(rng, 4, 2, 16, {3}, {0, 1, 2, 3}, true);
  const AttentionResult f32 = RunAttention(exact, 1, {0});
  const AttentionResult bf16 = RunAttention(RoundedToBf16(exact), 1, {0});
  EXPECT_NE(f32.scores, bf16.scores);
  ExpectClose(bf16.scores, std::vector<double>(f32.scores.begin(), f32.scores.end()), 2e-2,
              "bf16 against f32 probabilities");
}

TEST(AttentionTest, RejectsKeysOfOtherDTypes) {
  ThreadPool pool(1);
  const std::vector<float> q(8);
  std::vector<float> out(8);
  const std::vector<uint16_t> kv(8);
  const std::string error = lightvlm::testing::ErrorOf([&] {
    Attention(pool, q.data(), nullptr, 1, KeyValues{kv.data(), kv.data(), DType::kF16}, nullptr, 1,
              AttentionShape{1, 1, 8, 1.0f}, false, out.data());
  });
  EXPECT_NE(error.find("F16"), std::string::npos) << error;
}

TEST(AttentionTest, QueryThatSeesNoKeyGetsZeros) {
  std::mt19937 rng(65);
  const auto in = MakeInputs(rng, 2, 1, 8, {1, 4}, {3, 4}, true);
  const AttentionResult result = RunAttention(in, 1, {0});
  for (int64_t d = 0; d < 2 * 8; ++d) EXPECT_EQ(result.out[d], 0.0f);
  for (float p : result.scores) EXPECT_EQ(p, 0.0f);
}

// The same in tiles of matrix products: a tile whose rows see no key at all, and rows that see
// none in a tile whose other rows see some.
TEST(AttentionTest, QueriesThatSeeNoKeyGetZerosInTiles) {
  std::mt19937 rng(73);
  std::vector<int64_t> queries(80), keys(40);
  for (int64_t i = 0; i < 80; ++i) queries[i] = i < 40 ? -1 : (i % 2 ? 100 + i : -1);
  for (int64_t j = 0; j < 40; ++j) keys[j] = j;
  const auto in = MakeInputs(rng, 2, 1, 8, queries, keys, true);
  const AttentionResult result = RunAttention(in, 2, {0, 40, 41});
  for (int64_t i = 0; i < 80; ++i) {
    if (queries[i] >= 0) continue;
    for (int64_t d = 0; d < 2 * 8; ++d) EXPECT_EQ(result.out[i * 16 + d], 0.0f) << "row " << i;
  }
  for (int64_t j = 0; j < 2 * 2 * 40; ++j) EXPECT_EQ(result.scores[j], 0.0f);  // rows 0, 40
  double sum = 0;
  for (int64_t j = 0; j < 40; ++j) sum += result.scores[(2 * 2 + 0) * 40 + j];
  EXPECT_NEAR(sum, 1.0, 1e-5);  // row 41 sees every key
}

TEST(AttentionTest, RejectsHeadsThatDoNotGroup) {
  std::mt19937 rng(66);
  auto in = MakeInputs(rng, 6, 4, 8, {0}, {0}, true);
  try {
    RunAttention(in, 1, {});
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("num_kv_heads (4)"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("num_heads (6)"), std::string::npos);
  }
}

TEST(AttentionTest, RejectsScoreRowOutOfRange) {
  std::mt19937 rng(67);
  const auto in = MakeInputs(rng, 2, 2, 8, {0, 1}, {0, 1}, true);
  EXPECT_THROW(RunAttention(in, 1, {2}), Error);
  EXPECT_THROW(RunAttention(in, 1, {-1}), Error);
}

}  // namespace
}  // namespace lightvlm::ops
