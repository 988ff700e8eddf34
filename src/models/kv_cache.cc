#include "models/kv_cache.h"

#include <algorithm>
#include <cstring>

#include "base/error.h"

namespace lightvlm {
namespace {

// A key and a value of kv_dim floats and the token's index.
size_t BytesPerEntry(int64_t kv_dim) { return 2 * kv_dim * sizeof(float) + sizeof(int64_t); }

}  // namespace

LayerKvCache::LayerKvCache(int64_t kv_dim, int64_t capacity)
    : kv_dim_(kv_dim), capacity_(capacity) {
  Check(kv_dim > 0 && capacity > 0, "KV cache needs a positive width and capacity, got ", kv_dim,
        " and ", capacity);
}

void LayerKvCache::Reserve(int64_t rows) {
  const int64_t allocated = static_cast<int64_t>(token_index_.size());
  if (rows <= allocated) return;
  // Grow geometrically so that decoding one token at a time stays amortised O(1).
  const int64_t grown = std::min(capacity_, std::max(rows, allocated * 2));
  keys_.resize(grown * kv_dim_);
  values_.resize(grown * kv_dim_);
  token_index_.resize(grown);
}

void LayerKvCache::Append(const float* keys, const float* values, const int64_t* token_index,
                          int64_t count) {
  Check(size_ + count <= capacity_, "KV cache full: ", size_, " + ", count,
        " entries exceed the context of ", capacity_, " tokens");
  Reserve(size_ + count);
  std::memcpy(keys_.data() + size_ * kv_dim_, keys, count * kv_dim_ * sizeof(float));
  std::memcpy(values_.data() + size_ * kv_dim_, values, count * kv_dim_ * sizeof(float));
  std::memcpy(token_index_.data() + size_, token_index, count * sizeof(int64_t));
  size_ += count;
}

void LayerKvCache::Keep(std::span<const int64_t> rows) {
  int64_t kept = 0;
  for (int64_t row : rows) {
    Check(row >= 0 && row < size_ && (kept == 0 || row > rows[kept - 1]),
          "KV cache rows to keep must be ascending and below ", size_, ", got ", row);
    if (row != kept) {
      std::memmove(keys_.data() + kept * kv_dim_, keys_.data() + row * kv_dim_,
                   kv_dim_ * sizeof(float));
      std::memmove(values_.data() + kept * kv_dim_, values_.data() + row * kv_dim_,
                   kv_dim_ * sizeof(float));
      token_index_[kept] = token_index_[row];
    }
    ++kept;
  }
  size_ = kept;
}

size_t LayerKvCache::bytes() const { return size_ * BytesPerEntry(kv_dim_); }

double KvCache::BytesAtCapacity(int64_t num_layers, int64_t kv_dim, int64_t capacity) {
  return static_cast<double>(num_layers) * static_cast<double>(capacity) *
         static_cast<double>(BytesPerEntry(kv_dim));
}

KvCache::KvCache(int64_t num_layers, int64_t kv_dim, int64_t capacity) : capacity_(capacity) {
  layers_.reserve(num_layers);
  for (int64_t i = 0; i < num_layers; ++i) layers_.emplace_back(kv_dim, capacity);
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
