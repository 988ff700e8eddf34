// One conversation with a model: prefill of the prompt into a KV cache, then the decode loop
// with sampling and stop conditions.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "engine/prompt.h"
#include "engine/sampler.h"
#include "models/decoder.h"
#include "models/kv_cache.h"

namespace lightvlm {

class KvPolicy;
class TokenReducer;

struct GenerationOptions {
  int64_t max_new_tokens = 256;
  SamplingOptions sampling;
  std::vector<int32_t> stop_token_ids;  // generation ends after emitting one of these
};

enum class StopReason { kStopToken, kMaxTokens, kContextFull, kCaller, kError };
const char* StopReasonName(StopReason reason);

struct GenerationResult {
  std::vector<int32_t> tokens;  // generated, the stop token included when one ended it
  StopReason stop_reason = StopReason::kMaxTokens;
  int64_t prompt_tokens = 0;
  double prefill_ms = 0;
  double decode_ms = 0;
  int64_t image_tokens = 0;       // the prompt's image rows
  int64_t kept_image_tokens = 0;  // of them, left after prefill reduction's last stage
  std::string error;              // kError: why the request failed
};

// Keeps the last `limit` tokens of a prompt, and its first token too when `keep_first` (a BOS).
std::vector<int32_t> TruncatePrompt(std::span<const int32_t> prompt, int64_t limit,
                                    bool keep_first);

class Session {
 public:
  // `context` bounds the tokens (prompt and generated) held in the KV cache, whose keys and
  // values are stored in `kv_dtype` (F32 or BF16).
  Session(const Decoder& decoder, ThreadPool& pool, int64_t context,
          DType kv_dtype = kDefaultKvDType);

  // Appends `prompt` to the conversation and returns the logits [vocab_size] of its last row.
  // Fails when it does not fit in the context.
  std::vector<float> Prefill(const Prompt& prompt);
  // Reduces the image tokens of later prompts in prefill with `reducer` (not owned; null for
  // none).
  void SetTokenReducer(TokenReducer* reducer) { reducer_ = reducer; }
  // Compresses the KV cache with `policy` after later prompts' prefill and during decode (not
  // owned; null for none). Set it before the first prompt: its scores follow the cache.
  void SetKvPolicy(KvPolicy* policy) { kv_policy_ = policy; }
  std::vector<float> Prefill(std::span<const int32_t> tokens);  // a text-only prompt
  // One decode step: appends `token` and returns the logits [vocab_size] of the next one.
  std::vector<float> Decode(int32_t token);
  // One decode step of several sessions together (batching): sessions[b] appends tokens[b], and
  // the result's row b holds its logits [vocab_size] of the next token. The sessions may be at
  // different lengths, each with its own cache and KV policy; they must share one decoder and
  // one pool. The weights are read once for the whole step, not once per session.
  static std::vector<std::vector<float>> DecodeBatch(std::span<Session* const> sessions,
                                                     std::span<const int32_t> tokens);
  // For benchmarks: fills every layer's cache with `tokens` entries of random keys and values, as
  // if a text prompt of that length had been prefilled, without running the model; the KV policy
  // then compresses it as after a prefill (no attention was seen: ties keep the earliest).
  void PrefillSynthetic(int64_t tokens, uint64_t seed);

  // Prefills `prompt` and generates; `on_token` sees each new token and may return false to
  // stop. The prompt must leave room for at least one new token.
  GenerationResult Generate(const Prompt& prompt, const GenerationOptions& options,
                            const std::function<bool(int32_t)>& on_token);
  GenerationResult Generate(std::span<const int32_t> prompt, const GenerationOptions& options,
                            const std::function<bool(int32_t)>& on_token);

  int64_t context() const { return context_; }
  int64_t length() const { return length_; }  // tokens in the conversation so far
  // The rotary position the next token takes: the length, unless a prompt's family positions
  // (M-RoPE) advanced it otherwise.
  int64_t next_position() const { return next_position_; }
  const KvCache& cache() const { return cache_; }
  // The most bytes the cache's live entries held at once, measured after every forward pass
  // (before compression: what attention read).
  size_t peak_kv_bytes() const { return peak_kv_bytes_; }
  // Image tokens of the prompts so far that are left after prefill reduction's last stage.
  int64_t prompt_image_tokens() const { return prompt_image_tokens_; }

 private:
  // Runs `prompt` through the decoder: a prompt's prefill, or a decode step's one token.
  std::vector<float> Forward(const Prompt& prompt, bool is_prompt);
  // Counts the prompt's text and (reduced) image tokens, and begins the KV policy's budget on
  // them.
  void CountPromptTokens(const Prompt& prompt, const TokenReducer* reducer);

  const Decoder& decoder_;
  ThreadPool& pool_;
  int64_t context_;
  int64_t length_ = 0;
  int64_t next_position_ = 0;
  KvCache cache_;
  TokenReducer* reducer_ = nullptr;
  KvPolicy* kv_policy_ = nullptr;
  int64_t prompt_text_tokens_ = 0;   // over the conversation's prompts
  int64_t prompt_image_tokens_ = 0;  // left after prefill reduction, over the prompts
  size_t peak_kv_bytes_ = 0;
};

}  // namespace lightvlm
