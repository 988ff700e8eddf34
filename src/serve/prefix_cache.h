// Sessions of answered requests, kept for the next turn of their conversations. A request whose
// prompt begins with a kept conversation's prompt and answer (the same tokens, the same images,
// the same method settings) continues that session: only the rest is prefilled, and the images
// the conversation already had are not encoded again. OpenAI reports such tokens as
// usage.prompt_tokens_details.cached_tokens. At most `capacity` conversations are kept (their KV
// caches count against --max-kv-bytes); the one stored longest ago goes first.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "engine/batch_generator.h"
#include "models/image_embeddings.h"

namespace lightvlm {

struct CachedConversation {
  std::string settings;                 // the method settings its session runs under
  std::vector<std::string> image_keys;  // each image's digest, in order
  std::vector<ImageEmbeddings> images;  // their embeddings
  std::vector<int32_t> tokens;          // what its session holds: prompt, then answer
  std::unique_ptr<HeldSession> held;
};

// The digest that identifies an image by its URL's bytes (SHA-256, hex).
std::string ImageKey(const std::string& url);

class PrefixCache {
 public:
  explicit PrefixCache(int64_t capacity) : capacity_(capacity) {}

  // Copies of the embeddings of the first of `image_keys` that a kept conversation under
  // `settings` holds, as many as it holds in a row from the first.
  std::vector<ImageEmbeddings> KnownImages(const std::string& settings,
                                           const std::vector<std::string>& image_keys) const;
  // Takes out the kept conversation under `settings` whose tokens are the longest strict prefix
  // of `tokens` and whose images are the first of `image_keys`; null when there is none.
  std::unique_ptr<CachedConversation> Take(const std::string& settings,
                                           const std::vector<std::string>& image_keys,
                                           const std::vector<int32_t>& tokens);
  void Store(std::unique_ptr<CachedConversation> conversation);
  int64_t size() const { return static_cast<int64_t>(kept_.size()); }

 private:
  int64_t capacity_;
  std::list<std::unique_ptr<CachedConversation>> kept_;  // the newest first
};

}  // namespace lightvlm
