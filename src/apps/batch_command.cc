// `lightvlm batch`: answers many requests with continuous batching (engine/batch_generator.h):
// up to --batch sequences decode together, sharing each step's weight reads, and a waiting
// request takes the slot of one that finishes. Requests come as JSON Lines:
//
//   {"prompt": "What colour is the square?", "image": "shapes/0001.png", "max_tokens": 16}
//
// ("image" and "max_tokens" optional; "image" relative to the file's directory). Each answer is
// printed as one JSON line when it finishes: {"index", "line", "text", "tokens", "stop",
// "prefill_ms", "decode_ms"}, index counting the requests (non-blank lines) from 0 and line their
// line in the file. A request that cannot be answered (bad JSON or fields, an image that does not
// load, a prompt too long) gets {"index", "line", "error"} instead, the others their answers, and
// the command then exits with status 2 (kExitPartialFailure).
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/kv_flags.h"
#include "apps/runtime_flags.h"
#include "apps/session_flags.h"
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
  ContextFlags context;
  ImageLimits image_limits;
  ReducerFlags reducer;
  std::string kv_policy = "none";
  KvPolicyOptions kv;
  LoadFlags load;
  int threads = 0;
  bool verbose = false;
};

struct Request {
  int64_t line = 0;  // in the requests file
  std::string prompt;
  std::string image_path;  // empty: text only
  int64_t max_new_tokens = 0;
  std::string error;  // set when the request cannot be answered; it gets an error line
};

// Every request of the file, those that are malformed with their error set.
std::vector<Request> LoadRequests(const std::string& path, int64_t default_max_tokens) {
  const std::filesystem::path base_dir = std::filesystem::path(path).parent_path();
  std::vector<Request> requests;
  ForEachJsonLine(
      path, "no requests",
      [&](const JsonFile& json, int64_t line) {
        Request request;
        request.line = line;
        request.prompt = json.Get<std::string>("prompt");
        const std::string image = json.GetOr<std::string>("image", "");
        if (!image.empty()) request.image_path = (base_dir / image).string();
        request.max_new_tokens = json.GetOr<int64_t>("max_tokens", default_max_tokens);
        Check(request.max_new_tokens > 0, json.path(), ": max_tokens must be positive, got ",
              request.max_new_tokens);
        requests.push_back(std::move(request));
      },
      [&](int64_t line, const Error& error) {
        Request request;
        request.line = line;
        request.error = error.what();
        requests.push_back(std::move(request));
      });
  return requests;
}

void PrintError(size_t index, const Request& request) {
  std::cout
      << nlohmann::json{{"index", index}, {"line", request.line}, {"error", request.error}}.dump()
      << std::endl;
}

// The request's image, encoded once per path; fails naming the image.
const ImageEmbeddings& CachedImage(const Model& model, ThreadPool& pool, const std::string& path,
                                   const ImageLimits& limits,
                                   std::map<std::string, ImageEmbeddings>& image_of_path) {
  const auto found = image_of_path.find(path);
  if (found != image_of_path.end()) return found->second;
  ImageEmbeddings image = model.language_model->EncodeImage(pool, LoadImage(path, limits));
  return image_of_path.emplace(path, std::move(image)).first->second;
}

void RunBatch(const BatchCommandOptions& options) {
  SetVerbose(options.verbose);
  std::vector<Request> requests = LoadRequests(options.requests_path, options.max_new_tokens);
  const Model model = LoadModel(options.model_dir, options.load.Options());
  ThreadPool pool(options.threads);
  BatchOptions batch_options{
      .max_batch = options.batch,
      .context = options.context.CheckedContext(model.config(), options.batch),
      .kv_dtype = options.context.kv_dtype,
      .make_reducer =
          [&] { return MakeTokenReducer(options.reducer.name, options.reducer.options); },
      .make_kv_policy = [&] { return MakeKvPolicy(options.kv_policy, options.kv); }};
  // Fail on bad reducer or policy options before any image is encoded.
  batch_options.make_reducer();
  batch_options.make_kv_policy();
  BatchGenerator generator(model.decoder(), pool, batch_options);

  // A map's elements stay put while it grows: prompts point into it.
  std::map<std::string, ImageEmbeddings> image_of_path;
  std::vector<size_t> request_of_id;  // the generator's request ids, in order of submission
  int64_t failed = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    Request& request = requests[i];
    if (request.error.empty()) {
      try {
        const ImageEmbeddings* image = nullptr;
        if (!request.image_path.empty()) {
          Check(model.language_model->image_token_id() >= 0, model.path, " takes no images");
          image =
              &CachedImage(model, pool, request.image_path, options.image_limits, image_of_path);
        }
        GenerationOptions generation;
        generation.max_new_tokens = request.max_new_tokens;
        generation.stop_token_ids = model.stop_token_ids;
        generator.Submit(
            {MakePrompt(model, request.prompt, std::span(image, image ? 1 : 0)), generation, {}});
        request_of_id.push_back(i);
      } catch (const Error& error) {
        request.error = StrCat(options.requests_path, ", line ", request.line, ": ", error.what());
      }
    }
    if (!request.error.empty()) {
      PrintError(i, request);
      ++failed;
    }
  }

  const auto start = std::chrono::steady_clock::now();
  std::vector<bool> printed(request_of_id.size(), false);
  int64_t generated = 0;
  bool more = true;
  while (more) {
    more = generator.Step();
    for (size_t id = 0; id < request_of_id.size(); ++id) {
      if (printed[id] || !generator.done(static_cast<int64_t>(id))) continue;
      const GenerationResult& result = generator.result(static_cast<int64_t>(id));
      const size_t i = request_of_id[id];
      printed[id] = true;
      if (result.stop_reason == StopReason::kError) {
        requests[i].error =
            StrCat(options.requests_path, ", line ", requests[i].line, ": ", result.error);
        PrintError(i, requests[i]);
        ++failed;
        continue;
      }
      generated += static_cast<int64_t>(result.tokens.size());
      const nlohmann::json line = {
          {"index", i},
          {"line", requests[i].line},
          {"text", model.tokenizer->Decode(result.tokens, /*skip_special=*/true)},
          {"tokens", result.tokens.size()},
          {"stop", StopReasonName(result.stop_reason)},
          {"prefill_ms", result.prefill_ms},
          {"decode_ms", result.decode_ms}};
      std::cout << line.dump() << std::endl;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  LogVerbose("batch: ", requests.size(), " requests, ", generated, " tokens in ", seconds, " s (",
             generated / std::max(seconds, 1e-9), " tokens/s); ", generator.steps(),
             " batched decode steps, at most ", generator.largest_batch(), " sequences in one");
  if (failed > 0) {
    throw PartialFailure(StrCat(failed, " of ", requests.size(), " requests in ",
                                options.requests_path, " failed (see their error lines)"));
  }
}

}  // namespace

void AddBatchCommand(CLI::App& app) {
  auto options = std::make_shared<BatchCommandOptions>();
  CLI::App* command = app.add_subcommand(
      "batch", "Answer many requests (JSON Lines) with continuous batching, one JSON line each");
  AddModelFlag(*command, options->model_dir);
  command
      ->add_option("--requests", options->requests_path,
                   "JSON Lines: {\"prompt\": ..., \"image\": ..., \"max_tokens\": ...} per line")
      ->required();
  command->add_option("-b,--batch", options->batch, "Sequences decoded together")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  command
      ->add_option("-n,--max-tokens", options->max_new_tokens,
                   "Most tokens per answer, where a request gives no max_tokens")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  AddContextFlags(*command, options->context);
  AddImageLimitFlag(*command, options->image_limits);
  AddReducerFlags(*command, options->reducer);
  AddKvPolicyFlags(*command, options->kv_policy, options->kv);
  AddLoadFlags(*command, options->load);
  AddThreadsFlag(*command, options->threads);
  command->add_flag("-v,--verbose", options->verbose, "Throughput and batching on stderr");
  command->callback([options] {
    options->reducer.Parse();
    RunBatch(*options);
  });
}

}  // namespace lightvlm
