// InternVL end to end: the photograph (a JPEG) -> tiles -> InternViT -> pixel shuffle -> projector
// -> the chat template's prompt -> the Qwen2 decoder, against transformers 5.25's
// InternVLForConditionalGeneration on the tiny recorded checkpoint
// (tools/make_internvl_fixture.py): the same prompt ids, prompt logits within 1e-3 and the same 16
// greedy tokens; then the method and the KV policies over all of the image's tiles.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/session.h"
#include "io/image.h"
#include "io/json_file.h"
#include "reduce/kv_policy.h"
#include "reduce/token_reducer.h"
#include "support/golden.h"

namespace lightvlm {
namespace {

const std::filesystem::path kPhoto =
    std::filesystem::path(LIGHTVLM_SHARED_DIR) / "images" / "mmbench_21.jpg";
constexpr const char* kQuestion = "What is in the picture?";

class InternVLGoldenTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    golden_ = new testing::Golden("internvl");
    model_ = new Model(LoadModel(golden_->model_dir().string()));
    record_ =
        new JsonFile(JsonFile::Load((testing::kFixturesDir / "internvl" / "golden.json").string()));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete golden_;
    delete record_;
  }

  std::vector<ImageEmbeddings> Photo() {
    std::vector<ImageEmbeddings> images;
    images.push_back(model_->language_model->EncodeImage(pool_, LoadImage(kPhoto.string())));
    return images;
  }

  static testing::Golden* golden_;
  static Model* model_;
  static JsonFile* record_;
  ThreadPool pool_{2};
};

testing::Golden* InternVLGoldenTest::golden_ = nullptr;
Model* InternVLGoldenTest::model_ = nullptr;
JsonFile* InternVLGoldenTest::record_ = nullptr;

TEST_F(InternVLGoldenTest, ThePromptIsTheProcessorsPrompt) {
  EXPECT_EQ(model_->language_model->FormatPrompt(kQuestion, 1),
            record_->Get<std::string>("prompt.text"));
  const std::vector<ImageEmbeddings> images = Photo();
  // 3x2 tiles and the thumbnail, 2x2 tokens each after the pixel shuffle.
  ASSERT_EQ(images[0].grids.size(), 7u);
  for (const ImageGrid& grid : images[0].grids) {
    EXPECT_EQ(grid.height, 2);
    EXPECT_EQ(grid.width, 2);
  }
  const Prompt prompt = MakePrompt(*model_, kQuestion, images);
  EXPECT_EQ(prompt.token_ids, golden_->Ids("input_ids"));
  EXPECT_TRUE(prompt.positions.empty()) << "InternVL's decoder takes one position a token";
}

TEST_F(InternVLGoldenTest, ImageFeaturesMatchTransformers) {
  const std::vector<ImageEmbeddings> images = Photo();
  const std::vector<float> expected = golden_->Floats("image_features");
  ASSERT_EQ(static_cast<size_t>(images[0].rows.num_elements()), expected.size());
  EXPECT_LT(testing::MaxAbsDifference(images[0].rows.f32(), expected.data(), expected.size()),
            1e-4);
}

TEST_F(InternVLGoldenTest, AnswerMatchesTransformers) {
  const std::vector<ImageEmbeddings> images = Photo();
  const Prompt prompt = MakePrompt(*model_, kQuestion, images);
  Session prefill_only(model_->decoder(), pool_, 256);
  const std::vector<float> logits = prefill_only.Prefill(prompt);
  const std::vector<float> expected = golden_->Floats("prompt_logits_last");
  ASSERT_EQ(logits.size(), expected.size());
  EXPECT_LT(testing::MaxAbsDifference(logits.data(), expected.data(), logits.size()), 1e-3);

  Session session(model_->decoder(), pool_, 256);
  GenerationOptions options;
  options.max_new_tokens = 16;  // transformers ran with EOS disabled
  const GenerationResult result = session.Generate(prompt, options, [](int32_t) { return true; });
  EXPECT_EQ(result.tokens, record_->Get<std::vector<int32_t>>("greedy.tokens"));
}

TEST_F(InternVLGoldenTest, TileCountsMatchTheProcessorForEveryAspectRatio) {
  for (const std::string name : {"wide.png", "tall.png", "square.png"}) {
    const ImageEmbeddings image = model_->language_model->EncodeImage(
        pool_, LoadImage((testing::kFixturesDir / "internvl" / "images" / name).string()));
    EXPECT_EQ(static_cast<int64_t>(image.grids.size()),
              record_->Get<int64_t>("images." + name + ".tiles"))
        << name;
  }
}

TEST_F(InternVLGoldenTest, MaxTilesCapsTheTiling) {
  LoadOptions options;
  options.max_tiles = 2;
  const Model capped = LoadModel(golden_->model_dir().string(), options);
  const ImageEmbeddings image =
      capped.language_model->EncodeImage(pool_, LoadImage(kPhoto.string()));
  // 500x336 on at most 2 tiles: 2x1 and the thumbnail.
  EXPECT_EQ(image.grids.size(), 3u);
  EXPECT_EQ(image.rows.dim(0), 12);
}

// The method merges image tokens across all tiles: the plan reaches the budget over the 28
// image tokens of seven grids, text is untouched and generation runs on.
TEST_F(InternVLGoldenTest, TheMethodAndKvCompressionRunOverAllTiles) {
  const std::vector<ImageEmbeddings> images = Photo();
  const Prompt prompt = MakePrompt(*model_, kQuestion, images);
  ReducerOptions reducer_options;
  reducer_options.budget.final_tokens = 7;
  reducer_options.stages = 2;
  for (const std::string reducer_name : {"lightvlm", "uniform", "fastv"}) {
    const auto reducer = MakeTokenReducer(reducer_name, reducer_options);
    KvPolicyOptions kv_options;
    kv_options.budget = 24;  // of the 46 prompt tokens: compression runs
    const auto policy = MakeKvPolicy("lightvlm", kv_options);
    Session session(model_->decoder(), pool_, 256);
    session.SetTokenReducer(reducer.get());
    session.SetKvPolicy(policy.get());
    GenerationOptions options;
    options.max_new_tokens = 8;
    const GenerationResult result = session.Generate(prompt, options, [](int32_t) { return true; });
    EXPECT_EQ(result.tokens.size(), 8u) << reducer_name;
    const std::vector<int64_t> live = reducer->ImageTokensPerLayer();
    ASSERT_FALSE(live.empty()) << reducer_name;
    EXPECT_EQ(live.front(), 28) << reducer_name;
    EXPECT_EQ(live.back(), 7) << reducer_name;
  }
}

}  // namespace
}  // namespace lightvlm
