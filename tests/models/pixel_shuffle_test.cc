#include "models/pixel_shuffle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

using testing::ErrorOf;

Tensor Counting(Shape shape) {
  Tensor t(DType::kF32, std::move(shape));
  for (int64_t i = 0; i < t.num_elements(); ++i) t.f32()[i] = static_cast<float>(i);
  return t;
}

TEST(PixelShuffleTest, ScaleTwoMatchesInternVLInTransformers) {
  // tests/fixtures/internvl: model.model.pixel_shuffle(x, 0.5) on the fixture's vision tokens
  // ([7, 4, 4, 32] -> [7, 2, 2, 128]); pure data movement, so exact.
  const testing::Golden golden("internvl");
  ASSERT_EQ(golden.ShapeOf("pixel_shuffle_input"), (Shape{7, 4, 4, 32}));
  const std::vector<float> input_values = golden.Floats("pixel_shuffle_input");
  Tensor input(DType::kF32, {7, 16, 32});
  ASSERT_EQ(static_cast<size_t>(input.num_elements()), input_values.size());
  std::copy(input_values.begin(), input_values.end(), input.f32());
  const Tensor output = PixelShuffle(input, 2);
  ASSERT_EQ(output.shape(), (Shape{7, 4, 128}));
  const std::vector<float> expected = golden.Floats("pixel_shuffle_output");
  EXPECT_EQ(testing::MaxAbsDifference(output.f32(), expected.data(), expected.size()), 0.0);
}

TEST(PixelShuffleTest, ScaleTwoConcatenatesEachBlockRowMajor) {
  // One image of 4x4 tokens with one channel each, valued by their index.
  const Tensor output = PixelShuffle(Counting({1, 16, 1}), 2);
  ASSERT_EQ(output.shape(), (Shape{1, 4, 4}));
  EXPECT_EQ(std::vector<float>(output.f32(), output.f32() + 16),
            (std::vector<float>{0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15}));
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
  struct Case {
    Shape shape;
    int64_t scale;
    std::string error;
  };
  const std::vector<Case> cases = {{{1, 36, 1}, 4, "36 vision tokens are not the square of a side"},
                                   {{1, 9, 2}, 2, "9 vision tokens"},
                                   {{2, 17, 2}, 2, "not the square"},
                                   {{16, 2}, 2, "expected [images, tokens, channels]"},
                                   {{1, 16, 1}, 0, "scale 0 must be positive"}};
  for (const Case& c : cases) {
    const std::string error = ErrorOf([&] { PixelShuffle(Counting(c.shape), c.scale); });
    EXPECT_NE(error.find(c.error), std::string::npos) << error;
  }
}

// Each shuffled token's saliency is the sum over the patches the shuffle puts into it, in the
// shuffle's order, image by image.
TEST(PixelShuffleTest, SaliencySumsEachTokensPatches) {
  std::vector<float> saliency(2 * 16);
  for (size_t i = 0; i < saliency.size(); ++i) saliency[i] = static_cast<float>(i);
  const std::vector<float> summed = ShuffledSaliency(saliency, 2, 2);
  // Image 0's 4 x 4 grid: token 0 holds patches 0, 1, 4, 5; token 1 patches 2, 3, 6, 7; token 2
  // patches 8, 9, 12, 13; image 1's token 0 patches 16, 17, 20, 21.
  EXPECT_EQ(summed, (std::vector<float>{10, 18, 42, 50, 74, 82, 106, 114}));
  EXPECT_NE(testing::ErrorOf([] {
              ShuffledSaliency(std::vector<float>(15), 2, 2);
            }).find("15 saliency values for 2 images"),
            std::string::npos);
}

}  // namespace
}  // namespace lightvlm
