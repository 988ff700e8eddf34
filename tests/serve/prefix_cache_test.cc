#include "serve/prefix_cache.h"

#include <gtest/gtest.h>

namespace lightvlm {
namespace {

std::unique_ptr<CachedConversation> Conversation(const std::string& settings,
                                                 std::vector<std::string> image_keys,
                                                 std::vector<int32_t> tokens) {
  auto conversation = std::make_unique<CachedConversation>();
  conversation->settings = settings;
  conversation->image_keys = std::move(image_keys);
  for (size_t i = 0; i < conversation->image_keys.size(); ++i) {
    conversation->images.push_back({Tensor(DType::kF32, {2, 3}), {{1, 2}}, "", {}});
    conversation->images.back().rows.f32()[0] = static_cast<float>(i + 1);
  }
  conversation->tokens = std::move(tokens);
  return conversation;
}

TEST(PrefixCacheTest, TakesTheLongestConversationThePromptContinues) {
  PrefixCache cache(4);
  cache.Store(Conversation("none", {"a"}, {1, 2, 3}));
  cache.Store(Conversation("none", {"a"}, {1, 2, 3, 4, 5}));
  cache.Store(Conversation("lightvlm", {"a"}, {1, 2, 3, 4, 5, 6}));
  cache.Store(Conversation("none", {"b"}, {1, 2, 3, 4, 5, 6}));
  // Settings and images must match, and the prompt must go on past the kept tokens: the
  // five-token conversation does not count for a five-token prompt, the three-token one does.
  const auto shorter = cache.Take("none", {"a"}, {1, 2, 3, 4, 5});
  ASSERT_NE(shorter, nullptr);
  EXPECT_EQ(shorter->tokens.size(), 3u);
  EXPECT_EQ(cache.size(), 3);  // taken out
  const auto longest = cache.Take("none", {"a", "c"}, {1, 2, 3, 4, 5, 6, 7});
  ASSERT_NE(longest, nullptr);
  EXPECT_EQ(longest->tokens.size(), 5u);
  EXPECT_EQ(longest->settings, "none");
  EXPECT_EQ(cache.Take("none", {"a"}, {1, 2, 9, 9}), nullptr);
  EXPECT_EQ(cache.Take("other", {"a"}, {1, 2, 3, 4}), nullptr);
}

TEST(PrefixCacheTest, KnownImagesAreCopiesOfTheFirstMatchingRun) {
  PrefixCache cache(2);
  cache.Store(Conversation("none", {"a", "b"}, {1}));
  EXPECT_TRUE(cache.KnownImages("none", {"b"}).empty());
  EXPECT_TRUE(cache.KnownImages("lightvlm", {"a", "b"}).empty());
  const std::vector<ImageEmbeddings> known = cache.KnownImages("none", {"a", "b", "c"});
  ASSERT_EQ(known.size(), 2u);
  EXPECT_EQ(known[1].rows.f32()[0], 2.0f);
  EXPECT_EQ(cache.KnownImages("none", {"a", "b"}).size(), 2u);  // still kept
}

TEST(PrefixCacheTest, KeepsAtMostItsCapacityDroppingTheOldest) {
  PrefixCache cache(2);
  cache.Store(Conversation("none", {}, {1}));
  cache.Store(Conversation("none", {}, {2}));
  cache.Store(Conversation("none", {}, {3}));
  EXPECT_EQ(cache.size(), 2);
  EXPECT_EQ(cache.Take("none", {}, {1, 0}), nullptr);  // the oldest went
  EXPECT_NE(cache.Take("none", {}, {3, 0}), nullptr);
  PrefixCache none(0);
  none.Store(Conversation("none", {}, {1}));
  EXPECT_EQ(none.size(), 0);
}

TEST(PrefixCacheTest, ImageKeysAreSha256) {
  EXPECT_EQ(ImageKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace lightvlm
