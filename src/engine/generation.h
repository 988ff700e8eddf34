// The sampling and stop rules of one generation, token by token: shared by Session::Generate
// (one sequence) and BatchGenerator (many sequences sharing decode steps).
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "engine/sampler.h"
#include "engine/session.h"

namespace lightvlm {

// Fails unless `options` asks for at least one token and a prompt of `prompt_tokens` after the
// `used` tokens already in a cache of `context` leaves room to generate one.
void CheckCanGenerate(const GenerationOptions& options, int64_t used, int64_t prompt_tokens,
                      int64_t context);

class Generation {
 public:
  // Fails as CheckCanGenerate does for `prompt_tokens` more tokens in `session`.
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
