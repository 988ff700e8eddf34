// LLaVA against transformers' LlavaForConditionalGeneration on the tiny recorded checkpoint
// (tests/fixtures/llava): pixel values, the vision tower's selected layer, the projector; the
// tensor-name layouts, processor files and chat templates of transformers 4.46 to 5.x
// (tests/fixtures/llava_tf5).
#include "models/llava.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "io/json_file.h"
#include "models/llava_tensor_layout.h"
#include "support/golden.h"
#include "support/llava_layouts.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;

class LlavaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    golden_ = new testing::Golden("llava");
    model_ = new LlavaModel(JsonFile::Load((golden_->model_dir() / "config.json").string()),
                            golden_->model_dir().string());
  }
  static void TearDownTestSuite() {
    delete model_;
    delete golden_;
  }

  static Tensor GoldenPixels() {
    Tensor pixels(DType::kF32, {3, 336, 336});
    const std::vector<float> values = golden_->Floats("pixel_values");
    std::memcpy(pixels.f32(), values.data(), pixels.num_bytes());
    return pixels;
  }

  static testing::Golden* golden_;
  static LlavaModel* model_;
  ThreadPool pool_{2};
};
testing::Golden* LlavaTest::golden_ = nullptr;
LlavaModel* LlavaTest::model_ = nullptr;

TEST_F(LlavaTest, ReadsTheConfig) {
  const LlavaConfig config =
      ReadLlavaConfig(JsonFile::Load((golden_->model_dir() / "config.json").string()));
  EXPECT_EQ(config.image_token_id, 1000);
  EXPECT_EQ(config.vision_layers_used(), 2);  // vision_feature_layer -2 of 3 layers
  EXPECT_FALSE(config.keep_class_token);
  EXPECT_EQ(config.vision.grid_size(), 24);
  EXPECT_EQ(config.text.hidden_size, 64);
}

// 5.x's text_config has rope_parameters and no rope_theta; LlamaConfig's default 10000 must not
// win over it.
TEST_F(LlavaTest, ReadsTransformers5RopeParameters) {
  auto config = nlohmann::json::parse(
      testing::ReadFile(testing::kLlavaTf5Dir / "native_format" / "config.json"));
  ASSERT_FALSE(config["text_config"].contains("rope_theta"));
  config["text_config"]["rope_parameters"]["rope_theta"] = 500000.0;
  EXPECT_EQ(ReadLlavaConfig(JsonFile::Parse(config.dump(), "config.json")).text.rope_theta, 5e5);
}

TEST_F(LlavaTest, PixelValuesMatchTheProcessor) {
  const Tensor pixels =
      ClipPixelValues(LoadImage((testing::kFixturesDir / "llava" / "image.png").string()),
                      model_->image_processor());
  const std::vector<float> expected = golden_->Floats("pixel_values");
  ASSERT_EQ(pixels.num_elements(), static_cast<int64_t>(expected.size()));
  EXPECT_LT(testing::MaxAbsDifference(pixels.f32(), expected.data(), expected.size()), 1e-4);
}

TEST_F(LlavaTest, VisionTowerAndProjectorMatchTransformers) {
  const Tensor hidden = model_->vision_tower().Forward(pool_, GoldenPixels());
  const std::vector<float> expected_hidden = golden_->Floats("vision_hidden_state");
  ASSERT_EQ(hidden.num_elements(), static_cast<int64_t>(expected_hidden.size()));
  EXPECT_LT(testing::MaxAbsDifference(hidden.f32(), expected_hidden.data(), expected_hidden.size()),
            1e-3);

  Tensor patches(DType::kF32, {576, 32});
  std::memcpy(patches.f32(), hidden.f32() + 32, patches.num_bytes());
  const Tensor projected = model_->Project(pool_, patches);
  const std::vector<float> expected = golden_->Floats("image_features");
  ASSERT_EQ(projected.num_elements(), static_cast<int64_t>(expected.size()));
  EXPECT_LT(testing::MaxAbsDifference(projected.f32(), expected.data(), expected.size()), 1e-3);
}

TEST_F(LlavaTest, EncodeImageRunsTheWholePipeline) {
  const ImageEmbeddings embeddings = model_->EncodeImage(
      pool_, LoadImage((testing::kFixturesDir / "llava" / "image.png").string()));
  ASSERT_EQ(embeddings.grids.size(), 1u);
  EXPECT_EQ(embeddings.grids[0].height, 24);
  EXPECT_EQ(embeddings.grids[0].width, 24);
  const std::vector<float> expected = golden_->Floats("image_features");
  ASSERT_EQ(embeddings.rows.num_elements(), static_cast<int64_t>(expected.size()));
  EXPECT_LT(testing::MaxAbsDifference(embeddings.rows.f32(), expected.data(), expected.size()),
            1e-3);
}

// VisionZip's saliency: the class token's attention to each patch in the selected layer (the
// second of three), averaged over heads. Expected values from transformers 4.46.3 on the fixture:
// vision_tower(pixel_values, output_attentions=True).attentions[-2][0][:, 0, 1:].mean(0).
TEST_F(LlavaTest, EncodeImageGivesTheClassTokensAttentionAsSaliency) {
  const ImageEmbeddings embeddings = model_->EncodeImage(
      pool_, LoadImage((testing::kFixturesDir / "llava" / "image.png").string()));
  const std::vector<float>& saliency = embeddings.vision_saliency;
  ASSERT_EQ(saliency.size(), 576u);
  const std::vector<std::pair<int64_t, double>> expected = {
      {155, 0.006090844}, {43, 0.006052518}, {38, 0.004975833}, {19, 0.004697214},
      {42, 0.004108572},  {0, 0.000888553},  {1, 0.001400469},  {394, 0.0005228751}};
  for (const auto& [patch, value] : expected) EXPECT_NEAR(saliency[patch], value, 2e-6) << patch;
  std::vector<int64_t> order(576);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                    [&](int64_t a, int64_t b) { return saliency[a] > saliency[b]; });
  EXPECT_EQ(std::vector<int64_t>(order.begin(), order.begin() + 5),
            (std::vector<int64_t>{155, 43, 38, 19, 42}));
  EXPECT_NEAR(std::accumulate(saliency.begin(), saliency.end(), 0.0), 0.9977847745, 1e-5);
}

TEST_F(LlavaTest, FormatsQuestionsAsLlava15) {
  EXPECT_EQ(model_->FormatPrompt("What is it?", 1), "USER: <image>\nWhat is it? ASSISTANT:");
  EXPECT_EQ(model_->FormatPrompt("Same?", 2), "USER: <image>\n<image>\nSame? ASSISTANT:");
  EXPECT_EQ(model_->FormatPrompt("Hi", 0), "USER: Hi ASSISTANT:");
}

std::string ErrorLoading(const fs::path& dir) {
  return testing::ErrorOf(
      [&] { LlavaModel model(JsonFile::Load((dir / "config.json").string()), dir.string()); });
}

TEST_F(LlavaTest, PicksTheTensorLayoutByTheNamesTheCheckpointHolds) {
  const auto vision_prefix = [](const fs::path& dir) {
    return FindLlavaTensorLayout(Checkpoint::Open(dir.string())).vision;
  };
  EXPECT_EQ(vision_prefix(testing::kLlavaModelDir), "vision_tower.vision_model.");
  EXPECT_EQ(vision_prefix(testing::LlavaIn45xLayout()), "model.vision_tower.vision_model.");
  EXPECT_EQ(vision_prefix(testing::kLlavaTf5Dir / "original_format"), "vision_tower.vision_model.");
  EXPECT_EQ(vision_prefix(testing::kLlavaTf5Dir / "native_format"), "model.vision_tower.");
  const LlavaTensorLayout& native =
      FindLlavaTensorLayout(Checkpoint::Open((testing::kLlavaTf5Dir / "native_format").string()));
  EXPECT_EQ(native.decoder.prefix, "model.language_model.");
  EXPECT_EQ(native.decoder.lm_head, "lm_head.weight");
  EXPECT_EQ(native.projector, "model.multi_modal_projector.");
}

TEST_F(LlavaTest, EveryLayoutLoadsTheSameVisionTower) {
  const Tensor expected = model_->vision_tower().Forward(pool_, GoldenPixels());
  for (const fs::path& dir :
       {testing::LlavaIn45xLayout(), testing::kLlavaTf5Dir / "original_format",
        testing::kLlavaTf5Dir / "native_format"}) {
    const LlavaModel model(JsonFile::Load((dir / "config.json").string()), dir.string());
    const Tensor hidden = model.vision_tower().Forward(pool_, GoldenPixels());
    EXPECT_EQ(testing::MaxAbsDifference(hidden.f32(), expected.f32(), hidden.num_elements()), 0.0)
        << dir;
  }
}

TEST_F(LlavaTest, UnknownTensorNamesAreRefusedNamingEveryLayoutsTensors) {
  const fs::path dir = testing::FreshTempDir("llava_unknown_names");
  testing::CopyFiles(testing::kLlavaModelDir, dir, {"model.safetensors"});
  testing::WriteRenamedTensors(testing::kLlavaModelDir, dir,
                               [](const std::string& name) { return "llava." + name; });
  const std::string error = ErrorLoading(dir);
  EXPECT_NE(error.find("fit no LLaVA layout"), std::string::npos) << error;
  for (const LlavaTensorLayout& layout : LlavaTensorLayouts()) {
    for (const std::string& tensor : layout.MarkerTensors()) {
      EXPECT_NE(error.find(tensor), std::string::npos) << tensor << " in " << error;
    }
  }
  for (const char* tensor : {"language_model.model.embed_tokens.weight",
                             "model.vision_tower.embeddings.patch_embedding.weight",
                             "model.vision_tower.vision_model.embeddings.patch_embedding.weight",
                             "multi_modal_projector.linear_1.weight"}) {
    EXPECT_NE(error.find(tensor), std::string::npos) << tensor << " in " << error;
  }
}

// One part in another layout's names (here the projector) fits no layout either.
TEST_F(LlavaTest, MixedLayoutsAreRefused) {
  const fs::path dir = testing::FreshTempDir("llava_mixed_names");
  testing::CopyFiles(testing::kLlavaModelDir, dir, {"model.safetensors"});
  testing::WriteRenamedTensors(testing::kLlavaModelDir, dir, [](const std::string& name) {
    return testing::ReplacePrefix(name, "multi_modal_projector.", "model.multi_modal_projector.");
  });
  EXPECT_NE(ErrorLoading(dir).find("fit no LLaVA layout"), std::string::npos);
}

TEST_F(LlavaTest, MissingImageProcessorConfigNamesBothFiles) {
  // transformers 4.46's processor_config.json holds no image processor, so without
  // preprocessor_config.json there is none; without both files neither.
  for (const std::set<std::string>& removed :
       {std::set<std::string>{"preprocessor_config.json"},
        std::set<std::string>{"preprocessor_config.json", "processor_config.json"}}) {
    const fs::path dir = testing::FreshTempDir("llava_no_preprocessor");
    testing::CopyFiles(testing::kLlavaModelDir, dir, removed);
    const std::string error = ErrorLoading(dir);
    EXPECT_NE(error.find("no image processor config"), std::string::npos) << error;
    EXPECT_NE(error.find("preprocessor_config.json"), std::string::npos) << error;
    EXPECT_NE(error.find("in processor_config.json"), std::string::npos) << error;
  }
}

TEST_F(LlavaTest, ReadsTheImageProcessorNestedInProcessorConfig) {
  const LlavaProcessorConfig old = LoadLlavaProcessorConfig(testing::kLlavaModelDir.string());
  const LlavaProcessorConfig nested =
      LoadLlavaProcessorConfig((testing::kLlavaTf5Dir / "native_format").string());
  EXPECT_NE(old.image_source.find("preprocessor_config.json"), std::string::npos);
  EXPECT_NE(nested.image_source.find("processor_config.json, field 'image_processor'"),
            std::string::npos);
  EXPECT_EQ(nested.image.size_shortest_edge, 336);
  EXPECT_EQ(nested.image.crop_height, 336);
  EXPECT_EQ(nested.image.resample, ResampleFilter::kBicubic);
  EXPECT_EQ(nested.image.scaling.image_mean, old.image.scaling.image_mean);
  EXPECT_EQ(nested.image.scaling.image_std, old.image.scaling.image_std);
  EXPECT_EQ(nested.image.scaling.rescale_factor, old.image.scaling.rescale_factor);
  EXPECT_EQ(nested.patch_size, 14);
  EXPECT_EQ(nested.num_additional_image_tokens, 1);

  // Where both are present the nested one is used, as transformers 5.x reads it first.
  const fs::path dir = testing::FreshTempDir("llava_both_processor_files");
  testing::CopyFiles(testing::kLlavaTf5Dir / "native_format", dir);
  auto image = nlohmann::json::parse(
      testing::ReadFile(testing::kLlavaModelDir / "preprocessor_config.json"));
  image["size"] = {{"shortest_edge", 400}};
  testing::WriteFile(dir / "preprocessor_config.json", image.dump());
  EXPECT_EQ(LoadLlavaProcessorConfig(dir.string()).image.size_shortest_edge, 336);
}

TEST_F(LlavaTest, CountsImageTokensAsLlavaProcessor) {
  LlavaProcessorConfig processor;
  EXPECT_FALSE(processor.ImageTokens(336, 336).has_value());  // no patch_size: the model expands
  processor.patch_size = 14;
  processor.vision_feature_select_strategy = "default";
  EXPECT_EQ(processor.ImageTokens(336, 336), 576);  // 576 patches + CLS - CLS
  processor.num_additional_image_tokens = 0;
  EXPECT_EQ(processor.ImageTokens(336, 336), 575);
  processor.vision_feature_select_strategy = "full";
  EXPECT_EQ(processor.ImageTokens(336, 336), 576);
  processor.num_additional_image_tokens = 1;
  EXPECT_EQ(processor.ImageTokens(336, 336), 577);
  EXPECT_EQ(processor.ImageTokens(224, 336), 16 * 24 + 1);
}

TEST_F(LlavaTest, FullStrategyKeepsTheClassToken) {
  const fs::path dir = testing::LlavaFullStrategy();
  const LlavaModel model(JsonFile::Load((dir / "config.json").string()), dir.string());
  EXPECT_EQ(model.image_features(), 577);
  EXPECT_EQ(model_->image_features(), 576);
  const ImageEmbeddings embeddings =
      model.EncodeImage(pool_, LoadImage((testing::kFixturesDir / "llava" / "image.png").string()));
  EXPECT_EQ(embeddings.rows.dim(0), 577);
  // The class token's row comes first, then the patches as the default strategy projects them.
  const std::vector<float> patches = golden_->Floats("image_features");
  EXPECT_LT(testing::MaxAbsDifference(embeddings.rows.f32() + 64, patches.data(), patches.size()),
            1e-3);
}

// A processor whose image token count differs from the model's image features would give a prompt
// transformers refuses ("Image features and image tokens do not match"); it is refused at load.
TEST_F(LlavaTest, ProcessorAndModelDisagreeingOnImageTokensIsRefused) {
  const auto with_processor_fields = [](const nlohmann::json& fields) {
    const fs::path dir = testing::FreshTempDir("llava_token_count");
    testing::CopyFiles(testing::kLlavaModelDir, dir);
    auto processor =
        nlohmann::json::parse(testing::ReadFile(testing::kLlavaModelDir / "processor_config.json"));
    processor.update(fields);
    testing::WriteFile(dir / "processor_config.json", processor.dump());
    return ErrorLoading(dir);
  };
  const std::string error = with_processor_fields({{"num_additional_image_tokens", 0}});
  for (const char* part : {"processor_config.json", "num_additional_image_tokens 0",
                           "give 575 image tokens", "makes 576 image features"}) {
    EXPECT_NE(error.find(part), std::string::npos) << part << " in " << error;
  }
  EXPECT_NE(with_processor_fields({{"vision_feature_select_strategy", "full"}}).find("577"),
            std::string::npos);
  EXPECT_EQ(with_processor_fields({{"num_additional_image_tokens", 1}}), "(no error)");
  EXPECT_NE(with_processor_fields({{"vision_feature_select_strategy", "both"}})
                .find("field 'vision_feature_select_strategy' 'both' is not supported"),
            std::string::npos);
}

TEST_F(LlavaTest, ChatTemplateJinjaIsRead) {
  const fs::path dir = testing::FreshTempDir("llava_chatml_jinja");
  testing::CopyFiles(testing::kLlavaTf5Dir / "native_format", dir);
  testing::WriteFile(dir / "chat_template.jinja",
                     "{% for m in messages %}<|im_start|>{{ m['role'] }}{% endfor %}");
  const std::string error = ErrorLoading(dir);
  EXPECT_NE(error.find("chat_template.jinja: the chat template is not LLaVA-1.5's"),
            std::string::npos)
      << error;
}

}  // namespace
}  // namespace lightvlm
