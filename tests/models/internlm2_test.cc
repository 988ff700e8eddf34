// InternLM2 checkpoints through InternLM2TensorSource: the tiny fixture of
// tools/make_internlm2_fixture.py is a transformers LlamaForCausalLM written in InternLM2's layout
// (names, grouped fused wqkv, InternLM2Config), so matching its golden checks loading, not
// InternLM2's modeling (no PyPI package ships that code).
#include "models/internlm2_tensor_source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>

#include "base/dtype.h"
#include "io/json_file.h"
#include "models/decoder.h"
#include "models/language_model.h"
#include "support/golden.h"
#include "support/llava_layouts.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

const std::filesystem::path kModelDir = testing::kFixturesDir / "internlm2" / "model";

LlmConfig FixtureConfig() {
  return ReadLlmConfig(JsonFile::Load((kModelDir / "config.json").string()));
}

// The logits [n, vocab] of every prompt position, then `new_tokens` greedy tokens decoded one at
// a time through the cache.
struct Run {
  std::vector<float> prompt_logits;
  std::vector<int32_t> greedy;
};

Run RunDecoder(const Decoder& decoder, const std::vector<int32_t>& ids, int64_t new_tokens) {
  const LlmConfig& config = decoder.config();
  const auto n = static_cast<int64_t>(ids.size());
  ThreadPool pool(2);
  KvCache cache = decoder.NewCache(n + new_tokens);
  Run run;
  auto forward = [&](std::span<const int32_t> tokens_in, int64_t start) {
    const auto count = static_cast<int64_t>(tokens_in.size());
    DecoderTokens tokens;
    tokens.hidden = Tensor(DType::kF32, {count, config.hidden_size});
    decoder.Embed(tokens_in, tokens.hidden.f32());
    for (int64_t i = 0; i < count; ++i) {
      tokens.token_index.push_back(start + i);
      tokens.position.push_back(PositionId::Sequential(start + i));
    }
    decoder.Forward(pool, tokens, cache);
    std::vector<float> logits(count * config.vocab_size);
    decoder.Logits(pool, tokens.hidden.f32(), count, logits.data());
    return logits;
  };
  run.prompt_logits = forward(ids, 0);
  std::vector<float> last(run.prompt_logits.end() - config.vocab_size, run.prompt_logits.end());
  for (int64_t step = 0; step < new_tokens; ++step) {
    const auto next =
        static_cast<int32_t>(std::max_element(last.begin(), last.end()) - last.begin());
    run.greedy.push_back(next);
    last = forward(std::span(&next, 1), n + step);
  }
  return run;
}

void ExpectMatchesGolden(const Decoder& decoder) {
  const testing::Golden golden("internlm2");
  const std::vector<int32_t> expected_greedy = golden.Ids("greedy_tokens");
  const Run run =
      RunDecoder(decoder, golden.Ids("input_ids"), static_cast<int64_t>(expected_greedy.size()));
  const std::vector<float> expected = golden.Floats("logits_all");
  ASSERT_EQ(run.prompt_logits.size(), expected.size());
  EXPECT_LT(testing::MaxAbsDifference(run.prompt_logits.data(), expected.data(), expected.size()),
            1e-4);
  EXPECT_EQ(run.greedy, expected_greedy);
}

// Through the model registry, as `lightvlm run` loads it: model_type internlm2 is a text model
// whose checkpoint is read through the adapter.
TEST(InternLM2Test, TextCheckpointMatchesTheLlamaItWasWrittenFrom) {
  const std::unique_ptr<LanguageModel> model = LoadLanguageModel(kModelDir.string());
  EXPECT_EQ(model->family(), "internlm2");
  const LlmConfig& config = model->decoder().config();
  EXPECT_TRUE(config.qkv_bias);
  EXPECT_TRUE(config.o_bias);
  EXPECT_EQ(config.rope_scaling.kind, "dynamic");
  ExpectMatchesGolden(model->decoder());
}

// InternVL's original checkpoints nest the LLM under "language_model.": the adapter takes the
// prefix and the output name.
TEST(InternLM2Test, NestedPrefixAsInInternVL) {
  const auto dir = testing::FreshTempDir();
  testing::WriteRenamedTensors(kModelDir, dir,
                               [](const std::string& name) { return "language_model." + name; });
  const Checkpoint checkpoint = Checkpoint::Open(dir.string());
  const LlmConfig config = FixtureConfig();
  const InternLM2TensorSource nested(checkpoint, config,
                                     {"language_model.model.", "language_model.output.weight"});
  EXPECT_TRUE(nested.Contains("lm_head.weight"));
  EXPECT_TRUE(nested.Contains("model.layers.1.self_attn.k_proj.bias"));
  EXPECT_FALSE(InternLM2TensorSource(checkpoint, config).Contains("lm_head.weight"));
  ExpectMatchesGolden(Decoder(config, nested));
}

TEST(InternLM2Test, Bf16WeightsLoadThroughTheSplit) {
  const Checkpoint checkpoint = Checkpoint::Open(kModelDir.string());
  const LlmConfig config = FixtureConfig();
  const InternLM2TensorSource source(checkpoint, config);
  const Tensor f32 = source.Load("model.layers.0.self_attn.v_proj.weight", {16, 32}, DType::kF32);
  const Tensor bf16 = source.Load("model.layers.0.self_attn.v_proj.weight", {16, 32}, DType::kBF16);
  ASSERT_EQ(bf16.dtype(), DType::kBF16);
  std::vector<float> widened(bf16.num_elements());
  ConvertToF32(bf16.view().raw(), DType::kBF16, widened.data(), bf16.num_elements());
  for (int64_t i = 0; i < f32.num_elements(); ++i) {
    EXPECT_NEAR(widened[i], f32.f32()[i], std::abs(f32.f32()[i]) / 128) << i;
  }
}

// A TensorSource holding one fused wqkv whose every element is its row index, so the rows each
// part receives show the grouped order directly.
class RowNumberedWqkv : public TensorSource {
 public:
  RowNumberedWqkv(int64_t rows, int64_t columns) : rows_(rows), columns_(columns) {}
  bool Contains(const std::string& name) const override {
    return name.starts_with("model.layers.0.attention.wqkv.");
  }
  Tensor Load(const std::string& name, const Shape& expected_shape, DType dtype) const override {
    const Shape shape = name.ends_with(".bias") ? Shape{rows_} : Shape{rows_, columns_};
    EXPECT_EQ(expected_shape, shape) << name;
    EXPECT_EQ(dtype, DType::kF32);
    Tensor tensor(DType::kF32, shape);
    const int64_t per_row = tensor.num_elements() / rows_;
    for (int64_t i = 0; i < tensor.num_elements(); ++i) tensor.f32()[i] = float(i / per_row);
    return tensor;
  }

 private:
  int64_t rows_, columns_;
};

// The rows' values of `tensor` (constant along each row).
std::vector<float> RowValues(const Tensor& tensor) {
  std::vector<float> values;
  const int64_t per_row = tensor.num_elements() / tensor.dim(0);
  for (int64_t row = 0; row < tensor.dim(0); ++row) values.push_back(tensor.f32()[row * per_row]);
  return values;
}

TEST(InternLM2Test, FusedRowsSplitPerKvGroup) {
  LlmConfig config;
  config.num_heads = 4;
  config.num_kv_heads = 2;
  config.head_dim = 2;
  // Rows: group 0 = q heads 0, 1 (rows 0-3), k (4, 5), v (6, 7); group 1 = q heads 2, 3 (8-11),
  // k (12, 13), v (14, 15).
  const RowNumberedWqkv fused(16, 3);
  const InternLM2TensorSource source(fused, config);
  const std::string layer = "model.layers.0.self_attn.";
  for (const std::string suffix : {".weight", ".bias"}) {
    const bool bias = suffix == ".bias";
    auto shape = [&](int64_t rows) { return bias ? Shape{rows} : Shape{rows, 3}; };
    EXPECT_EQ(RowValues(source.LoadF32(layer + "q_proj" + suffix, shape(8))),
              (std::vector<float>{0, 1, 2, 3, 8, 9, 10, 11}));
    EXPECT_EQ(RowValues(source.LoadF32(layer + "k_proj" + suffix, shape(4))),
              (std::vector<float>{4, 5, 12, 13}));
    EXPECT_EQ(RowValues(source.LoadF32(layer + "v_proj" + suffix, shape(4))),
              (std::vector<float>{6, 7, 14, 15}));
  }
  EXPECT_TRUE(source.Contains(layer + "q_proj.weight"));
  EXPECT_FALSE(source.Contains(layer + "o_proj.weight"));
  EXPECT_FALSE(source.Contains("model.layers.x.self_attn.q_proj.weight"));
}

// The fixture with `tensor` given `shape` (and data to match), or left out when `shape` is empty.
std::filesystem::path FixtureWith(const std::string& tensor, const Shape& shape) {
  const auto dir = testing::FreshTempDir();
  testing::CopyFiles(kModelDir, dir, {"model.safetensors"});
  const Checkpoint checkpoint = Checkpoint::Open(kModelDir.string());
  std::vector<testing::TensorToWrite> tensors;
  for (const StoredTensor* t : checkpoint.All()) {
    if (t->name != tensor) {
      tensors.push_back({t->name, t->dtype_name, t->shape,
                         std::string(reinterpret_cast<const char*>(t->data), t->num_bytes)});
    } else if (!shape.empty()) {
      tensors.push_back({t->name, "F32", shape, std::string(NumElements(shape) * 4, '\0')});
    }
  }
  testing::WriteFile(dir / "model.safetensors", testing::SafetensorsBytes(tensors));
  return dir;
}

TEST(InternLM2Test, WrongFusedShapeNamesFileAndTensor) {
  // A wqkv with q, k and v for 4 KV heads, as if the config's 2 were wrong: 4 + 2 * 4 heads of 8.
  const auto dir = FixtureWith("model.layers.1.attention.wqkv.weight", {96, 32});
  const std::string error = testing::ErrorOf([&] { LoadLanguageModel(dir.string()); });
  EXPECT_NE(error.find((dir / "model.safetensors").string()), std::string::npos) << error;
  EXPECT_NE(error.find("tensor 'model.layers.1.attention.wqkv.weight' has shape [96, 32], "
                       "expected [64, 32]"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("model.layers.1.self_attn.q_proj.weight"), std::string::npos) << error;
}

TEST(InternLM2Test, MissingTensorIsNamed) {
  const auto dir = FixtureWith("model.layers.0.feed_forward.w3.weight", {});
  const std::string error = testing::ErrorOf([&] { LoadLanguageModel(dir.string()); });
  EXPECT_NE(error.find(dir.string()), std::string::npos) << error;
  EXPECT_NE(error.find("model.layers.0.feed_forward.w3.weight"), std::string::npos) << error;
  EXPECT_NE(error.find("model.layers.0.mlp.up_proj.weight"), std::string::npos) << error;
}

}  // namespace
}  // namespace lightvlm
