#include "serve/chat_request.h"

#include <gtest/gtest.h>

#include "serve/api_error.h"

namespace lightvlm {
namespace {

// The ApiError a body gets: its status, code and param.
ApiError ErrorOf(const std::string& body) {
  try {
    ParseChatRequest(body);
  } catch (const ApiError& error) {
    return error;
  }
  ADD_FAILURE() << "no error for " << body;
  return ApiError(0, "", "");
}

TEST(ChatRequestTest, ReadsOpenAiFieldsAndTheMethodExtension) {
  const ChatRequest request = ParseChatRequest(R"({
    "model": "shapes", "max_completion_tokens": 12, "temperature": 0.5, "top_p": 0.9,
    "seed": 7, "stop": ["\n", "END"], "stream": true, "stream_options": {"include_usage": true},
    "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "text", "text": "What is it?"},
        {"type": "text", "text": "And its colour?"}]},
      {"role": "assistant", "content": "A square."}],
    "lightvlm": {"reduce": "lightvlm", "keep": 0.1, "kv": "snapkv", "kv_budget": 64}})");
  EXPECT_EQ(request.model, "shapes");
  EXPECT_EQ(request.max_tokens, 12);
  EXPECT_FLOAT_EQ(*request.temperature, 0.5f);
  EXPECT_FLOAT_EQ(*request.top_p, 0.9f);
  EXPECT_EQ(request.seed, 7u);
  EXPECT_EQ(request.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_TRUE(request.stream);
  EXPECT_TRUE(request.include_usage);
  ASSERT_EQ(request.messages.size(), 3u);
  EXPECT_EQ(request.messages[1].text, "What is it?\nAnd its colour?");
  ASSERT_EQ(request.messages[1].images.size(), 1u);
  EXPECT_EQ(request.messages[1].images[0].name, "messages[1].content[0].image_url");
  EXPECT_EQ(request.image_count(), 1);
  EXPECT_EQ(request.method.reduce, "lightvlm");
  EXPECT_DOUBLE_EQ(*request.method.keep, 0.1);
  EXPECT_EQ(request.method.kv, "snapkv");
  EXPECT_EQ(request.method.kv_budget, 64);
}

TEST(ChatRequestTest, OlderMaxTokensAndAStringStop) {
  const ChatRequest request = ParseChatRequest(
      R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "stop": "x"})");
  EXPECT_EQ(request.max_tokens, 3);
  EXPECT_EQ(request.stop, std::vector<std::string>{"x"});
  EXPECT_FALSE(request.stream);
  EXPECT_FALSE(request.temperature.has_value());
}

TEST(ChatRequestTest, MalformedBodiesNameTheirProblem) {
  EXPECT_EQ(ErrorOf("{\"messages\": [").code(), "invalid_json");
  EXPECT_EQ(ErrorOf("[1, 2]").code(), "invalid_json");
  const ApiError utf8 =
      ErrorOf("{\"messages\": [{\"role\": \"user\", \"content\": \"\xff\xfe\"}]}");
  EXPECT_EQ(utf8.code(), "invalid_utf8");
  EXPECT_EQ(utf8.status(), 400);
  EXPECT_EQ(ErrorOf(R"({"messages": []})").param(), "messages");
  EXPECT_EQ(ErrorOf(R"({"messages": [{"role": "robot", "content": "x"}]})").param(),
            "messages[0].role");
  EXPECT_EQ(ErrorOf(R"({"messages": [{"role": "user"}]})").param(), "messages[0].content");
  EXPECT_EQ(ErrorOf(R"({"messages": [{"role": "user", "content": [{"type": "audio"}]}]})").param(),
            "messages[0].content[0].type");
  EXPECT_EQ(ErrorOf(R"({"messages": [{"role": "assistant", "content": [
                {"type": "image_url", "image_url": {"url": "data:,"}}]}]})")
                .param(),
            "messages[0].content[0]");
  const std::string user = R"("messages": [{"role": "user", "content": "x"}])";
  EXPECT_EQ(ErrorOf("{" + user + R"(, "max_tokens": 0})").param(), "max_tokens");
  EXPECT_EQ(ErrorOf("{" + user + R"(, "max_tokens": 1.5})").param(), "max_tokens");
  EXPECT_EQ(ErrorOf("{" + user + R"(, "temperature": 3})").param(), "temperature");
  EXPECT_EQ(ErrorOf("{" + user + R"(, "n": 2})").param(), "n");
  EXPECT_EQ(ErrorOf("{" + user + R"(, "stop": ""})").param(), "stop");
  EXPECT_EQ(ErrorOf("{" + user + R"(, "stream": "yes"})").param(), "stream");
  EXPECT_EQ(ErrorOf("{" + user + R"(, "lightvlm": {"keep": 0}})").param(), "lightvlm.keep");
  EXPECT_EQ(ErrorOf("{" + user + R"(, "lightvlm": {"budget": 3}})").param(), "lightvlm.budget");
}

TEST(ChatRequestTest, ErrorBodiesAreOpenAiErrorObjects) {
  const ApiError error(400, "invalid_json", "bad \xff body", "messages");
  EXPECT_EQ(error.Json(),
            "{\"error\":{\"code\":\"invalid_json\",\"message\":\"bad \xEF\xBF\xBD body\","
            "\"param\":\"messages\",\"type\":\"invalid_request_error\"}}");
  EXPECT_EQ(ApiError(429, "queue_full", "").type(), "rate_limit_error");
  EXPECT_EQ(ApiError(401, "invalid_api_key", "").type(), "authentication_error");
  EXPECT_EQ(ApiError(503, "shutting_down", "").type(), "service_unavailable");
}

}  // namespace
}  // namespace lightvlm
