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
  const auto id = static_cast<int64_t>(results_.size());
  results_.emplace_back();
  waiting_.push_back(std::make_unique<Sequence>(Sequence{id, std::move(request), {}, {}, {}, {}}));
  return id;
}

bool BatchGenerator::Admit(Sequence& sequence) {
  sequence.session =
      std::make_unique<Session>(decoder_, pool_, options_.context, options_.kv_dtype);
  if (options_.make_reducer) sequence.reducer = options_.make_reducer();
  if (options_.make_kv_policy) sequence.kv_policy = options_.make_kv_policy();
  sequence.session->SetTokenReducer(sequence.reducer.get());
  sequence.session->SetKvPolicy(sequence.kv_policy.get());
  Generation& generation = sequence.generation.emplace(sequence.request.options, *sequence.session,
                                                       sequence.request.prompt.size());
  const auto start = Clock::now();
  const std::vector<float> logits = sequence.session->Prefill(sequence.request.prompt);
  generation.result().prefill_ms = MillisecondsSince(start);
  return generation.Advance(logits, *sequence.session, sequence.request.on_token);
}

void BatchGenerator::Finish(Sequence& sequence) {
  results_.at(sequence.id) = std::move(sequence.generation->result());
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
  for (std::optional<GenerationResult>& result : results_) {
    Check(result.has_value(), "a batched request did not finish");
    results.push_back(std::move(*result));
  }
  return results;
}

}  // namespace lightvlm
