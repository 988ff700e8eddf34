// `lightvlm kvfidelity`: how closely each KV cache policy's greedy text follows the full cache's
// on real weights (token agreement, and perplexity under the full-cache model).
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/kv_flags.h"
#include "apps/runtime_flags.h"
#include "base/error.h"
#include "base/thread_pool.h"
#include "eval/kv_fidelity.h"
#include "io/mapped_file.h"
#include "models/kv_cache_limit.h"

namespace lightvlm {
namespace {

struct KvFidelityOptions {
  std::string model_dir;
  std::string prompt = "Once upon a time";
  std::string instructions_file;
  std::vector<std::string> policies = {"lightvlm", "streaming", "h2o", "snapkv"};
  KvPolicyOptions kv;
  int64_t tokens = 400;
  LoadFlags load;
  int threads = 0;
  bool show_text = false;
  bool json = false;
  int64_t max_kv_bytes = kDefaultMaxKvBytes;
};

// The instructions file's non-empty lines, each asked as a user turn in the model's chat format;
// else the prompt as raw text (a story start).
std::vector<std::vector<int32_t>> Prompts(const Model& model, const KvFidelityOptions& options,
                                          std::vector<std::string>& texts) {
  std::vector<std::vector<int32_t>> prompts;
  if (options.instructions_file.empty()) {
    texts = {options.prompt};
    prompts.push_back(model.tokenizer->Encode(options.prompt, /*add_special=*/true));
    return prompts;
  }
  std::istringstream lines(ReadFileText(options.instructions_file));
  for (std::string line; std::getline(lines, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    texts.push_back(line);
    prompts.push_back(MakePrompt(model, line, {}).token_ids);
  }
  Check(!prompts.empty(), options.instructions_file, ": no instructions (one a line)");
  return prompts;
}

void PrintJson(const KvFidelityOptions& options, const std::vector<std::string>& texts,
               const std::vector<KvFidelityRow>& rows) {
  nlohmann::ordered_json out = {{"model", options.model_dir},
                                {"tokens", options.tokens},
                                {"prompts", texts},
                                {"kv_sinks", options.kv.sinks},
                                {"kv_window", options.kv.window},
                                {"kv_interval", options.kv.interval},
                                {"rows", nlohmann::ordered_json::array()}};
  for (const KvFidelityRow& row : rows) {
    nlohmann::ordered_json r = {{"policy", row.policy},
                                {"budget", row.budget},
                                {"agreement", row.agreement},
                                {"perplexity", row.perplexity},
                                {"peak_kv_bytes", row.peak_kv_bytes},
                                {"agreements", row.agreements},
                                {"perplexities", row.perplexities}};
    if (options.show_text) r["texts"] = row.texts;
    out["rows"].push_back(std::move(r));
  }
  std::cout << out.dump(1) << '\n';
}

void Measure(const KvFidelityOptions& options) {
  const Model model = LoadModel(options.model_dir, options.load.Options());
  ThreadPool pool(options.threads);
  std::vector<std::string> texts;
  const auto prompts = Prompts(model, options, texts);
  // Every prompt's session lives through a policy's pass at once.
  size_t longest = 0;
  for (const auto& prompt : prompts) longest = std::max(longest, prompt.size());
  CheckKvCacheBytes(model.config(), static_cast<int64_t>(longest) + options.tokens + 1,
                    static_cast<int64_t>(prompts.size()), kDefaultKvDType, options.max_kv_bytes,
                    "the longest prompt and --max-tokens, for each prompt",
                    "--max-tokens or fewer --instructions");
  const auto rows =
      MeasureKvFidelity(model, pool, prompts, options.policies, options.kv, options.tokens);
  if (options.json) return PrintJson(options, texts, rows);
  std::cout << std::fixed << std::setprecision(4) << options.tokens << " greedy tokens after ";
  if (texts.size() == 1) {
    std::cout << '"' << texts[0] << "\"\n";
  } else {
    std::cout << texts.size() << " instructions (means over them)\n";
  }
  std::cout << "policy     budget  agreement  perplexity  peak_KV_bytes\n";
  for (const KvFidelityRow& row : rows) {
    std::cout << std::left << std::setw(10) << row.policy << std::right << std::setw(7)
              << row.budget << std::setw(11) << row.agreement << std::setw(12) << row.perplexity
              << std::setw(15) << row.peak_kv_bytes << '\n';
    if (options.show_text) {
      for (const std::string& text : row.texts) std::cout << text << "\n\n";
    }
  }
}

}  // namespace

void AddKvFidelityCommand(CLI::App& app) {
  auto options = std::make_shared<KvFidelityOptions>();
  CLI::App* command = app.add_subcommand(
      "kvfidelity", "Agreement and perplexity of KV policies' greedy text against the full cache");
  AddModelFlag(*command, options->model_dir);
  command->add_option("-p,--prompt", options->prompt, "Prompt text")->capture_default_str();
  command
      ->add_option("--instructions", options->instructions_file,
                   "File of instructions, one a line, each asked as a user turn in the model's "
                   "chat format and answered in one batch (instead of --prompt)")
      ->check(CLI::ExistingFile);
  command->add_option("-n,--max-tokens", options->tokens, "Greedy tokens per policy")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  AddKvPolicyListFlags(*command, options->policies, options->kv);
  command->add_flag("--text", options->show_text, "Print each policy's text");
  command->add_flag("--json", options->json, "Print JSON instead of a table");
  AddLoadFlags(*command, options->load);
  AddThreadsFlag(*command, options->threads);
  AddMaxKvBytesFlag(*command, options->max_kv_bytes);
  command->callback([options] { Measure(*options); });
}

}  // namespace lightvlm
