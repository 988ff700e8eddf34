// The tiny recorded LLaVA checkpoint (tests/fixtures/llava: a 2-layer Llama decoder) with its
// golden prompt, for running reducers inside the real decoder.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "io/image.h"
#include "io/json_file.h"
#include "models/decoder.h"
#include "models/llava.h"
#include "models/prefill_hook.h"
#include "reduce/token_reducer.h"
#include "support/golden.h"

namespace lightvlm::testing {

class TinyLlava {
 public:
  TinyLlava()
      : golden_("llava"),
        model_(JsonFile::Load((golden_.model_dir() / "config.json").string()),
               golden_.model_dir().string()) {
    const std::vector<int32_t> ids = golden_.Ids("input_ids");
    const int32_t image_token = model_.image_token_id();
    const auto first = std::find(ids.begin(), ids.end(), image_token);
    const auto count = std::count(ids.begin(), ids.end(), image_token);
    image_ = {first - ids.begin(), 24, 24};
    EXPECT_EQ(count, image_.size());
    // The recorded features come without the vision tower's attention: encode the image for it.
    ThreadPool pool(1);
    image_.vision_saliency =
        model_
            .EncodeImage(pool,
                         LoadImage((golden_.model_dir().parent_path() / "image.png").string()))
            .vision_saliency;
    ids_ = ids;
  }

  const Decoder& decoder() const { return model_.decoder(); }
  const ImageRun& image() const { return image_; }
  int64_t prompt_tokens() const { return static_cast<int64_t>(ids_.size()); }
  int64_t text_tokens() const { return prompt_tokens() - image_.size(); }
  const Golden& golden() const { return golden_; }

  // The golden prompt: its text embedded, the recorded image features in the image's place.
  DecoderTokens Prompt() const {
    const int64_t width = decoder().config().hidden_size;
    DecoderTokens tokens;
    tokens.hidden = Tensor(DType::kF32, {prompt_tokens(), width});
    decoder().Embed(ids_, tokens.hidden.f32());
    const std::vector<float> features = golden_.Floats("image_features");  // [576, width]
    std::memcpy(tokens.hidden.f32() + image_.start * width, features.data(),
                features.size() * sizeof(float));
    for (int64_t i = 0; i < prompt_tokens(); ++i) {
      tokens.token_index.push_back(i);
      tokens.position.push_back(PositionId::Sequential(i));
    }
    return tokens;
  }

  // Prefills the golden prompt into `cache` (reduced by `reducer` when given) and returns the
  // logits of the last token.
  std::vector<float> Prefill(ThreadPool& pool, KvCache& cache, TokenReducer* reducer) const {
    DecoderTokens tokens = Prompt();
    if (reducer != nullptr) reducer->Begin({image_}, decoder().config().num_layers);
    decoder().Forward(pool, tokens, cache, reducer);
    const int64_t width = decoder().config().hidden_size;
    std::vector<float> logits(decoder().config().vocab_size);
    decoder().Logits(pool, tokens.hidden.f32() + (tokens.size() - 1) * width, 1, logits.data());
    return logits;
  }

 private:
  Golden golden_;
  LlavaModel model_;
  std::vector<int32_t> ids_;
  ImageRun image_;
};

inline bool AllFinite(const std::vector<float>& values) {
  return std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); });
}

}  // namespace lightvlm::testing
