#include "models/kv_cache.h"

#include <algorithm>
#include <cstring>

#include "base/error.h"

namespace lightvlm {

void CheckKvDType(DType dtype) {
  Check(dtype == DType::kF32 || dtype == DType::kBF16, "a KV cache stores F32 or BF16, not ",
        DTypeName(dtype));
}

LayerKvCache::LayerKvCache(int64_t kv_dim, int64_t capacity, DType dtype)
    : kv_dim_(kv_dim), capacity_(capacity), dtype_(dtype) {
  Check(kv_dim > 0 && capacity > 0, "KV cache needs a positive width and capacity, got ", kv_dim,
        " and ", capacity);
  CheckKvDType(dtype);
}

void LayerKvCache::Reserve(int64_t rows) {
  const int64_t allocated = static_cast<int64_t>(token_index_.size());
  if (rows <= allocated) return;
  // Grow geometrically so that decoding one token at a time stays amortised O(1).
  const int64_t grown = std::min(capacity_, std::max(rows, allocated * 2));
  keys_.resize(grown * row_bytes());
  values_.resize(grown * row_bytes());
  token_index_.resize(grown);
}

void LayerKvCache::Append(const float* keys, const float* values, const int64_t* token_index,
                          int64_t count) {
  Check(size_ + count <= capacity_, "KV cache full: ", size_, " + ", count,
        " entries exceed the context of ", capacity_, " tokens");
  Reserve(size_ + count);
  ConvertFromF32(keys, dtype_, keys_.data() + size_ * row_bytes(), count * kv_dim_);
  ConvertFromF32(values, dtype_, values_.data() + size_ * row_bytes(), count * kv_dim_);
  std::memcpy(token_index_.data() + size_, token_index, count * sizeof(int64_t));
  size_ += count;
}

void LayerKvCache::Keep(std::span<const int64_t> rows) {
  const size_t row = row_bytes();
  int64_t kept = 0;
  for (int64_t from : rows) {
    Check(from >= 0 && from < size_ && (kept == 0 || from > rows[kept - 1]),
          "KV cache rows to keep must be ascending and below ", size_, ", got ", from);
    if (from != kept) {
      std::memmove(keys_.data() + kept * row, keys_.data() + from * row, row);
      std::memmove(values_.data() + kept * row, values_.data() + from * row, row);
      token_index_[kept] = token_index_[from];
    }
    ++kept;
  }
  size_ = kept;
}

std::vector<float> LayerKvCache::Key(int64_t row) const {
  Check(row >= 0 && row < size_, "KV cache row ", row, " is not below ", size_);
  std::vector<float> key(kv_dim_);
  ConvertToF32(keys_.data() + row * row_bytes(), dtype_, key.data(), kv_dim_);
  return key;
}

std::vector<float> LayerKvCache::Value(int64_t row) const {
  Check(row >= 0 && row < size_, "KV cache row ", row, " is not below ", size_);
  std::vector<float> value(kv_dim_);
  ConvertToF32(values_.data() + row * row_bytes(), dtype_, value.data(), kv_dim_);
  return value;
}

size_t LayerKvCache::bytes() const { return size_ * KvCache::EntryBytes(kv_dim_, dtype_); }

size_t KvCache::EntryBytes(int64_t kv_dim, DType dtype) {
  return 2 * kv_dim * DTypeSize(dtype) + sizeof(int64_t);
}

double KvCache::BytesAtCapacity(int64_t num_layers, int64_t kv_dim, int64_t capacity, DType dtype) {
  return static_cast<double>(num_layers) * static_cast<double>(capacity) *
         static_cast<double>(EntryBytes(kv_dim, dtype));
}

KvCache::KvCache(int64_t num_layers, int64_t kv_dim, int64_t capacity, DType dtype)
    : capacity_(capacity) {
  layers_.reserve(num_layers);
  for (int64_t i = 0; i < num_layers; ++i) layers_.emplace_back(kv_dim, capacity, dtype);
}

size_t KvCache::bytes() const {
  size_t total = 0;
  for (const auto& layer : layers_) total += layer.bytes();
  return total;
}

void KvCache::Clear() {
  for (auto& layer : layers_) layer.Clear();
}

}  // namespace lightvlm
