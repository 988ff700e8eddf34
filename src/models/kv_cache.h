// The KV cache, ragged per layer: each layer stores only the tokens it saw (reduction may leave
// deeper layers fewer), keys after RoPE, and the token index of every entry for causal masking.
// Keys and values are stored in float32 or, by default, bfloat16 (half the bytes a decode step
// reads; attention widens them back to float32 as it loads them). Memory grows with use up to a
// fixed capacity, the context the user configured.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/dtype.h"
#include "ops/ops.h"

namespace lightvlm {

inline constexpr DType kDefaultKvDType = DType::kBF16;

// Fails unless `dtype` is one a KV cache stores (F32 or BF16).
void CheckKvDType(DType dtype);

class LayerKvCache {
 public:
  LayerKvCache(int64_t kv_dim, int64_t capacity, DType dtype = kDefaultKvDType);

  // Appends `count` entries, rounding keys and values to the cache's dtype; fails when the layer
  // would exceed its capacity.
  void Append(const float* keys, const float* values, const int64_t* token_index, int64_t count);
  // Keeps only the entries at `rows` (strictly ascending), compacting in place.
  void Keep(std::span<const int64_t> rows);
  void Clear() { size_ = 0; }

  int64_t size() const { return size_; }
  int64_t capacity() const { return capacity_; }
  int64_t kv_dim() const { return kv_dim_; }
  DType dtype() const { return dtype_; }
  // The live entries' keys and values, [size, kv_dim] each in dtype(), as attention reads them.
  ops::KeyValues entries() const { return {keys_.data(), values_.data(), dtype_}; }
  // Entry `row`'s key or value widened to float32 (kv_dim values).
  std::vector<float> Key(int64_t row) const;
  std::vector<float> Value(int64_t row) const;
  const int64_t* token_index() const { return token_index_.data(); }
  size_t bytes() const;  // bytes held by live entries

 private:
  void Reserve(int64_t rows);
  size_t row_bytes() const { return static_cast<size_t>(kv_dim_) * DTypeSize(dtype_); }

  int64_t kv_dim_;
  int64_t capacity_;
  DType dtype_;
  int64_t size_ = 0;
  std::vector<std::byte> keys_;       // [allocated rows, kv_dim] of dtype_, after RoPE
  std::vector<std::byte> values_;     // [allocated rows, kv_dim] of dtype_
  std::vector<int64_t> token_index_;  // [allocated rows], index of the token in its sequence
};

class KvCache {
 public:
  // The most bytes a cache of these dimensions holds once full (as a double: a hostile config's
  // product overflows int64), to check against a limit before one is created.
  static double BytesAtCapacity(int64_t num_layers, int64_t kv_dim, int64_t capacity,
                                DType dtype = kDefaultKvDType);
  // Bytes of one entry of one layer: its key, its value and its token index.
  static size_t EntryBytes(int64_t kv_dim, DType dtype);

  KvCache(int64_t num_layers, int64_t kv_dim, int64_t capacity, DType dtype = kDefaultKvDType);

  LayerKvCache& layer(int64_t index) { return layers_.at(index); }
  const LayerKvCache& layer(int64_t index) const { return layers_.at(index); }
  int64_t num_layers() const { return static_cast<int64_t>(layers_.size()); }
  int64_t capacity() const { return capacity_; }
  size_t bytes() const;
  void Clear();

 private:
  int64_t capacity_;
  std::vector<LayerKvCache> layers_;
};

}  // namespace lightvlm
