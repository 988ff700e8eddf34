// The server end to end on a loopback port, in process: answers equal to the engine's own greedy
// answers, streaming, images, several turns, and each malformed request's status and error body.
// tests/serve/openai_client_test.py talks to the built binary with the openai client and curl.
#include "serve/http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "engine/session.h"
#include "serve/test_base64.h"

namespace lightvlm {
namespace {

using nlohmann::json;

const std::string kShapes = LIGHTVLM_SOURCE_DIR "/models/shapes/model";
const std::string kStories = LIGHTVLM_SHARED_DIR "/models/stories260k";
const std::string kSquare = LIGHTVLM_SOURCE_DIR "/models/shapes/test/images/test_00000.png";
constexpr int64_t kContext = 512;  // the shapes model's and stories260k's positions
const std::string kSecond = LIGHTVLM_SOURCE_DIR "/models/shapes/test/images/test_00001.png";

// A server on a free loopback port, serving until destroyed.
class RunningServer {
 public:
  RunningServer(const Model& model, SchedulerOptions options, HttpOptions http = {}) {
    if (options.context == 0) options.context = kContext;
    scheduler_ = std::make_unique<Scheduler>(model, options, /*threads=*/1, metrics_);
    http.port = 0;
    if (http.model_name.empty()) http.model_name = "test-model";
    http.threads = options.parallel + options.max_queue + 4;
    server_ = std::make_unique<HttpServer>(*scheduler_, metrics_, http);
    port_ = server_->Bind();
    listener_ = std::thread([this] { server_->Listen(); });
  }
  ~RunningServer() { Shutdown(std::chrono::milliseconds(0)); }

  void Shutdown(std::chrono::milliseconds grace) {
    if (!listener_.joinable()) return;
    server_->Shutdown(grace);
    listener_.join();
  }
  httplib::Client Client() const {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(60);
    return client;
  }
  Scheduler& scheduler() { return *scheduler_; }

 private:
  ServerMetrics metrics_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<HttpServer> server_;
  std::thread listener_;
  int port_ = 0;
};

json Post(const RunningServer& server, const json& body, int expected_status,
          const httplib::Headers& headers = {}) {
  httplib::Client client = server.Client();
  const httplib::Result result =
      client.Post("/v1/chat/completions", headers, body.dump(), "application/json");
  EXPECT_TRUE(result) << httplib::to_string(result.error());
  if (!result) return {};
  EXPECT_EQ(result->status, expected_status) << result->body;
  return json::parse(result->body);
}

std::string Answer(const json& completion) {
  return completion.at("choices").at(0).at("message").at("content").get<std::string>();
}

json UserTurn(const std::string& text, const std::vector<std::string>& images = {}) {
  json content = json::array();
  for (const std::string& path : images) {
    content.push_back({{"type", "image_url"}, {"image_url", {{"url", PngDataUrl(path)}}}});
  }
  content.push_back({{"type", "text"}, {"text", text}});
  return {{"role", "user"}, {"content", content}};
}

// The engine's greedy answer to the conversation, alone, without the server.
std::string EngineAnswer(const Model& model, const std::vector<ChatMessage>& messages,
                         const std::vector<std::string>& image_paths, int64_t max_tokens,
                         int64_t context = kContext) {
  ThreadPool pool(1);
  std::vector<ImageEmbeddings> images;
  for (const std::string& path : image_paths) {
    images.push_back(model.language_model->EncodeImage(pool, LoadImage(path)));
  }
  Session session(model.decoder(), pool, context);
  GenerationOptions options;
  options.max_new_tokens = max_tokens;
  options.stop_token_ids = model.stop_token_ids;
  GenerationResult result =
      session.Generate(MakeConversationPrompt(model, messages, images), options, {});
  if (result.stop_reason == StopReason::kStopToken) result.tokens.pop_back();
  return model.tokenizer->Decode(result.tokens, /*skip_special=*/true);
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shapes_ = new Model(LoadModel(kShapes));
    stories_ = new Model(LoadModel(kStories));
  }
  static void TearDownTestSuite() {
    delete shapes_;
    delete stories_;
  }
  static const Model* shapes_;
  static const Model* stories_;
};
const Model* ServerTest::shapes_ = nullptr;
const Model* ServerTest::stories_ = nullptr;

TEST_F(ServerTest, AnswersEqualTheEnginesOwnWithImagesAndSeveralTurns) {
  RunningServer server(*shapes_, {.parallel = 2, .cached_conversations = 4});
  const json one = Post(
      server,
      {{"messages", {UserTurn("What colour is the square?", {kSquare})}}, {"max_tokens", 8}}, 200);
  EXPECT_EQ(Answer(one),
            EngineAnswer(*shapes_, {{"user", "What colour is the square?", 1}}, {kSquare}, 8));
  EXPECT_EQ(one["object"], "chat.completion");
  EXPECT_EQ(one["model"], "test-model");
  EXPECT_EQ(one["choices"][0]["finish_reason"], "stop");
  EXPECT_GT(one["usage"]["prompt_tokens"].get<int>(), 256);  // the image's 256 tokens and text
  EXPECT_EQ(one["usage"]["total_tokens"], one["usage"]["prompt_tokens"].get<int>() +
                                              one["usage"]["completion_tokens"].get<int>());

  const std::vector<ChatMessage> turns = {{"user", "What colour is the square?", 1},
                                          {"assistant", Answer(one), 0},
                                          {"user", "How many shapes are there?", 0}};
  const json three = Post(server,
                          {{"messages",
                            {UserTurn("What colour is the square?", {kSquare}),
                             {{"role", "assistant"}, {"content", Answer(one)}},
                             {{"role", "user"}, {"content", "How many shapes are there?"}}}},
                           {"max_tokens", 8}},
                          200);
  // The second turn continued the first's KV cache (its image and answer were not prefilled
  // again) and answers as a fresh prefill of the whole conversation does.
  EXPECT_EQ(Answer(three), EngineAnswer(*shapes_, turns, {kSquare}, 8));
  EXPECT_GT(three["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>(), 256);
  EXPECT_EQ(one["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
}

TEST_F(ServerTest, TwoImagesInOneTurn) {
  // The tiny random LLaVA of the golden tests: 576 tokens an image, 2048 positions.
  const Model llava = LoadModel(LIGHTVLM_SOURCE_DIR "/tests/fixtures/llava/model");
  RunningServer server(llava, {.context = 2048});
  const json two = Post(
      server, {{"messages", {UserTurn("Which differs?", {kSquare, kSecond})}}, {"max_tokens", 6}},
      200);
  EXPECT_EQ(Answer(two),
            EngineAnswer(llava, {{"user", "Which differs?", 2}}, {kSquare, kSecond}, 6, 2048));
  EXPECT_GT(two["usage"]["prompt_tokens"].get<int>(), 2 * 576);
}

TEST_F(ServerTest, StreamsTheSameTextInChunksEndingWithDone) {
  RunningServer server(*stories_, {.parallel = 2});
  const json body = {{"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}},
                     {"max_tokens", 24}};
  const std::string plain = Answer(Post(server, body, 200));
  EXPECT_EQ(plain, EngineAnswer(*stories_, {{"user", "Once upon a time", 0}}, {}, 24));
  json streamed_body = body;
  streamed_body["stream"] = true;
  streamed_body["stream_options"] = {{"include_usage", true}};
  httplib::Client client = server.Client();
  const httplib::Result result =
      client.Post("/v1/chat/completions", streamed_body.dump(), "application/json");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Type"), "text/event-stream");
  std::string text;
  std::vector<json> chunks;
  size_t at = 0;
  bool done = false;
  while ((at = result->body.find("data: ", at)) != std::string::npos) {
    const size_t end = result->body.find("\n\n", at);
    const std::string data = result->body.substr(at + 6, end - at - 6);
    at = end;
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    chunks.push_back(json::parse(data));
  }
  EXPECT_TRUE(done);
  ASSERT_GE(chunks.size(), 4u);  // role, text, finish reason, usage
  EXPECT_EQ(chunks.front()["choices"][0]["delta"]["role"], "assistant");
  for (const json& chunk : chunks) {
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    if (!chunk["choices"].empty() && chunk["choices"][0]["delta"].contains("content")) {
      text += chunk["choices"][0]["delta"]["content"].get<std::string>();
    }
  }
  EXPECT_EQ(text, plain);
  EXPECT_EQ(chunks[chunks.size() - 2]["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(chunks.back()["usage"]["completion_tokens"], 24);
}

TEST_F(ServerTest, StopStringsAndPerRequestMethodSettings) {
  RunningServer server(*stories_, {});
  const json body = {{"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}},
                     {"max_tokens", 24}};
  const std::string plain = Answer(Post(server, body, 200));
  ASSERT_NE(plain.find("girl"), std::string::npos) << plain;
  json stopped = body;
  stopped["stop"] = {"girl"};
  const json cut = Post(server, stopped, 200);
  EXPECT_EQ(Answer(cut), plain.substr(0, plain.find("girl")));
  EXPECT_EQ(cut["choices"][0]["finish_reason"], "stop");

  RunningServer shapes(*shapes_, {});
  json reduced = {{"messages", {UserTurn("What colour is the square?", {kSquare})}},
                  {"max_tokens", 4},
                  {"lightvlm", {{"reduce", "lightvlm"}, {"keep", 0.35}, {"kv", "streaming"}}}};
  Post(shapes, reduced, 200);
  reduced["lightvlm"] = {{"reduce", "nonsense"}};
  const json unknown = Post(shapes, reduced, 400);
  EXPECT_EQ(unknown["error"]["param"], "lightvlm.reduce");
  EXPECT_NE(unknown["error"]["message"].get<std::string>().find("lightvlm"), std::string::npos);
  reduced["lightvlm"] = {{"keep", 0.5}};
  EXPECT_EQ(Post(shapes, reduced, 400)["error"]["param"], "lightvlm.reduce");
  reduced["lightvlm"] = {{"reduce", "lightvlm"}, {"final_tokens", 100000}};
  EXPECT_EQ(Post(shapes, reduced, 400)["error"]["param"], "lightvlm.final_tokens");
}

TEST_F(ServerTest, MalformedRequestsGetTheirStatusAndAnOpenAiError) {
  RunningServer server(*shapes_, {.context = 300}, {.api_key = "", .max_body_bytes = 1 << 20});
  httplib::Client client = server.Client();
  const auto post_raw = [&](const std::string& body) {
    const httplib::Result result = client.Post("/v1/chat/completions", body, "application/json");
    EXPECT_TRUE(result);
    return std::make_pair(result->status, json::parse(result->body)["error"]);
  };
  auto [status, error] = post_raw("{\"messages\": ");
  EXPECT_EQ(status, 400);
  EXPECT_EQ(error["code"], "invalid_json");
  EXPECT_EQ(error["type"], "invalid_request_error");
  std::tie(status, error) =
      post_raw("{\"messages\": [{\"role\": \"user\", \"content\": \"caf\xe9\"}]}");
  EXPECT_EQ(status, 400);
  EXPECT_EQ(error["code"], "invalid_utf8");
  std::tie(status, error) = post_raw(std::string(2 << 20, ' '));
  EXPECT_EQ(status, 413);
  EXPECT_EQ(error["code"], "request_too_large");

  const auto image_turn = [](const std::string& url) {
    return json{{"messages",
                 {{{"role", "user"},
                   {"content",
                    {{{"type", "image_url"}, {"image_url", {{"url", url}}}},
                     {{"type", "text"}, {"text", "What colour is the square?"}}}}}}}};
  };
  json bad = Post(server, image_turn("data:image/png;base64,iVBO!!!!"), 400);
  EXPECT_EQ(bad["error"]["code"], "invalid_image_url");
  EXPECT_EQ(bad["error"]["param"], "messages[0].content[0].image_url");
  bad = Post(server, image_turn("data:image/png;base64," + Base64("plain text, no image")), 400);
  EXPECT_EQ(bad["error"]["code"], "invalid_image");
  bad = Post(server, image_turn("https://example.com/cat.png"), 400);
  EXPECT_NE(bad["error"]["message"].get<std::string>().find("--allow-remote-images"),
            std::string::npos);
  bad = Post(server, {{"model", "gpt-4o"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}},
             400);
  EXPECT_EQ(bad["error"]["code"], "model_not_found");
  std::string long_text;
  for (int i = 0; i < 200; ++i) long_text += "square circle ";
  bad = Post(server, {{"messages", {UserTurn(long_text, {kSquare})}}}, 400);
  EXPECT_EQ(bad["error"]["code"], "context_length_exceeded");

  const httplib::Result missing = client.Get("/v1/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(json::parse(missing->body)["error"]["code"], "not_found");
  // Still serving after all of that.
  Post(server, image_turn(PngDataUrl(kSquare)), 200);
}

TEST_F(ServerTest, ApiKeyModelsHealthAndMetrics) {
  RunningServer server(*shapes_, {}, {.api_key = "secret"});
  const json body = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 2}};
  EXPECT_EQ(Post(server, body, 401)["error"]["type"], "authentication_error");
  Post(server, body, 401, {{"Authorization", "Bearer wrong"}});
  Post(server, body, 200, {{"Authorization", "Bearer secret"}});
  httplib::Client client = server.Client();
  EXPECT_EQ(client.Get("/v1/models")->status, 401);
  const httplib::Result models = client.Get("/v1/models", {{"Authorization", "Bearer secret"}});
  EXPECT_EQ(json::parse(models->body)["data"][0]["id"], "test-model");
  EXPECT_EQ(client.Get("/health")->body, R"({"status":"ok"})");
  // The gauges settle once the engine thread has put the answered request away.
  while (!server.scheduler().idle()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const std::string metrics = client.Get("/metrics")->body;
  EXPECT_NE(metrics.find("lightvlm_requests_total{status=\"200\"} 1\n"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("lightvlm_requests_total{status=\"401\"} 2\n"), std::string::npos);
  for (const char* name :
       {"lightvlm_prompt_tokens_total", "lightvlm_generated_tokens_total", "lightvlm_queue_depth 0",
        "lightvlm_active_slots 0", "lightvlm_prefill_seconds_total",
        "lightvlm_decode_seconds_total", "lightvlm_image_tokens_total",
        "lightvlm_image_tokens_kept_total", "lightvlm_kv_cache_bytes 0"}) {
    EXPECT_NE(metrics.find(name), std::string::npos) << name;
  }
}

// A streamed request that runs until the context is full, read (`chunks` counts what arrives)
// until `keep_reading` says no more.
void StreamUntilDropped(const RunningServer& server, const std::function<bool()>& keep_reading,
                        std::atomic<int64_t>& chunks) {
  httplib::Client client = server.Client();
  const json body = {{"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}},
                     {"max_tokens", 100000},
                     {"stream", true}};
  httplib::Request request;
  request.method = "POST";
  request.path = "/v1/chat/completions";
  request.body = body.dump();
  request.set_header("Content-Type", "application/json");
  request.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
    ++chunks;
    return keep_reading();
  };
  client.send(request);
}

int64_t GeneratedTokens(const RunningServer& server) {
  const std::string metrics = server.Client().Get("/metrics")->body;
  const size_t at = metrics.find("\nlightvlm_generated_tokens_total ");
  EXPECT_NE(at, std::string::npos) << metrics;
  return at == std::string::npos ? 0 : std::stoll(metrics.substr(at + 33));
}

// stories260k writes the ~500 tokens its context leaves in a fraction of a second, so on a busy
// machine the streamed answer may end before the probe, or run to its end before its client's
// departure is seen; such a try shows nothing and is made again. A server that never frees a
// gone client's slot fails every try.
TEST_F(ServerTest, AFullQueueIsRefusedAndAGoneClientFreesItsSlot) {
  bool shown = false;
  for (int attempt = 0; attempt < 10 && !shown; ++attempt) {
    RunningServer server(*stories_, {.parallel = 1, .max_queue = 0, .context = kContext});
    std::atomic<int64_t> chunks = 0;
    std::atomic<bool> keep_reading = true;
    std::thread reader([&] {
      StreamUntilDropped(
          server, [&] { return keep_reading.load(); }, chunks);
    });
    while (chunks == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const json body = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 2}};
    const httplib::Result probe =
        server.Client().Post("/v1/chat/completions", body.dump(), "application/json");
    keep_reading = false;  // the client goes away mid-answer
    reader.join();
    while (!server.scheduler().idle()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_TRUE(probe);
    if (probe->status != 429) {
      EXPECT_EQ(probe->status, 200) << probe->body;  // the streamed answer had ended first
      continue;
    }
    EXPECT_EQ(json::parse(probe->body)["error"]["type"], "rate_limit_error");
    // Freed after its client left, not when its context filled.
    shown = GeneratedTokens(server) < kContext - 32;
    if (shown) Post(server, body, 200);
  }
  EXPECT_TRUE(shown) << "no try saw the slot freed before the context filled";
}

TEST_F(ServerTest, ShutdownFinishesRequestsInFlightAndRefusesNewOnes) {
  RunningServer server(*stories_, {.parallel = 1});
  json result;
  std::thread in_flight([&] {
    result = Post(
        server,
        {{"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}}, {"max_tokens", 200}},
        200);
  });
  while (server.scheduler().idle()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server.scheduler().StopAccepting();
  const json refused = Post(server, {{"messages", {{{"role", "user"}, {"content", "hi"}}}}}, 503);
  EXPECT_EQ(refused["error"]["code"], "shutting_down");
  server.Shutdown(std::chrono::seconds(60));
  in_flight.join();
  EXPECT_EQ(result["usage"]["completion_tokens"], 200);
}

}  // namespace
}  // namespace lightvlm
