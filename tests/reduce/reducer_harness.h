// Drives token reducers the way Decoder::Forward does (BeforeLayer, then ScoreRows, then the
// layer records the attention asked for) on synthetic prompts whose hidden rows, positions,
// attention scores and keys the test chooses, and checks what every reducer must keep intact.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "models/prefill_hook.h"
#include "reduce/token_reducer.h"

namespace lightvlm::testing {

constexpr int64_t kHiddenWidth = 4;

// Distinct for every token and column, so a row's origin can be read back from its values.
inline float HiddenValue(int64_t token_index, int64_t column) {
  return static_cast<float>(token_index * kHiddenWidth + column) + 0.25f;
}

// Positions differ from token indices (as M-RoPE's and later turns' do), to catch mix-ups, and
// their three ids differ, as M-RoPE's do inside an image: reduction must keep all three.
inline PositionId PositionOf(int64_t token_index) {
  return {1000 + 3 * token_index, 2000 + token_index, 3000 + 2 * token_index};
}

// What the synthetic vision tower "saw": a saliency for each image token, distinct and unrelated
// to the attention scores below.
inline float VisionSaliencyOf(int64_t token_index) {
  const double golden = 0.7548776662466927 * static_cast<double>(token_index + 3);
  return static_cast<float>(golden - std::floor(golden));
}

// A prompt piece: `text` text tokens, or an image of grid_height x grid_width tokens.
struct Piece {
  int64_t text = 0;
  int64_t grid_height = 0;
  int64_t grid_width = 0;
};
inline Piece Text(int64_t count) { return {count, 0, 0}; }
inline Piece Image(int64_t height, int64_t width) { return {0, height, width}; }

struct SyntheticPrompt {
  DecoderTokens tokens;  // hidden [n, kHiddenWidth]
  std::vector<ImageRun> images;
  int64_t text_tokens = 0;
  int64_t image_tokens = 0;

  bool IsImage(int64_t token_index) const {
    for (const ImageRun& run : images) {
      if (token_index >= run.start && token_index < run.start + run.size()) return true;
    }
    return false;
  }
};

inline SyntheticPrompt MakePrompt(std::initializer_list<Piece> pieces) {
  SyntheticPrompt prompt;
  int64_t n = 0;
  for (const Piece& piece : pieces) {
    if (piece.text > 0) {
      prompt.text_tokens += piece.text;
      n += piece.text;
    } else {
      prompt.images.push_back({n, piece.grid_height, piece.grid_width});
      for (int64_t i = 0; i < prompt.images.back().size(); ++i) {
        prompt.images.back().vision_saliency.push_back(VisionSaliencyOf(n + i));
      }
      prompt.image_tokens += prompt.images.back().size();
      n += prompt.images.back().size();
    }
  }
  prompt.tokens.hidden = Tensor(DType::kF32, {n, kHiddenWidth});
  for (int64_t i = 0; i < n; ++i) {
    prompt.tokens.token_index.push_back(i);
    prompt.tokens.position.push_back(PositionOf(i));
    for (int64_t j = 0; j < kHiddenWidth; ++j) {
      prompt.tokens.hidden.f32()[i * kHiddenWidth + j] = HiddenValue(i, j);
    }
  }
  return prompt;
}

// 5 text tokens, a 6 x 6 image, 4 text tokens.
inline SyntheticPrompt StandardPrompt() { return MakePrompt({Text(5), Image(6, 6), Text(4)}); }

// Distinct pseudo-random scores in [1, 2) for any token index.
inline double ScrambledScore(int64_t token_index) {
  const double golden = 0.6180339887498949 * static_cast<double>(token_index + 1);
  return 1.0 + (golden - std::floor(golden));
}

// What the synthetic layers "record": the attention each token receives at a layer (averaged
// over heads and queries) and each token's key, by layer and token index.
struct AttentionRecipe {
  std::function<double(int64_t, int64_t)> score = [](int64_t /*layer*/, int64_t token_index) {
    return ScrambledScore(token_index);
  };
  std::function<std::vector<float>(int64_t)> key = [](int64_t token_index) {
    const auto t = static_cast<float>(token_index);
    return std::vector<float>{std::sin(t), std::cos(1.3f * t), 0.5f};
  };
};

// The attention record for `query_rows` of `tokens`: heads and query rows deviate from the
// recipe's score in opposite directions (by more than the gaps between scores), so that only
// their mean ranks the tokens as the recipe does.
inline LayerAttention MakeAttention(int64_t layer, const DecoderTokens& tokens,
                                    const std::vector<int64_t>& query_rows,
                                    const AttentionRecipe& recipe) {
  const int64_t n = tokens.size(), heads = 2, queries = static_cast<int64_t>(query_rows.size());
  LayerAttention attention;
  attention.layer = layer;
  attention.query_rows = query_rows;
  attention.probabilities = Tensor(DType::kF32, {queries, heads, n});
  const int64_t key_width = static_cast<int64_t>(recipe.key(0).size());
  attention.keys = Tensor(DType::kF32, {n, key_width});
  for (int64_t i = 0; i < n; ++i) {
    const int64_t token = tokens.token_index[i];
    const double score = recipe.score(layer, token);
    const double head_swing = 0.4 * ScrambledScore(7 * token);
    const double query_swing = 0.1 * ScrambledScore(11 * token);
    for (int64_t q = 0; q < queries; ++q) {
      const double query_side =
          queries > 1 ? static_cast<double>(2 * q - (queries - 1)) / (queries - 1) : 0.0;
      for (int64_t h = 0; h < heads; ++h) {
        attention.probabilities.f32()[(q * heads + h) * n + i] = static_cast<float>(
            score + (h == 0 ? head_swing : -head_swing) + query_side * query_swing);
      }
    }
    const std::vector<float> key = recipe.key(token);
    std::memcpy(attention.keys.f32() + i * key_width, key.data(), key_width * sizeof(float));
  }
  return attention;
}

// Live image tokens at each layer, as the reducer left them before the layer ran.
inline std::vector<int64_t> RunReducer(TokenReducer& reducer, SyntheticPrompt& prompt,
                                       int64_t num_layers, const AttentionRecipe& recipe = {}) {
  reducer.Begin(prompt.images, num_layers);
  std::vector<int64_t> image_tokens_per_layer;
  // As the decoder does: a probe of layer 0 when a stage sits there, then each layer's record.
  LayerAttention recorded;
  const std::vector<int64_t> probe = reducer.ProbeRows(prompt.tokens);
  if (!probe.empty()) recorded = MakeAttention(-1, prompt.tokens, probe, recipe);
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    const bool has_record = !recorded.query_rows.empty() && recorded.layer == layer - 1;
    reducer.BeforeLayer(layer, prompt.tokens, has_record ? &recorded : nullptr);
    int64_t live = 0;
    for (int64_t token : prompt.tokens.token_index) live += prompt.IsImage(token);
    image_tokens_per_layer.push_back(live);
    const std::vector<int64_t> rows = reducer.ScoreRows(layer, prompt.tokens);
    recorded = rows.empty() ? LayerAttention{} : MakeAttention(layer, prompt.tokens, rows, recipe);
  }
  return image_tokens_per_layer;
}

// Token indices of the image tokens still live in `tokens`.
inline std::vector<int64_t> LiveImageTokens(const SyntheticPrompt& prompt) {
  std::vector<int64_t> live;
  for (int64_t token : prompt.tokens.token_index) {
    if (prompt.IsImage(token)) live.push_back(token);
  }
  return live;
}

inline std::vector<int64_t> StageLayers(const std::vector<ReductionStage>& plan) {
  std::vector<int64_t> layers;
  for (const ReductionStage& stage : plan) layers.push_back(stage.layer);
  return layers;
}

inline std::vector<int64_t> StageCounts(const std::vector<ReductionStage>& plan) {
  std::vector<int64_t> counts;
  for (const ReductionStage& stage : plan) counts.push_back(stage.image_tokens);
  return counts;
}

// The `count` of `tokens` with the highest `score`, ascending.
inline std::vector<int64_t> TopScored(std::vector<int64_t> tokens, int64_t count,
                                      const std::function<double(int64_t)>& score) {
  std::stable_sort(tokens.begin(), tokens.end(),
                   [&](int64_t a, int64_t b) { return score(a) > score(b); });
  tokens.resize(count);
  std::sort(tokens.begin(), tokens.end());
  return tokens;
}

inline bool RowHoldsToken(const DecoderTokens& tokens, int64_t row, int64_t token_index) {
  for (int64_t j = 0; j < kHiddenWidth; ++j) {
    if (tokens.hidden.f32()[row * kHiddenWidth + j] != HiddenValue(token_index, j)) return false;
  }
  return true;
}

// Every text token present with its hidden row bit-identical; every survivor in its original
// order with its own position; `pruned_only`: image survivors' rows untouched too (no merging).
inline void ExpectOnlyImageTokensReduced(const SyntheticPrompt& prompt, bool pruned_only) {
  const DecoderTokens& tokens = prompt.tokens;
  ASSERT_EQ(tokens.hidden.dim(0), tokens.size());
  ASSERT_EQ(static_cast<int64_t>(tokens.position.size()), tokens.size());
  int64_t text_seen = 0;
  for (int64_t row = 0; row < tokens.size(); ++row) {
    const int64_t token = tokens.token_index[row];
    if (row > 0) {
      EXPECT_LT(tokens.token_index[row - 1], token);
    }
    EXPECT_EQ(tokens.position[row], PositionOf(token)) << "token " << token;
    const bool image = prompt.IsImage(token);
    text_seen += !image;
    if (!image || pruned_only) {
      EXPECT_TRUE(RowHoldsToken(tokens, row, token)) << "token " << token;
    }
  }
  EXPECT_EQ(text_seen, prompt.text_tokens);
}

inline ReducerOptions KeepOptions(double keep) {
  ReducerOptions options;
  options.budget.keep = keep;
  return options;
}

inline ReducerOptions FinalTokensOptions(int64_t final_tokens) {
  ReducerOptions options;
  options.budget.final_tokens = final_tokens;
  return options;
}

// MakeAttention's records rank tokens by their plain mean over rows and heads (its rows are not
// distributions), so tests of which tokens a stage keeps score them with QueryWeights::kMass;
// the equal vote (the default) is tested against AttentionReceived on the same records.
inline ReducerOptions MassWeighted(ReducerOptions options) {
  options.query_weights = QueryWeights::kMass;
  return options;
}

// The plan meets --keep: whole-token counts move the total in steps of at most L - L1
// token-layers (L1 the first stage), and the plan is the largest not above the budget. Below
// 1 / L no plan can reach it; the closest is everything dropped before layer 1.
inline void ExpectPlanMeetsKeep(const TokenReducer& reducer, double keep, int64_t num_layers,
                                int64_t image_tokens) {
  const std::vector<ReductionStage>& plan = reducer.plan();
  ASSERT_FALSE(plan.empty());
  const double layers = static_cast<double>(num_layers), tokens = static_cast<double>(image_tokens);
  const double target = keep * layers * tokens;  // token-layers
  const double achieved = reducer.AverageKeep() * layers * tokens;
  // Every budget is reachable (a stage may sit at layer 0, scored by a probe): the plan is at
  // most the budget and short of it by less than one token in each layer from its first stage.
  EXPECT_LE(achieved, target + 1e-6);
  EXPECT_GE(achieved, target - static_cast<double>(num_layers - plan.front().layer) - 1e-6);
  if (keep * layers < 1.0) {
    EXPECT_EQ(plan.front().layer, 0);
  }
}

// Stages at ascending layers in 1..L-1, counts never growing.
inline void ExpectWellFormedPlan(const std::vector<ReductionStage>& plan, int64_t num_layers,
                                 int64_t image_tokens) {
  int64_t layer = -1, live = image_tokens;
  for (const ReductionStage& stage : plan) {
    EXPECT_GT(stage.layer, layer);
    EXPECT_LT(stage.layer, num_layers);
    EXPECT_LE(stage.image_tokens, live);
    EXPECT_GE(stage.image_tokens, 0);
    layer = stage.layer;
    live = stage.image_tokens;
  }
}

// Runs reducer `name` under `options` on `prompt`: every layer sees exactly the planned image
// tokens and text is never touched (nor, when `pruned_only`, image survivors).
inline void ExpectReducesAsPlanned(const std::string& name, const ReducerOptions& options,
                                   SyntheticPrompt prompt, int64_t num_layers, bool pruned_only) {
  SCOPED_TRACE(::testing::Message() << name << ", " << num_layers << " layers, "
                                    << prompt.image_tokens << " image tokens");
  const auto reducer = MakeTokenReducer(name, options);
  const std::vector<int64_t> live = RunReducer(*reducer, prompt, num_layers);
  EXPECT_EQ(live, reducer->ImageTokensPerLayer());
  ExpectWellFormedPlan(reducer->plan(), num_layers, prompt.image_tokens);
  ExpectOnlyImageTokensReduced(prompt, pruned_only);
  if (options.budget.final_tokens >= 0) {
    EXPECT_EQ(live.back(), options.budget.final_tokens);
  } else {
    ExpectPlanMeetsKeep(*reducer, options.budget.keep, num_layers, prompt.image_tokens);
  }
}

// Reducer `name`, left 9 image tokens of the standard prompt over 4 layers, asks for no attention
// at any layer (so it works with a null record) and still keeps exactly 9.
inline void ExpectRecordsNoAttention(const std::string& name) {
  SCOPED_TRACE(name);
  const auto reducer = MakeTokenReducer(name, FinalTokensOptions(9));
  SyntheticPrompt prompt = StandardPrompt();
  reducer->Begin(prompt.images, 4);
  for (int64_t layer = 0; layer < 4; ++layer) {
    reducer->BeforeLayer(layer, prompt.tokens, nullptr);
    EXPECT_TRUE(reducer->ScoreRows(layer, prompt.tokens).empty()) << layer;
  }
  EXPECT_EQ(LiveImageTokens(prompt).size(), 9u);
}

// ExpectReducesAsPlanned over budgets {0.5, 0.35, 0.11, 0.03} and final counts {0, 1, 16, N},
// decoders of 2, 3, 8 and 32 layers, and a 6 x 6 and a 24 x 24 image.
inline void ExpectReducerHonoursBudgets(const std::string& name, bool pruned_only) {
  for (const int64_t side : {6, 24}) {
    const auto prompt = [side] { return MakePrompt({Text(5), Image(side, side), Text(4)}); };
    for (const int64_t num_layers : {2, 3, 8, 32}) {
      for (const double keep : {0.5, 0.35, 0.11, 0.03}) {
        SCOPED_TRACE(::testing::Message() << "keep " << keep);
        ExpectReducesAsPlanned(name, KeepOptions(keep), prompt(), num_layers, pruned_only);
      }
      for (const int64_t final_tokens : {int64_t{0}, int64_t{1}, int64_t{16}, side * side}) {
        SCOPED_TRACE(::testing::Message() << "final tokens " << final_tokens);
        ExpectReducesAsPlanned(name, FinalTokensOptions(final_tokens), prompt(), num_layers,
                               pruned_only);
      }
    }
  }
}

}  // namespace lightvlm::testing
