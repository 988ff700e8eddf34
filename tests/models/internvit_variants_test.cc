// InternViT with the options tests/fixtures/internvl leaves off, against transformers 5.25
// (tests/fixtures/internvit_variants, made by tools/make_internvit_variants_fixture.py): RMSNorm,
// QK-norm, no q/k/v biases, use_mean_pooling false's post-norm, a 3x3 position table resized
// bicubically for 4x4-patch tiles, earlier feature layers; and the same model in OpenGVLab's
// layout (fused qkv, q_norm/k_norm under attn.).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "io/json_file.h"
#include "io/safetensors.h"
#include "models/internvl_vision.h"
#include "models/position_interpolation.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;

constexpr double kTolerance = 1e-4;  // float32 against float32, other summation orders

const fs::path kDir = testing::kFixturesDir / "internvit_variants";

class InternViTVariantsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { golden_ = new testing::Golden("internvit_variants"); }
  static void TearDownTestSuite() { delete golden_; }

  // The config of `directory` ("model" or "original") with `field` set to `layer`.
  static InternVLVisionConfig Config(const std::string& directory, const std::string& field = "",
                                     int64_t layer = 0) {
    auto json = nlohmann::json::parse(testing::ReadFile(kDir / directory / "config.json"));
    if (!field.empty()) json[field] = layer;
    return ReadInternVLVisionConfig(JsonFile::Parse(json.dump(), directory + "/config.json"));
  }

  static InternVLVisionEncoder Encoder(const std::string& directory,
                                       const InternVLVisionConfig& config) {
    const Checkpoint checkpoint = Checkpoint::Open((kDir / directory).string());
    return InternVLVisionEncoder(config, checkpoint,
                                 FindInternVLVisionLayout(checkpoint, directory));
  }

  static InternVLPixelValues Tiles() {
    const std::vector<float> values = golden_->Floats("pixel_values");
    EXPECT_EQ(golden_->ShapeOf("pixel_values"), (Shape{2, 3, 56, 56}));
    InternVLPixelValues pixels;
    for (int64_t t = 0; t < 2; ++t) {
      Tensor tile(DType::kF32, {3, 56, 56});
      std::memcpy(tile.f32(), values.data() + t * tile.num_elements(), tile.num_bytes());
      pixels.tiles.push_back(std::move(tile));
    }
    return pixels;
  }

  // Each tile's tower output against golden `name` [2, 17, 32].
  void ExpectTowerMatches(const InternVLVisionEncoder& encoder, const std::string& name) {
    const std::vector<float> expected = golden_->Floats(name);
    const InternVLPixelValues pixels = Tiles();
    for (int64_t t = 0; t < 2; ++t) {
      const Tensor hidden = encoder.tower().Forward(pool_, pixels.tiles[t]);
      ASSERT_EQ(hidden.shape(), (Shape{17, 32}));
      EXPECT_LT(testing::MaxAbsDifference(hidden.f32(), expected.data() + t * 17 * 32, 17 * 32),
                kTolerance)
          << name << ", tile " << t;
    }
  }

  void ExpectFeaturesMatch(const InternVLVisionEncoder& encoder, const std::string& name) {
    const Tensor features = encoder.Encode(pool_, Tiles());
    ASSERT_EQ(features.shape(), (Shape{2 * 4, 64}));
    const std::vector<float> expected = golden_->Floats(name);
    ASSERT_EQ(expected.size(), size_t(features.num_elements()));
    EXPECT_LT(testing::MaxAbsDifference(features.f32(), expected.data(), expected.size()),
              kTolerance)
        << name;
  }

  static testing::Golden* golden_;
  ThreadPool pool_{2};
};
testing::Golden* InternViTVariantsTest::golden_ = nullptr;

TEST_F(InternViTVariantsTest, PositionGridResizesAsTorchBicubic) {
  const std::vector<float> table = golden_->Floats("position_table");  // [1 + 9, 32]
  const float* grid = table.data() + 32;
  struct Case {
    const char* name;
    int64_t rows, columns;
  };
  for (const Case& c :
       {Case{"positions_4x4", 4, 4}, Case{"positions_4x6", 4, 6}, Case{"positions_2x2", 2, 2}}) {
    const Tensor resized = InterpolatePositionGrid(grid, 3, 3, 32, c.rows, c.columns);
    ASSERT_EQ(resized.shape(), (Shape{c.rows * c.columns, 32}));
    const std::vector<float> expected = golden_->Floats(c.name);
    EXPECT_LT(testing::MaxAbsDifference(resized.f32(), expected.data(), expected.size()), 1e-6)
        << c.name;
  }
  const Tensor same = InterpolatePositionGrid(grid, 3, 3, 32, 3, 3);
  EXPECT_EQ(testing::MaxAbsDifference(same.f32(), grid, 9 * 32), 0.0);
}

TEST_F(InternViTVariantsTest, ReadsBothConfigs) {
  const InternVLVisionConfig native = Config("model");
  EXPECT_EQ(native.vision.encoder.norm_type, VitNormType::kRmsNorm);
  EXPECT_EQ(native.vision.encoder.norm_eps, 1e-5);
  EXPECT_TRUE(native.vision.encoder.qk_norm);
  EXPECT_EQ(native.vision.encoder.qk_norm_eps, 1e-6);  // InternVLVisionRMSNorm's default
  EXPECT_FALSE(native.vision.encoder.attention_bias);
  EXPECT_TRUE(native.vision.final_layer_norm);  // use_mean_pooling false, layer -1
  EXPECT_EQ(native.vision.position_grid(), 3);
  EXPECT_FALSE(Config("model", "vision_feature_layer", 2).vision.final_layer_norm);

  const InternVLVisionConfig original = Config("original");
  EXPECT_EQ(original.vision.encoder.norm_type, VitNormType::kRmsNorm);
  EXPECT_TRUE(original.vision.encoder.qk_norm);
  EXPECT_EQ(original.vision.encoder.qk_norm_eps, 1e-5);  // InternAttention: layer_norm_eps
  EXPECT_FALSE(original.vision.encoder.attention_bias);
  EXPECT_FALSE(original.vision.final_layer_norm);
  EXPECT_EQ(original.vision.image_size, 42);
  EXPECT_EQ(original.tile_size, 56);  // force_image_size
  EXPECT_EQ(original.tokens_per_tile(), 4);
}

TEST_F(InternViTVariantsTest, TowerMatchesTransformers) {
  // RMSNorm, QK-norm, resized positions and the post-norm, all in last_hidden_state.
  ExpectTowerMatches(Encoder("model", Config("model")), "last_hidden_state");
  ExpectTowerMatches(Encoder("model", Config("model", "vision_feature_layer", 1)),
                     "hidden_state_1");
}

TEST_F(InternViTVariantsTest, ImageFeaturesMatchTransformersAtEachFeatureLayer) {
  ExpectFeaturesMatch(Encoder("model", Config("model")), "image_features");
  ExpectFeaturesMatch(Encoder("model", Config("model", "vision_feature_layer", 1)),
                      "image_features_layer1");
  ExpectFeaturesMatch(Encoder("model", Config("model", "vision_feature_layer", 2)),
                      "image_features_layer2");
  ExpectFeaturesMatch(Encoder("model", Config("model", "vision_feature_layer", -2)),
                      "image_features_layer1");
}

TEST_F(InternViTVariantsTest, OpenGVLabLayoutMatchesTransformers) {
  // OpenGVLab's InternVisionModel has no post-norm: select_layer -1 is transformers' layer 2.
  ExpectFeaturesMatch(Encoder("original", Config("original")), "image_features_layer2");
  ExpectFeaturesMatch(Encoder("original", Config("original", "select_layer", 1)),
                      "image_features_layer1");
}

}  // namespace
}  // namespace lightvlm
