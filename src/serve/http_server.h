// The OpenAI-compatible HTTP front of the server (cpp-httplib): POST /v1/chat/completions (plain
// and streamed as server-sent events), GET /v1/models, /health and /metrics. Requests become Jobs
// of the Scheduler; errors are OpenAI's error JSON with the HTTP status the problem calls for.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "serve/metrics.h"
#include "serve/scheduler.h"

namespace httplib {
class Server;
}

namespace lightvlm {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                             // 0: any free port (Bind returns it)
  std::string api_key = {};                    // empty: no authentication
  std::string model_name = {};                 // what /v1/models lists and requests may name
  int64_t max_body_bytes = int64_t{64} << 20;  // larger bodies get 413
  int64_t threads = 16;                        // connections served at once
};

class HttpServer {
 public:
  HttpServer(Scheduler& scheduler, ServerMetrics& metrics, HttpOptions options);
  ~HttpServer();

  // Binds the listening socket; returns the port. Fails naming the address.
  int Bind();
  // Serves until Shutdown.
  void Listen();
  // Refuses new requests (503), lets those in flight finish for up to `grace`, cancels the rest,
  // and makes Listen return.
  void Shutdown(std::chrono::milliseconds grace);

 private:
  void Routes();

  Scheduler& scheduler_;
  ServerMetrics& metrics_;
  HttpOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::atomic<int64_t> next_id_ = 0;
  std::atomic<bool> shutting_down_ = false;
};

}  // namespace lightvlm
