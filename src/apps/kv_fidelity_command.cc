// `lightvlm kvfidelity`: how closely each KV cache policy's greedy text follows the full cache's
// on real weights (token agreement, and perplexity under the full-cache model).
#include <iomanip>
#include <iostream>

#include "apps/commands.h"
#include "apps/kv_flags.h"
#include "apps/runtime_flags.h"
#include "base/error.h"
#include "base/thread_pool.h"
#include "eval/kv_fidelity.h"

namespace lightvlm {
namespace {

struct KvFidelityOptions {
  std::string model_dir;
  std::string prompt = "Once upon a time";
  std::vector<std::string> policies = {"lightvlm", "streaming", "h2o", "snapkv"};
  KvPolicyOptions kv;
  int64_t tokens = 400;
  LoadFlags load;
  int threads = 0;
  bool show_text = false;
};

void Measure(const KvFidelityOptions& options) {
  const Model model = LoadModel(options.model_dir, options.load.Options());
  ThreadPool pool(options.threads);
  const auto rows =
      MeasureKvFidelity(model, pool, options.prompt, options.policies, options.kv, options.tokens);
  std::cout << std::fixed << std::setprecision(4) << options.tokens << " greedy tokens after \""
            << options.prompt << "\"\npolicy     budget  agreement  perplexity  peak_KV_bytes\n";
  for (const KvFidelityRow& row : rows) {
    std::cout << std::left << std::setw(10) << row.policy << std::right << std::setw(7)
              << row.budget << std::setw(11) << row.agreement << std::setw(12) << row.perplexity
              << std::setw(15) << row.peak_kv_bytes << '\n';
    if (options.show_text) std::cout << row.text << "\n\n";
  }
}

}  // namespace

void AddKvFidelityCommand(CLI::App& app) {
  auto options = std::make_shared<KvFidelityOptions>();
  CLI::App* command = app.add_subcommand(
      "kvfidelity", "Agreement and perplexity of KV policies' greedy text against the full cache");
  AddModelFlag(*command, options->model_dir);
  command->add_option("-p,--prompt", options->prompt, "Prompt text")->capture_default_str();
  command->add_option("-n,--max-tokens", options->tokens, "Greedy tokens per policy")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  AddKvPolicyListFlags(*command, options->policies, options->kv);
  command->add_flag("--text", options->show_text, "Print each policy's text");
  AddLoadFlags(*command, options->load);
  AddThreadsFlag(*command, options->threads);
  command->callback([options] { Measure(*options); });
}

}  // namespace lightvlm
