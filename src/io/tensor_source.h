// Where a model's weights are read from, by their Hugging Face names: a safetensors checkpoint
// directory (Checkpoint), or a GGUF file seen through a name table (models/gguf_tensor_source.h).
// The models layer builds every family from this interface, so the same objects load from
// either source.
#pragma once

#include <string>

#include "base/dtype.h"
#include "base/tensor.h"

namespace lightvlm {

class TensorSource {
 public:
  virtual ~TensorSource() = default;

  virtual bool Contains(const std::string& name) const = 0;
  // The tensor converted to `dtype`, after checking that its shape is `expected_shape`; errors
  // name the file, the tensor, the expected and the found shape. A conversion holds at most one
  // tensor's float32 copy beside the result.
  virtual Tensor Load(const std::string& name, const Shape& expected_shape, DType dtype) const = 0;

  Tensor LoadF32(const std::string& name, const Shape& expected_shape) const {
    return Load(name, expected_shape, DType::kF32);
  }
};

}  // namespace lightvlm
