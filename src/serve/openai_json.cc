#include "serve/openai_json.h"

#include <nlohmann/json.hpp>

namespace lightvlm {
namespace {

using nlohmann::json;

json Header(const CompletionIds& ids, const char* object) {
  return {{"id", ids.id},
          {"object", object},
          {"created", ids.created},
          {"model", ids.model},
          {"system_fingerprint", nullptr}};
}

json UsageJson(const Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.prompt_tokens + usage.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", usage.cached_tokens}}}};
}

// Answers are whole UTF-8 characters (the stream decoder's), so the replacement never happens in
// practice; it keeps a body valid JSON whatever comes.
std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string Event(const json& value) { return "data: " + Dump(value) + "\n\n"; }

}  // namespace

std::string CompletionJson(const CompletionIds& ids, const std::string& text,
                           const std::string& finish_reason, const Usage& usage) {
  json body = Header(ids, "chat.completion");
  body["choices"] = json::array({{{"index", 0},
                                  {"message", {{"role", "assistant"}, {"content", text}}},
                                  {"logprobs", nullptr},
                                  {"finish_reason", finish_reason}}});
  body["usage"] = UsageJson(usage);
  return Dump(body);
}

std::string ChunkEvent(const CompletionIds& ids, const std::string& role,
                       const std::string& content, const std::string& finish_reason) {
  json delta = json::object();
  if (!role.empty()) delta["role"] = role;
  if (!role.empty() || !content.empty()) delta["content"] = content;
  json chunk = Header(ids, "chat.completion.chunk");
  chunk["choices"] = json::array(
      {{{"index", 0},
        {"delta", delta},
        {"logprobs", nullptr},
        {"finish_reason", finish_reason.empty() ? json(nullptr) : json(finish_reason)}}});
  return Event(chunk);
}

std::string UsageChunkEvent(const CompletionIds& ids, const Usage& usage) {
  json chunk = Header(ids, "chat.completion.chunk");
  chunk["choices"] = json::array();
  chunk["usage"] = UsageJson(usage);
  return Event(chunk);
}

std::string ModelListJson(const std::string& model, int64_t created) {
  return Dump({{"object", "list"},
               {"data", json::array({{{"id", model},
                                      {"object", "model"},
                                      {"created", created},
                                      {"owned_by", "lightvlm"}}})}});
}

}  // namespace lightvlm
