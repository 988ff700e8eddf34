// Linear's dtypes as --dtype names them, and 4-bit weights loaded from a TensorSource.
#include "models/linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "base/error.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

// One matrix whose element (i, c) is (i - c) / 16, of any shape asked for.
class RampSource : public TensorSource {
 public:
  bool Contains(const std::string& name) const override { return name == "w"; }
  Tensor Load(const std::string& name, const Shape& shape, DType dtype) const override {
    Check(Contains(name) && dtype == DType::kF32, "RampSource: only float32 'w'");
    Tensor tensor(DType::kF32, shape);
    for (int64_t i = 0; i < shape[0]; ++i) {
      for (int64_t c = 0; c < shape[1]; ++c) {
        tensor.f32()[i * shape[1] + c] = static_cast<float>(i - c) / 16;
      }
    }
    return tensor;
  }
};

TEST(LinearTest, ParsesEveryDTypeTheFlagAccepts) {
  EXPECT_EQ(ParseWeightDType("f32"), DType::kF32);
  EXPECT_EQ(ParseWeightDType("bf16"), DType::kBF16);
  EXPECT_EQ(ParseWeightDType("int8"), DType::kI8);
  EXPECT_EQ(ParseWeightDType("q4"), DType::kQ4);
  EXPECT_EQ(testing::ErrorOf([] { ParseWeightDType("q8"); }),
            "weight dtype 'q8' is not supported (f32, bf16, int8, q4)");
}

// 4-bit matrices keep two weights a byte and a bf16 (scale, min) pair per group of 32 columns;
// the logits' matrix of a q4 model is int8.
TEST(LinearTest, Q4WeightsStayPackedAndComputeTheProduct) {
  const Linear linear = LoadLinearWeight(RampSource(), "w", 5, 70, DType::kQ4);
  EXPECT_EQ(linear.weight.dtype(), DType::kQ4);
  EXPECT_EQ(linear.weight.num_bytes(), 5u * 35);
  EXPECT_EQ(linear.scales.shape(), (Shape{5, 3, 2}));
  EXPECT_EQ(linear.weight_bytes(), 5u * 35 + 5 * 3 * 2 * 2);
  EXPECT_EQ(LogitsWeightDType(DType::kQ4), DType::kI8);
  EXPECT_EQ(LogitsWeightDType(DType::kBF16), DType::kBF16);
  // A group of the ramp spans 31 / 16 (the short last one less): each weight comes back within
  // half a step of 31 / 16 / 15, give or take the bf16 rounding of the scale.
  ThreadPool pool(1);
  std::vector<float> x(70, 1.0f), y(5);
  linear.Forward(pool, x.data(), 1, y.data());
  for (int64_t i = 0; i < 5; ++i) {
    double expected = 0;
    for (int64_t c = 0; c < 70; ++c) expected += static_cast<double>(i - c) / 16;
    EXPECT_NEAR(y[i], expected, 70 * (0.5 * 31 / 16 / 15 + 0.01)) << i;
  }
}

TEST(LinearTest, Q4RefusesAnOddNumberOfColumnsNamingTheTensor) {
  EXPECT_EQ(testing::ErrorOf([] { LoadLinearWeight(RampSource(), "w", 4, 33, DType::kQ4); }),
            "'w' has 33 input columns: 4-bit weights (--dtype q4) need an even number");
}

}  // namespace
}  // namespace lightvlm
