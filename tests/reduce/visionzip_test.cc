// VisionZip: one stage before layer 0; of each image's kept tokens, the dominant ones are those
// the vision tower's class token attends to most, and the contextual ones are evenly spaced
// targets among the rest into which every other token is merged by similarity.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "base/error.h"
#include "reduce/reducer_harness.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

using testing::FinalTokensOptions;
using testing::Image;
using testing::KeepOptions;
using testing::kHiddenWidth;
using testing::Text;

ReducerOptions ContextualShare(ReducerOptions options, double share) {
  options.visionzip_contextual_share = share;
  return options;
}

TEST(VisionZipTest, HonoursEveryBudgetAndReducesOnlyImageTokens) {
  testing::ExpectReducerHonoursBudgets("visionzip", /*pruned_only=*/false);
}

TEST(VisionZipTest, ReducesOnceBeforeLayerZero) {
  const auto reducer = MakeTokenReducer("visionzip", KeepOptions(0.11));
  reducer->Begin({{5, 24, 24}}, 32);
  ASSERT_EQ(reducer->plan().size(), 1u);
  EXPECT_EQ(reducer->plan()[0].layer, 0);
  EXPECT_EQ(reducer->plan()[0].image_tokens, 63);
}

std::vector<float> HiddenOf(const DecoderTokens& tokens, int64_t token) {
  const auto row = std::find(tokens.token_index.begin(), tokens.token_index.end(), token) -
                   tokens.token_index.begin();
  const float* h = tokens.hidden.f32() + row * kHiddenWidth;
  return {h, h + kHiddenWidth};
}

void ExpectRowNear(const std::vector<float>& row, const std::vector<float>& expected) {
  ASSERT_EQ(row.size(), expected.size());
  for (size_t j = 0; j < row.size(); ++j) EXPECT_NEAR(row[j], expected[j], 1e-5) << j;
}

// Without contextual tokens VisionZip keeps exactly the top-saliency tokens, untouched.
TEST(VisionZipTest, KeepsTheTokensTheClassTokenAttendsToMost) {
  testing::SyntheticPrompt prompt = testing::StandardPrompt();
  const std::vector<int64_t> image = testing::LiveImageTokens(prompt);
  const auto reducer = MakeTokenReducer("visionzip", ContextualShare(FinalTokensOptions(9), 0));
  testing::RunReducer(*reducer, prompt, 4);
  EXPECT_EQ(testing::LiveImageTokens(prompt),
            testing::TopScored(image, 9, testing::VisionSaliencyOf));
  testing::ExpectOnlyImageTokensReduced(prompt, /*pruned_only=*/true);
}

// 8 kept with a contextual share of 1/4: the 6 top-saliency tokens, untouched, and 2 contextual
// tokens, the 1st and 16th of the 30 others (step 30 / 2). The others lie along e1 (even places
// among the 30, with the 1st) or e2 (odd places, with the 16th), scaled by place; each joins the
// target of its direction, which becomes itself plus the group's mean, at its own position.
TEST(VisionZipTest, MergesTheRestIntoEvenlySpacedContextualTokens) {
  testing::SyntheticPrompt prompt = testing::StandardPrompt();
  const std::vector<int64_t> image = testing::LiveImageTokens(prompt);
  const std::vector<int64_t> dominant = testing::TopScored(image, 6, testing::VisionSaliencyOf);
  std::vector<int64_t> rest;
  for (int64_t token : image) {
    if (!std::binary_search(dominant.begin(), dominant.end(), token)) rest.push_back(token);
  }
  ASSERT_EQ(rest.size(), 30u);
  std::vector<float> even_sum(kHiddenWidth, 0), odd_sum(kHiddenWidth, 0);
  for (size_t place = 0; place < rest.size(); ++place) {
    float* h = prompt.tokens.hidden.f32() + rest[place] * kHiddenWidth;
    std::fill(h, h + kHiddenWidth, 0.0f);
    h[place % 2] = static_cast<float>(place + 1);
    if (place != 0 && place != 15) (place % 2 == 0 ? even_sum : odd_sum)[place % 2] += h[place % 2];
  }
  const std::vector<float> dominant_row = HiddenOf(prompt.tokens, dominant[0]);
  const auto reducer = MakeTokenReducer("visionzip", ContextualShare(FinalTokensOptions(8), 0.25));
  testing::RunReducer(*reducer, prompt, 4);

  std::vector<int64_t> expected = dominant;
  expected.push_back(rest[0]);
  expected.push_back(rest[15]);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(testing::LiveImageTokens(prompt), expected);
  ExpectRowNear(HiddenOf(prompt.tokens, rest[0]), {1 + even_sum[0] / 14, 0, 0, 0});
  ExpectRowNear(HiddenOf(prompt.tokens, rest[15]), {0, 16 + odd_sum[1] / 14, 0, 0});
  EXPECT_EQ(HiddenOf(prompt.tokens, dominant[0]), dominant_row);
  EXPECT_EQ(prompt.tokens.size(), prompt.text_tokens + 8);
}

// The default share, 10/64: of 64 kept, 54 dominant and 10 contextual, as VisionZip's LLaVA runs.
TEST(VisionZipTest, KeepsVisionZipsDominantToContextualRatio) {
  testing::SyntheticPrompt prompt = testing::MakePrompt({Text(5), Image(24, 24), Text(4)});
  const std::vector<int64_t> image = testing::LiveImageTokens(prompt);
  const auto reducer = MakeTokenReducer("visionzip", FinalTokensOptions(64));
  testing::RunReducer(*reducer, prompt, 4);
  const std::vector<int64_t> live = testing::LiveImageTokens(prompt);
  ASSERT_EQ(live.size(), 64u);
  const std::vector<int64_t> dominant = testing::TopScored(image, 54, testing::VisionSaliencyOf);
  EXPECT_TRUE(std::includes(live.begin(), live.end(), dominant.begin(), dominant.end()));
}

TEST(VisionZipTest, RefusesImagesWithoutTheVisionTowersAttention) {
  testing::SyntheticPrompt prompt =
      testing::MakePrompt({Text(3), Image(6, 6), Text(2), Image(2, 3), Text(3)});
  prompt.images[1].vision_saliency.clear();
  const auto reducer = MakeTokenReducer("visionzip", FinalTokensOptions(10));
  const std::string error = testing::ErrorOf([&] { testing::RunReducer(*reducer, prompt, 4); });
  EXPECT_NE(error.find("visionzip"), std::string::npos) << error;
  EXPECT_NE(error.find("image at token 41"), std::string::npos) << error;
  EXPECT_NE(error.find("model family"), std::string::npos) << error;
}

TEST(VisionZipTest, RejectsSaliencyOfTheWrongLengthAndShareOutsideZeroToOne) {
  testing::SyntheticPrompt prompt = testing::StandardPrompt();
  prompt.images[0].vision_saliency.pop_back();
  EXPECT_THROW(MakeTokenReducer("visionzip", KeepOptions(0.5))->Begin(prompt.images, 4), Error);
  EXPECT_THROW(MakeTokenReducer("visionzip", ContextualShare(KeepOptions(0.5), 1.5)), Error);
}

TEST(VisionZipTest, RecordsNoAttention) { testing::ExpectRecordsNoAttention("visionzip"); }

}  // namespace
}  // namespace lightvlm
