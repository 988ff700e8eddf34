// GGUF files built byte by byte in tests, so that a test can write any field, valid or not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lightvlm::testing {

// Little-endian GGUF bytes written field by field, so each test can break one of them.
class GgufBytes {
 public:
  GgufBytes& U32(uint32_t v) { return Int(v, 4); }
  GgufBytes& U64(uint64_t v) { return Int(v, 8); }
  GgufBytes& Byte(uint8_t v) { return Int(v, 1); }
  GgufBytes& Str(const std::string& s) {
    U64(s.size());
    bytes_ += s;
    return *this;
  }
  GgufBytes& Header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
    bytes_ += "GGUF";
    return U32(version).U64(tensors).U64(kvs);
  }
  // Metadata key/values: a string, an array of strings, an array of int32.
  GgufBytes& KeyString(const std::string& key, const std::string& value) {
    return Str(key).U32(8).Str(value);
  }
  GgufBytes& KeyStrings(const std::string& key, const std::vector<std::string>& values) {
    Str(key).U32(9).U32(8).U64(values.size());
    for (const std::string& value : values) Str(value);
    return *this;
  }
  GgufBytes& KeyInt32s(const std::string& key, const std::vector<int32_t>& values) {
    Str(key).U32(9).U32(5).U64(values.size());
    for (int32_t value : values) U32(static_cast<uint32_t>(value));
    return *this;
  }
  // A tensor info: name, dims (GGUF order), type id, offset.
  GgufBytes& Info(const std::string& name, const std::vector<uint64_t>& dims, uint32_t type,
                  uint64_t offset) {
    Str(name).U32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) U64(d);
    return U32(type).U64(offset);
  }
  // Zero padding to `alignment`, then `data_bytes` bytes of data.
  GgufBytes& Data(size_t data_bytes, size_t alignment = 32) {
    bytes_.resize((bytes_.size() + alignment - 1) / alignment * alignment, '\0');
    bytes_.append(data_bytes, '\x11');
    return *this;
  }
  const std::string& str() const { return bytes_; }

 private:
  GgufBytes& Int(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    return *this;
  }
  std::string bytes_;
};

}  // namespace lightvlm::testing
