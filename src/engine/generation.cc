#include "engine/generation.h"

#include <algorithm>

#include "base/error.h"

namespace lightvlm {

void CheckCanGenerate(const GenerationOptions& options, int64_t used, int64_t prompt_tokens,
                      int64_t context) {
  Check(options.max_new_tokens > 0, "max new tokens must be positive, got ",
        options.max_new_tokens);
  Check(used + prompt_tokens < context, "prompt has ", prompt_tokens,
        " tokens and leaves no room to generate in the context of ", context,
        " tokens (shorten the prompt, raise the context, or ask for truncation)");
}

Generation::Generation(const GenerationOptions& options, const Session& session,
                       int64_t prompt_tokens)
    : options_(options), sampler_(options.sampling) {
  CheckCanGenerate(options, session.length(), prompt_tokens, session.context());
  result_.prompt_tokens = prompt_tokens;
}

bool Generation::Advance(std::span<const float> logits, const Session& session,
                         const std::function<bool(int32_t)>& on_token) {
  int32_t token = 0;
  try {
    token = sampler_.Sample(logits);
  } catch (const Error& error) {
    Fail("generation step ", result_.tokens.size() + 1, " (prompt of ", result_.prompt_tokens,
         " tokens): ", error.what());
  }
  result_.tokens.push_back(token);
  if (on_token && !on_token(token)) {
    result_.stop_reason = StopReason::kCaller;
    return false;
  }
  const auto& stops = options_.stop_token_ids;
  if (std::find(stops.begin(), stops.end(), token) != stops.end()) {
    result_.stop_reason = StopReason::kStopToken;
    return false;
  }
  if (static_cast<int64_t>(result_.tokens.size()) == options_.max_new_tokens) {
    result_.stop_reason = StopReason::kMaxTokens;
    return false;
  }
  if (session.length() == session.context()) {
    result_.stop_reason = StopReason::kContextFull;
    return false;
  }
  return true;
}

}  // namespace lightvlm
