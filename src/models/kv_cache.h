// The KV cache, ragged per layer: each layer stores only the tokens it saw (reduction may leave
// deeper layers fewer), keys after RoPE, and the token index of every entry for causal masking.
// Memory grows with use up to a fixed capacity, the context the user configured.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lightvlm {

class LayerKvCache {
 public:
  LayerKvCache(int64_t kv_dim, int64_t capacity);

  // Appends `count` entries; fails when the layer would exceed its capacity.
  void Append(const float* keys, const float* values, const int64_t* token_index, int64_t count);
  // Keeps only the entries at `rows` (strictly ascending), compacting in place.
  void Keep(std::span<const int64_t> rows);
  void Clear() { size_ = 0; }

  int64_t size() const { return size_; }
  int64_t capacity() const { return capacity_; }
  int64_t kv_dim() const { return kv_dim_; }
  const float* keys() const { return keys_.data(); }
  const float* values() const { return values_.data(); }
  const int64_t* token_index() const { return token_index_.data(); }
  size_t bytes() const;  // bytes held by live entries

 private:
  void Reserve(int64_t rows);

  int64_t kv_dim_;
  int64_t capacity_;
  int64_t size_ = 0;
  std::vector<float> keys_;           // [allocated rows, kv_dim], after RoPE
  std::vector<float> values_;         // [allocated rows, kv_dim]
  std::vector<int64_t> token_index_;  // [allocated rows], index of the token in its sequence
};

class KvCache {
 public:
  // The most bytes a cache of these dimensions holds once full (as a double: a hostile config's
  // product overflows int64), to check against a limit before one is created.
  static double BytesAtCapacity(int64_t num_layers, int64_t kv_dim, int64_t capacity);

  KvCache(int64_t num_layers, int64_t kv_dim, int64_t capacity);

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
