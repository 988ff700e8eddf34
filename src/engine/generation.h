// The sampling and stop rules of one generation, token by token: shared by Session::Generate
// (one sequence) and BatchGenerator (many sequences sharing decode steps).
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "engine/sampler.h"
#include "engine/session.h"

namespace lightvlm {

class Generation {
 public:
  // Checks that `prompt_tokens` more tokens leave `session` room to generate; fails if not.
  Generation(const GenerationOptions& options, const Session& session, int64_t prompt_tokens);

  // Samples the next token from `logits` (the last row's, after prefill or a decode step) and
  // records it; `on_token` (may be empty) sees it and may return false to stop. Returns whether
  // the generation goes on: then the caller decodes last_token() next.
  bool Advance(std::span<const float> logits, const Session& session,
               const std::function<bool(int32_t)>& on_token);

  int32_t last_token() const { return result_.tokens.back(); }
  GenerationResult& result() { return result_; }

 private:
  GenerationOptions options_;
  Sampler sampler_;
  GenerationResult result_;
};

}  // namespace lightvlm
