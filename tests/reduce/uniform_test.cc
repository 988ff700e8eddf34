// Spatially uniform pruning: exactly the budgeted count, on an even 2-D lattice of each image's
// grid, shared over several images in proportion to their sizes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "reduce/reducer_harness.h"

namespace lightvlm {
namespace {

using testing::FinalTokensOptions;
using testing::Image;
using testing::Text;

// The cells (row-major, per image) that uniform keeps of `prompt` with `final_tokens` left.
std::vector<int64_t> KeptCells(testing::SyntheticPrompt prompt, int64_t final_tokens) {
  const auto reducer = MakeTokenReducer("uniform", FinalTokensOptions(final_tokens));
  testing::RunReducer(*reducer, prompt, 4);
  testing::ExpectOnlyImageTokensReduced(prompt, /*pruned_only=*/true);
  std::vector<int64_t> cells;
  for (int64_t token : testing::LiveImageTokens(prompt)) {
    for (const ImageRun& run : prompt.images) {
      if (token >= run.start && token < run.start + run.size()) cells.push_back(token - run.start);
    }
  }
  return cells;
}

TEST(UniformPruneTest, HonoursEveryBudgetAndPrunesOnlyImageTokens) {
  testing::ExpectReducerHonoursBudgets("uniform", /*pruned_only=*/true);
}

TEST(UniformPruneTest, PicksAnEvenLattice) {
  const auto six_by_six = [] { return testing::StandardPrompt(); };
  // Rows {1, 3, 5} x columns {1, 3, 5}.
  EXPECT_EQ(KeptCells(six_by_six(), 9), (std::vector<int64_t>{7, 9, 11, 19, 21, 23, 31, 33, 35}));
  // Rows {1, 4} x columns {1, 4}.
  EXPECT_EQ(KeptCells(six_by_six(), 4), (std::vector<int64_t>{7, 10, 25, 28}));
  EXPECT_EQ(KeptCells(six_by_six(), 1), (std::vector<int64_t>{21}));  // the centre
  EXPECT_EQ(KeptCells(six_by_six(), 36).size(), 36u);
  EXPECT_TRUE(KeptCells(six_by_six(), 0).empty());
}

// Every count of every grid shape: exactly that many distinct cells, rows that differ by at most
// one cell, and chosen rows spread over the whole height.
TEST(UniformPruneTest, KeepsExactlyTheCountOnAnyGrid) {
  for (const auto& [height, width] :
       std::vector<std::pair<int64_t, int64_t>>{{6, 6}, {3, 5}, {1, 7}, {7, 1}, {4, 9}, {24, 24}}) {
    for (int64_t count = 0; count <= height * width; ++count) {
      SCOPED_TRACE(::testing::Message() << height << " x " << width << ", " << count);
      const std::vector<int64_t> cells =
          KeptCells(testing::MakePrompt({Text(2), Image(height, width), Text(1)}), count);
      ASSERT_EQ(static_cast<int64_t>(cells.size()), count);
      std::map<int64_t, int64_t> per_row;
      for (int64_t cell : cells) ++per_row[cell / width];
      int64_t fewest = width, most = 0;
      for (const auto& [row, in_row] : per_row) {
        fewest = std::min(fewest, in_row);
        most = std::max(most, in_row);
      }
      if (count > 0) {
        EXPECT_LE(most - fewest, 1);
        const int64_t rows = static_cast<int64_t>(per_row.size());
        const int64_t margin_top = per_row.begin()->first;
        const int64_t margin_bottom = height - 1 - per_row.rbegin()->first;
        EXPECT_EQ(margin_top, height / (2 * rows));          // half a row spacing
        EXPECT_LE(std::abs(margin_top - margin_bottom), 1);  // centred
      }
    }
  }
}

TEST(UniformPruneTest, SharesTheCountOverImagesByTheirSizes) {
  const auto two_images = [] {
    return testing::MakePrompt({Text(3), Image(6, 6), Text(2), Image(2, 3), Text(3)});
  };
  // 10 of 42: quotas 8.57 and 1.43, the spare token to the larger remainder.
  const auto count_per_image = [](testing::SyntheticPrompt prompt, int64_t final_tokens) {
    const auto reducer = MakeTokenReducer("uniform", FinalTokensOptions(final_tokens));
    testing::RunReducer(*reducer, prompt, 4);
    std::vector<int64_t> counts(prompt.images.size(), 0);
    for (int64_t token : testing::LiveImageTokens(prompt)) {
      counts[token < prompt.images[1].start ? 0 : 1] += 1;
    }
    return counts;
  };
  EXPECT_EQ(count_per_image(two_images(), 10), (std::vector<int64_t>{9, 1}));
  EXPECT_EQ(count_per_image(two_images(), 21), (std::vector<int64_t>{18, 3}));
  EXPECT_EQ(count_per_image(two_images(), 1), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(count_per_image(two_images(), 41), (std::vector<int64_t>{35, 6}));
}

TEST(UniformPruneTest, RecordsNoAttention) { testing::ExpectRecordsNoAttention("uniform"); }

}  // namespace
}  // namespace lightvlm
