// Loading a GGUF file that is not a supported decoder fails with an error naming the file and
// what is wrong (the real model's tests are in gguf_smollm2_model_test.cc).
#include <gtest/gtest.h>

#include "engine/model.h"
#include "models/gguf_tensor_source.h"
#include "support/gguf_bytes.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

TEST(GgufModelLoadTest, AnUnsupportedArchitectureNamesTheFile) {
  const std::string path = (testing::FreshTempDir() / "gpt2.gguf").string();
  testing::WriteFile(
      path, testing::GgufBytes().Header(0, 1).KeyString("general.architecture", "gpt2").str());
  EXPECT_EQ(testing::ErrorOf([&] { LoadModel(path); }),
            path + ": general.architecture \"gpt2\" is not supported (supported: llama, qwen2)");
}

TEST(GgufModelLoadTest, AFileWithoutTokenizerMetadataNamesTheKey) {
  // types_v3.gguf has llama hyperparameters but no tokenizer (and no decoder tensors: the real
  // model's copy with one tensor renamed checks that error, in gguf_smollm2_model_test.cc).
  const std::string path = (testing::kFixturesDir / "gguf" / "types_v3.gguf").string();
  EXPECT_EQ(testing::ErrorOf([&] { LoadModel(path); }),
            path + ": metadata 'tokenizer.ggml.tokens' is missing");
}

TEST(GgufModelLoadTest, AMissingPathSaysSo) {
  EXPECT_EQ(testing::ErrorOf([] { LoadModel("/nonexistent/model.gguf"); }),
            "/nonexistent/model.gguf: no such checkpoint directory or GGUF file");
}

TEST(GgufModelLoadTest, TheNameTableMapsEveryDecoderTensor) {
  EXPECT_EQ(GgufTensorName("model.embed_tokens.weight"), "token_embd.weight");
  EXPECT_EQ(GgufTensorName("model.norm.weight"), "output_norm.weight");
  EXPECT_EQ(GgufTensorName("lm_head.weight"), "output.weight");
  EXPECT_EQ(GgufTensorName("model.layers.0.input_layernorm.weight"), "blk.0.attn_norm.weight");
  EXPECT_EQ(GgufTensorName("model.layers.12.self_attn.q_proj.bias"), "blk.12.attn_q.bias");
  EXPECT_EQ(GgufTensorName("model.layers.3.self_attn.k_proj.weight"), "blk.3.attn_k.weight");
  EXPECT_EQ(GgufTensorName("model.layers.3.self_attn.v_proj.weight"), "blk.3.attn_v.weight");
  EXPECT_EQ(GgufTensorName("model.layers.3.self_attn.o_proj.weight"), "blk.3.attn_output.weight");
  EXPECT_EQ(GgufTensorName("model.layers.29.post_attention_layernorm.weight"),
            "blk.29.ffn_norm.weight");
  EXPECT_EQ(GgufTensorName("model.layers.1.mlp.gate_proj.weight"), "blk.1.ffn_gate.weight");
  EXPECT_EQ(GgufTensorName("model.layers.1.mlp.up_proj.weight"), "blk.1.ffn_up.weight");
  EXPECT_EQ(GgufTensorName("model.layers.1.mlp.down_proj.weight"), "blk.1.ffn_down.weight");
  EXPECT_EQ(GgufTensorName("model.layers.x.mlp.up_proj.weight"), std::nullopt);
  EXPECT_EQ(GgufTensorName("model.layers.1.mlp.up_proj.scale"), std::nullopt);
  EXPECT_EQ(GgufTensorName("vision_tower.weight"), std::nullopt);
}

}  // namespace
}  // namespace lightvlm
