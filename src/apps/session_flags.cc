#include "apps/session_flags.h"

namespace lightvlm {

void AddSamplingFlags(CLI::App& command, GenerationOptions& options) {
  command.add_option("-n,--max-tokens", options.max_new_tokens, "Most tokens to generate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command.add_option("--temp", options.sampling.temperature, "Sampling temperature; 0 is greedy")
      ->capture_default_str();
  command.add_option("--top-k", options.sampling.top_k, "Sample from the k most likely")
      ->capture_default_str();
  command.add_option("--top-p", options.sampling.top_p, "Nucleus sampling mass")
      ->capture_default_str();
  command.add_option("--seed", options.sampling.seed, "Random seed")->capture_default_str();
}

void ReducerFlags::Parse() { ParseQueryFlags(query, options); }

void AddReducerFlags(CLI::App& command, ReducerFlags& flags) {
  command
      .add_option(
          "--reduce", flags.name,
          "Image-token reducer in prefill: lightvlm, fastv, pdrop, dart, cdpruner, visionzip, "
          "random, uniform, none")
      ->capture_default_str();
  command
      .add_option("--keep", flags.options.budget.keep,
                  "Budget: average share of image tokens over the LLM layers, in (0, 1]")
      ->capture_default_str();
  command.add_option("--final-tokens", flags.options.budget.final_tokens,
                     "Budget as the image tokens left after the last stage (instead of --keep)");
  AddQueryFlags(command, flags.query);
  command.add_option("--stages", flags.options.stages, "lightvlm: merging stages")
      ->capture_default_str();
  command
      .add_option("--fastv-layer", flags.options.fastv_layer,
                  "fastv, dart, random, uniform: the layer before which tokens are pruned")
      ->capture_default_str();
  command.add_option("--reduce-seed", flags.options.seed, "random: seed of the kept subset")
      ->capture_default_str();
}

}  // namespace lightvlm
