#include "models/internvl_pixel_shuffle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "base/error.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

using testing::ErrorOf;

Tensor TensorOf(const Shape& shape, const std::vector<float>& values) {
  Tensor tensor(DType::kF32, shape);
  EXPECT_EQ(static_cast<size_t>(tensor.num_elements()), values.size());
  std::copy(values.begin(), values.end(), tensor.f32());
  return tensor;
}

TEST(InternVLPixelShuffleTest, MatchesTransformers) {
  // tests/fixtures/internvl: model.model.pixel_shuffle(x, 0.5) on the fixture's vision tokens
  // ([7, 4, 4, 32] -> [7, 2, 2, 128]); pure data movement, so exact.
  const testing::Golden golden("internvl");
  ASSERT_EQ(golden.ShapeOf("pixel_shuffle_input"), (Shape{7, 4, 4, 32}));
  const Tensor input = TensorOf({7, 16, 32}, golden.Floats("pixel_shuffle_input"));
  const Tensor output = InternVLPixelShuffle(input);
  ASSERT_EQ(output.shape(), (Shape{7, 4, 128}));
  const std::vector<float> expected = golden.Floats("pixel_shuffle_output");
  EXPECT_EQ(testing::MaxAbsDifference(output.f32(), expected.data(), expected.size()), 0.0);
}

TEST(InternVLPixelShuffleTest, ConcatenatesEachTwoByTwoBlockRowMajor) {
  // One tile of 4x4 tokens with one channel each, valued by their index.
  std::vector<float> values(16);
  for (int i = 0; i < 16; ++i) values[i] = float(i);
  const Tensor output = InternVLPixelShuffle(TensorOf({1, 16, 1}, values));
  ASSERT_EQ(output.shape(), (Shape{1, 4, 4}));
  EXPECT_EQ(std::vector<float>(output.f32(), output.f32() + 16),
            (std::vector<float>{0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15}));
}

TEST(InternVLPixelShuffleTest, RefusesOddOrNonSquareGrids) {
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "9 vision tokens are not the square of an even side",
                      ErrorOf([] {
                        InternVLPixelShuffle(Tensor(DType::kF32, {1, 9, 2}));
                      }));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "not the square", ErrorOf([] {
                        InternVLPixelShuffle(Tensor(DType::kF32, {2, 17, 2}));
                      }));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "expected [tiles, tokens, channels]", ErrorOf([] {
                        InternVLPixelShuffle(Tensor(DType::kF32, {16, 2}));
                      }));
}

}  // namespace
}  // namespace lightvlm
