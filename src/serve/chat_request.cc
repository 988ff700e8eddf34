#include "serve/chat_request.h"

#include <nlohmann/json.hpp>

#include "serve/api_error.h"

namespace lightvlm {
namespace {

using nlohmann::json;

[[noreturn]] void Invalid(const std::string& param, const std::string& message) {
  throw ApiError(400, "invalid_request_error", StrCat(param, ": ", message), param);
}

const json* Field(const json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::string String(const json& value, const std::string& param) {
  if (!value.is_string()) Invalid(param, "must be a string");
  return value.get<std::string>();
}

double Number(const json& value, const std::string& param, double low, double high) {
  if (!value.is_number()) Invalid(param, "must be a number");
  const double number = value.get<double>();
  if (!(number >= low && number <= high)) {
    Invalid(param, StrCat("must be within ", low, "..", high, ", got ", number));
  }
  return number;
}

int64_t Integer(const json& value, const std::string& param, int64_t low, int64_t high) {
  if (!value.is_number_integer()) Invalid(param, "must be an integer");
  if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(high)) {
    Invalid(param, StrCat("must be at most ", high));
  }
  const auto number = value.get<int64_t>();
  if (number < low || number > high) {
    Invalid(param, StrCat("must be within ", low, "..", high, ", got ", number));
  }
  return number;
}

RequestMessage ParseMessage(const json& message, const std::string& param) {
  if (!message.is_object()) Invalid(param, "must be an object");
  RequestMessage parsed;
  const json* role = Field(message, "role");
  if (role == nullptr) Invalid(param + ".role", "is required");
  parsed.role = String(*role, param + ".role");
  if (parsed.role != "system" && parsed.role != "user" && parsed.role != "assistant") {
    Invalid(param + ".role",
            StrCat("must be system, user or assistant, got \"", parsed.role, "\""));
  }
  const json* content = Field(message, "content");
  const std::string content_param = param + ".content";
  if (content == nullptr) Invalid(content_param, "is required");
  if (content->is_string()) {
    parsed.text = content->get<std::string>();
    return parsed;
  }
  if (!content->is_array()) Invalid(content_param, "must be a string or an array of parts");
  for (size_t i = 0; i < content->size(); ++i) {
    const json& part = (*content)[i];
    const std::string part_param = StrCat(content_param, "[", i, "]");
    if (!part.is_object()) Invalid(part_param, "must be an object");
    const json* type = Field(part, "type");
    if (type == nullptr) Invalid(part_param + ".type", "is required");
    const std::string kind = String(*type, part_param + ".type");
    if (kind == "text") {
      const json* text = Field(part, "text");
      if (text == nullptr) Invalid(part_param + ".text", "is required");
      if (!parsed.text.empty()) parsed.text += "\n";
      parsed.text += String(*text, part_param + ".text");
    } else if (kind == "image_url") {
      if (parsed.role != "user") Invalid(part_param, "images are taken in user messages only");
      const json* image_url = Field(part, "image_url");
      const std::string url_param = part_param + ".image_url";
      if (image_url == nullptr) Invalid(url_param, "is required");
      // OpenAI's object {"url": ...}; a bare string is accepted too.
      const json* url = image_url->is_object() ? Field(*image_url, "url") : image_url;
      if (url == nullptr) Invalid(url_param + ".url", "is required");
      parsed.images.push_back({String(*url, url_param + ".url"), url_param});
    } else {
      Invalid(part_param + ".type", StrCat("must be text or image_url, got \"", kind, "\""));
    }
  }
  return parsed;
}

MethodSettings ParseMethod(const json& method) {
  if (!method.is_object()) Invalid("lightvlm", "must be an object");
  MethodSettings settings;
  for (const auto& [key, value] : method.items()) {
    const std::string param = "lightvlm." + key;
    if (key == "reduce") {
      settings.reduce = String(value, param);
    } else if (key == "keep") {
      settings.keep = Number(value, param, 1e-9, 1.0);
    } else if (key == "final_tokens") {
      settings.final_tokens = Integer(value, param, 1, int64_t{1} << 30);
    } else if (key == "kv") {
      settings.kv = String(value, param);
    } else if (key == "kv_budget") {
      settings.kv_budget = Integer(value, param, 1, int64_t{1} << 30);
    } else {
      Invalid(param, "unknown setting (reduce, keep, final_tokens, kv, kv_budget)");
    }
  }
  return settings;
}

}  // namespace

int64_t ChatRequest::image_count() const {
  int64_t count = 0;
  for (const RequestMessage& message : messages) count += std::ssize(message.images);
  return count;
}

ChatRequest ParseChatRequest(std::string_view body) {
  json root;
  try {
    root = json::parse(body);
  } catch (const json::parse_error& error) {
    // nlohmann's parser rejects ill-formed UTF-8 in strings, with this in its message.
    const bool utf8 = std::string_view(error.what()).find("UTF-8") != std::string_view::npos;
    throw ApiError(400, utf8 ? "invalid_utf8" : "invalid_json",
                   StrCat(utf8 ? "the body is not valid UTF-8: " : "the body is not valid JSON: ",
                          error.what()));
  }
  if (!root.is_object()) throw ApiError(400, "invalid_json", "the body must be a JSON object");
  ChatRequest request;
  if (const json* model = Field(root, "model")) request.model = String(*model, "model");
  const json* messages = Field(root, "messages");
  if (messages == nullptr || !messages->is_array() || messages->empty()) {
    Invalid("messages", "must be a non-empty array");
  }
  for (size_t i = 0; i < messages->size(); ++i) {
    request.messages.push_back(ParseMessage((*messages)[i], StrCat("messages[", i, "]")));
  }
  constexpr int64_t kMostTokens = int64_t{1} << 30;
  if (const json* max = Field(root, "max_completion_tokens")) {
    request.max_tokens = Integer(*max, "max_completion_tokens", 1, kMostTokens);
  } else if (const json* old_max = Field(root, "max_tokens")) {
    request.max_tokens = Integer(*old_max, "max_tokens", 1, kMostTokens);
  }
  if (const json* temperature = Field(root, "temperature")) {
    request.temperature = static_cast<float>(Number(*temperature, "temperature", 0, 2));
  }
  if (const json* top_p = Field(root, "top_p")) {
    request.top_p = static_cast<float>(Number(*top_p, "top_p", 1e-9, 1));
  }
  if (const json* seed = Field(root, "seed")) {
    if (!seed->is_number_integer()) Invalid("seed", "must be an integer");
    request.seed = seed->is_number_unsigned() ? seed->get<uint64_t>()
                                              : static_cast<uint64_t>(seed->get<int64_t>());
  }
  if (const json* n = Field(root, "n")) Integer(*n, "n", 1, 1);
  if (const json* stop = Field(root, "stop")) {
    if (stop->is_string()) {
      request.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array() && stop->size() <= 4) {
      for (size_t i = 0; i < stop->size(); ++i) {
        request.stop.push_back(String((*stop)[i], StrCat("stop[", i, "]")));
      }
    } else {
      Invalid("stop", "must be a string or an array of at most 4 strings");
    }
    for (const std::string& text : request.stop) {
      if (text.empty()) Invalid("stop", "a stop string must not be empty");
    }
  }
  if (const json* stream = Field(root, "stream")) {
    if (!stream->is_boolean()) Invalid("stream", "must be true or false");
    request.stream = stream->get<bool>();
  }
  if (const json* options = Field(root, "stream_options")) {
    if (!options->is_object()) Invalid("stream_options", "must be an object");
    if (const json* usage = Field(*options, "include_usage")) {
      if (!usage->is_boolean()) Invalid("stream_options.include_usage", "must be true or false");
      request.include_usage = usage->get<bool>();
    }
  }
  if (const json* method = Field(root, "lightvlm")) request.method = ParseMethod(*method);
  return request;
}

}  // namespace lightvlm
