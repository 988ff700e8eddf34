#include "base/tensor.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "base/error.h"

namespace lightvlm {
namespace {

TEST(TensorTest, IsAlignedAndZeroFilled) {
  for (int64_t columns : {1, 3, 17, 100}) {
    Tensor tensor(DType::kF32, {3, columns});
    EXPECT_EQ(reinterpret_cast<uintptr_t>(tensor.f32()) % 64, 0u);
    for (int64_t i = 0; i < tensor.num_elements(); ++i) EXPECT_EQ(tensor.f32()[i], 0.0f);
  }
}

TEST(TensorTest, SizesFollowShapeAndDType) {
  Tensor tensor(DType::kBF16, {2, 3, 5});
  EXPECT_EQ(tensor.num_elements(), 30);
  EXPECT_EQ(tensor.num_bytes(), 60u);
  EXPECT_EQ(tensor.dim(2), 5);
  EXPECT_EQ(tensor.view().rank(), 3);
  EXPECT_THROW(tensor.dim(3), std::out_of_range);
}

TEST(TensorTest, CopyIsDeep) {
  Tensor original(DType::kF32, {2, 2});
  original.f32()[3] = 5.0f;
  Tensor copy = original.Copy();
  original.f32()[3] = 7.0f;
  EXPECT_NE(copy.f32(), original.f32());
  EXPECT_EQ(copy.f32()[3], 5.0f);
  EXPECT_EQ(copy.shape(), original.shape());
  EXPECT_EQ(copy.dtype(), DType::kF32);
}

TEST(TensorTest, EmptyTensor) {
  Tensor empty(DType::kF32, {0, 4});
  EXPECT_EQ(empty.num_bytes(), 0u);
  EXPECT_EQ(empty.Copy().num_elements(), 0);
  Tensor scalar(DType::kF32, {});
  EXPECT_EQ(scalar.num_elements(), 1);
}

// Regression: a default tensor (an absent bias or lm_head) once reported one element.
TEST(TensorTest, DefaultTensorHasNoElements) {
  const Tensor absent;
  EXPECT_EQ(absent.num_elements(), 0);
  EXPECT_EQ(absent.num_bytes(), 0u);
}

TEST(TensorTest, MoveTransfersData) {
  Tensor source(DType::kF32, {4});
  float* data = source.f32();
  Tensor target = std::move(source);
  EXPECT_EQ(target.f32(), data);
}

TEST(TensorTest, ShapeToString) {
  EXPECT_EQ(ShapeToString({2, 3}), "[2, 3]");
  EXPECT_EQ(ShapeToString({7}), "[7]");
  EXPECT_EQ(ShapeToString({}), "[]");
}

TEST(TensorTest, F32OnWrongDTypeThrows) {
  Tensor tensor(DType::kF16, {2});
  EXPECT_THROW(tensor.f32(), Error);
  EXPECT_THROW(tensor.view().f32(), Error);
  const uint16_t bits[2] = {0, 0};
  EXPECT_THROW(TensorView(bits, DType::kBF16, {2}).f32(), Error);
}

TEST(TensorTest, InvalidShapesThrow) {
  EXPECT_THROW(NumElements({2, -1}), Error);
  const int64_t huge = std::numeric_limits<int64_t>::max() / 2;
  EXPECT_THROW(NumElements({huge, 4}), Error);
  EXPECT_EQ(NumElements({huge, 0}), 0);
}

}  // namespace
}  // namespace lightvlm
