#include "eval/kv_fidelity.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "base/progress.h"
#include "engine/sampler.h"
#include "engine/session.h"

namespace lightvlm {
namespace {

using Answers = std::vector<std::vector<int32_t>>;

// -log softmax(logits)[token], in double.
double NegativeLogLikelihood(const std::vector<float>& logits, int32_t token) {
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float logit : logits) sum += std::exp(static_cast<double>(logit - max));
  return std::log(sum) - static_cast<double>(logits[token] - max);
}

struct Sessions {
  std::vector<std::unique_ptr<Session>> owned;
  std::vector<Session*> pointers;
  std::vector<std::vector<float>> logits;  // of each session's next token
};

// One session per prompt, prefilled; each with its own instance of `policy` when not empty.
Sessions Prefilled(const Model& model, ThreadPool& pool,
                   std::span<const std::vector<int32_t>> prompts, int64_t tokens,
                   std::vector<std::unique_ptr<KvPolicy>>& policies) {
  Sessions s;
  for (size_t b = 0; b < prompts.size(); ++b) {
    s.owned.push_back(std::make_unique<Session>(
        model.decoder(), pool, static_cast<int64_t>(prompts[b].size()) + tokens + 1));
    if (!policies.empty()) s.owned.back()->SetKvPolicy(policies[b].get());
    s.logits.push_back(s.owned.back()->Prefill(prompts[b]));
    s.pointers.push_back(s.owned.back().get());
  }
  return s;
}

// exp of the mean of each prompt's summed negative log-likelihoods over `tokens` tokens.
std::vector<double> FromLogLikelihoods(const std::vector<double>& nll, int64_t tokens) {
  std::vector<double> perplexities;
  for (double sum : nll) perplexities.push_back(std::exp(sum / static_cast<double>(tokens)));
  return perplexities;
}

// Each prompt's `tokens` greedy tokens, decoded in batched steps under `name`'s policy. The
// policy's own perplexities of its answers go to row.perplexities when `own_perplexities` (the
// full cache's, for `none`: no second pass needed).
Answers GreedyAnswers(const Model& model, ThreadPool& pool,
                      std::span<const std::vector<int32_t>> prompts, const std::string& name,
                      const KvPolicyOptions& options, int64_t tokens, bool own_perplexities,
                      KvFidelityRow& row) {
  std::vector<std::unique_ptr<KvPolicy>> policies;
  for (size_t b = 0; b < prompts.size(); ++b) policies.push_back(MakeKvPolicy(name, options));
  Sessions s = Prefilled(model, pool, prompts, tokens, policies);
  Answers answers(prompts.size());
  std::vector<int32_t> next(prompts.size());
  std::vector<double> nll(prompts.size(), 0.0);
  for (int64_t t = 0; t < tokens; ++t) {
    for (size_t b = 0; b < prompts.size(); ++b) {
      next[b] = GreedyToken(s.logits[b]);
      answers[b].push_back(next[b]);
      if (own_perplexities) nll[b] += NegativeLogLikelihood(s.logits[b], next[b]);
    }
    if (t + 1 < tokens) s.logits = Session::DecodeBatch(s.pointers, next);
  }
  for (size_t b = 0; b < prompts.size(); ++b) {
    row.peak_kv_bytes = std::max(row.peak_kv_bytes, s.owned[b]->peak_kv_bytes());
    row.budget = std::max(row.budget, policies[b]->Budget(s.owned[b]->length()));
  }
  if (own_perplexities) row.perplexities = FromLogLikelihoods(nll, tokens);
  return answers;
}

// Per prompt, exp of the mean negative log-likelihood of its answer under the full cache.
std::vector<double> Perplexities(const Model& model, ThreadPool& pool,
                                 std::span<const std::vector<int32_t>> prompts,
                                 const Answers& answers, int64_t tokens) {
  std::vector<std::unique_ptr<KvPolicy>> none;
  Sessions s = Prefilled(model, pool, prompts, tokens, none);
  std::vector<double> nll(prompts.size(), 0.0);
  std::vector<int32_t> forced(prompts.size());
  for (int64_t t = 0; t < tokens; ++t) {
    for (size_t b = 0; b < prompts.size(); ++b) {
      forced[b] = answers[b][static_cast<size_t>(t)];
      nll[b] += NegativeLogLikelihood(s.logits[b], forced[b]);
    }
    if (t + 1 < tokens) s.logits = Session::DecodeBatch(s.pointers, forced);
  }
  return FromLogLikelihoods(nll, tokens);
}

double Mean(const std::vector<double>& values) {
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

}  // namespace

std::vector<KvFidelityRow> MeasureKvFidelity(const Model& model, ThreadPool& pool,
                                             std::span<const std::vector<int32_t>> prompts,
                                             const std::vector<std::string>& policies,
                                             const KvPolicyOptions& options, int64_t tokens) {
  Check(!prompts.empty(), "kvfidelity: no prompts");
  std::vector<std::string> names = {"none"};
  for (const std::string& name : policies) {
    if (name != "none") names.push_back(name);
  }
  std::vector<KvFidelityRow> rows;
  Answers full;
  Progress progress("kvfidelity", static_cast<int64_t>(names.size()));
  for (const std::string& name : names) {
    KvFidelityRow row;
    row.policy = name;
    const bool full_cache = name == "none";
    const Answers answers =
        GreedyAnswers(model, pool, prompts, name, options, tokens, full_cache, row);
    if (full_cache) {
      full = answers;
      row.budget = 0;
    }
    for (size_t b = 0; b < prompts.size(); ++b) {
      int64_t same = 0;
      for (int64_t i = 0; i < tokens; ++i) same += answers[b][i] == full[b][i];
      row.agreements.push_back(static_cast<double>(same) / static_cast<double>(tokens));
      row.texts.push_back(model.tokenizer->Decode(answers[b], /*skip_special=*/true));
    }
    if (!full_cache) row.perplexities = Perplexities(model, pool, prompts, answers, tokens);
    row.agreement = Mean(row.agreements);
    row.perplexity = Mean(row.perplexities);
    rows.push_back(std::move(row));
    progress.Advance();
  }
  return rows;
}

}  // namespace lightvlm
