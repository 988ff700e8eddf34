// The server's engine thread. Requests wait in a bounded queue, are admitted into free slots of
// the engine's continuous batching (images encoded by the vision tower, the conversation rendered
// in the checkpoint's chat format, prefilled with the request's own reducer and KV policy), and
// decode together; each answer's text streams to the HTTP thread that waits on its Job.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/thread_pool.h"
#include "engine/batch_generator.h"
#include "engine/model.h"
#include "reduce/kv_policy.h"
#include "reduce/token_reducer.h"
#include "serve/api_error.h"
#include "serve/chat_request.h"
#include "serve/image_url.h"
#include "serve/metrics.h"
#include "serve/prefix_cache.h"

namespace lightvlm {

struct SchedulerOptions {
  int64_t parallel = 4;               // sequences decoded together (slots)
  int64_t max_queue = 64;             // requests waiting for a slot; more are refused (429)
  int64_t context = 0;                // tokens each sequence's KV cache holds
  DType kv_dtype = kDefaultKvDType;   // of the cached keys and values
  GenerationOptions generation = {};  // defaults for the requests: max tokens, sampling
  std::string reduce = "none";
  ReducerOptions reducer = {};
  std::string kv = "none";
  KvPolicyOptions kv_policy = {};
  ImageUrlOptions images = {};
  // Answered conversations kept for their next turn (serve/prefix_cache.h); 0: none.
  int64_t cached_conversations = 0;
};

// One request, shared by the HTTP thread that answers it and the engine thread that runs it.
class Job {
 public:
  enum class State { kQueued, kRunning, kDone, kFailed };

  // Waits until the answer has text past `offset`, or the job leaves `kQueued`/`kRunning`, or
  // `timeout_ms` passes; appends the new text to `text`, advances `offset`, returns the state.
  State Wait(size_t& offset, std::string& text, int timeout_ms);
  // The engine accepted the prompt (its state left kQueued): waits up to `timeout_ms`.
  State WaitStarted(int timeout_ms);
  void Cancel() { cancelled_ = true; }  // the client left: the engine drops the job

  // Once done: why the answer ended ("stop" or "length") and its token counts.
  const std::string& finish_reason() const { return finish_reason_; }
  int64_t prompt_tokens() const { return prompt_tokens_; }
  int64_t cached_tokens() const { return cached_tokens_; }  // of them, continued from the cache
  int64_t completion_tokens() const { return completion_tokens_; }
  const ApiError& error() const { return *error_; }  // once failed
  bool stream() const { return request_.stream; }
  bool include_usage() const { return request_.include_usage; }

 private:
  friend class Scheduler;
  struct Stream;  // the engine thread's decoding of the answer's text

  void SetState(State state);
  void Append(const std::string& text);
  void Fail(const ApiError& error);

  ChatRequest request_;
  std::vector<Image> images_;                // decoded by the HTTP thread
  std::vector<std::string> image_keys_;      // their digests (ImageKey)
  std::string settings_;                     // the method settings, for the prefix cache
  std::vector<ImageEmbeddings> embeddings_;  // encoded by the engine thread; the prompt's rows
  GenerationOptions generation_;
  std::unique_ptr<TokenReducer> reducer_;
  int64_t final_tokens_ = -1;  // the reducer's budget as a count, or -1
  std::unique_ptr<KvPolicy> kv_policy_;
  std::shared_ptr<Stream> stream_;
  std::atomic<bool> cancelled_ = false;

  std::mutex mutex_;
  std::condition_variable changed_;
  State state_ = State::kQueued;
  std::string text_;
  std::unique_ptr<ApiError> error_;
  std::string finish_reason_;
  int64_t prompt_tokens_ = 0;
  int64_t cached_tokens_ = 0;
  int64_t completion_tokens_ = 0;
  std::vector<int32_t> prompt_ids_;  // the whole prompt, for the prefix cache
};

class Scheduler {
 public:
  // `model` must outlive this. Starts the engine thread, with `threads` compute threads.
  Scheduler(const Model& model, SchedulerOptions options, int threads, ServerMetrics& metrics);
  ~Scheduler();

  // Checks the request (the method's names and values, the images' bytes), queues it and returns
  // its job. Throws ApiError: 400 for a bad request, 429 when the queue is full, 503 once
  // shutting down.
  std::shared_ptr<Job> Submit(ChatRequest request);

  // Refuses new requests from now on (503); the queued and running ones go on.
  void StopAccepting() { accepting_ = false; }
  bool idle() const;  // nothing queued or running
  // Cancels every queued and running job, and ends the engine thread.
  void Shutdown();

  MetricsGauges Gauges() const;

 private:
  void Loop();
  // Encodes the job's images, builds its prompt and hands it to the batch; false when it failed.
  bool Start(const std::shared_ptr<Job>& job, int64_t& id);
  // The job's whole conversation as a prompt, its new images encoded; ApiError if it cannot run.
  Prompt ConversationPrompt(Job& request);
  // The part of `prompt` after a kept conversation it continues, that conversation's session,
  // reducer and KV policy moved into the batch request and the job; else `prompt` itself.
  Prompt ContinueKeptConversation(Job& request, Prompt prompt, BatchRequest& batch_request);
  void Finish(Job& job, GenerationResult result, std::unique_ptr<HeldSession> held);

  const Model& model_;
  SchedulerOptions options_;
  ServerMetrics& metrics_;
  ThreadPool pool_;
  std::unique_ptr<BatchGenerator> generator_;
  // A new, empty batch.
  std::unique_ptr<BatchGenerator> NewBatch();
  std::atomic<bool> accepting_ = true;

  mutable std::mutex mutex_;
  std::condition_variable work_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stop_ = false;
  std::atomic<int64_t> active_ = 0;                  // jobs in the batch
  std::atomic<int64_t> kv_bytes_ = 0;                // after the last step
  std::map<int64_t, std::shared_ptr<Job>> running_;  // by the batch's request id; engine thread
  PrefixCache prefix_cache_;                         // engine thread
  std::thread thread_;
};

}  // namespace lightvlm
