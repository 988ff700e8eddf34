#include "reduce/kv_policy.h"

#include <algorithm>

#include "base/error.h"

namespace lightvlm {

std::vector<int64_t> KeepSinksRecentHeavy(int64_t size, int64_t sinks, int64_t window,
                                          int64_t budget, std::span<const double> ranking) {
  std::vector<int64_t> rows;
  if (size <= budget) {
    rows.resize(size);
    for (int64_t i = 0; i < size; ++i) rows[i] = i;
    return rows;
  }
  // The newest entry is the token being written: it is kept whatever the window and the sinks
  // say, and the budget holds (sinks give way first).
  window = std::clamp<int64_t>(window, 1, std::max<int64_t>(1, budget));
  sinks = std::clamp<int64_t>(sinks, 0, std::max<int64_t>(0, budget - window));
  const int64_t heavy = std::max<int64_t>(0, budget - sinks - window);
  Check(static_cast<int64_t>(ranking.size()) >= size - window || heavy == 0,
        "KV policy: ", ranking.size(), " scores for ", size, " cache entries");
  // The middle entries ordered by (ranking descending, row ascending); nth_element keeps the
  // selection O(size), which matters for policies that evict at every step.
  std::vector<int64_t> middle;
  middle.reserve(size - window - sinks);
  for (int64_t i = sinks; i < size - window; ++i) middle.push_back(i);
  const auto better = [&](int64_t a, int64_t b) {
    return ranking[a] > ranking[b] || (ranking[a] == ranking[b] && a < b);
  };
  const auto chosen = std::min<int64_t>(heavy, static_cast<int64_t>(middle.size()));
  std::nth_element(middle.begin(), middle.begin() + chosen, middle.end(), better);
  std::vector<char> kept(size, 0);
  for (int64_t i = 0; i < sinks; ++i) kept[i] = 1;
  for (int64_t i = 0; i < chosen; ++i) kept[middle[i]] = 1;
  for (int64_t i = size - window; i < size; ++i) kept[i] = 1;
  for (int64_t i = 0; i < size; ++i) {
    if (kept[i]) rows.push_back(i);
  }
  return rows;
}

void KvPolicy::Begin(const KvPrompt& prompt, int64_t num_layers, int64_t length) {
  for (const auto& [flag, value] : {std::pair{"--kv-budget", options_.budget},
                                    {"--kv-sinks", options_.sinks},
                                    {"--kv-window", options_.window},
                                    {"--kv-interval", options_.interval}}) {
    Check(value >= -1, flag, " must not be negative, got ", value);
  }
  Check(options_.window != 0, "--kv-window must be at least 1: the entry being written is kept");
  Check(options_.budget != 0, "--kv-budget must be at least 1");
  Check(options_.pool >= 1, "--kv-pool must be at least 1, got ", options_.pool);
  prompt_ = prompt;
  sinks_ = options_.sinks >= 0 ? options_.sinks : DefaultSinks();
  interval_ = options_.interval >= 0 ? options_.interval : DefaultInterval();
  const int64_t budget = Budget(length);
  Check(sinks_ + window(length) <= budget, "--kv-budget (", budget,
        ") must hold --kv-sinks + --kv-window (", sinks_, " + ", window(length), ")");
  scores_.resize(num_layers);
  if (!AccumulatesAcrossPrompts()) {
    for (auto& layer : scores_) layer.clear();
  }
  in_prefill_ = true;
  steps_ = 0;
}

int64_t KvPolicy::Budget(int64_t length) const {
  return options_.budget >= 0 ? options_.budget : DefaultBudget(prompt_, length);
}

int64_t KvPolicy::window(int64_t length) const {
  return options_.window >= 0 ? options_.window : DefaultWindow(Budget(length));
}

std::vector<int64_t> KvPolicy::CacheScoreRows(int64_t /*layer*/, const DecoderTokens& tokens) {
  const int64_t count =
      in_prefill_ ? std::min(PrefillScoreRows(), tokens.size()) : (ScoresDecode() ? 1 : 0);
  std::vector<int64_t> rows(count);
  for (int64_t i = 0; i < count; ++i) rows[i] = tokens.size() - count + i;
  return rows;
}

void KvPolicy::AfterLayer(int64_t layer, const LayerKvCache& cache, const Tensor& probabilities) {
  // Entries appended by this pass start at 0; every entry adds the probability it received from
  // each scored row, averaged over heads: O(live entries) per row and head.
  std::vector<double>& scores = scores_.at(layer);
  scores.resize(cache.size(), 0.0);
  const int64_t rows = probabilities.dim(0), heads = probabilities.dim(1), n = probabilities.dim(2);
  Check(n == cache.size(), "KV policy: attention over ", n, " entries, the cache holds ",
        cache.size());
  for (int64_t g = 0; g < rows * heads; ++g) {
    const float* row = probabilities.f32() + g * n;
    for (int64_t j = 0; j < n; ++j) scores[j] += row[j] / static_cast<double>(heads);
  }
}

std::vector<double> KvPolicy::Ranking(std::span<const double> scores, int64_t /*window*/) const {
  return {scores.begin(), scores.end()};
}

void KvPolicy::AfterPass(KvCache& cache, int64_t length) {
  const bool after_prefill = in_prefill_;
  in_prefill_ = false;
  if (!after_prefill) ++steps_;
  const bool due = after_prefill || (interval_ > 0 && steps_ % interval_ == 0);
  if (!due) return;
  for (int64_t layer = 0; layer < cache.num_layers(); ++layer) {
    Compress(cache.layer(layer), scores_.at(layer), length);
  }
}

void KvPolicy::Compress(LayerKvCache& cache, std::vector<double>& scores, int64_t length) const {
  const int64_t budget = Budget(length);
  if (cache.size() <= budget) return;
  // Policies that score nothing (streaming) or not this pass have zeros for unscored entries.
  scores.resize(cache.size(), 0.0);
  const int64_t recent = window(length);
  const std::vector<int64_t> rows =
      KeepSinksRecentHeavy(cache.size(), sinks_, recent, budget, Ranking(scores, recent));
  cache.Keep(rows);
  for (size_t i = 0; i < rows.size(); ++i) scores[i] = scores[rows[i]];
  scores.resize(rows.size());
}

}  // namespace lightvlm
