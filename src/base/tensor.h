// Tensors: a non-owning view (data, dtype, shape) and an owning, aligned, move-only buffer.
// Both are dense and row-major: the last dimension is contiguous.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "base/dtype.h"

namespace lightvlm {

using Shape = std::vector<int64_t>;

int64_t NumElements(const Shape& shape);
std::string ShapeToString(const Shape& shape);  // "[2, 3]"

class TensorView {
 public:
  TensorView() = default;
  TensorView(void* data, DType dtype, Shape shape);
  TensorView(const void* data, DType dtype, Shape shape);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int axis) const { return shape_.at(axis); }
  int64_t num_elements() const { return NumElements(shape_); }
  size_t num_bytes() const { return (num_elements() * DTypeBits(dtype_) + 7) / 8; }

  void* raw() const { return data_; }
  float* f32() const;  // the data as float32; fails unless dtype is F32

 private:
  void* data_ = nullptr;
  DType dtype_ = DType::kF32;
  Shape shape_;
};

class Tensor {
 public:
  Tensor() = default;  // empty: no elements, as an absent bias
  // Zero-filled, 64-byte aligned.
  Tensor(DType dtype, Shape shape);
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  Tensor Copy() const;
  // Gives the same elements another shape; fails unless the element count stays the same.
  void Reshape(Shape shape);

  TensorView view() const { return TensorView(data_.get(), dtype_, shape_); }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int axis) const { return shape_.at(axis); }
  int64_t num_elements() const { return NumElements(shape_); }
  size_t num_bytes() const { return (num_elements() * DTypeBits(dtype_) + 7) / 8; }
  float* f32() const { return view().f32(); }

 private:
  struct FreeDeleter {
    void operator()(void* p) const;
  };
  std::unique_ptr<void, FreeDeleter> data_;
  DType dtype_ = DType::kF32;
  Shape shape_ = {0};
};

}  // namespace lightvlm
