#include "base/tensor.h"

#include <cstdlib>
#include <cstring>
#include <limits>

#include "base/error.h"

namespace lightvlm {

int64_t NumElements(const Shape& shape) {
  int64_t count = 1;
  for (int64_t extent : shape) {
    Check(extent >= 0, "negative tensor extent in shape ", ShapeToString(shape));
    Check(extent == 0 || count <= std::numeric_limits<int64_t>::max() / extent, "tensor shape ",
          ShapeToString(shape), " has too many elements");
    count *= extent;
  }
  return count;
}

std::string ShapeToString(const Shape& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

TensorView::TensorView(void* data, DType dtype, Shape shape)
    : data_(data), dtype_(dtype), shape_(std::move(shape)) {}

TensorView::TensorView(const void* data, DType dtype, Shape shape)
    : TensorView(const_cast<void*>(data), dtype, std::move(shape)) {}

float* TensorView::f32() const {
  Check(dtype_ == DType::kF32, "expected an F32 tensor, got ", DTypeName(dtype_));
  return static_cast<float*>(data_);
}

void Tensor::FreeDeleter::operator()(void* p) const { std::free(p); }

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  constexpr size_t kAlignment = 64;
  const size_t bytes = num_bytes();
  const size_t padded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (padded == 0) return;
  void* memory = std::aligned_alloc(kAlignment, padded);
  Check(memory != nullptr, "out of memory allocating ", bytes, " bytes for tensor ",
        ShapeToString(shape_));
  std::memset(memory, 0, padded);
  data_.reset(memory);
}

Tensor Tensor::Copy() const {
  Tensor copy(dtype_, shape_);
  if (num_bytes()) std::memcpy(copy.data_.get(), data_.get(), num_bytes());
  return copy;
}

void Tensor::Reshape(Shape shape) {
  Check(NumElements(shape) == num_elements(), "cannot reshape ", ShapeToString(shape_), " to ",
        ShapeToString(shape));
  shape_ = std::move(shape);
}

}  // namespace lightvlm
