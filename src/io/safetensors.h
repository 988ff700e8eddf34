// Safetensors checkpoints read through mmap: one file, or shards listed by
// model.safetensors.index.json. Every header is validated before any tensor is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/tensor.h"
#include "io/tensor_source.h"

namespace lightvlm {

class MappedFile;

// One tensor as stored. `dtype_name` is the safetensors spelling ("F32", "I64", ...); `dtype`
// is set only for the float types the engine computes with (F32, F16, BF16).
struct StoredTensor {
  std::string name;
  std::string dtype_name;
  bool is_float = false;  // F32, F16 or BF16: `dtype` is meaningful
  DType dtype = DType::kF32;
  Shape shape;
  const std::byte* data = nullptr;  // inside the mapping, possibly misaligned for dtype
  size_t num_bytes = 0;
  std::string file;  // path of the file that holds it, for error messages

  // A view into the mapping; fails unless is_float. The data starts wherever the header ends, so
  // it may be misaligned for its dtype: read it with memcpy, or use Checkpoint::LoadF32, which
  // copies into an aligned Tensor.
  TensorView view() const;
};

// A single .safetensors file. Open() checks: the 8-byte header length fits in the file, the
// header is a JSON object, every dtype is a known safetensors dtype, shape x element size equals
// the span of data_offsets, every span lies inside the data section, and no two spans overlap.
class SafetensorsFile {
 public:
  static std::unique_ptr<SafetensorsFile> Open(const std::string& path);
  // The same checks on the contents of a file held in memory, which must outlive the result (its
  // tensors point into it). `path` is only for errors.
  static std::unique_ptr<SafetensorsFile> Parse(std::span<const std::byte> contents,
                                                const std::string& path);
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::map<std::string, StoredTensor>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile() = default;
  std::string path_;
  std::unique_ptr<MappedFile> mapping_;
  std::map<std::string, StoredTensor> tensors_;
  std::map<std::string, std::string> metadata_;  // the header's "__metadata__"
};

// All tensors of a checkpoint directory: model.safetensors, or the shards named by
// model.safetensors.index.json (each shard validated; every indexed name must be found in the
// shard the index names).
class Checkpoint : public TensorSource {
 public:
  static Checkpoint Open(const std::string& directory);

  const std::string& directory() const { return directory_; }
  bool Contains(const std::string& name) const override;
  // Fails naming the checkpoint and the tensor when it is absent.
  const StoredTensor& Get(const std::string& name) const;
  std::vector<const StoredTensor*> All() const;  // sorted by name

  // A tensor already stored in `dtype` is copied as it is; others are converted in chunks.
  Tensor Load(const std::string& name, const Shape& expected_shape, DType dtype) const override;

 private:
  std::string directory_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const StoredTensor*> index_;
};

}  // namespace lightvlm
