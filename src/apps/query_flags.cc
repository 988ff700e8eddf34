#include "apps/query_flags.h"

namespace lightvlm {

void AddQueryFlags(CLI::App& command, QueryFlags& flags) {
  command
      .add_option("--query-tokens", flags.tokens,
                  "Prompt tokens whose attention scores the image tokens: \"question\" (the "
                  "text after the last image, at most its last 32 tokens) or N (the last N)")
      ->capture_default_str();
  command
      .add_option("--query-weights", flags.weights,
                  "How the scoring tokens' attention is combined: \"equal\" (each token's and "
                  "head's attention over the image tokens normalized, then averaged) or \"mass\" "
                  "(raw probabilities averaged)")
      ->capture_default_str();
}

void ParseQueryFlags(const QueryFlags& flags, ReducerOptions& options) {
  ParseQueryTokens(flags.tokens, options);
  ParseQueryWeights(flags.weights, options);
}

}  // namespace lightvlm
