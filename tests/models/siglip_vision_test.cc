#include "models/siglip_vision.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "io/json_file.h"
#include "models/internvl_pixel_shuffle.h"
#include "models/pixel_shuffle.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

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

TEST(SiglipPositionIdsTest, RectangularGridsBucketEachSide) {
  // 2 x 3 patches over a 6 x 6 table: rows at buckets 0 and 3, columns at 0, 2 and 4.
  EXPECT_EQ(SiglipPositionIds(6, 2, 3), (std::vector<int64_t>{0, 2, 4, 18, 20, 22}));
}

Tensor Counting(Shape shape) {
  Tensor t(DType::kF32, std::move(shape));
  for (int64_t i = 0; i < t.num_elements(); ++i) t.f32()[i] = static_cast<float>(i);
  return t;
}

TEST(PixelShuffleTest, ScaleTwoIsInternVLsShuffle) {
  const Tensor features = Counting({2, 16, 3});
  const Tensor ours = PixelShuffle(features, 2);
  const Tensor internvl = InternVLPixelShuffle(features);
  ASSERT_EQ(ours.shape(), internvl.shape());
  EXPECT_EQ(testing::MaxAbsDifference(ours.f32(), internvl.f32(), ours.num_elements()), 0.0);
}

TEST(PixelShuffleTest, ScaleThreeConcatenatesRowsOfTheBlock) {
  // One image of 6 x 6 tokens with 1 channel (token t holds t): output token (0, 1) is the block
  // rows 0..2, columns 3..5.
  const Tensor out = PixelShuffle(Counting({1, 36, 1}), 3);
  ASSERT_EQ(out.shape(), (Shape{1, 4, 9}));
  const std::vector<float> block(out.f32() + 9, out.f32() + 18);
  EXPECT_EQ(block, (std::vector<float>{3, 4, 5, 9, 10, 11, 15, 16, 17}));
}

TEST(PixelShuffleTest, RefusesGridsTheScaleDoesNotDivide) {
  EXPECT_NE(testing::ErrorOf([] {
              PixelShuffle(Counting({1, 36, 1}), 4);
            }).find("36 vision tokens"),
            std::string::npos);
  EXPECT_NE(testing::ErrorOf([] {
              PixelShuffle(Counting({1, 30, 1}), 2);
            }).find("30 vision tokens"),
            std::string::npos);
}

}  // namespace
}  // namespace lightvlm
