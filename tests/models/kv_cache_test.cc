#include "models/kv_cache.h"

#include <gtest/gtest.h>

#include <vector>

#include "base/error.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

// Entry e of a cache with width 2 has key (e, e + 0.5) and value (-e, -e - 0.5).
void AppendEntries(LayerKvCache& cache, int64_t first_index, int64_t count) {
  std::vector<float> keys, values;
  std::vector<int64_t> token_index;
  for (int64_t e = first_index; e < first_index + count; ++e) {
    keys.insert(keys.end(), {float(e), e + 0.5f});
    values.insert(values.end(), {-float(e), -e - 0.5f});
    token_index.push_back(e);
  }
  cache.Append(keys.data(), values.data(), token_index.data(), count);
}

TEST(LayerKvCacheTest, AppendsAcrossGrowthAndKeepsContents) {
  LayerKvCache cache(2, 100);
  for (int64_t i = 0; i < 10; ++i) AppendEntries(cache, i * 7, 7);
  ASSERT_EQ(cache.size(), 70);
  for (int64_t e = 0; e < 70; ++e) {
    EXPECT_EQ(cache.keys()[e * 2], float(e));
    EXPECT_EQ(cache.values()[e * 2 + 1], -e - 0.5f);
    EXPECT_EQ(cache.token_index()[e], e);
  }
}

TEST(LayerKvCacheTest, KeepCompactsInPlaceInOrder) {
  LayerKvCache cache(2, 16);
  AppendEntries(cache, 0, 10);
  const float* keys_before = cache.keys();
  const std::vector<int64_t> rows = {0, 3, 4, 9};
  cache.Keep(rows);
  ASSERT_EQ(cache.size(), 4);
  EXPECT_EQ(cache.keys(), keys_before) << "compaction must not reallocate";
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(cache.token_index()[i], rows[i]);
    EXPECT_EQ(cache.keys()[i * 2 + 1], rows[i] + 0.5f);
    EXPECT_EQ(cache.values()[i * 2], -float(rows[i]));
  }
  AppendEntries(cache, 10, 1);
  EXPECT_EQ(cache.token_index()[4], 10);
}

TEST(LayerKvCacheTest, RejectsUnorderedOrOutOfRangeRows) {
  LayerKvCache cache(2, 16);
  AppendEntries(cache, 0, 5);
  const std::vector<int64_t> unordered = {2, 1};
  EXPECT_THROW(cache.Keep(unordered), Error);
  LayerKvCache other(2, 16);
  AppendEntries(other, 0, 5);
  const std::vector<int64_t> past_end = {5};
  EXPECT_THROW(other.Keep(past_end), Error);
}

TEST(LayerKvCacheTest, RefusesToGrowPastCapacity) {
  LayerKvCache cache(2, 8);
  AppendEntries(cache, 0, 8);
  const std::string error = testing::ErrorOf([&] { AppendEntries(cache, 8, 1); });
  EXPECT_NE(error.find("context of 8"), std::string::npos) << error;
  EXPECT_EQ(cache.size(), 8);
}

TEST(KvCacheTest, LayersAreIndependentAndBytesCountLiveEntries) {
  KvCache cache(3, 2, 32);
  AppendEntries(cache.layer(0), 0, 6);
  AppendEntries(cache.layer(2), 0, 2);
  EXPECT_EQ(cache.layer(1).size(), 0);
  const size_t entry_bytes = 2 * 2 * sizeof(float) + sizeof(int64_t);
  EXPECT_EQ(cache.bytes(), 8 * entry_bytes);
  cache.Clear();
  EXPECT_EQ(cache.bytes(), 0u);
}

}  // namespace
}  // namespace lightvlm
