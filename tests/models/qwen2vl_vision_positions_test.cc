#include "models/qwen2vl_vision_positions.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

// The fixture records rot_pos_emb's output, [n_patches, 8] = [row * inv_freq, column *
// inv_freq] with inv_freq[0] = 1: columns 0 and 4 are the row and column ids themselves.
TEST(Qwen2VlVisionPositionsTest, MatchesRotPosEmbOnEveryRecordedCase) {
  const testing::Golden golden("qwen2vl");
  for (const std::string name : {"wide", "tall", "small", "pair"}) {
    SCOPED_TRACE(name);
    const std::vector<int32_t> flat = golden.Ids(name + ".image_grid_thw");
    std::vector<ImageGridThw> grids;
    for (size_t i = 0; i + 2 < flat.size(); i += 3)
      grids.push_back({flat[i], flat[i + 1], flat[i + 2]});
    const std::vector<float> rotary = golden.Floats(name + ".vision_rotary");
    ASSERT_EQ(golden.ShapeOf(name + ".vision_rotary")[1], 8);
    const std::vector<PatchRowColumn> positions = VisionRotaryPositions(grids, 2);
    ASSERT_EQ(positions.size() * 8, rotary.size());
    for (size_t i = 0; i < positions.size(); ++i) {
      EXPECT_EQ(positions[i].row, rotary[i * 8]) << "patch " << i;
      EXPECT_EQ(positions[i].column, rotary[i * 8 + 4]) << "patch " << i;
    }
  }
}

TEST(Qwen2VlVisionPositionsTest, ListsPatchesBlockByBlockForEveryFrame) {
  const std::vector<ImageGridThw> grids = {{2, 2, 4}};
  const std::vector<PatchRowColumn> positions = VisionRotaryPositions(grids, 2);
  ASSERT_EQ(positions.size(), 16u);
  const std::vector<std::pair<int64_t, int64_t>> frame = {{0, 0}, {0, 1}, {1, 0}, {1, 1},
                                                          {0, 2}, {0, 3}, {1, 2}, {1, 3}};
  for (size_t i = 0; i < positions.size(); ++i) {
    EXPECT_EQ(positions[i].row, frame[i % 8].first) << i;
    EXPECT_EQ(positions[i].column, frame[i % 8].second) << i;
  }
}

TEST(Qwen2VlVisionPositionsTest, RejectsGridsNotMultiplesOfTheMerge) {
  const std::vector<ImageGridThw> grids = {{1, 4, 4}, {1, 3, 4}};
  EXPECT_NE(testing::ErrorOf([&] { VisionRotaryPositions(grids, 2); }).find("image 2"),
            std::string::npos);
}

}  // namespace
}  // namespace lightvlm
