// `lightvlm run`: generate a continuation or an answer and stream it to stdout.
#include <iostream>
#include <string>

#include "apps/commands.h"
#include "base/log.h"
#include "base/thread_pool.h"
#include "engine/model.h"
#include "engine/session.h"

namespace lightvlm {
namespace {

struct RunOptions {
  std::string model_dir;
  std::string prompt;
  GenerationOptions generation;
  int64_t context = 0;  // 0: the model's max_position_embeddings
  bool truncate = false;
  int threads = 0;
  bool verbose = false;
};

void Run(const RunOptions& options) {
  SetVerbose(options.verbose);
  Model model = LoadModel(options.model_dir);
  const LlmConfig& config = model.config();
  const int64_t context = options.context ? options.context : config.max_position_embeddings;

  std::vector<int32_t> prompt = model.tokenizer->Encode(options.prompt, /*add_special=*/true);
  if (options.truncate) {
    const bool starts_with_bos = !prompt.empty() && prompt.front() == config.bos_token_id;
    prompt = TruncatePrompt(prompt, context - 1, starts_with_bos);
  }
  ThreadPool pool(options.threads);
  Session session(*model.decoder, pool, context);
  GenerationOptions generation = options.generation;
  generation.stop_token_ids = model.stop_token_ids;

  StreamDecoder text(*model.tokenizer, /*skip_special=*/true);
  const GenerationResult result = session.Generate(prompt, generation, [&](int32_t token) {
    std::cout << text.Push(token) << std::flush;
    return true;
  });
  std::cout << text.Finish() << std::endl;
  LogVerbose("prompt: ", result.prompt_tokens, " tokens, prefill ", result.prefill_ms, " ms; ",
             result.tokens.size(), " generated in ", result.decode_ms, " ms (",
             result.tokens.size() * 1000.0 / std::max(result.decode_ms, 1e-9),
             " tokens/s); stop: ", StopReasonName(result.stop_reason));
}

}  // namespace

void AddRunCommand(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* run = app.add_subcommand("run", "Generate text from a prompt and stream it to stdout");
  run->add_option("-m,--model", options->model_dir, "Checkpoint directory (Hugging Face layout)")
      ->required();
  run->add_option("-p,--prompt", options->prompt, "Prompt text")->required();
  run->add_option("-n,--max-tokens", options->generation.max_new_tokens, "Most tokens to generate")
      ->capture_default_str();
  run->add_option("--temp", options->generation.sampling.temperature,
                  "Sampling temperature; 0 is greedy")
      ->capture_default_str();
  run->add_option("--top-k", options->generation.sampling.top_k, "Sample from the k most likely")
      ->capture_default_str();
  run->add_option("--top-p", options->generation.sampling.top_p, "Nucleus sampling mass")
      ->capture_default_str();
  run->add_option("--seed", options->generation.sampling.seed, "Random seed")
      ->capture_default_str();
  run->add_option("--context", options->context,
                  "Tokens the KV cache holds (default: max_position_embeddings)");
  run->add_flag("--truncate", options->truncate,
                "Keep the end of a prompt longer than the context instead of failing");
  run->add_option("-t,--threads", options->threads, "Threads (default: all cores)");
  run->add_flag("-v,--verbose", options->verbose, "Timings and details on stderr");
  run->callback([options] { Run(*options); });
}

}  // namespace lightvlm
