// Qwen2-VL and Qwen2.5-VL end to end against transformers on tiny recorded checkpoints:
// Qwen2VLForConditionalGeneration of 4.46.3 (tools/make_qwen2vl_fixture.py, tests/fixtures/qwen2vl)
// and Qwen2_5_VLForConditionalGeneration of 5.25.0 with window attention
// (tools/make_qwen25vl_fixture.py, tests/fixtures/qwen25vl, config.json in 5.x's form), each also
// in transformers 4.52-4.57's tensor layout, for a wide, a tall and a small image and for two
// images in one prompt (the photograph, as PIL decodes the JPEG, and the tall one): the chat
// template's prompt ids, get_rope_index's three position ids of every prompt token, the vision
// tower's merged features, the logits of every prompt token within 1e-3 and the same 16 greedy
// tokens; then the token reducers and KV policies over M-RoPE positions.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/session.h"
#include "io/image.h"
#include "io/json_file.h"
#include "models/qwen2vl.h"
#include "reduce/kv_policy.h"
#include "reduce/token_reducer.h"
#include "support/golden.h"
#include "support/llava_layouts.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;
constexpr const char* kQuestion = "What is in the picture?";
const fs::path kDir = testing::kFixturesDir / "qwen2vl";  // the images of both fixtures

struct Case {
  std::string name;
  std::vector<fs::path> images;
};
const std::vector<Case> kCases = {
    {"wide", {kDir / "wide.png"}},
    {"tall", {kDir / "tall.png"}},
    {"small", {kDir / "small.png"}},
    {"pair", {testing::kFixturesDir / "llava" / "image.png", kDir / "tall.png"}},
};

// The fixture directory, and whether to load it renamed to transformers 4.52-4.57's layout.
struct Fixture {
  std::string name;
  bool layout_4_52 = false;
};

// A copy of `fixture`'s model with its tensors as 4.52 to 4.57 name them.
fs::path In452Layout(const std::string& fixture) {
  const fs::path from = testing::kFixturesDir / fixture / "model";
  const fs::path dir = testing::FreshTempDir(fixture + "_4_52_layout");
  testing::CopyFiles(from, dir, {"model.safetensors"});
  testing::WriteRenamedTensors(from, dir, [](const std::string& name) {
    if (name.starts_with("visual.")) return "model." + name;
    return testing::ReplacePrefix(name, "model.", "model.language_model.");
  });
  return dir;
}

class Qwen2VlGoldenTest : public ::testing::TestWithParam<Fixture> {
 protected:
  void SetUp() override {
    golden_ = std::make_unique<testing::Golden>(GetParam().name);
    const fs::path dir =
        GetParam().layout_4_52 ? In452Layout(GetParam().name) : golden_->model_dir();
    model_ = std::make_unique<Model>(LoadModel(dir.string()));
  }

  std::vector<ImageEmbeddings> Encode(const Case& c) {
    std::vector<ImageEmbeddings> images;
    for (const fs::path& path : c.images) {
      images.push_back(model_->language_model->EncodeImage(pool_, LoadImage(path.string())));
    }
    return images;
  }

  // The final-normed logits of every prompt row, through the decoder as a session runs it.
  std::vector<float> AllLogits(const Prompt& prompt) {
    const Decoder& decoder = model_->decoder();
    const int64_t n = prompt.size(), d = decoder.config().hidden_size;
    DecoderTokens tokens;
    tokens.hidden = Tensor(DType::kF32, {n, d});
    decoder.Embed(prompt.token_ids, tokens.hidden.f32());
    for (const PromptImage& image : prompt.images) {
      std::memcpy(tokens.hidden.f32() + image.start * d, image.embeddings->rows.f32(),
                  image.embeddings->rows.num_bytes());
    }
    for (int64_t i = 0; i < n; ++i) tokens.token_index.push_back(i);
    tokens.position = prompt.positions;
    KvCache cache = decoder.NewCache(n);
    decoder.Forward(pool_, tokens, cache);
    std::vector<float> logits(n * decoder.config().vocab_size);
    decoder.Logits(pool_, tokens.hidden.f32(), n, logits.data());
    return logits;
  }

  std::unique_ptr<testing::Golden> golden_;
  std::unique_ptr<Model> model_;
  ThreadPool pool_{2};
};

TEST_P(Qwen2VlGoldenTest, LoadsWithMrope) {
  EXPECT_EQ(model_->language_model->family(),
            GetParam().name == "qwen2vl" ? "qwen2_vl" : "qwen2_5_vl");
  EXPECT_EQ(model_->config().rope_scaling.mrope_section, (std::vector<int64_t>{2, 3, 3}));
  EXPECT_EQ(model_->language_model->image_token_id(), 952);
}

TEST_P(Qwen2VlGoldenTest, PromptIdsAndPositionsAreTheProcessorsAndGetRopeIndexs) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const std::vector<ImageEmbeddings> images = Encode(c);
    const Prompt prompt = MakePrompt(*model_, kQuestion, images);
    EXPECT_EQ(prompt.token_ids, golden_->Ids(c.name + ".input_ids"));
    const std::vector<int32_t> expected = golden_->Ids(c.name + ".position_ids");  // [3, n]
    ASSERT_EQ(prompt.positions.size() * 3, expected.size());
    const size_t n = prompt.positions.size();
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(prompt.positions[i],
                (PositionId{expected[i], expected[n + i], expected[2 * n + i]}))
          << "token " << i;
    }
    const int64_t delta = golden_->Ids(c.name + ".rope_delta")[0];
    EXPECT_EQ(prompt.PositionSpan(), static_cast<int64_t>(n) + delta);
  }
}

TEST_P(Qwen2VlGoldenTest, VisionFeaturesMatchTransformers) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    std::vector<float> actual;
    for (const ImageEmbeddings& image : Encode(c)) {
      actual.insert(actual.end(), image.rows.f32(), image.rows.f32() + image.rows.num_elements());
    }
    const std::vector<float> expected = golden_->Floats(c.name + ".vision_features");
    ASSERT_EQ(actual.size(), expected.size());
    EXPECT_LT(testing::MaxAbsDifference(actual.data(), expected.data(), actual.size()), 1e-4);
  }
}

TEST_P(Qwen2VlGoldenTest, PromptLogitsAndGreedyTokensMatchTransformers) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const std::vector<ImageEmbeddings> images = Encode(c);
    const Prompt prompt = MakePrompt(*model_, kQuestion, images);
    const std::vector<float> logits = AllLogits(prompt);
    const std::vector<float> expected = golden_->Floats(c.name + ".logits");
    ASSERT_EQ(logits.size(), expected.size());
    EXPECT_LT(testing::MaxAbsDifference(logits.data(), expected.data(), logits.size()), 1e-3);

    // Decoding continues at n + rope_delta, one id for all three axes.
    Session session(model_->decoder(), pool_, 128);
    GenerationOptions options;
    options.max_new_tokens = 16;  // transformers ran with EOS disabled
    const GenerationResult result = session.Generate(prompt, options, [](int32_t) { return true; });
    EXPECT_EQ(result.tokens, golden_->Ids(c.name + ".greedy_tokens"));
  }
}

// Reduced image tokens keep their three original ids: every reducer and KV policy runs over the
// two images' M-RoPE positions and generation continues from the prompt's next position.
TEST_P(Qwen2VlGoldenTest, ReducersAndKvPoliciesRunOverMropePositions) {
  const std::vector<ImageEmbeddings> images = Encode(kCases[3]);
  const Prompt prompt = MakePrompt(*model_, kQuestion, images);
  ReducerOptions reducer_options;
  reducer_options.budget.final_tokens = 4;
  reducer_options.stages = 2;
  for (const std::string name : {"lightvlm", "uniform", "fastv", "dart", "cdpruner"}) {
    SCOPED_TRACE(name);
    const auto reducer = MakeTokenReducer(name, reducer_options);
    KvPolicyOptions kv_options;
    kv_options.budget = 40;
    kv_options.sinks = 2;
    kv_options.window = 4;
    const auto policy = MakeKvPolicy("lightvlm", kv_options);
    Session session(model_->decoder(), pool_, 128);
    session.SetTokenReducer(reducer.get());
    session.SetKvPolicy(policy.get());
    GenerationOptions options;
    options.max_new_tokens = 4;
    const GenerationResult result = session.Generate(prompt, options, [](int32_t) { return true; });
    EXPECT_EQ(result.tokens.size(), 4u);
    EXPECT_EQ(session.next_position(), prompt.PositionSpan() + 3);
  }
}

// Text alone: get_rope_index's three ids are each token's index, so the prompt takes RoPE's one id
// a token, and a session runs it (and truncation may cut it).
TEST_P(Qwen2VlGoldenTest, TextOnlyPromptsTakeOneIdAToken) {
  const Prompt prompt = MakePrompt(*model_, kQuestion, {});
  EXPECT_TRUE(prompt.positions.empty());
  EXPECT_EQ(prompt.PositionSpan(), prompt.size());
  Session session(model_->decoder(), pool_, 64);
  GenerationOptions options;
  options.max_new_tokens = 2;
  EXPECT_EQ(session.Generate(prompt, options, [](int32_t) { return true; }).tokens.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Qwen2VlGoldenTest,
                         ::testing::Values(Fixture{"qwen2vl"}, Fixture{"qwen25vl"},
                                           Fixture{"qwen2vl", true}, Fixture{"qwen25vl", true}),
                         [](const ::testing::TestParamInfo<Fixture>& info) {
                           return info.param.name + (info.param.layout_4_52 ? "_4_52_layout" : "");
                         });

}  // namespace
}  // namespace lightvlm
