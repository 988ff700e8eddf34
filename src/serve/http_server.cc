#include "serve/http_server.h"

#include <httplib.h>

#include <thread>

#include "serve/openai_json.h"

namespace lightvlm {
namespace {

constexpr int kPollMs = 100;  // how often a waiting handler checks its job and its client

int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SendError(httplib::Response& response, const ApiError& error) {
  response.status = error.status();
  response.set_content(error.Json(), "application/json");
}

// Writes `text` to the client; false when it has gone away.
bool Write(httplib::DataSink& sink, const std::string& text) {
  return sink.write(text.data(), text.size());
}

// Streams a chat completion as server-sent events in OpenAI's chunk format.
bool StreamChunks(Job& job, const CompletionIds& ids, httplib::DataSink& sink) {
  if (!Write(sink, ChunkEvent(ids, "assistant", "", ""))) return false;
  size_t offset = 0;
  for (;;) {
    std::string text;
    const Job::State state = job.Wait(offset, text, kPollMs);
    if (!text.empty() && !Write(sink, ChunkEvent(ids, "", text, ""))) return false;
    if (state == Job::State::kFailed) {
      Write(sink, "data: " + job.error().Json() + "\n\n");
      break;
    }
    if (state == Job::State::kDone) {
      if (!Write(sink, ChunkEvent(ids, "", "", job.finish_reason()))) return false;
      if (job.include_usage() &&
          !Write(sink, UsageChunkEvent(ids, {job.prompt_tokens(), job.completion_tokens(),
                                             job.cached_tokens()}))) {
        return false;
      }
      break;
    }
  }
  if (!Write(sink, "data: [DONE]\n\n")) return false;
  sink.done();
  return true;
}

// Writes a whole chat completion once done. Until then, a space now and then (JSON allows
// whitespace before a value): writing is how a gone client is noticed, so its slot is freed.
bool WriteCompletion(Job& job, const CompletionIds& ids, httplib::DataSink& sink) {
  std::string text;
  size_t offset = 0;
  auto last_write = std::chrono::steady_clock::now();
  for (;;) {
    const Job::State state = job.Wait(offset, text, kPollMs);
    if (state == Job::State::kFailed) {
      Write(sink, job.error().Json());
      break;
    }
    if (state == Job::State::kDone) {
      if (!Write(sink, CompletionJson(
                           ids, text, job.finish_reason(),
                           {job.prompt_tokens(), job.completion_tokens(), job.cached_tokens()}))) {
        return false;
      }
      break;
    }
    if (std::chrono::steady_clock::now() - last_write > std::chrono::milliseconds(2 * kPollMs)) {
      if (!Write(sink, " ")) return false;
      last_write = std::chrono::steady_clock::now();
    }
  }
  sink.done();
  return true;
}

}  // namespace

HttpServer::HttpServer(Scheduler& scheduler, ServerMetrics& metrics, HttpOptions options)
    : scheduler_(scheduler),
      metrics_(metrics),
      options_(std::move(options)),
      server_(std::make_unique<httplib::Server>()) {
  const size_t threads = static_cast<size_t>(options_.threads);
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_payload_max_length(static_cast<size_t>(options_.max_body_bytes));
  Routes();
}

HttpServer::~HttpServer() = default;

int HttpServer::Bind() {
  const int port = options_.port == 0
                       ? server_->bind_to_any_port(options_.host)
                       : (server_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
  Check(port > 0, "serve: cannot listen on ", options_.host, ":", options_.port,
        " (in use, or not an address of this machine)");
  return port;
}

void HttpServer::Listen() { server_->listen_after_bind(); }

void HttpServer::Shutdown(std::chrono::milliseconds grace) {
  shutting_down_ = true;
  scheduler_.StopAccepting();
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (!scheduler_.idle() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  scheduler_.Shutdown();
  server_->stop();
}

void HttpServer::Routes() {
  httplib::Server& server = *server_;
  const auto authorized = [this](const httplib::Request& request) {
    return options_.api_key.empty() ||
           request.get_header_value("Authorization") == "Bearer " + options_.api_key;
  };
  server.set_error_handler([](const httplib::Request& request, httplib::Response& response) {
    if (!response.body.empty()) return;
    if (response.status == 413) {
      SendError(response, ApiError(413, "request_too_large",
                                   "the request body is over the server's limit (--max-body)"));
    } else if (response.status == 404) {
      SendError(response, ApiError(404, "not_found", StrCat("no route ", request.path)));
    }
  });
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& response, std::exception_ptr exception) {
        std::string message = "internal error";
        try {
          std::rethrow_exception(exception);
        } catch (const std::exception& error) {
          message = error.what();
        } catch (...) {
        }
        SendError(response, ApiError(500, "server_error", message));
      });
  server.set_logger([this](const httplib::Request& request, const httplib::Response& response) {
    if (request.path == "/v1/chat/completions") metrics_.CountRequest(response.status);
  });
  server.Get("/health", [this](const httplib::Request&, httplib::Response& response) {
    response.status = shutting_down_ ? 503 : 200;
    response.set_content(shutting_down_ ? R"({"status":"shutting down"})" : R"({"status":"ok"})",
                         "application/json");
  });
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(metrics_.Render(scheduler_.Gauges()), "text/plain; version=0.0.4");
  });
  server.Get("/v1/models", [this, authorized](const httplib::Request& request,
                                              httplib::Response& response) {
    if (!authorized(request)) {
      return SendError(response, ApiError(401, "invalid_api_key", "a valid API key is required"));
    }
    response.set_content(ModelListJson(options_.model_name, UnixSeconds()), "application/json");
  });
  server.Post("/v1/chat/completions", [this, authorized](const httplib::Request& request,
                                                         httplib::Response& response) {
    std::shared_ptr<Job> job;
    try {
      if (!authorized(request)) {
        throw ApiError(401, "invalid_api_key", "a valid API key is required");
      }
      ChatRequest chat = ParseChatRequest(request.body);
      if (!chat.model.empty() && chat.model != options_.model_name) {
        throw ApiError(400, "model_not_found",
                       StrCat("model: this server serves \"", options_.model_name, "\", not \"",
                              chat.model, "\""),
                       "model");
      }
      job = scheduler_.Submit(std::move(chat));
    } catch (const ApiError& error) {
      return SendError(response, error);
    }
    while (job->WaitStarted(kPollMs) == Job::State::kQueued) {
    }
    if (job->WaitStarted(0) == Job::State::kFailed) return SendError(response, job->error());
    const CompletionIds ids{StrCat("chatcmpl-", next_id_++), UnixSeconds(), options_.model_name};
    const auto content = [job, ids](size_t, httplib::DataSink& sink) {
      const bool written =
          job->stream() ? StreamChunks(*job, ids, sink) : WriteCompletion(*job, ids, sink);
      if (!written) job->Cancel();
      return written;
    };
    response.set_chunked_content_provider(job->stream() ? "text/event-stream" : "application/json",
                                          content, [job](bool success) {
                                            if (!success) job->Cancel();
                                          });
    if (job->stream()) response.set_header("Cache-Control", "no-cache");
  });
}

}  // namespace lightvlm
