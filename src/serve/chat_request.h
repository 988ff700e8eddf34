// The body of POST /v1/chat/completions, checked: the OpenAI fields lightvlm serves, and its own
// "lightvlm" extension with the method's settings for this one request. Every problem is an
// ApiError (400) naming the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lightvlm {

struct RequestImage {
  std::string url;   // a data: URL, or http(s) where the server allows remote images
  std::string name;  // the field, for errors: "messages[1].content[0].image_url"
};

struct RequestMessage {
  std::string role;  // system, user or assistant
  std::string text;  // the text parts, joined by newlines
  std::vector<RequestImage> images;
};

// Unset fields take the server's defaults (its command line).
struct MethodSettings {
  std::optional<std::string> reduce;
  std::optional<double> keep;
  std::optional<int64_t> final_tokens;
  std::optional<std::string> kv;
  std::optional<int64_t> kv_budget;
};

struct ChatRequest {
  std::string model;  // empty: the served model
  std::vector<RequestMessage> messages;
  std::optional<int64_t> max_tokens;  // max_completion_tokens, or the older max_tokens
  std::optional<float> temperature;
  std::optional<float> top_p;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;  // the answer ends before the first of these
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage: a last chunk with the usage
  MethodSettings method;

  int64_t image_count() const;
};

ChatRequest ParseChatRequest(std::string_view body);

}  // namespace lightvlm
