#include "engine/batch_generator.h"

#include <utility>

#include "base/clock.h"
#include "base/error.h"

namespace lightvlm {

BatchGenerator::BatchGenerator(const Decoder& decoder, ThreadPool& pool, BatchOptions options)
    : decoder_(decoder), pool_(pool), options_(std::move(options)) {
  Check(options_.max_batch > 0, "batch size must be positive, got ", options_.max_batch);
  Check(options_.context > 0, "batch context must be positive, got ", options_.context);
}

int64_t BatchGenerator::Submit(BatchRequest request) {
  CheckCanGenerate(request.options, 0, request.prompt.size(), options_.context);
  const int64_t id = submitted_++;
  waiting_.push_back(std::make_unique<Sequence>(Sequence{id, std::move(request), {}, {}}));
  return id;
}

bool BatchGenerator::Admit(Sequence& sequence) {
  BatchRequest& request = sequence.request;
  if (request.session) {
    sequence.session = std::move(request.session);
  } else {
    sequence.session =
        std::make_unique<Session>(decoder_, pool_, options_.context, options_.kv_dtype);
    if (!request.reducer && options_.make_reducer) request.reducer = options_.make_reducer();
    if (!request.kv_policy && options_.make_kv_policy) {
      request.kv_policy = options_.make_kv_policy();
    }
    sequence.session->SetTokenReducer(request.reducer.get());
    sequence.session->SetKvPolicy(request.kv_policy.get());
  }
  Generation& generation =
      sequence.generation.emplace(request.options, *sequence.session, request.prompt.size());
  try {
    const auto start = Clock::now();
    const std::vector<float> logits = sequence.session->Prefill(request.prompt);
    generation.result().prefill_ms = MillisecondsSince(start);
    generation.result().image_tokens = request.prompt.image_rows();
    generation.result().kept_image_tokens = sequence.session->prompt_image_tokens();
    return generation.Advance(logits, *sequence.session, request.on_token);
  } catch (const Error& error) {
    generation.result().stop_reason = StopReason::kError;
    generation.result().error = error.what();
    return false;
  }
}

GenerationResult BatchGenerator::TakeResult(int64_t id) {
  const auto it = finished_.find(id);
  Check(it != finished_.end(), "batched request ", id, " has not finished");
  GenerationResult result = std::move(it->second);
  finished_.erase(it);
  return result;
}

std::unique_ptr<HeldSession> BatchGenerator::TakeHeldSession(int64_t id) {
  const auto it = held_.find(id);
  if (it == held_.end()) return nullptr;
  std::unique_ptr<HeldSession> held = std::move(it->second);
  held_.erase(it);
  return held;
}

size_t BatchGenerator::live_kv_bytes() const {
  size_t bytes = 0;
  for (const auto& sequence : running_) bytes += sequence->session->cache().bytes();
  return bytes;
}

void BatchGenerator::Finish(Sequence& sequence) {
  finished_[sequence.id] = std::move(sequence.generation->result());
  BatchRequest& request = sequence.request;
  if (request.hold_session && finished_[sequence.id].stop_reason != StopReason::kError) {
    held_[sequence.id] = std::make_unique<HeldSession>(HeldSession{
        std::move(request.reducer), std::move(request.kv_policy), std::move(sequence.session)});
  }
}

bool BatchGenerator::Step() {
  while (running() < options_.max_batch && !waiting_.empty()) {
    std::unique_ptr<Sequence> sequence = std::move(waiting_.front());
    waiting_.pop_front();
    if (Admit(*sequence)) {
      running_.push_back(std::move(sequence));
    } else {
      Finish(*sequence);
    }
  }
  if (running_.empty()) return !waiting_.empty();

  std::vector<Session*> sessions;
  std::vector<int32_t> tokens;
  for (const auto& sequence : running_) {
    sessions.push_back(sequence->session.get());
    tokens.push_back(sequence->generation->last_token());
  }
  const auto start = Clock::now();
  const std::vector<std::vector<float>> logits = Session::DecodeBatch(sessions, tokens);
  const double step_ms = MillisecondsSince(start);
  ++steps_;
  largest_batch_ = std::max(largest_batch_, running());
  std::vector<std::unique_ptr<Sequence>> still_running;
  for (size_t b = 0; b < running_.size(); ++b) {
    Sequence& sequence = *running_[b];
    // Every sequence in the step waited for all of it.
    sequence.generation->result().decode_ms += step_ms;
    if (sequence.generation->Advance(logits[b], *sequence.session, sequence.request.on_token)) {
      still_running.push_back(std::move(running_[b]));
    } else {
      Finish(sequence);
    }
  }
  running_ = std::move(still_running);
  return !running_.empty() || !waiting_.empty();
}

std::vector<GenerationResult> BatchGenerator::RunToCompletion() {
  while (Step()) {
  }
  std::vector<GenerationResult> results;
  for (auto& [id, result] : finished_) results.push_back(std::move(result));
  finished_.clear();
  return results;
}

}  // namespace lightvlm
