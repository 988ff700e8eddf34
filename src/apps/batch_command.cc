// `lightvlm batch`: answers many requests with continuous batching (engine/batch_generator.h):
// up to --batch sequences decode together, sharing each step's weight reads, and a waiting
// request takes the slot of one that finishes. Requests come as JSON Lines:
//
//   {"prompt": "What colour is the square?", "image": "shapes/0001.png", "max_tokens": 16}
//
// ("image" and "max_tokens" optional; "image" relative to the file's directory). Each answer is
// printed as one JSON line when it finishes: {"index", "text", "tokens", "stop", "prefill_ms",
// "decode_ms"}, index counting the requests from 0.
#include <chrono>
#include <deque>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/kv_flags.h"
#include "base/log.h"
#include "engine/batch_generator.h"
#include "engine/model.h"
#include "io/image.h"
#include "io/json_file.h"
#include "models/linear.h"

namespace lightvlm {
namespace {

struct BatchCommandOptions {
  std::string model_dir;
  std::string requests_path;
  int64_t batch = 8;
  int64_t max_new_tokens = 64;
  int64_t context = 0;  // 0: the model's max_position_embeddings
  int64_t max_image_pixels = ImageLimits{}.max_pixels;
  std::string reducer = "none";
  ReducerOptions reduction;
  std::string kv_policy = "none";
  KvPolicyOptions kv;
  std::string weight_dtype = "f32";
  int threads = 0;
  bool verbose = false;
};

struct Request {
  std::string prompt;
  std::string image_path;  // empty: text only
  int64_t max_new_tokens = 0;
};

std::vector<Request> LoadRequests(const std::string& path, int64_t default_max_tokens) {
  const std::filesystem::path base_dir = std::filesystem::path(path).parent_path();
  std::vector<Request> requests;
  ForEachJsonLine(path, "no requests", [&](const JsonFile& json) {
    Request request;
    request.prompt = json.Get<std::string>("prompt");
    const std::string image = json.GetOr<std::string>("image", "");
    if (!image.empty()) request.image_path = (base_dir / image).string();
    request.max_new_tokens = json.GetOr<int64_t>("max_tokens", default_max_tokens);
    Check(request.max_new_tokens > 0, json.path(), ": max_tokens must be positive, got ",
          request.max_new_tokens);
    requests.push_back(std::move(request));
  });
  return requests;
}

void RunBatch(const BatchCommandOptions& options) {
  SetVerbose(options.verbose);
  const std::vector<Request> requests = LoadRequests(options.requests_path, options.max_new_tokens);
  const Model model = LoadModel(options.model_dir, ParseWeightDType(options.weight_dtype));
  ThreadPool pool(options.threads);
  BatchOptions batch_options{
      .max_batch = options.batch,
      .context = options.context ? options.context : model.config().max_position_embeddings,
      .make_reducer = [&] { return MakeTokenReducer(options.reducer, options.reduction); },
      .make_kv_policy = [&] { return MakeKvPolicy(options.kv_policy, options.kv); }};
  // Fail on a bad reducer or policy before any image is encoded.
  batch_options.make_reducer();
  batch_options.make_kv_policy();
  BatchGenerator generator(model.decoder(), pool, batch_options);

  std::map<std::string, const ImageEmbeddings*> image_of_path;
  std::deque<ImageEmbeddings> images;  // a deque: prompts point into it while it grows
  for (size_t i = 0; i < requests.size(); ++i) {
    const Request& request = requests[i];
    const ImageEmbeddings* image = nullptr;
    if (!request.image_path.empty()) {
      Check(model.language_model->image_token_id() >= 0, options.requests_path, ", request ", i,
            ": ", model.directory, " takes no images");
      auto [found, inserted] = image_of_path.try_emplace(request.image_path, nullptr);
      if (inserted) {
        images.push_back(model.language_model->EncodeImage(
            pool, LoadImage(request.image_path, {.max_pixels = options.max_image_pixels})));
        found->second = &images.back();
      }
      image = found->second;
    }
    const std::string text =
        model.language_model->FormatPrompt(request.prompt, image != nullptr ? 1 : 0);
    const std::vector<int32_t> ids = model.tokenizer->Encode(text, /*add_special=*/true);
    Prompt prompt{ids, {}};
    if (image != nullptr) {
      prompt = AssemblePrompt(ids, std::span(image, 1), model.language_model->image_token_id());
    }
    GenerationOptions generation;
    generation.max_new_tokens = request.max_new_tokens;
    generation.stop_token_ids = model.stop_token_ids;
    generator.Submit({std::move(prompt), generation, {}});
  }

  const auto start = std::chrono::steady_clock::now();
  std::vector<bool> printed(requests.size(), false);
  int64_t generated = 0;
  bool more = true;
  while (more) {
    more = generator.Step();
    for (size_t i = 0; i < requests.size(); ++i) {
      if (printed[i] || !generator.done(static_cast<int64_t>(i))) continue;
      const GenerationResult& result = generator.result(static_cast<int64_t>(i));
      generated += static_cast<int64_t>(result.tokens.size());
      const nlohmann::json line = {
          {"index", i},
          {"text", model.tokenizer->Decode(result.tokens, /*skip_special=*/true)},
          {"tokens", result.tokens.size()},
          {"stop", StopReasonName(result.stop_reason)},
          {"prefill_ms", result.prefill_ms},
          {"decode_ms", result.decode_ms}};
      std::cout << line.dump() << std::endl;
      printed[i] = true;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  LogVerbose("batch: ", requests.size(), " requests, ", generated, " tokens in ", seconds, " s (",
             generated / std::max(seconds, 1e-9), " tokens/s); ", generator.steps(),
             " batched decode steps, at most ", generator.largest_batch(), " sequences in one");
}

}  // namespace

void AddBatchCommand(CLI::App& app) {
  auto options = std::make_shared<BatchCommandOptions>();
  CLI::App* command = app.add_subcommand(
      "batch", "Answer many requests (JSON Lines) with continuous batching, one JSON line each");
  command->add_option("-m,--model", options->model_dir, "Checkpoint directory")->required();
  command
      ->add_option("--requests", options->requests_path,
                   "JSON Lines: {\"prompt\": ..., \"image\": ..., \"max_tokens\": ...} per line")
      ->required();
  command->add_option("-b,--batch", options->batch, "Sequences decoded together")
      ->capture_default_str();
  command
      ->add_option("-n,--max-tokens", options->max_new_tokens,
                   "Most tokens per answer, where a request gives no max_tokens")
      ->capture_default_str();
  command->add_option("--context", options->context,
                      "Tokens each sequence's KV cache holds (default: max_position_embeddings)");
  command
      ->add_option("--max-image-pixels", options->max_image_pixels,
                   "Refuse images with more pixels than this")
      ->capture_default_str();
  command->add_option("--reduce", options->reducer, "Image-token reducer in prefill")
      ->capture_default_str();
  command
      ->add_option("--keep", options->reduction.budget.keep,
                   "Budget: average share of image tokens over the LLM layers, in (0, 1]")
      ->capture_default_str();
  AddKvPolicyFlags(*command, options->kv_policy, options->kv);
  command->add_option("--dtype", options->weight_dtype, "Weights in memory: f32, bf16 or int8")
      ->check(CLI::IsMember({"f32", "bf16", "int8"}))
      ->capture_default_str();
  command->add_option("-t,--threads", options->threads, "Threads (default: all cores)");
  command->add_flag("-v,--verbose", options->verbose, "Throughput and batching on stderr");
  command->callback([options] { RunBatch(*options); });
}

}  // namespace lightvlm
