// SmolVLM end to end: the photograph (a JPEG) -> 3x2 sub-images and the global image -> SigLIP ->
// pixel shuffle -> projection -> the chat template's prompt -> the Llama decoder, against
// transformers 5.25's SmolVLMForConditionalGeneration on the tiny recorded checkpoint
// (tools/make_smolvlm_fixture.py): the processor's prompt, prompt logits within 1e-3 and the same
// 16 greedy tokens; the same weights as Idefics3; the method and the KV policies over all
// sub-images; checkpoints that are broken in one field or tensor.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/session.h"
#include "io/image.h"
#include "io/json_file.h"
#include "models/smolvlm.h"
#include "reduce/kv_policy.h"
#include "reduce/token_reducer.h"
#include "support/golden.h"
#include "support/llava_layouts.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;

const fs::path kPhoto = fs::path(LIGHTVLM_SHARED_DIR) / "images" / "mmbench_21.jpg";
const fs::path kSmolVLMDir = testing::kFixturesDir / "smolvlm";
constexpr const char* kQuestion = "What is in the picture?";
constexpr int64_t kSubImageTokens = 9;  // 6x6 patches, pixel shuffle 2

class SmolVLMGoldenTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    golden_ = new testing::Golden("smolvlm");
    model_ = new Model(LoadModel(golden_->model_dir().string()));
    record_ = new JsonFile(JsonFile::Load((kSmolVLMDir / "golden.json").string()));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete golden_;
    delete record_;
  }

  static const SmolVLMModel& Smol() {
    return dynamic_cast<const SmolVLMModel&>(*model_->language_model);
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

testing::Golden* SmolVLMGoldenTest::golden_ = nullptr;
Model* SmolVLMGoldenTest::model_ = nullptr;
JsonFile* SmolVLMGoldenTest::record_ = nullptr;

int64_t SubImageGrids(const ImageEmbeddings& image) {
  int64_t count = 0;
  for (const ImageGrid& grid : image.grids) count += grid.size() == kSubImageTokens;
  return count;
}

TEST_F(SmolVLMGoldenTest, LoadsAsTheSmolVLMFamily) {
  EXPECT_EQ(model_->language_model->family(), "smolvlm");
  EXPECT_EQ(model_->language_model->image_token_id(), 1002);
  EXPECT_EQ(Smol().image_seq_len(), kSubImageTokens);
}

// The engine's prompt is the processor's, token for token: the image's block with its row and
// column markers as text, and each sub-image's rows at its run of image tokens.
TEST_F(SmolVLMGoldenTest, ThePromptIsTheProcessorsPrompt) {
  EXPECT_EQ(model_->language_model->FormatPrompt(kQuestion, 1),
            record_->Get<std::string>("prompt.text"));
  const std::vector<ImageEmbeddings> images = Photo();
  EXPECT_EQ(SubImageGrids(images[0]), 7);  // 3x2 and the global image
  EXPECT_EQ(images[0].grids.size(), 7u);   // and nothing else: the markers are text
  const Prompt prompt = MakePrompt(*model_, kQuestion, images);
  EXPECT_EQ(prompt.token_ids, golden_->Ids("input_ids"));
  ASSERT_EQ(prompt.images.size(), 1u);
  ASSERT_EQ(prompt.images[0].grid_starts.size(), 7u);
  const int32_t image_id = model_->language_model->image_token_id();
  for (int64_t start : prompt.images[0].grid_starts) {
    EXPECT_NE(prompt.token_ids[start - 1], image_id) << "a marker before each sub-image";
  }
  EXPECT_TRUE(prompt.positions.empty()) << "SmolVLM's decoder takes one position a token";
}

TEST_F(SmolVLMGoldenTest, TheImageBlockIsTheProcessorsText) {
  EXPECT_EQ(SmolVLMImagePrompt({1, 2}, 2),
            "<fake_token_around_image><row_1_col_1><image><image>"
            "<fake_token_around_image><row_1_col_2><image><image>\n\n"
            "<fake_token_around_image><global-img><image><image><fake_token_around_image>");
  EXPECT_EQ(SmolVLMImagePrompt({}, 1),
            "<fake_token_around_image><global-img><image><fake_token_around_image>");
}

TEST_F(SmolVLMGoldenTest, VisionStatesAndFeaturesMatchTransformers) {
  const SmolVLMPixelValues pixels =
      SmolVLMPreprocess(LoadImage(kPhoto.string()), Smol().image_processor());
  ASSERT_EQ(pixels.sub_images.size(), 7u);
  const std::vector<float> states = golden_->Floats("vision_last_hidden_state");
  const size_t per_image = states.size() / 7;
  for (size_t i = 0; i < pixels.sub_images.size(); ++i) {
    const Tensor hidden = Smol().vision().Forward(pool_, pixels.sub_images[i]);
    ASSERT_EQ(static_cast<size_t>(hidden.num_elements()), per_image);
    EXPECT_LT(testing::MaxAbsDifference(hidden.f32(), states.data() + i * per_image, per_image),
              1e-4)
        << "sub-image " << i;
  }
  const Tensor features = Smol().ImageFeatures(pool_, pixels);
  const std::vector<float> expected = golden_->Floats("image_features");
  ASSERT_EQ(static_cast<size_t>(features.num_elements()), expected.size());
  EXPECT_LT(testing::MaxAbsDifference(features.f32(), expected.data(), expected.size()), 1e-4);
}

TEST_F(SmolVLMGoldenTest, AnswerMatchesTransformers) {
  const std::vector<ImageEmbeddings> images = Photo();
  const Prompt prompt = MakePrompt(*model_, kQuestion, images);
  Session prefill_only(model_->decoder(), pool_, 512);
  const std::vector<float> logits = prefill_only.Prefill(prompt);
  const std::vector<float> expected = golden_->Floats("prompt_logits_last");
  ASSERT_EQ(logits.size(), expected.size());
  EXPECT_LT(testing::MaxAbsDifference(logits.data(), expected.data(), logits.size()), 1e-3);

  Session session(model_->decoder(), pool_, 512);
  GenerationOptions options;
  options.max_new_tokens = 16;  // transformers ran with EOS disabled
  const GenerationResult result = session.Generate(prompt, options, [](int32_t) { return true; });
  EXPECT_EQ(result.tokens, record_->Get<std::vector<int32_t>>("greedy.tokens"));
}

TEST_F(SmolVLMGoldenTest, SubImageCountsMatchTheProcessorForEveryAspectRatio) {
  for (const std::string name : {"wide.png", "tall.png", "square.png"}) {
    const ImageEmbeddings image = model_->language_model->EncodeImage(
        pool_, LoadImage((kSmolVLMDir / "images" / name).string()));
    EXPECT_EQ(SubImageGrids(image), record_->root()["images"][name]["sub_images"].get<int64_t>())
        << name;
  }
}

// The method merges image rows across all sub-images (and the block's markers, which travel in
// the image's run): the plan reaches the budget, text is untouched and generation runs on.
TEST_F(SmolVLMGoldenTest, TheMethodAndKvCompressionRunOverAllSubImages) {
  const std::vector<ImageEmbeddings> images = Photo();
  const Prompt prompt = MakePrompt(*model_, kQuestion, images);
  ReducerOptions reducer_options;
  reducer_options.budget.final_tokens = 12;
  reducer_options.stages = 2;
  for (const std::string reducer_name : {"lightvlm", "uniform", "fastv"}) {
    const auto reducer = MakeTokenReducer(reducer_name, reducer_options);
    KvPolicyOptions kv_options;
    kv_options.budget = 40;  // of the prompt's 100-odd tokens: compression runs
    kv_options.sinks = 2;
    kv_options.window = 4;
    const auto policy = MakeKvPolicy("lightvlm", kv_options);
    Session session(model_->decoder(), pool_, 512);
    session.SetTokenReducer(reducer.get());
    session.SetKvPolicy(policy.get());
    GenerationOptions options;
    options.max_new_tokens = 8;
    const GenerationResult result = session.Generate(prompt, options, [](int32_t) { return true; });
    EXPECT_EQ(result.tokens.size(), 8u) << reducer_name;
    const std::vector<int64_t> live = reducer->ImageTokensPerLayer();
    ASSERT_FALSE(live.empty()) << reducer_name;
    EXPECT_EQ(live.front(), images[0].rows.dim(0)) << reducer_name;
    EXPECT_EQ(live.back(), 12) << reducer_name;
  }
}

// The tower has no class token: each image token's saliency is the attention its sub-image's
// patches receive in the last layer (averaged over patches and heads, so a sub-image's sum to 1),
// summed over the 4 patches the pixel shuffle merged into it; visionzip ranks by it.
TEST_F(SmolVLMGoldenTest, SaliencyFeedsVisionZip) {
  const std::vector<ImageEmbeddings> images = Photo();
  const std::vector<float>& saliency = images[0].vision_saliency;
  ASSERT_EQ(static_cast<int64_t>(saliency.size()), images[0].rows.dim(0));
  for (size_t first = 0; first < saliency.size(); first += kSubImageTokens) {
    double sum = 0;
    for (int64_t i = 0; i < kSubImageTokens; ++i) sum += saliency[first + i];
    EXPECT_NEAR(sum, 1.0, 1e-5) << first;
  }
  const Prompt prompt = MakePrompt(*model_, kQuestion, images);
  ReducerOptions options;
  options.budget.final_tokens = 12;
  const auto reducer = MakeTokenReducer("visionzip", options);
  Session session(model_->decoder(), pool_, 512);
  session.SetTokenReducer(reducer.get());
  GenerationOptions generation;
  generation.max_new_tokens = 4;
  EXPECT_EQ(session.Generate(prompt, generation, [](int32_t) { return true; }).tokens.size(), 4u);
  EXPECT_EQ(reducer->ImageTokensPerLayer().front(), 12);
}

// The fixture's weights with the config and processor files Idefics3ForConditionalGeneration and
// Idefics3Processor save (tests/fixtures/smolvlm/idefics3; transformers gave the same ids and
// logits): the same prompt and answer.
TEST(SmolVLMIdefics3Test, LoadsAndAnswersAsTransformers) {
  const testing::Golden golden("smolvlm");
  const fs::path dir = testing::FreshTempDir("idefics3");
  testing::CopyFiles(kSmolVLMDir / "idefics3", dir);
  fs::copy_file(kSmolVLMDir / "model" / "model.safetensors", dir / "model.safetensors");
  const Model model = LoadModel(dir.string());
  EXPECT_EQ(JsonFile::Load((dir / "config.json").string()).Get<std::string>("model_type"),
            "idefics3");
  ThreadPool pool(2);
  std::vector<ImageEmbeddings> images;
  images.push_back(model.language_model->EncodeImage(pool, LoadImage(kPhoto.string())));
  const Prompt prompt = MakePrompt(model, kQuestion, images);
  const std::vector<int32_t> expected = golden.Ids("input_ids");
  ASSERT_EQ(prompt.token_ids.size(), expected.size());
  Session session(model.decoder(), pool, 512);
  const std::vector<float> logits = session.Prefill(prompt);
  const std::vector<float> expected_logits = golden.Floats("prompt_logits_last");
  ASSERT_EQ(logits.size(), expected_logits.size());
  EXPECT_LT(testing::MaxAbsDifference(logits.data(), expected_logits.data(), logits.size()), 1e-3);
}

// A copy of the fixture with `edit` applied to one of its JSON files.
fs::path EditedCopy(const std::string& file, const std::function<void(nlohmann::json&)>& edit) {
  const fs::path dir = testing::FreshTempDir("smolvlm");
  testing::CopyFiles(kSmolVLMDir / "model", dir);
  nlohmann::json json = nlohmann::json::parse(testing::ReadFile(dir / file));
  edit(json);
  testing::WriteFile(dir / file, json.dump());
  return dir;
}

std::string LoadError(const fs::path& dir) {
  return testing::ErrorOf([&] { LoadModel(dir.string()); });
}

TEST(SmolVLMBadCheckpointTest, ConfigFieldsAreNamed) {
  EXPECT_NE(LoadError(EditedCopy("config.json", [](auto& j) { j["scale_factor"] = 4; }))
                .find("which scale_factor 4 does not divide"),
            std::string::npos);
  EXPECT_NE(LoadError(EditedCopy("config.json", [](auto& j) { j["scale_factor"] = 0; }))
                .find("config.json: scale_factor must be positive"),
            std::string::npos);
  EXPECT_NE(
      LoadError(EditedCopy("config.json", [](auto& j) { j["vision_config"]["patch_size"] = -8; }))
          .find("vision_config.patch_size must be positive"),
      std::string::npos);
  EXPECT_NE(LoadError(EditedCopy("config.json",
                                 [](auto& j) { j["vision_config"]["num_attention_heads"] = 5; }))
                .find("vision_config.num_attention_heads (5) does not divide hidden_size"),
            std::string::npos);
  EXPECT_NE(LoadError(EditedCopy("config.json", [](auto& j) { j["image_token_id"] = 1001; }))
                .find("config.json's image_token_id is 1001"),
            std::string::npos);
  EXPECT_NE(LoadError(EditedCopy("processor_config.json", [](auto& j) { j["image_seq_len"] = 64; }))
                .find("processor_config.json: image_seq_len is 64 but a sub-image gives 9"),
            std::string::npos);
  EXPECT_NE(LoadError(EditedCopy("processor_config.json",
                                 [](auto& j) {
                                   j["image_processor"]["max_image_size"]["longest_edge"] = 0;
                                 }))
                .find("max_image_size.longest_edge"),
            std::string::npos);
}

TEST(SmolVLMBadCheckpointTest, MissingTensorsAreNamed) {
  auto without = [](const std::string& tensor) {
    const fs::path dir = testing::FreshTempDir("smolvlm");
    testing::CopyFiles(kSmolVLMDir / "model", dir, {"model.safetensors"});
    testing::WriteRenamedTensors(kSmolVLMDir / "model", dir, [&](const std::string& name) {
      return name == tensor ? "unused." + name : name;
    });
    return LoadError(dir);
  };
  for (const std::string tensor : {"model.vision_model.post_layernorm.weight",
                                   "model.connector.modality_projection.proj.weight",
                                   "model.vision_model.encoder.layers.1.mlp.fc2.bias",
                                   "model.text_model.norm.weight", "lm_head.weight"}) {
    EXPECT_NE(without(tensor).find(tensor), std::string::npos) << without(tensor);
  }
  EXPECT_NE(without("model.vision_model.embeddings.patch_embedding.weight")
                .find("no SmolVLM / Idefics3 vision tower found"),
            std::string::npos);
}

}  // namespace
}  // namespace lightvlm
