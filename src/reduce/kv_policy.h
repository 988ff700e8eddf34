// Decode KV cache policies: the method's decoding half (lightvlm) and the baselines (streaming,
// h2o, snapkv, none), each one file in this folder, selected by name (docs/ALGORITHM.md, "KV cache
// compression"). A policy watches the attention each layer's cache entries receive (a
// CacheAttentionHook), keeps a score per live entry beside the cache, and after a prompt's
// prefill and every `interval` decode steps evicts, in each layer over its budget, everything but
// the sinks, the recent window and the highest-ranked entries in between, compacting the cache in
// place. Every policy is one rule: keep sinks + window + heavy hitters up to the budget; they
// differ in the scores, the defaults and when they compress.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "models/cache_attention_hook.h"
#include "models/kv_cache.h"

namespace lightvlm {

// What the user asks for; -1 means the policy's own default (docs/ALGORITHM.md).
struct KvPolicyOptions {
  int64_t budget = -1;    // live entries per layer after a compression
  int64_t sinks = -1;     // the first entries of each layer, always kept (attention sinks)
  int64_t window = -1;    // the most recent entries, always kept (snapkv: observation window)
  int64_t interval = -1;  // decode steps between compressions; 0: only after prefill
  int64_t pool = 5;       // snapkv: width of the average pooling over the window's scores
};

// The conversation's prompts so far, for budgets that depend on them.
struct KvPrompt {
  int64_t text_tokens = 0;
  int64_t final_image_tokens = 0;  // image tokens left after prefill reduction's last stage
};

// Entries to keep of a layer holding `size` entries: the first `sinks`, the last `window` (at
// least the newest, the entry just written), and in between the `budget - sinks - window` with
// the highest `ranking` (ties: the earlier). Ascending rows; all rows when size <= budget.
// O(size).
std::vector<int64_t> KeepSinksRecentHeavy(int64_t size, int64_t sinks, int64_t window,
                                          int64_t budget, std::span<const double> ranking);

class KvPolicy : public CacheAttentionHook {
 public:
  // Before a prompt's prefill: resolves the defaults (the lightvlm budget depends on the prompt)
  // and checks them at `length`, the sequence's tokens once the prompt is in; fails naming the
  // flag when they are out of range.
  void Begin(const KvPrompt& prompt, int64_t num_layers, int64_t length);
  // After every forward pass, the prompt's prefill and each decode step: compresses the layers
  // over budget when it is time. `length` counts the sequence's tokens so far.
  void AfterPass(KvCache& cache, int64_t length);

  // The resolved knobs, valid after Begin; the budget at `length` tokens.
  int64_t Budget(int64_t length) const;
  int64_t sinks() const { return sinks_; }
  int64_t window(int64_t length) const;
  int64_t interval() const { return interval_; }
  // The accumulated score of each live entry of `layer`, aligned with its cache rows.
  std::span<const double> scores(int64_t layer) const { return scores_.at(layer); }

  std::vector<int64_t> CacheScoreRows(int64_t layer, const DecoderTokens& tokens) override;
  void AfterLayer(int64_t layer, const LayerKvCache& cache, const Tensor& probabilities) override;

 protected:
  explicit KvPolicy(const KvPolicyOptions& options) : options_(options) {}

  // The policy's defaults for knobs the user left at -1.
  virtual int64_t DefaultBudget(const KvPrompt& prompt, int64_t length) const = 0;
  virtual int64_t DefaultSinks() const = 0;
  virtual int64_t DefaultWindow(int64_t budget) const = 0;
  virtual int64_t DefaultInterval() const = 0;
  // How many of a prompt's last rows, and whether each decode step's row, score the entries.
  virtual int64_t PrefillScoreRows() const = 0;
  virtual bool ScoresDecode() const = 0;
  // Whether scores carry over from earlier passes (accumulated) or restart at each prompt.
  virtual bool AccumulatesAcrossPrompts() const { return true; }
  // The order in which a layer's middle entries are kept, from its scores (default: as is).
  virtual std::vector<double> Ranking(std::span<const double> scores, int64_t window) const;

  const KvPolicyOptions& options() const { return options_; }

 private:
  void Compress(LayerKvCache& cache, std::vector<double>& scores, int64_t length) const;

  KvPolicyOptions options_;
  KvPrompt prompt_;
  int64_t sinks_ = 0;
  int64_t interval_ = 0;
  bool in_prefill_ = false;
  int64_t steps_ = 0;                        // decode steps since the last prompt
  std::vector<std::vector<double>> scores_;  // [layers][live entries of the layer]
};

// The policy registered under `name` (lightvlm, streaming, h2o, snapkv, none); fails listing the
// names when it is unknown.
std::unique_ptr<KvPolicy> MakeKvPolicy(const std::string& name, const KvPolicyOptions& options);
std::vector<std::string> KvPolicyNames();

}  // namespace lightvlm
