#include "eval/cost_model.h"

#include <gtest/gtest.h>

namespace lightvlm {
namespace {

// hidden 8, 2 heads of 4 (KV heads 1, so kv_dim 4), MLP 16, vocab 10, 3 layers.
LlmConfig TinyConfig() {
  LlmConfig c;
  c.hidden_size = 8;
  c.num_heads = 2;
  c.num_kv_heads = 1;
  c.head_dim = 4;
  c.intermediate_size = 16;
  c.vocab_size = 10;
  c.num_layers = 3;
  return c;
}

TEST(CostModelTest, LayerFlopsCountProjectionsAndCausalAttention) {
  // Weights per layer: q 8x8 + o 8x8 + k 4x8 + v 4x8 + MLP 3 x 8x16 = 64+64+32+32+384 = 576.
  // 5 tokens: projections 2*5*576 = 5760; 15 causal pairs * 2 heads * 4 dims * 2 (scores and
  // sums) * 2 (multiply-add) = 480.
  EXPECT_DOUBLE_EQ(LayerPrefillFlops(TinyConfig(), 5), 5760 + 480);
  EXPECT_DOUBLE_EQ(LayerPrefillFlops(TinyConfig(), 0), 0);
}

TEST(CostModelTest, PrefillSumsLayersAndTheLastLogits) {
  const LlmConfig c = TinyConfig();
  const double logits = 2.0 * 8 * 10;
  EXPECT_DOUBLE_EQ(
      PrefillFlops(c, {5, 3, 1}),
      logits + LayerPrefillFlops(c, 5) + LayerPrefillFlops(c, 3) + LayerPrefillFlops(c, 1));
}

TEST(CostModelTest, WeightBytesFollowTheDType) {
  const LlmConfig c = TinyConfig();
  const double matrices = 576.0 * 3 + 8 * 10;
  EXPECT_DOUBLE_EQ(DecoderWeightBytes(c, DType::kF32), matrices * 4);
  EXPECT_DOUBLE_EQ(DecoderWeightBytes(c, DType::kBF16), matrices * 2);
  // int8: a float32 scale per row (64 a layer, 10 of lm_head).
  EXPECT_DOUBLE_EQ(DecoderWeightBytes(c, DType::kI8), matrices + (64 * 3 + 10) * 4);
  // 4 bits: half a byte a weight and a bf16 scale and min per 32 weights in the layers; lm_head
  // in int8.
  EXPECT_DOUBLE_EQ(DecoderWeightBytes(c, DType::kQ4), 576.0 * 3 * (0.5 + 4.0 / 32) + 80 + 10 * 4);
}

}  // namespace
}  // namespace lightvlm
