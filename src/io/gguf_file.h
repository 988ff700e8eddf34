// GGUF files (versions 2 and 3, little-endian), as llama.cpp writes them: a header, metadata
// key/values, tensor infos, then the tensor data, aligned to `general.alignment` (32 by default).
// Open() validates everything before any tensor is used, as SafetensorsFile does: every count
// and length is checked against the bytes left in the file before anything is allocated, every
// tensor's type, shape, offset and size is checked, and no two tensors may overlap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base/tensor.h"
#include "io/gguf_types.h"

namespace lightvlm {

class MappedFile;

// The value types of GGUF metadata (gguf_type in the specification).
enum class GgufValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

// One metadata value. Integers of every width are held as int64_t or uint64_t by signedness,
// floats as double; arrays of integers or bools as std::vector<int64_t> (an element past
// INT64_MAX fails Open), arrays of floats as std::vector<double>. Arrays of arrays are rejected.
struct GgufValue {
  GgufValueType type;
  GgufValueType element_type = GgufValueType::kU8;  // meaningful for arrays only
  std::variant<int64_t, uint64_t, double, bool, std::string, std::vector<int64_t>,
               std::vector<double>, std::vector<std::string>>
      value;
};

struct GgufTensorInfo {
  std::string name;
  GgufType type;
  std::vector<int64_t> dims;  // GGUF (ggml "ne") order: dims[0] is the contiguous one
  Shape shape;                // the same reversed: row-major, as PyTorch and Tensor write it
  int64_t num_elements;
  uint64_t offset;  // from the start of the data section, a multiple of the alignment
  uint64_t num_bytes;
  const std::byte* data;  // inside the mapping
};

class GgufFile {
 public:
  static std::unique_ptr<GgufFile> Open(const std::string& path);
  // The same checks on the contents of a file held in memory, which must outlive the result (its
  // tensors point into it). `path` is only for errors.
  static std::unique_ptr<GgufFile> Parse(std::span<const std::byte> contents,
                                         const std::string& path);
  ~GgufFile();

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }  // in file order

  bool Has(const std::string& key) const { return metadata_.contains(key); }
  // Typed metadata; each fails naming the file and the key when it is absent or of another type.
  // Unsigned() and Signed() accept any integer type whose value fits.
  const std::string& String(const std::string& key) const;
  uint64_t Unsigned(const std::string& key) const;
  int64_t Signed(const std::string& key) const;
  double Float(const std::string& key) const;  // any float type
  bool Bool(const std::string& key) const;
  const std::vector<std::string>& Strings(const std::string& key) const;
  const std::vector<int64_t>& Integers(const std::string& key) const;
  const std::vector<double>& Floats(const std::string& key) const;

  bool HasTensor(const std::string& name) const { return tensor_index_.contains(name); }
  // Fails naming the file and the tensor when it is absent.
  const GgufTensorInfo& TensorInfo(const std::string& name) const;
  // The tensor dequantized to float32, after checking that its row-major shape is
  // `expected_shape`.
  Tensor LoadF32(const std::string& name, const Shape& expected_shape) const;

 private:
  GgufFile() = default;
  const GgufValue& Get(const std::string& key) const;

  std::string path_;
  std::unique_ptr<MappedFile> mapping_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;  // name -> position in tensors_
};

}  // namespace lightvlm
