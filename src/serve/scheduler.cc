#include "serve/scheduler.h"

#include <chrono>

#include "base/log.h"
#include "io/tokenizer.h"
#include "serve/stop_strings.h"

namespace lightvlm {

struct Job::Stream {
  WholeTextStream decoder;
  StopStringFilter filter;
  const std::vector<int32_t>& stop_token_ids;
};

Job::State Job::Wait(size_t& offset, std::string& text, int timeout_ms) {
  std::unique_lock lock(mutex_);
  const auto ready = [&] {
    return text_.size() > offset || state_ == State::kDone || state_ == State::kFailed;
  };
  changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), ready);
  text.append(text_, offset);
  offset = text_.size();
  return state_;
}

Job::State Job::WaitStarted(int timeout_ms) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                    [&] { return state_ != State::kQueued; });
  return state_;
}

void Job::SetState(State state) {
  {
    std::lock_guard lock(mutex_);
    state_ = state;
  }
  changed_.notify_all();
}

void Job::Append(const std::string& text) {
  if (text.empty()) return;
  {
    std::lock_guard lock(mutex_);
    text_ += text;
  }
  changed_.notify_all();
}

void Job::Fail(const ApiError& error) {
  {
    std::lock_guard lock(mutex_);
    error_ = std::make_unique<ApiError>(error);
    state_ = State::kFailed;
  }
  changed_.notify_all();
}

namespace {

std::string Joined(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

std::unique_ptr<TokenReducer> RequestReducer(const SchedulerOptions& options,
                                             const MethodSettings& method, int64_t& final_tokens,
                                             std::string& settings) {
  const std::string name = method.reduce.value_or(options.reduce);
  const std::vector<std::string> names = TokenReducerNames();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    throw ApiError(
        400, "invalid_request_error",
        StrCat("lightvlm.reduce: unknown reducer \"", name, "\" (known: ", Joined(names), ")"),
        "lightvlm.reduce");
  }
  ReducerOptions reducer = options.reducer;
  if (method.keep) reducer.budget = {*method.keep, -1};
  if (method.final_tokens) reducer.budget.final_tokens = *method.final_tokens;
  if ((method.keep || method.final_tokens) && name == "none") {
    throw ApiError(400, "invalid_request_error",
                   "lightvlm: keep and final_tokens need a reducer (lightvlm.reduce)",
                   "lightvlm.reduce");
  }
  final_tokens = reducer.budget.final_tokens;
  settings += StrCat(name, " keep ", reducer.budget.keep, " final ", final_tokens, "; ");
  try {
    return MakeTokenReducer(name, reducer);
  } catch (const Error& error) {
    throw ApiError(400, "invalid_request_error", StrCat("lightvlm: ", error.what()), "lightvlm");
  }
}

std::unique_ptr<KvPolicy> RequestKvPolicy(const SchedulerOptions& options,
                                          const MethodSettings& method, std::string& settings) {
  const std::string name = method.kv.value_or(options.kv);
  const std::vector<std::string> names = KvPolicyNames();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    throw ApiError(
        400, "invalid_request_error",
        StrCat("lightvlm.kv: unknown KV policy \"", name, "\" (known: ", Joined(names), ")"),
        "lightvlm.kv");
  }
  KvPolicyOptions policy = options.kv_policy;
  if (method.kv_budget) {
    if (name == "none") {
      throw ApiError(400, "invalid_request_error",
                     "lightvlm: kv_budget needs a KV policy (lightvlm.kv)", "lightvlm.kv");
    }
    policy.budget = *method.kv_budget;
  }
  settings += StrCat(name, " budget ", policy.budget);
  try {
    return MakeKvPolicy(name, policy);
  } catch (const Error& error) {
    throw ApiError(400, "invalid_request_error", StrCat("lightvlm: ", error.what()), "lightvlm");
  }
}

}  // namespace

Scheduler::Scheduler(const Model& model, SchedulerOptions options, int threads,
                     ServerMetrics& metrics)
    : model_(model),
      options_(std::move(options)),
      metrics_(metrics),
      pool_(threads),
      generator_(NewBatch()),
      prefix_cache_(options_.cached_conversations) {
  Check(options_.context > 0 && options_.context <= model.config().max_position_embeddings,
        "serve: a context of ", options_.context, " tokens is outside 1..",
        model.config().max_position_embeddings, " (config.json: max_position_embeddings)");
  // Fail on bad server-wide method settings before serving anything.
  int64_t final_tokens = 0;
  std::string settings;
  RequestReducer(options_, {}, final_tokens, settings);
  RequestKvPolicy(options_, {}, settings);
  thread_ = std::thread([this] { Loop(); });
}

Scheduler::~Scheduler() { Shutdown(); }

std::unique_ptr<BatchGenerator> Scheduler::NewBatch() {
  return std::make_unique<BatchGenerator>(model_.decoder(), pool_,
                                          BatchOptions{.max_batch = options_.parallel,
                                                       .context = options_.context,
                                                       .kv_dtype = options_.kv_dtype});
}

std::shared_ptr<Job> Scheduler::Submit(ChatRequest request) {
  if (!accepting_) throw ApiError(503, "shutting_down", "the server is shutting down");
  auto job = std::make_shared<Job>();
  job->reducer_ = RequestReducer(options_, request.method, job->final_tokens_, job->settings_);
  job->kv_policy_ = RequestKvPolicy(options_, request.method, job->settings_);
  if (request.image_count() > 0 && model_.language_model->image_token_id() < 0) {
    throw ApiError(400, "invalid_request_error",
                   StrCat("the model ", model_.path, " takes no images"), "messages");
  }
  for (const RequestMessage& message : request.messages) {
    for (const RequestImage& image : message.images) {
      job->images_.push_back(LoadImageUrl(image.url, image.name, options_.images));
      job->image_keys_.push_back(ImageKey(image.url));
    }
  }
  GenerationOptions& generation = job->generation_;
  generation = options_.generation;
  generation.stop_token_ids = model_.stop_token_ids;
  if (request.max_tokens) generation.max_new_tokens = *request.max_tokens;
  if (request.temperature) generation.sampling.temperature = *request.temperature;
  if (request.top_p) generation.sampling.top_p = *request.top_p;
  if (request.seed) generation.sampling.seed = *request.seed;
  job->request_ = std::move(request);
  {
    std::lock_guard lock(mutex_);
    // The queue holds requests the engine thread has not taken yet, even where a slot is free.
    if (std::ssize(queue_) + active_ >= options_.parallel + options_.max_queue) {
      throw ApiError(429, "queue_full",
                     StrCat("the server's queue is full (", options_.max_queue,
                            " requests waiting, --max-queue); retry later"));
    }
    queue_.push_back(job);
  }
  work_.notify_one();
  return job;
}

bool Scheduler::idle() const {
  std::lock_guard lock(mutex_);
  return queue_.empty() && active_ == 0;
}

void Scheduler::Shutdown() {
  accepting_ = false;
  {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable()) return;
    stop_ = true;
  }
  work_.notify_one();
  thread_.join();
}

MetricsGauges Scheduler::Gauges() const {
  std::lock_guard lock(mutex_);
  return {static_cast<int64_t>(queue_.size()), active_.load(), kv_bytes_.load()};
}

Prompt Scheduler::ConversationPrompt(Job& request) {
  std::vector<ChatMessage> messages;
  for (const RequestMessage& message : request.request_.messages) {
    messages.push_back({message.role, message.text, static_cast<int64_t>(message.images.size())});
  }
  // Images a kept conversation has are not encoded again.
  request.embeddings_ = prefix_cache_.KnownImages(request.settings_, request.image_keys_);
  for (size_t i = request.embeddings_.size(); i < request.images_.size(); ++i) {
    request.embeddings_.push_back(model_.language_model->EncodeImage(pool_, request.images_[i]));
  }
  request.images_.clear();
  Prompt prompt = MakeConversationPrompt(model_, messages, request.embeddings_);
  if (prompt.size() >= options_.context) {
    throw ApiError(400, "context_length_exceeded",
                   StrCat("the prompt has ", prompt.size(), " tokens; the context holds ",
                          options_.context, " and one more must fit for the answer"),
                   "messages");
  }
  if (request.final_tokens_ > prompt.image_rows()) {
    throw ApiError(400, "invalid_request_error",
                   StrCat("lightvlm.final_tokens ", request.final_tokens_,
                          " is more than the prompt's ", prompt.image_rows(), " image tokens"),
                   "lightvlm.final_tokens");
  }
  return prompt;
}

Prompt Scheduler::ContinueKeptConversation(Job& request, Prompt prompt,
                                           BatchRequest& batch_request) {
  std::unique_ptr<CachedConversation> cached =
      prefix_cache_.Take(request.settings_, request.image_keys_, prompt.token_ids);
  if (!cached) return prompt;
  std::optional<Prompt> rest = PromptSuffix(prompt, std::ssize(cached->tokens));
  if (!rest) return prompt;
  request.cached_tokens_ = std::ssize(cached->tokens);
  batch_request.session = std::move(cached->held->session);
  request.reducer_ = std::move(cached->held->reducer);
  request.kv_policy_ = std::move(cached->held->kv_policy);
  return std::move(*rest);
}

bool Scheduler::Start(const std::shared_ptr<Job>& job, int64_t& id) {
  Job& request = *job;
  try {
    Prompt prompt = ConversationPrompt(request);
    request.prompt_ids_ = prompt.token_ids;
    request.prompt_tokens_ = std::ssize(request.prompt_ids_);
    BatchRequest batch_request;
    batch_request.prompt = ContinueKeptConversation(request, std::move(prompt), batch_request);
    request.stream_ = std::make_shared<Job::Stream>(
        Job::Stream{WholeTextStream(*model_.tokenizer, /*skip_special=*/true),
                    StopStringFilter(request.request_.stop), model_.stop_token_ids});
    std::shared_ptr<Job::Stream> stream = request.stream_;
    Job* raw = job.get();
    batch_request.on_token = [raw, stream](int32_t token) {
      if (raw->cancelled_) return false;
      const std::vector<int32_t>& stops = stream->stop_token_ids;
      if (std::find(stops.begin(), stops.end(), token) != stops.end()) return true;
      raw->Append(stream->filter.Push(stream->decoder.Push(token)));
      return !stream->filter.stopped();
    };
    batch_request.options = request.generation_;
    batch_request.reducer = std::move(request.reducer_);
    batch_request.kv_policy = std::move(request.kv_policy_);
    batch_request.hold_session = options_.cached_conversations > 0;
    id = generator_->Submit(std::move(batch_request));
    request.SetState(Job::State::kRunning);
    return true;
  } catch (const ApiError& error) {
    request.Fail(error);
  } catch (const Error& error) {
    request.Fail(ApiError(400, "invalid_request_error", error.what()));
  }
  return false;
}

void Scheduler::Finish(Job& job, GenerationResult result, std::unique_ptr<HeldSession> held) {
  if (result.stop_reason == StopReason::kError) {
    job.Fail(ApiError(500, "server_error", result.error));
    return;
  }
  metrics_.CountGeneration(result.prompt_tokens, std::ssize(result.tokens),
                           result.prefill_ms / 1000, result.decode_ms / 1000, result.image_tokens,
                           result.kept_image_tokens);
  if (result.stop_reason == StopReason::kCaller && job.cancelled_) {
    job.Fail(ApiError(503, "cancelled", "the request was cancelled (client gone or shutdown)"));
    return;
  }
  metrics_.CountCachedPrompt(job.cached_tokens_);
  if (held != nullptr && result.stop_reason != StopReason::kContextFull) {
    // The session holds the prompt and the answer but its last token, sampled and never run.
    std::vector<int32_t> tokens = std::move(job.prompt_ids_);
    tokens.insert(tokens.end(), result.tokens.begin(), result.tokens.end() - 1);
    prefix_cache_.Store(std::make_unique<CachedConversation>(
        CachedConversation{job.settings_, job.image_keys_, std::move(job.embeddings_),
                           std::move(tokens), std::move(held)}));
  }
  Job::Stream& stream = *job.stream_;
  job.Append(stream.filter.Push(stream.decoder.Finish()));
  job.Append(stream.filter.Finish());
  {
    std::lock_guard lock(job.mutex_);
    job.completion_tokens_ = std::ssize(result.tokens);
    const bool stopped = result.stop_reason == StopReason::kStopToken || stream.filter.stopped();
    job.finish_reason_ = stopped ? "stop" : "length";
    job.state_ = Job::State::kDone;
  }
  job.changed_.notify_all();
}

void Scheduler::Loop() {
  for (;;) {
    std::vector<std::shared_ptr<Job>> starting;
    {
      std::unique_lock lock(mutex_);
      work_.wait(lock, [&] { return stop_ || !queue_.empty() || !running_.empty(); });
      if (stop_) {
        for (const auto& job : queue_) {
          job->Fail(ApiError(503, "shutting_down", "the server shut down before the request ran"));
        }
        queue_.clear();
        for (const auto& [id, job] : running_) job->Cancel();
        if (running_.empty()) return;
      }
      while (std::ssize(running_) + std::ssize(starting) < options_.parallel && !queue_.empty()) {
        starting.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      active_ = std::ssize(running_) + std::ssize(starting);
    }
    for (const std::shared_ptr<Job>& job : starting) {
      if (job->cancelled_) continue;
      int64_t id = 0;
      if (Start(job, id)) running_[id] = job;
    }
    active_ = std::ssize(running_);
    try {
      generator_->Step();
    } catch (const Error& error) {
      // A decode step failed for the whole batch: every running request ends with it.
      LogVerbose("serve: a decode step failed: ", error.what());
      for (const auto& [id, job] : running_) job->Fail(ApiError(500, "server_error", error.what()));
      running_.clear();
      generator_ = NewBatch();
    }
    kv_bytes_ = static_cast<int64_t>(generator_->live_kv_bytes());
    for (auto it = running_.begin(); it != running_.end();) {
      if (!generator_->done(it->first)) {
        ++it;
        continue;
      }
      Finish(*it->second, generator_->TakeResult(it->first),
             generator_->TakeHeldSession(it->first));
      it = running_.erase(it);
    }
    active_ = std::ssize(running_);
  }
}

}  // namespace lightvlm
