// LLaVA against transformers' LlavaForConditionalGeneration on the tiny recorded checkpoint
// (tests/fixtures/llava): pixel values, the vision tower's selected layer, the projector, and
// both tensor-name layouts that hub checkpoints use.
#include "models/llava.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "base/error.h"
#include "io/json_file.h"
#include "support/golden.h"

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
  EXPECT_EQ(embeddings.grid_height, 24);
  EXPECT_EQ(embeddings.grid_width, 24);
  const std::vector<float> expected = golden_->Floats("image_features");
  ASSERT_EQ(embeddings.rows.num_elements(), static_cast<int64_t>(expected.size()));
  EXPECT_LT(testing::MaxAbsDifference(embeddings.rows.f32(), expected.data(), expected.size()),
            1e-3);
}

TEST_F(LlavaTest, FormatsQuestionsAsLlava15) {
  EXPECT_EQ(model_->FormatPrompt("What is it?", 1), "USER: <image>\nWhat is it? ASSISTANT:");
  EXPECT_EQ(model_->FormatPrompt("Same?", 2), "USER: <image>\n<image>\nSame? ASSISTANT:");
  EXPECT_EQ(model_->FormatPrompt("Hi", 0), "USER: Hi ASSISTANT:");
}

// Newer transformers save model.language_model.*, model.vision_tower.*,
// model.multi_modal_projector.* and lm_head.*; the same weights must load and agree.
TEST_F(LlavaTest, LoadsTheNewerTensorLayout) {
  const fs::path dir = testing::FreshTempDir("llava_new_layout");
  for (const auto& entry : fs::directory_iterator(golden_->model_dir())) {
    if (entry.path().filename() != "model.safetensors")
      fs::copy_file(entry.path(), dir / entry.path().filename());
  }
  const Checkpoint old_layout = Checkpoint::Open(golden_->model_dir().string());
  std::vector<testing::TensorToWrite> renamed;
  for (const StoredTensor* t : old_layout.All()) {
    std::string name = t->name;
    for (const auto& [from, to] : {std::pair{"language_model.model.", "model.language_model."},
                                   {"language_model.lm_head.", "lm_head."},
                                   {"vision_tower.", "model.vision_tower."},
                                   {"multi_modal_projector.", "model.multi_modal_projector."}}) {
      if (name.rfind(from, 0) == 0) {
        name = to + name.substr(std::strlen(from));
        break;
      }
    }
    renamed.push_back({name, t->dtype_name, t->shape,
                       std::string(reinterpret_cast<const char*>(t->data), t->num_bytes)});
  }
  testing::WriteFile(dir / "model.safetensors", testing::SafetensorsBytes(renamed));
  const LlavaModel model(JsonFile::Load((dir / "config.json").string()), dir.string());
  const Tensor a = model.vision_tower().Forward(pool_, GoldenPixels());
  const Tensor b = model_->vision_tower().Forward(pool_, GoldenPixels());
  EXPECT_EQ(testing::MaxAbsDifference(a.f32(), b.f32(), a.num_elements()), 0.0);
}

TEST_F(LlavaTest, MissingPreprocessorConfigIsNamed) {
  const fs::path dir = testing::FreshTempDir("llava_no_preprocessor");
  for (const auto& entry : fs::directory_iterator(golden_->model_dir())) {
    if (entry.path().filename() != "preprocessor_config.json") {
      fs::copy_file(entry.path(), dir / entry.path().filename());
    }
  }
  const std::string error = testing::ErrorOf(
      [&] { LlavaModel model(JsonFile::Load((dir / "config.json").string()), dir.string()); });
  EXPECT_NE(error.find("preprocessor_config.json"), std::string::npos) << error;
}

}  // namespace
}  // namespace lightvlm
