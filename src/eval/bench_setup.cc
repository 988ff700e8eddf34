#include "eval/bench_setup.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "base/error.h"
#include "eval/synthetic_image.h"

namespace lightvlm {
namespace {

// One sentence of filler for --prompt-tokens: neutral, so it asks nothing of the answer.
constexpr std::string_view kFiller = "Look at it carefully. ";

Prompt PromptWithFiller(const Model& model, const std::string& question,
                        std::span<const ImageEmbeddings> images, int64_t fillers) {
  std::string text;
  for (int64_t i = 0; i < fillers; ++i) text += kFiller;
  text += question;
  return MakePrompt(model, text, images);
}

}  // namespace

BenchModels::BenchModels(const BenchTarget& first, const std::optional<BenchTarget>& second)
    : first_model_(LoadModel(first.model_dir, first.load)),
      first_pool_(std::make_unique<ThreadPool>(first.threads)) {
  if (!second) return;
  if (second->model_dir != first.model_dir || second->load != first.load) {
    second_model_.emplace(LoadModel(second->model_dir, second->load));
  }
  if (second->threads != first.threads)
    second_pool_ = std::make_unique<ThreadPool>(second->threads);
}

Image BenchImage(const std::string& path) {
  return path.empty() ? SyntheticImage(336) : LoadImage(path);
}

Prompt BenchPrompt(const Model& model, const std::string& question,
                   std::span<const ImageEmbeddings> images, int64_t min_tokens) {
  Prompt prompt = PromptWithFiller(model, question, images, 0);
  if (min_tokens <= 0) return prompt;
  const int64_t plain = prompt.size();
  Check(plain <= min_tokens, "bench: --prompt-tokens ", min_tokens, " is below the plain prompt's ",
        plain, " tokens (image tokens included); give at least ", plain);
  // Adds as many fillers as the tokens still missing need at the tokens each has added so far
  // (measured, never assumed: the tokenizer may merge across sentences).
  for (int64_t fillers = 1; prompt.size() < min_tokens;) {
    prompt = PromptWithFiller(model, question, images, fillers);
    const double per_filler = std::max(1.0, static_cast<double>(prompt.size() - plain) / fillers);
    fillers += std::max<int64_t>(
        1, static_cast<int64_t>(
               std::ceil(static_cast<double>(min_tokens - prompt.size()) / per_filler)));
  }
  return prompt;
}

void AddMachineJson(const MachineCeilings& ceilings, nlohmann::json& json) {
  json["ceiling_gemm_gflops"] = ceilings.gemm_gflops;
  json["ceiling_copy_gbytes_s"] = ceilings.copy_gbytes_s;
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  json["omp_wait_policy"] = wait_policy != nullptr ? wait_policy : "";
}

void AddComparisonJson(const std::string& flags, std::string_view ratio, bool shares_model,
                       nlohmann::json& json) {
  json["compare"] = flags;
  json["compare_ratio_definition"] =
      std::string(ratio) + "; A: this configuration, B: A with `compare` on top";
  json["compare_shares_model"] = shares_model;
}

}  // namespace lightvlm
