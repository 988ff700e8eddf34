#include "models/mrope_positions.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io/json_file.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

using testing::ErrorOf;

constexpr int32_t kImage = 100;
constexpr int32_t kStart = 101;
constexpr int32_t kEnd = 102;

std::vector<ImageGridThw> GridsOf(const std::vector<int32_t>& flat) {
  std::vector<ImageGridThw> grids;
  for (size_t i = 0; i + 2 < flat.size(); i += 3)
    grids.push_back({flat[i], flat[i + 1], flat[i + 2]});
  return grids;
}

// Every prompt token of every recorded case (wide, tall, small image, two images in one prompt)
// against transformers 4.46.3's get_rope_index, and the rope delta decoding continues from.
TEST(MropePositionsTest, MatchesGetRopeIndexOnEveryRecordedPrompt) {
  const testing::Golden golden("qwen2vl");
  const JsonFile config = JsonFile::Load((golden.model_dir() / "config.json").string());
  const MropeTokenIds special{config.Get<int32_t>("image_token_id"),
                              config.Get<int32_t>("vision_start_token_id")};
  // save_pretrained leaves out fields at Qwen2VLVisionConfig's defaults, spatial_merge_size 2 too.
  const int merge = config.GetOr<int32_t>("vision_config.spatial_merge_size", 2);
  for (const std::string name : {"wide", "tall", "small", "pair"}) {
    SCOPED_TRACE(name);
    const std::vector<int32_t> ids = golden.Ids(name + ".input_ids");
    const std::vector<ImageGridThw> grids = GridsOf(golden.Ids(name + ".image_grid_thw"));
    const std::vector<int32_t> expected = golden.Ids(name + ".position_ids");
    ASSERT_EQ(expected.size(), 3 * ids.size());
    const MropePositions positions = ComputeMropePositions(ids, special, grids, merge);
    for (int axis = 0; axis < 3; ++axis) {
      const std::vector<int64_t> want(expected.begin() + axis * ids.size(),
                                      expected.begin() + (axis + 1) * ids.size());
      EXPECT_EQ(positions.ids[axis], want) << "axis " << axis;
    }
    const int64_t delta = golden.Ids(name + ".rope_delta").at(0);
    EXPECT_EQ(positions.rope_delta, delta);
    EXPECT_EQ(positions.next_position, static_cast<int64_t>(ids.size()) + delta);
  }
}

TEST(MropePositionsTest, TextAfterAnImageJumpsPastItsLargestSide) {
  // Grid (1, 4, 4) merges to 1 x 2 x 2 tokens, starting at id 2.
  const std::vector<int32_t> ids = {7, kStart, kImage, kImage, kImage, kImage, kEnd, 8};
  const std::vector<ImageGridThw> grids = {{1, 4, 4}};
  const MropePositions positions = ComputeMropePositions(ids, {kImage, kStart}, grids, 2);
  EXPECT_EQ(positions.ids[0], (std::vector<int64_t>{0, 1, 2, 2, 2, 2, 4, 5}));
  EXPECT_EQ(positions.ids[1], (std::vector<int64_t>{0, 1, 2, 2, 3, 3, 4, 5}));
  EXPECT_EQ(positions.ids[2], (std::vector<int64_t>{0, 1, 2, 3, 2, 3, 4, 5}));
  EXPECT_EQ(positions.next_position, 6);
  EXPECT_EQ(positions.rope_delta, -2);
}

TEST(MropePositionsTest, SeveralTemporalPatchesCountInTheJump) {
  // t = 3 (a video-like grid) with 1 x 1 merged tokens: ids 1, 2, 3 on the temporal axis.
  const std::vector<int32_t> ids = {kStart, kImage, kImage, kImage, kEnd};
  const std::vector<ImageGridThw> grids = {{3, 2, 2}};
  const MropePositions positions = ComputeMropePositions(ids, {kImage, kStart}, grids, 2);
  EXPECT_EQ(positions.ids[0], (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(positions.ids[1], (std::vector<int64_t>{0, 1, 1, 1, 4}));
  EXPECT_EQ(positions.ids[2], (std::vector<int64_t>{0, 1, 1, 1, 4}));
  EXPECT_EQ(positions.next_position, 5);
}

TEST(MropePositionsTest, TextOnlyIsOneDimensional) {
  const std::vector<int32_t> ids = {5, 6, 7};
  const MropePositions positions = ComputeMropePositions(ids, {kImage, kStart}, {}, 2);
  for (const auto& axis : positions.ids) EXPECT_EQ(axis, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(positions.next_position, 3);
  EXPECT_EQ(positions.rope_delta, 0);
}

TEST(MropePositionsTest, RejectsGridsThatDoNotFitThePrompt) {
  const std::vector<int32_t> one_image = {kStart, kImage, kImage, kEnd};
  const std::vector<ImageGridThw> two = {{1, 2, 4}, {1, 2, 4}};
  EXPECT_NE(ErrorOf([&] {
              ComputeMropePositions(one_image, {kImage, kStart}, two, 2);
            }).find("1 images"),
            std::string::npos);
  const std::vector<ImageGridThw> four_tokens = {{1, 4, 4}};
  EXPECT_NE(ErrorOf([&] {
              ComputeMropePositions(one_image, {kImage, kStart}, four_tokens, 2);
            }).find("expected exactly 4 image tokens"),
            std::string::npos);
  const std::vector<ImageGridThw> one_token = {{1, 2, 2}};
  EXPECT_NE(ErrorOf([&] {
              ComputeMropePositions(one_image, {kImage, kStart}, one_token, 2);
            }).find("expected exactly 1 image tokens"),
            std::string::npos);
  const std::vector<ImageGridThw> odd = {{1, 3, 2}};
  EXPECT_NE(ErrorOf([&] {
              ComputeMropePositions(one_image, {kImage, kStart}, odd, 2);
            }).find("multiples of spatial_merge_size"),
            std::string::npos);
}

}  // namespace
}  // namespace lightvlm
