// `lightvlm serve`: the OpenAI-compatible HTTP server (src/serve/). The model loads once; requests
// are decoded together by continuous batching. SIGTERM or SIGINT: new requests are refused, those
// in flight finish within --grace seconds, and the server exits 0.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <thread>

#include "apps/commands.h"
#include "apps/kv_flags.h"
#include "apps/runtime_flags.h"
#include "apps/session_flags.h"
#include "serve/http_server.h"

namespace lightvlm {
namespace {

struct ServeOptions {
  std::string model_path;
  LoadFlags load;
  ContextFlags context;
  GenerationOptions generation;
  ReducerFlags reducer;
  std::string kv_policy = "none";
  KvPolicyOptions kv;
  HttpOptions http;
  int64_t parallel = 4;
  int64_t max_queue = 64;
  int64_t cached_conversations = 4;
  bool allow_remote_images = false;
  double grace_seconds = 30;
  int threads = 0;
  ImageLimits image_limits;
};

// Set by SIGTERM and SIGINT; a watcher thread turns it into a graceful shutdown. A handler, not
// sigwait: libraries start threads before main (OpenBLAS), and any thread may take the signal.
std::atomic<int> signal_received = 0;

void Serve(const ServeOptions& options) {
  struct sigaction action = {};
  action.sa_handler = [](int number) { signal_received = number; };
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that closes its socket must not kill the server

  const Model model = LoadModel(options.model_path, options.load.Options());
  SchedulerOptions scheduler_options{
      .parallel = options.parallel,
      .max_queue = options.max_queue,
      // Kept conversations hold KV caches too.
      .context = options.context.CheckedContext(model.config(),
                                                options.parallel + options.cached_conversations),
      .kv_dtype = options.context.kv_dtype,
      .generation = options.generation,
      .reduce = options.reducer.name,
      .reducer = options.reducer.options,
      .kv = options.kv_policy,
      .kv_policy = options.kv,
      .images = {.allow_remote = options.allow_remote_images, .limits = options.image_limits},
      .cached_conversations = options.cached_conversations};
  ServerMetrics metrics;
  Scheduler scheduler(model, scheduler_options, options.threads, metrics);
  HttpOptions http = options.http;
  if (http.model_name.empty()) {
    http.model_name = std::filesystem::path(options.model_path).filename().string();
  }
  // Every queued request holds a connection thread while it waits.
  http.threads = options.parallel + options.max_queue + 4;
  HttpServer server(scheduler, metrics, http);
  const int port = server.Bind();
  std::cerr << "lightvlm serve: listening on http://" << http.host << ":" << port << " (model "
            << http.model_name << ", " << options.parallel << " slots)" << std::endl;
  std::thread waiter([&] {
    while (signal_received == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::cerr << "lightvlm serve: signal " << signal_received
              << ", finishing the requests in flight" << std::endl;
    server.Shutdown(std::chrono::milliseconds(static_cast<int64_t>(options.grace_seconds * 1000)));
  });
  server.Listen();
  waiter.join();
  std::cerr << "lightvlm serve: stopped" << std::endl;
}

}  // namespace

void AddServeCommand(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* serve = app.add_subcommand(
      "serve",
      "OpenAI-compatible HTTP server: /v1/chat/completions, /v1/models, /health, /metrics");
  AddModelFlag(*serve, options->model_path);
  serve->add_option("--host", options->http.host, "Address to listen on")->capture_default_str();
  serve->add_option("--port", options->http.port, "Port to listen on (0: any free one)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  serve->add_option("--parallel", options->parallel, "Requests decoded together (slots)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  serve
      ->add_option("--max-queue", options->max_queue,
                   "Requests waiting for a slot; more are refused with 429")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  serve
      ->add_option("--cache-conversations", options->cached_conversations,
                   "Answered conversations whose KV caches are kept for their next turn")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  serve->add_option("--alias", options->http.model_name,
                    "The model's name in the API; empty: the checkpoint's file name");
  serve->add_option("--api-key", options->http.api_key,
                    "Require 'Authorization: Bearer KEY' on /v1/ requests");
  serve->add_flag("--allow-remote-images", options->allow_remote_images,
                  "Fetch http(s) image URLs too, not only data: URLs");
  serve->add_option("--max-body", options->http.max_body_bytes, "Largest request body, in bytes")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve
      ->add_option("--grace", options->grace_seconds,
                   "Seconds requests in flight get to finish after SIGTERM")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  AddImageLimitFlag(*serve, options->image_limits);
  AddSamplingFlags(*serve, options->generation);
  AddContextFlags(*serve, options->context);
  AddReducerFlags(*serve, options->reducer);
  AddKvPolicyFlags(*serve, options->kv_policy, options->kv);
  AddLoadFlags(*serve, options->load);
  AddThreadsFlag(*serve, options->threads);
  serve->callback([options] {
    ValidateSamplingOptions(options->generation.sampling);
    options->reducer.Parse();
    Serve(*options);
  });
}

}  // namespace lightvlm
