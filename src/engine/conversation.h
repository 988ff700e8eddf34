// A conversation of several turns with one model. Each turn renders the whole conversation in the
// model's chat format; when the text the session already holds (the earlier prompts and answers)
// begins it, only the rest is tokenized and prefilled, so the KV cache of earlier turns (and their
// images' tokens) is reused. A template that rewrites earlier turns starts the session over.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "engine/model.h"
#include "engine/session.h"

namespace lightvlm {

class KvPolicy;
class TokenReducer;

class Conversation {
 public:
  // `model`, `pool`, and the reducer and policy (null for none) must outlive this.
  Conversation(const Model& model, ThreadPool& pool, int64_t context, TokenReducer* reducer,
               KvPolicy* kv_policy, DType kv_dtype = kDefaultKvDType);

  // Adds the user's turn (`images` placed before `text`), streams the answer to `on_token` and
  // adds it as the assistant's turn. On an error (a prompt over the context) the conversation is
  // as before the call, or empty when the session had started over for it.
  GenerationResult Ask(const std::string& text, std::vector<ImageEmbeddings> images,
                       const GenerationOptions& options,
                       const std::function<bool(int32_t)>& on_token);
  // Forgets every turn.
  void Reset();

  const Session& session() const { return *session_; }
  int64_t turns() const { return static_cast<int64_t>(messages_.size()); }
  // Prompt tokens of the last turn taken from the cache rather than prefilled.
  int64_t reused_tokens() const { return reused_tokens_; }

 private:
  void StartSession();

  const Model& model_;
  ThreadPool& pool_;
  int64_t context_;
  DType kv_dtype_;
  TokenReducer* reducer_;
  KvPolicy* kv_policy_;
  std::unique_ptr<Session> session_;
  std::vector<ChatMessage> messages_;
  std::vector<ImageEmbeddings> images_;  // every image of the conversation, in order
  std::string held_text_;                // what the session holds, as text
  int64_t reused_tokens_ = 0;
};

}  // namespace lightvlm
