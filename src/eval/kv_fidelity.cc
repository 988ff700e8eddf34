#include "eval/kv_fidelity.h"

#include <algorithm>
#include <cmath>

#include "base/progress.h"
#include "engine/session.h"

namespace lightvlm {
namespace {

std::vector<int32_t> GreedyAnswer(const Model& model, ThreadPool& pool,
                                  const std::vector<int32_t>& prompt, KvPolicy& policy,
                                  int64_t tokens, KvFidelityRow& row) {
  Session session(model.decoder(), pool, static_cast<int64_t>(prompt.size()) + tokens + 1);
  session.SetKvPolicy(&policy);
  GenerationOptions generation;
  generation.max_new_tokens = tokens;
  const auto answer = session.Generate(prompt, generation, [](int32_t) { return true; }).tokens;
  row.peak_kv_bytes = session.peak_kv_bytes();
  row.budget = policy.Budget(session.length());
  return answer;
}

// exp of the mean negative log-likelihood of `answer` after `prompt`, with the full cache.
double Perplexity(const Model& model, ThreadPool& pool, const std::vector<int32_t>& prompt,
                  const std::vector<int32_t>& answer) {
  Session session(model.decoder(), pool, static_cast<int64_t>(prompt.size() + answer.size()) + 1);
  std::vector<float> logits = session.Prefill(prompt);
  double nll = 0;
  for (int32_t token : answer) {
    const float max = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (float logit : logits) sum += std::exp(static_cast<double>(logit - max));
    nll -= static_cast<double>(logits[token] - max) - std::log(sum);
    logits = session.Decode(token);
  }
  return std::exp(nll / static_cast<double>(answer.size()));
}

}  // namespace

std::vector<KvFidelityRow> MeasureKvFidelity(const Model& model, ThreadPool& pool,
                                             const std::string& prompt,
                                             const std::vector<std::string>& policies,
                                             const KvPolicyOptions& options, int64_t tokens) {
  const std::vector<int32_t> ids = model.tokenizer->Encode(prompt, /*add_special=*/true);
  std::vector<std::string> names = {"none"};
  for (const std::string& name : policies) {
    if (name != "none") names.push_back(name);
  }
  std::vector<KvFidelityRow> rows;
  std::vector<int32_t> full;
  Progress progress("kvfidelity", static_cast<int64_t>(names.size()));
  for (const std::string& name : names) {
    const auto policy = MakeKvPolicy(name, options);
    KvFidelityRow row;
    row.policy = name;
    const std::vector<int32_t> answer = GreedyAnswer(model, pool, ids, *policy, tokens, row);
    if (name == "none") {
      full = answer;
      row.budget = 0;
    }
    int64_t same = 0;
    for (size_t i = 0; i < answer.size(); ++i) same += answer[i] == full[i];
    row.agreement = static_cast<double>(same) / static_cast<double>(answer.size());
    row.perplexity = Perplexity(model, pool, ids, answer);
    row.text = model.tokenizer->Decode(answer, /*skip_special=*/true);
    rows.push_back(row);
    progress.Advance();
  }
  return rows;
}

}  // namespace lightvlm
