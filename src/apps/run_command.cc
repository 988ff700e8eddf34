// `lightvlm run`: generate a continuation, or an answer about images, and stream it to stdout.
#include <iostream>
#include <string>

#include "apps/commands.h"
#include "apps/kv_flags.h"
#include "apps/runtime_flags.h"
#include "apps/session_flags.h"
#include "base/log.h"
#include "base/thread_pool.h"
#include "engine/model.h"
#include "engine/session.h"
#include "io/image.h"
#include "reduce/kv_policy.h"
#include "reduce/token_reducer.h"

namespace lightvlm {
namespace {

struct RunOptions {
  std::string model_dir;
  std::string prompt;
  std::vector<std::string> image_paths;
  bool raw_prompt = false;
  ImageLimits image_limits;
  GenerationOptions generation;
  ContextFlags context;
  bool truncate = false;
  int threads = 0;
  bool verbose = false;
  ReducerFlags reducer;
  LoadFlags load;
  std::string kv_policy = "none";
  KvPolicyOptions kv;
};

void LogPlan(const TokenReducer& reducer, const std::string& name, const ReducerOptions& options) {
  std::string stages;
  for (const ReductionStage& stage : reducer.plan()) {
    stages += StrCat(" [layer ", stage.layer, ": ", stage.image_tokens, " image tokens]");
  }
  LogVerbose("reduce: ", name, stages.empty() ? " (no stages)" : stages,
             "; average image-token share over layers ", reducer.AverageKeep(),
             "; scored by --query-tokens ", QueryTokensName(options), " --query-weights ",
             QueryWeightsName(options));
  std::string per_layer;
  for (int64_t tokens : reducer.ImageTokensPerLayer()) per_layer += StrCat(" ", tokens);
  LogVerbose("reduce: image tokens at each layer:", per_layer);
}

// Each layer's live entries and bytes (ragged after merging and eviction), and the peak.
void LogCache(const Session& session) {
  const KvCache& cache = session.cache();
  for (int64_t l = 0; l < cache.num_layers(); ++l) {
    LogVerbose("kv cache: layer ", l, ": ", cache.layer(l).size(), " entries, ",
               cache.layer(l).bytes(), " bytes");
  }
  LogVerbose("kv cache: ", cache.bytes(), " bytes now, peak ", session.peak_kv_bytes(), " bytes");
}

void Run(const RunOptions& options) {
  SetVerbose(options.verbose);
  Model model = LoadModel(options.model_dir, options.load.Options());
  const LlmConfig& config = model.config();
  const int64_t context = options.context.CheckedContext(config, 1);

  ThreadPool pool(options.threads);
  std::vector<ImageEmbeddings> images;
  for (const std::string& path : options.image_paths) {
    const Image image = LoadImage(path, options.image_limits);
    images.push_back(model.language_model->EncodeImage(pool, image));
    std::string grids;
    for (const ImageGrid& grid : images.back().grids) {
      grids += StrCat(grids.empty() ? "" : ", ", grid.height, "x", grid.width);
    }
    LogVerbose("image ", path, ": ", images.back().rows.dim(0), " tokens in ",
               images.back().grids.size(), " grids (", grids, ")");
  }
  Prompt prompt = MakePrompt(model, options.prompt, images, options.raw_prompt);
  if (options.truncate) {
    Check(images.empty(), "--truncate works on text-only prompts (it could cut an image)");
    const std::vector<int32_t>& ids = prompt.token_ids;
    const bool starts_with_bos = !ids.empty() && ids.front() == config.bos_token_id;
    prompt.token_ids = TruncatePrompt(ids, context - 1, starts_with_bos);
  }
  Session session(model.decoder(), pool, context, options.context.kv_dtype);
  const auto reducer = MakeTokenReducer(options.reducer.name, options.reducer.options);
  session.SetTokenReducer(reducer.get());
  const auto kv_policy = MakeKvPolicy(options.kv_policy, options.kv);
  session.SetKvPolicy(kv_policy.get());
  GenerationOptions generation = options.generation;
  generation.stop_token_ids = model.stop_token_ids;

  StreamDecoder stream(*model.tokenizer, /*skip_special=*/true);
  const GenerationResult result = session.Generate(prompt, generation, [&](int32_t token) {
    std::cout << stream.Push(token) << std::flush;
    return true;
  });
  std::cout << stream.Finish() << std::endl;
  if (!images.empty()) LogPlan(*reducer, options.reducer.name, options.reducer.options);
  LogVerbose("prompt: ", result.prompt_tokens, " tokens, prefill ", result.prefill_ms, " ms; ",
             result.tokens.size(), " generated in ", result.decode_ms, " ms (",
             result.tokens.size() * 1000.0 / std::max(result.decode_ms, 1e-9),
             " tokens/s); stop: ", StopReasonName(result.stop_reason));
  if (options.kv_policy != "none") {
    LogVerbose("kv: ", options.kv_policy, ", budget ", kv_policy->Budget(session.length()),
               " entries per layer, ", kv_policy->sinks(), " sinks, window ",
               kv_policy->window(session.length()), ", every ", kv_policy->interval(), " steps");
  }
  LogCache(session);
}

}  // namespace

void AddRunCommand(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* run = app.add_subcommand("run", "Generate text from a prompt and stream it to stdout");
  AddModelFlag(*run, options->model_dir);
  run->add_option("-p,--prompt", options->prompt, "Prompt text, or the question about the images")
      ->required();
  run->add_option("-i,--image", options->image_paths,
                  "Image file (JPEG, PNG, BMP, GIF, PNM); repeat for several images");
  run->add_flag("--raw", options->raw_prompt,
                "Use the prompt as given, without the model's chat format (place images with "
                "<image>)");
  AddImageLimitFlag(*run, options->image_limits);
  AddSamplingFlags(*run, options->generation);
  AddContextFlags(*run, options->context);
  run->add_flag("--truncate", options->truncate,
                "Keep the end of a prompt longer than the context instead of failing");
  AddReducerFlags(*run, options->reducer);
  AddKvPolicyFlags(*run, options->kv_policy, options->kv);
  AddLoadFlags(*run, options->load);
  AddThreadsFlag(*run, options->threads);
  run->add_flag("-v,--verbose", options->verbose, "Timings and details on stderr");
  run->callback([options] {
    // The flags CLI11 cannot check alone, before anything is loaded.
    ValidateSamplingOptions(options->generation.sampling);
    options->reducer.Parse();
    Run(*options);
  });
}

}  // namespace lightvlm
