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
    // The file names hold a dot, so the record is read as JSON rather than by dotted field.
    EXPECT_EQ(static_cast<int64_t>(image.grids.size()),
              record_->root()["images"][name]["tiles"].get<int64_t>())
        << name;
  }
}

// VisionZip's saliency: each tile's class-token attention in the last layer (vision_feature_layer
// -1), averaged over heads, summed over the 2x2 patches of each image token. Expected from
// transformers 5.25.0 on the photo's 7 tiles: vision_tower(pixel_values, output_attentions=True)
// .attentions[-1][:, :, 0, 1:].mean(1), grouped 2x2 as the pixel shuffle does.
TEST_F(InternVLGoldenTest, EncodeImageGivesEachTilesClassTokenAttentionAsSaliency) {
  const std::vector<float> expected = {
      0.2383943, 0.2030156, 0.3242264, 0.1733472, 0.2750313, 0.271623,  0.1835252,
      0.2241416, 0.3095179, 0.2354871, 0.2670174, 0.1488848, 0.1595085, 0.2257076,
      0.2250469, 0.3449334, 0.227885,  0.2355267, 0.2570683, 0.2322649, 0.2407936,
      0.2234633, 0.2364542, 0.2413144, 0.284068,  0.2922351, 0.193665,  0.1941195};
  const std::vector<ImageEmbeddings> images = Photo();
  const std::vector<float>& saliency = images[0].vision_saliency;
  ASSERT_EQ(saliency.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(saliency[i], expected[i], 2e-6) << i;
}

TEST_F(InternVLGoldenTest, MaxTilesCapsTheTiling) {
  LoadOptions options;
  options.max_tiles = 2;  // 1x1 (ratio 1) is closer to 500x336 (1.49) than 2x1 is
  const Model capped = LoadModel(golden_->model_dir().string(), options);
  const ImageEmbeddings image =
      capped.language_model->EncodeImage(pool_, LoadImage(kPhoto.string()));
  EXPECT_EQ(image.grids.size(), 1u);  // 3x2 and the thumbnail without the cap
  EXPECT_EQ(image.rows.dim(0), 4);
}

// The method and the baselines reduce image tokens across all tiles: the plan reaches the budget
// over the 28 image tokens of seven grids, text is untouched and generation runs on (visionzip
// with each tile's class-token attention, passed from InternViT through the session).
TEST_F(InternVLGoldenTest, TheMethodAndKvCompressionRunOverAllTiles) {
  const std::vector<ImageEmbeddings> images = Photo();
  const Prompt prompt = MakePrompt(*model_, kQuestion, images);
  ReducerOptions reducer_options;
  reducer_options.budget.final_tokens = 7;
  reducer_options.stages = 2;
  for (const std::string reducer_name :
       {"lightvlm", "uniform", "fastv", "dart", "cdpruner", "visionzip"}) {
    const auto reducer = MakeTokenReducer(reducer_name, reducer_options);
    KvPolicyOptions kv_options;
    kv_options.budget = 24;  // of the 46 prompt tokens: compression runs
    kv_options.sinks = 2;
    kv_options.window = 4;
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
    // cdpruner and visionzip reduce before the LLM, the others inside it.
    EXPECT_EQ(live.front(), reducer->plan().front().layer == 0 ? 7 : 28) << reducer_name;
    EXPECT_EQ(live.back(), 7) << reducer_name;
  }
}

// OpenGVLab's layout (tools/make_internvl_original_fixture.py: the same weights renamed and fused
// as InternVLChatModel holds them, config.json in InternVLChatConfig's format), with the Qwen2 LLM
// as InternVL2.5-1B/4B hold theirs and in InternLM2's layout as 2B/8B/26B do (fused grouped wqkv,
// `bias`, dynamic RoPE scaling). This checks loading, not modeling: the answer must be the -hf
// checkpoint's, recorded by transformers.
class InternVLOpenGVLabTest : public ::testing::TestWithParam<std::string> {};

TEST_P(InternVLOpenGVLabTest, LoadsTheSameModelAndAnswersAlike) {
  const testing::Golden golden("internvl");
  const JsonFile record =
      JsonFile::Load((testing::kFixturesDir / "internvl" / "golden.json").string());
  const Model model = LoadModel((testing::kFixturesDir / GetParam()).string());
  // Their chat(): the internvl2_5 conversation with its system message, "<image>\n" before the
  // question.
  EXPECT_EQ(model.language_model->FormatPrompt(kQuestion, 1),
            "<|im_start|>system\n你是书生·万象，英文名是InternVL，是由上海人工智能实验室、清华大学"
            "及多家合作单位联合开发的多模态大语言模型。<|im_end|>\n<|im_start|>user\n<image>\n"
            "What is in the picture?<|im_end|>\n<|im_start|>assistant\n");
  ThreadPool pool(2);
  std::vector<ImageEmbeddings> images;
  images.push_back(model.language_model->EncodeImage(pool, LoadImage(kPhoto.string())));
  const std::vector<float> features = golden.Floats("image_features");
  ASSERT_EQ(static_cast<size_t>(images[0].rows.num_elements()), features.size());
  EXPECT_LT(testing::MaxAbsDifference(images[0].rows.f32(), features.data(), features.size()),
            1e-4);
  // The recorded prompt without the system message, "<image>" where the -hf one has
  // "<IMG_CONTEXT>": the same ids once expanded.
  const Prompt prompt = MakePrompt(
      model,
      "<|im_start|>user\n<image>\nWhat is in the picture?<|im_end|>\n<|im_start|>assistant\n",
      images, /*raw=*/true);
  EXPECT_EQ(prompt.token_ids, golden.Ids("input_ids"));
  Session session(model.decoder(), pool, 256);
  GenerationOptions options;
  options.max_new_tokens = 16;
  const GenerationResult result = session.Generate(prompt, options, [](int32_t) { return true; });
  EXPECT_EQ(result.tokens, record.Get<std::vector<int32_t>>("greedy.tokens"));
}

INSTANTIATE_TEST_SUITE_P(Llms, InternVLOpenGVLabTest,
                         ::testing::Values("internvl_original", "internvl_original_internlm2"));

}  // namespace
}  // namespace lightvlm
