#include "models/siglip_vision.h"

#include <gtest/gtest.h>

#include <numeric>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "io/json_file.h"
#include "io/safetensors.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

// The fixture's tower (tools/make_smolvlm_fixture.py) and the photograph's first sub-image as
// transformers' processor made it.
struct GoldenTower {
  GoldenTower()
      : golden("smolvlm"),
        checkpoint(Checkpoint::Open(golden.model_dir().string())),
        tower(ReadSiglipVisionConfig(JsonFile::Load((golden.model_dir() / "config.json").string()),
                                     "vision_config."),
              checkpoint, "model.vision_model."),
        sub_image(DType::kF32, {3, 48, 48}) {
    const std::vector<float> pixels = golden.Floats("pixel_values.mmbench_21");
    std::copy_n(pixels.begin(), sub_image.num_elements(), sub_image.f32());
  }
  testing::Golden golden;
  Checkpoint checkpoint;
  SiglipVisionTower tower;
  Tensor sub_image;
};

// Position ids that transformers 5.25's SmolVLMVisionEmbeddings computed
// (tools/make_smolvlm_fixture.py), including the sides where its float32 bucketing repeats a row
// (19, 25) and grids smaller and larger than the table.
TEST(SiglipPositionIdsTest, MatchTransformersBucketing) {
  const JsonFile record =
      JsonFile::Load((testing::kFixturesDir / "smolvlm" / "golden.json").string());
  const nlohmann::json& cases = record.root()["position_ids"];
  ASSERT_GE(cases.size(), 10u);
  for (const nlohmann::json& c : cases) {
    const auto side = c["side"].get<int64_t>(), grid = c["grid"].get<int64_t>();
    EXPECT_EQ(SiglipPositionIds(side, grid, grid), c["ids"].get<std::vector<int64_t>>())
        << side << " " << grid;
  }
}

// The fixture's tower (tools/make_smolvlm_fixture.py) on the photograph's first sub-image as
// transformers' processor made it: its recorded last hidden state.
TEST(SiglipVisionTowerTest, MatchesTransformersAndIgnoresPartialPatches) {
  const GoldenTower fixture;
  const SiglipVisionTower& tower = fixture.tower;
  const Tensor& sub_image = fixture.sub_image;
  ThreadPool pool(2);
  const Tensor hidden = tower.Forward(pool, sub_image);
  ASSERT_EQ(hidden.shape(), (Shape{36, 32}));
  const std::vector<float> expected = fixture.golden.Floats("vision_last_hidden_state");
  EXPECT_LT(testing::MaxAbsDifference(hidden.f32(), expected.data(), 36 * 32), 1e-4);
  // Pixels past the last whole patch are unused, as by the convolution's valid padding.
  Tensor padded(DType::kF32, {3, 53, 50});
  for (int64_t i = 0; i < padded.num_elements(); ++i) padded.f32()[i] = 7.0f;
  for (int64_t ch = 0; ch < 3; ++ch) {
    for (int64_t y = 0; y < 48; ++y) {
      std::copy_n(sub_image.f32() + (ch * 48 + y) * 48, 48, padded.f32() + (ch * 53 + y) * 50);
    }
  }
  const Tensor from_padded = tower.Forward(pool, padded);
  ASSERT_EQ(from_padded.shape(), hidden.shape());
  EXPECT_EQ(testing::MaxAbsDifference(from_padded.f32(), hidden.f32(), hidden.num_elements()), 0.0);
}

// With no class token, VisionZip's saliency is the attention each patch receives in the last layer,
// averaged over patches and heads: transformers' eager attention on the same sub-image gives
// these (tools/siglip_received_attention.py), the five highest and three lowest of 36.
TEST(SiglipVisionTowerTest, SaliencyIsTheAttentionEachPatchReceives) {
  const GoldenTower fixture;
  const SiglipVisionTower& tower = fixture.tower;
  const Tensor& sub_image = fixture.sub_image;
  ThreadPool pool(2);
  std::vector<float> saliency;
  const Tensor hidden = tower.Forward(pool, sub_image, &saliency);
  ASSERT_EQ(saliency.size(), 36u);
  const std::vector<std::pair<int64_t, double>> expected = {
      {19, 0.0366204381}, {4, 0.0352627598}, {5, 0.0349036232}, {0, 0.0348467343},
      {1, 0.033924751},   {6, 0.0204227176}, {21, 0.019143993}, {14, 0.0190792494}};
  for (const auto& [patch, value] : expected) EXPECT_NEAR(saliency[patch], value, 2e-6) << patch;
  EXPECT_NEAR(std::accumulate(saliency.begin(), saliency.end(), 0.0), 1.0, 1e-5);
  // Asking for it changes nothing else, also where the rows go in several chunks (144 patches).
  EXPECT_EQ(testing::MaxAbsDifference(tower.Forward(pool, sub_image).f32(), hidden.f32(),
                                      hidden.num_elements()),
            0.0);
  Tensor tiled(DType::kF32, {3, 96, 96});
  for (int64_t ch = 0; ch < 3; ++ch) {
    for (int64_t y = 0; y < 96; ++y) {
      for (int64_t x = 0; x < 96; ++x) {
        tiled.f32()[(ch * 96 + y) * 96 + x] = sub_image.f32()[(ch * 48 + y % 48) * 48 + x % 48];
      }
    }
  }
  const Tensor tiled_hidden = tower.Forward(pool, tiled, &saliency);
  ASSERT_EQ(saliency.size(), 144u);
  EXPECT_NEAR(std::accumulate(saliency.begin(), saliency.end(), 0.0), 1.0, 1e-5);
  EXPECT_EQ(testing::MaxAbsDifference(tower.Forward(pool, tiled).f32(), tiled_hidden.f32(),
                                      tiled_hidden.num_elements()),
            0.0);
}

TEST(SiglipVisionConfigTest, BadFieldsAreNamed) {
  auto read = [](const std::string& json) {
    return testing::ErrorOf(
        [&] { ReadSiglipVisionConfig(JsonFile::Parse(json, "config.json"), "vision_config."); });
  };
  EXPECT_NE(read(R"({"vision_config": {"image_size": 0}})")
                .find("config.json: vision_config.image_size must be positive"),
            std::string::npos);
  EXPECT_NE(read(R"({"vision_config": {"image_size": 16, "patch_size": 32}})")
                .find("vision_config.patch_size (32) exceeds vision_config.image_size (16)"),
            std::string::npos);
  EXPECT_NE(read(R"({"vision_config": {"hidden_act": "swish"}})").find("vision_config.hidden_act"),
            std::string::npos);
  EXPECT_NE(read(R"({"vision_config": {"hidden_size": 30, "num_attention_heads": 4}})")
                .find("num_attention_heads (4) does not divide hidden_size (30)"),
            std::string::npos);
}

TEST(SiglipPositionIdsTest, RectangularGridsBucketEachSide) {
  // 2 x 3 patches over a 6 x 6 table: rows at buckets 0 and 3, columns at 0, 2 and 4.
  EXPECT_EQ(SiglipPositionIds(6, 2, 3), (std::vector<int64_t>{0, 2, 4, 18, 20, 22}));
}

}  // namespace
}  // namespace lightvlm
