#include "engine/session.h"

#include <algorithm>
#include <cstring>
#include <random>

#include "base/clock.h"
#include "base/error.h"
#include "engine/generation.h"
#include "reduce/kv_policy.h"
#include "reduce/token_reducer.h"

namespace lightvlm {

const char* StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kStopToken:
      return "stop token";
    case StopReason::kMaxTokens:
      return "max tokens";
    case StopReason::kContextFull:
      return "context full";
    case StopReason::kCaller:
      return "stopped by caller";
    case StopReason::kError:
      return "error";
  }
  return "unknown";
}

std::vector<int32_t> TruncatePrompt(std::span<const int32_t> prompt, int64_t limit,
                                    bool keep_first) {
  Check(limit >= (keep_first ? 2 : 1), "cannot truncate a prompt to ", limit, " tokens");
  const auto size = static_cast<int64_t>(prompt.size());
  if (size <= limit) return {prompt.begin(), prompt.end()};
  std::vector<int32_t> kept;
  if (keep_first) kept.push_back(prompt.front());
  kept.insert(kept.end(), prompt.end() - (limit - static_cast<int64_t>(kept.size())), prompt.end());
  return kept;
}

Session::Session(const Decoder& decoder, ThreadPool& pool, int64_t context, DType kv_dtype)
    : decoder_(decoder),
      pool_(pool),
      context_(context),
      cache_(decoder.NewCache(context, kv_dtype)) {
  Check(context > 0 && context <= decoder.config().max_position_embeddings, "context of ", context,
        " tokens is outside 1..", decoder.config().max_position_embeddings,
        " (config.json: max_position_embeddings)");
}

std::vector<float> Session::Prefill(std::span<const int32_t> tokens) {
  return Prefill(Prompt{{tokens.begin(), tokens.end()}, {}, {}});
}

std::vector<float> Session::Prefill(const Prompt& prompt) { return Forward(prompt, true); }

std::vector<float> Session::Decode(int32_t token) {
  return Forward(Prompt{{token}, {}, {}}, /*is_prompt=*/false);
}

void Session::CountPromptTokens(const Prompt& prompt, const TokenReducer* reducer) {
  const int64_t image_tokens = prompt.image_rows();
  const std::vector<int64_t> live =
      reducer != nullptr ? reducer->ImageTokensPerLayer() : std::vector<int64_t>{};
  prompt_text_tokens_ += prompt.size() - image_tokens;
  prompt_image_tokens_ += live.empty() ? image_tokens : live.back();
  if (kv_policy_ == nullptr) return;
  kv_policy_->Begin({prompt_text_tokens_, prompt_image_tokens_}, decoder_.config().num_layers,
                    length_ + prompt.size());
}

void Session::PrefillSynthetic(int64_t tokens, uint64_t seed) {
  Check(length_ + tokens <= context_, "synthetic prompt of ", tokens,
        " tokens does not fit in the context of ", context_);
  const int64_t kv_dim = decoder_.config().kv_dim();
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> keys(tokens * kv_dim), values(tokens * kv_dim);
  std::vector<int64_t> token_index(tokens);
  for (int64_t i = 0; i < tokens; ++i) token_index[i] = length_ + i;
  for (int64_t layer = 0; layer < cache_.num_layers(); ++layer) {
    for (float& key : keys) key = uniform(random);
    for (float& value : values) value = uniform(random);
    cache_.layer(layer).Append(keys.data(), values.data(), token_index.data(), tokens);
  }
  length_ += tokens;
  next_position_ += tokens;
  peak_kv_bytes_ = std::max(peak_kv_bytes_, cache_.bytes());
  if (kv_policy_ != nullptr) {
    prompt_text_tokens_ += tokens;
    kv_policy_->Begin({prompt_text_tokens_, prompt_image_tokens_}, decoder_.config().num_layers,
                      length_);
    kv_policy_->AfterPass(cache_, length_);
  }
}

std::vector<std::vector<float>> Session::DecodeBatch(std::span<Session* const> sessions,
                                                     std::span<const int32_t> tokens) {
  Check(!sessions.empty() && sessions.size() == tokens.size(), "decode batch: ", tokens.size(),
        " tokens for ", sessions.size(), " sessions");
  const Decoder& decoder = sessions.front()->decoder_;
  ThreadPool& pool = sessions.front()->pool_;
  const LlmConfig& config = decoder.config();
  const auto batch = static_cast<int64_t>(sessions.size());
  DecoderTokens input;
  input.hidden = Tensor(DType::kF32, {batch, config.hidden_size});
  decoder.Embed(tokens, input.hidden.f32());
  std::vector<KvCache*> caches;
  std::vector<CacheAttentionHook*> hooks;
  for (Session* session : sessions) {
    Check(&session->decoder_ == &decoder && &session->pool_ == &pool,
          "decode batch: the sessions must share one decoder and one thread pool");
    Check(session->length_ < session->context_, "decode batch: a session's context of ",
          session->context_, " tokens is full");
    input.token_index.push_back(session->length_);
    input.position.push_back(PositionId::Sequential(session->next_position_));
    caches.push_back(&session->cache_);
    hooks.push_back(session->kv_policy_);
  }
  decoder.ForwardBatch(pool, input, caches, hooks);
  for (Session* session : sessions) {
    ++session->length_;
    ++session->next_position_;
    session->peak_kv_bytes_ = std::max(session->peak_kv_bytes_, session->cache_.bytes());
    if (session->kv_policy_ != nullptr) {
      session->kv_policy_->AfterPass(session->cache_, session->length_);
    }
  }
  std::vector<float> all_logits(batch * config.vocab_size);
  decoder.Logits(pool, input.hidden.f32(), batch, all_logits.data());
  std::vector<std::vector<float>> logits(batch);
  for (int64_t b = 0; b < batch; ++b) {
    logits[b].assign(all_logits.begin() + b * config.vocab_size,
                     all_logits.begin() + (b + 1) * config.vocab_size);
  }
  return logits;
}

std::vector<float> Session::Forward(const Prompt& prompt, bool is_prompt) {
  const int64_t count = prompt.size();
  Check(count > 0, "nothing to prefill: the prompt has no tokens");
  Check(length_ + count <= context_, "prompt of ", count, " tokens does not fit: ", length_,
        " tokens are in the context of ", context_,
        " already (shorten the prompt, raise the "
        "context, or ask for truncation)");
  const LlmConfig& config = decoder_.config();
  DecoderTokens input;
  input.hidden = Tensor(DType::kF32, {count, config.hidden_size});
  decoder_.Embed(prompt.token_ids, input.hidden.f32());
  for (const PromptImage& image : prompt.images) {
    const Tensor& rows = image.embeddings->rows;
    Check(rows.dim(1) == config.hidden_size, "image embeddings have width ", rows.dim(1),
          ", the decoder's hidden size is ", config.hidden_size);
    const std::vector<ImageGrid>& grids = image.embeddings->grids;
    Check(image.grid_starts.size() == grids.size(), "prompt image: ", image.grid_starts.size(),
          " grid starts for ", grids.size(), " grids");
    const float* source = rows.f32();
    for (size_t g = 0; g < grids.size(); ++g) {
      const int64_t grid_rows = grids[g].size();
      Check(image.grid_starts[g] >= 0 && image.grid_starts[g] + grid_rows <= count,
            "prompt image: grid ", g, " lies outside the ", count, " prompt tokens");
      std::memcpy(input.hidden.f32() + image.grid_starts[g] * config.hidden_size, source,
                  grid_rows * config.hidden_size * sizeof(float));
      source += grid_rows * config.hidden_size;
    }
  }
  prompt.CheckPositions();
  for (int64_t i = 0; i < count; ++i) {
    input.token_index.push_back(length_ + i);
    input.position.push_back(prompt.positions.empty() ? PositionId::Sequential(next_position_ + i)
                                                      : prompt.positions[i] + next_position_);
  }
  // Reduction needs text after the images: the last prompt tokens are its queries, and the
  // logits come from the last row, which must survive.
  const bool ends_with_text = prompt.images.empty() || prompt.images.back().end() < count;
  TokenReducer* reducer = prompt.images.empty() || !ends_with_text ? nullptr : reducer_;
  if (reducer != nullptr) {
    std::vector<ImageRun> runs;
    for (const PromptImage& image : prompt.images) {
      const std::vector<ImageGrid>& grids = image.embeddings->grids;
      const std::vector<float>& saliency = image.embeddings->vision_saliency;
      int64_t row = 0;
      for (size_t g = 0; g < grids.size(); ++g) {
        runs.push_back({length_ + image.grid_starts[g], grids[g].height, grids[g].width});
        if (!saliency.empty()) {
          runs.back().vision_saliency.assign(saliency.begin() + row,
                                             saliency.begin() + row + grids[g].size());
        }
        row += grids[g].size();
      }
    }
    reducer->Begin(runs, config.num_layers);
  }
  if (is_prompt) CountPromptTokens(prompt, reducer);
  decoder_.Forward(pool_, input, cache_, reducer, kv_policy_);
  length_ += count;
  next_position_ += prompt.PositionSpan();
  peak_kv_bytes_ = std::max(peak_kv_bytes_, cache_.bytes());
  if (kv_policy_ != nullptr) kv_policy_->AfterPass(cache_, length_);
  std::vector<float> logits(config.vocab_size);
  decoder_.Logits(pool_, input.hidden.f32() + (input.size() - 1) * config.hidden_size, 1,
                  logits.data());
  return logits;
}

GenerationResult Session::Generate(std::span<const int32_t> prompt,
                                   const GenerationOptions& options,
                                   const std::function<bool(int32_t)>& on_token) {
  return Generate(Prompt{{prompt.begin(), prompt.end()}, {}, {}}, options, on_token);
}

GenerationResult Session::Generate(const Prompt& prompt, const GenerationOptions& options,
                                   const std::function<bool(int32_t)>& on_token) {
  Generation generation(options, *this, prompt.size());
  auto start = Clock::now();
  std::vector<float> logits = Prefill(prompt);
  generation.result().prefill_ms = MillisecondsSince(start);
  start = Clock::now();
  while (generation.Advance(logits, *this, on_token)) logits = Decode(generation.last_token());
  generation.result().decode_ms = MillisecondsSince(start);
  return std::move(generation.result());
}

}  // namespace lightvlm
