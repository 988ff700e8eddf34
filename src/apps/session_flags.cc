#include "apps/session_flags.h"

#include "apps/known_names.h"

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
  command
      .add_option("--seed", options.sampling.seed,
                  "Sampling seed: the same seed gives the same text")
      ->capture_default_str();
}

CLI::Option* AddReducerNameFlag(CLI::App& command, std::string& name) {
  return command
      .add_option("--reduce", name,
                  "Image-token reducer in prefill: " + JoinNames(TokenReducerNames()))
      ->check(KnownName("reducer", TokenReducerNames()))
      ->capture_default_str();
}

void AddReducerKnobs(CLI::App& command, ReducerOptions& options, QueryFlags& query) {
  AddQueryFlags(command, query);
  command.add_option("--stages", options.stages, "lightvlm: merging stages")->capture_default_str();
  command
      .add_option("--fastv-layer", options.fastv_layer,
                  "fastv, dart, random, uniform: the layer before which tokens are pruned")
      ->capture_default_str();
  command.add_option("--reduce-seed", options.seed, "random: seed of the kept subset")
      ->capture_default_str();
}

void ReducerFlags::Parse() {
  ParseQueryFlags(query, options);
  if (!plan.empty()) options.plan = ParsePlan(plan);
}

void AddReducerFlags(CLI::App& command, ReducerFlags& flags) {
  CLI::Option* reduce = AddReducerNameFlag(command, flags.name);
  CLI::Option* keep =
      command
          .add_option("--keep", flags.options.budget.keep,
                      "Budget: average share of image tokens over the LLM layers, in (0, 1]")
          ->capture_default_str()
          ->needs(reduce);
  CLI::Option* final_tokens =
      command
          .add_option("--final-tokens", flags.options.budget.final_tokens,
                      "Budget as the image tokens left after the last stage (-1: use --keep)")
          ->capture_default_str()
          ->needs(reduce)
          ->excludes(keep);
  CLI::Option* plan =
      command
          .add_option("--plan", flags.plan,
                      "The stages as given, LAYER:TOKENS,... (e.g. 4:98,16:24), instead of the "
                      "plan the reducer makes from a budget: to study plan shapes")
          ->needs(reduce)
          ->excludes(keep)
          ->excludes(final_tokens);
  reduce->check(CLI::Validator(
      [keep, final_tokens, plan](std::string& name) -> std::string {
        if (name != "none" || keep->count() + final_tokens->count() + plan->count() == 0) {
          return "";
        }
        return "--keep, --final-tokens and --plan reduce, and --reduce none reduces nothing: name "
               "a reducer";
      },
      "", "budget needs a reducer"));
  AddReducerKnobs(command, flags.options, flags.query);
}

}  // namespace lightvlm
