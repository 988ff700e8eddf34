#include "models/kv_cache.h"

#include <gtest/gtest.h>

#include <cmath>
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

// Both dtypes hold these entries exactly: e and e + 0.5 need at most 8 significant bits for e
// below 128.
class LayerKvCacheDTypeTest : public ::testing::TestWithParam<DType> {};

TEST_P(LayerKvCacheDTypeTest, AppendsAcrossGrowthAndKeepsContents) {
  LayerKvCache cache(2, 100, GetParam());
  for (int64_t i = 0; i < 10; ++i) AppendEntries(cache, i * 7, 7);
  ASSERT_EQ(cache.size(), 70);
  for (int64_t e = 0; e < 70; ++e) {
    EXPECT_EQ(cache.Key(e), (std::vector<float>{float(e), e + 0.5f}));
    EXPECT_EQ(cache.Value(e), (std::vector<float>{-float(e), -e - 0.5f}));
    EXPECT_EQ(cache.token_index()[e], e);
  }
}

TEST_P(LayerKvCacheDTypeTest, KeepCompactsInPlaceInOrder) {
  LayerKvCache cache(2, 16, GetParam());
  AppendEntries(cache, 0, 10);
  const void* keys_before = cache.entries().keys;
  const std::vector<int64_t> rows = {0, 3, 4, 9};
  cache.Keep(rows);
  ASSERT_EQ(cache.size(), 4);
  EXPECT_EQ(cache.entries().keys, keys_before) << "compaction must not reallocate";
  EXPECT_EQ(cache.entries().dtype, GetParam());
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(cache.token_index()[i], rows[i]);
    EXPECT_EQ(cache.Key(i)[1], rows[i] + 0.5f);
    EXPECT_EQ(cache.Value(i)[0], -float(rows[i]));
  }
  AppendEntries(cache, 10, 1);
  EXPECT_EQ(cache.token_index()[4], 10);
  EXPECT_EQ(cache.Key(4)[0], 10.0f);
}

INSTANTIATE_TEST_SUITE_P(DTypes, LayerKvCacheDTypeTest,
                         ::testing::Values(DType::kF32, DType::kBF16),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

// bf16 keeps a value's sign, exponent and 8 significant bits, rounded to nearest even: the stored
// bits are F32ToBF16's, and a value comes back within half a unit in its last place (2^-8 of it).
TEST(LayerKvCacheTest, Bf16StoresRoundedValues) {
  LayerKvCache cache(4, 4, DType::kBF16);
  const std::vector<float> keys = {1.0f + 1.0f / 256, 1.0f + 3.0f / 512, -3.14159f, 1e-20f};
  const std::vector<float> values = {65504.0f, -0.1f, 0.333333f, 7.0f};
  const int64_t index = 0;
  cache.Append(keys.data(), values.data(), &index, 1);
  const auto* bits = static_cast<const uint16_t*>(cache.entries().keys);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(bits[i], F32ToBF16(keys[i]));
    EXPECT_EQ(cache.Key(0)[i], BF16ToF32(F32ToBF16(keys[i])));
    EXPECT_NEAR(cache.Key(0)[i], keys[i], std::fabs(keys[i]) / 256);
    EXPECT_NEAR(cache.Value(0)[i], values[i], std::fabs(values[i]) / 256);
  }
  EXPECT_EQ(cache.Key(0)[0], 1.0f);  // a tie rounds to the even 1.0
  EXPECT_EQ(cache.Key(0)[1], 1.0f + 1.0f / 128);
  EXPECT_EQ(cache.Value(0)[3], 7.0f);
}

TEST(LayerKvCacheTest, RefusesDTypesItDoesNotStoreAndRowsPastTheEnd) {
  EXPECT_NE(testing::ErrorOf([] { LayerKvCache(2, 4, DType::kI8); }).find("F32 or BF16, not I8"),
            std::string::npos);
  LayerKvCache cache(2, 4, DType::kBF16);
  AppendEntries(cache, 0, 2);
  EXPECT_NE(testing::ErrorOf([&] { cache.Key(2); }).find("row 2 is not below 2"),
            std::string::npos);
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
  KvCache cache(3, 2, 32, DType::kF32);
  AppendEntries(cache.layer(0), 0, 6);
  AppendEntries(cache.layer(2), 0, 2);
  EXPECT_EQ(cache.layer(1).size(), 0);
  const size_t entry_bytes = 2 * 2 * sizeof(float) + sizeof(int64_t);
  EXPECT_EQ(cache.bytes(), 8 * entry_bytes);
  cache.Clear();
  EXPECT_EQ(cache.bytes(), 0u);
}

// bf16 by default: a key and a value of kv_dim 2-byte elements and the 8-byte token index.
TEST(KvCacheTest, Bf16IsTheDefaultAndHalvesTheKeyAndValueBytes) {
  KvCache bf16(2, 192, 32);
  KvCache f32(2, 192, 32, DType::kF32);
  EXPECT_EQ(bf16.layer(0).dtype(), DType::kBF16);
  EXPECT_EQ(KvCache::EntryBytes(192, DType::kBF16), 2 * 192 * 2 + 8u);
  EXPECT_EQ(KvCache::EntryBytes(192, DType::kF32), 2 * 192 * 4 + 8u);
  const std::vector<float> key(192, 1.0f), value(192, 2.0f);
  for (int64_t t = 0; t < 5; ++t) {
    for (KvCache* cache : {&bf16, &f32}) cache->layer(1).Append(key.data(), value.data(), &t, 1);
  }
  EXPECT_EQ(bf16.bytes(), 5 * (2 * 192 * 2 + 8u));
  EXPECT_EQ(f32.bytes(), 5 * (2 * 192 * 4 + 8u));
  // 46.3 KB a token on SmolLM2-135M's shape (30 layers, kv_dim 192) in f32, 23.3 KB in bf16.
  EXPECT_DOUBLE_EQ(KvCache::BytesAtCapacity(30, 192, 1, DType::kF32), 46320);
  EXPECT_DOUBLE_EQ(KvCache::BytesAtCapacity(30, 192, 1), 23280);
}

}  // namespace
}  // namespace lightvlm
