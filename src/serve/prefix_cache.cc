#include "serve/prefix_cache.h"

#include <openssl/evp.h>

#include <algorithm>

namespace lightvlm {
namespace {

bool BeginsWith(const std::vector<std::string>& keys, const std::vector<std::string>& prefix) {
  return prefix.size() <= keys.size() && std::equal(prefix.begin(), prefix.end(), keys.begin());
}

ImageEmbeddings CopyOf(const ImageEmbeddings& image) {
  return {image.rows.Copy(), image.grids, image.prompt_text, image.vision_saliency};
}

}  // namespace

std::string ImageKey(const std::string& url) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(url.data(), url.size(), digest, &length, EVP_sha256(), nullptr);
  constexpr char kHex[] = "0123456789abcdef";
  std::string key;
  for (unsigned int i = 0; i < length; ++i) {
    key += kHex[digest[i] >> 4];
    key += kHex[digest[i] & 15];
  }
  return key;
}

std::vector<ImageEmbeddings> PrefixCache::KnownImages(
    const std::string& settings, const std::vector<std::string>& image_keys) const {
  const CachedConversation* best = nullptr;
  for (const auto& kept : kept_) {
    if (kept->settings == settings && BeginsWith(image_keys, kept->image_keys) &&
        (best == nullptr || kept->image_keys.size() > best->image_keys.size())) {
      best = kept.get();
    }
  }
  std::vector<ImageEmbeddings> images;
  if (best != nullptr) {
    for (const ImageEmbeddings& image : best->images) images.push_back(CopyOf(image));
  }
  return images;
}

std::unique_ptr<CachedConversation> PrefixCache::Take(const std::string& settings,
                                                      const std::vector<std::string>& image_keys,
                                                      const std::vector<int32_t>& tokens) {
  auto best = kept_.end();
  for (auto it = kept_.begin(); it != kept_.end(); ++it) {
    const CachedConversation& kept = **it;
    const bool continues = kept.settings == settings && kept.tokens.size() < tokens.size() &&
                           std::equal(kept.tokens.begin(), kept.tokens.end(), tokens.begin()) &&
                           BeginsWith(image_keys, kept.image_keys);
    if (continues && (best == kept_.end() || kept.tokens.size() > (*best)->tokens.size())) {
      best = it;
    }
  }
  if (best == kept_.end()) return nullptr;
  std::unique_ptr<CachedConversation> taken = std::move(*best);
  kept_.erase(best);
  return taken;
}

void PrefixCache::Store(std::unique_ptr<CachedConversation> conversation) {
  if (capacity_ <= 0) return;
  kept_.push_front(std::move(conversation));
  while (static_cast<int64_t>(kept_.size()) > capacity_) kept_.pop_back();
}

}  // namespace lightvlm
