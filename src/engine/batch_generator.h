// Continuous batching: many generations share each decode step's weight reads, and requests
// join and leave the running batch between steps. A waiting request is admitted as soon as a
// slot is free (its prompt is prefilled alone, then it decodes with the others); a finished one
// leaves at once. Every sequence has its own KV cache, reducer and KV policy, so the results
// are those of generating each request alone (tested).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "base/thread_pool.h"
#include "engine/generation.h"
#include "engine/prompt.h"
#include "engine/session.h"
#include "models/decoder.h"
#include "reduce/kv_policy.h"
#include "reduce/token_reducer.h"

namespace lightvlm {

struct BatchRequest {
  Prompt prompt;
  GenerationOptions options;
  std::function<bool(int32_t)> on_token;  // may be empty; false stops this request
  // This request's own prefill reducer and KV policy (a server's per-request settings); null:
  // BatchOptions' factories make them.
  std::unique_ptr<TokenReducer> reducer = nullptr;
  std::unique_ptr<KvPolicy> kv_policy = nullptr;
  // A session that holds the conversation so far, which `prompt` continues (made with `reducer`
  // and `kv_policy`, as a HeldSession gives them back); null: a fresh session.
  std::unique_ptr<Session> session = nullptr;
  bool hold_session = false;  // once done, keep the session for TakeHeldSession
};

// A finished request's session, with the reducer and KV policy it points to: a later request that
// continues the conversation prefills only what is new.
struct HeldSession {
  std::unique_ptr<TokenReducer> reducer;
  std::unique_ptr<KvPolicy> kv_policy;
  std::unique_ptr<Session> session;
};

struct BatchOptions {
  int64_t max_batch = 8;             // sequences decoded together; the rest wait
  int64_t context = 0;               // tokens each sequence's KV cache holds
  DType kv_dtype = kDefaultKvDType;  // of each sequence's cached keys and values
  // Each sequence's own prefill reducer and KV policy (empty or null results: none).
  std::function<std::unique_ptr<TokenReducer>()> make_reducer = {};
  std::function<std::unique_ptr<KvPolicy>()> make_kv_policy = {};
};

class BatchGenerator {
 public:
  BatchGenerator(const Decoder& decoder, ThreadPool& pool, BatchOptions options);

  // Queues a request; returns its id (0, 1, ... in order of submission). Fails at once for a
  // prompt that leaves no room to generate in the context, or a non-positive token limit.
  int64_t Submit(BatchRequest request);
  // One round: admits waiting requests into free slots (prefill and first token each), then
  // one decode step of every running sequence together. Returns false when nothing is waiting
  // or running. A request whose prefill fails ends alone, with StopReason::kError and the error;
  // the others go on.
  bool Step();
  // Steps until every request is done; their results in order of submission (those not taken).
  std::vector<GenerationResult> RunToCompletion();

  bool done(int64_t id) const { return finished_.contains(id); }
  const GenerationResult& result(int64_t id) const { return finished_.at(id); }
  // Hands over a finished request's result and forgets it, so that a long-running caller (the
  // server) holds no memory for requests it has answered.
  GenerationResult TakeResult(int64_t id);
  // The session of a finished request that asked to hold it (and did not fail); null otherwise.
  std::unique_ptr<HeldSession> TakeHeldSession(int64_t id);
  int64_t running() const { return static_cast<int64_t>(running_.size()); }
  int64_t waiting() const { return static_cast<int64_t>(waiting_.size()); }
  int64_t steps() const { return steps_; }  // batched decode steps so far
  int64_t largest_batch() const { return largest_batch_; }
  size_t live_kv_bytes() const;  // the running sequences' KV caches, now

 private:
  struct Sequence {
    int64_t id;
    BatchRequest request;
    std::unique_ptr<Session> session;
    std::optional<Generation> generation;
  };

  // Prefills a waiting request; false when it finished with its first token.
  bool Admit(Sequence& sequence);
  void Finish(Sequence& sequence);

  const Decoder& decoder_;
  ThreadPool& pool_;
  BatchOptions options_;
  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::vector<std::unique_ptr<Sequence>> running_;
  int64_t submitted_ = 0;
  std::map<int64_t, GenerationResult> finished_;
  std::map<int64_t, std::unique_ptr<HeldSession>> held_;
  int64_t steps_ = 0;
  int64_t largest_batch_ = 0;
};

}  // namespace lightvlm
