// The response bodies of the OpenAI API that the server writes: a chat completion, the chunks of
// a streamed one, the model list.
#pragma once

#include <cstdint>
#include <string>

namespace lightvlm {

struct CompletionIds {
  std::string id;     // "chatcmpl-7"
  int64_t created;    // Unix seconds
  std::string model;  // the served model's name
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;  // prompt tokens continued from a kept conversation
};

std::string CompletionJson(const CompletionIds& ids, const std::string& text,
                           const std::string& finish_reason, const Usage& usage);
// One server-sent event "data: {chunk}\n\n": the delta's role (first chunk) or content, or the
// finish reason (last chunk, empty delta).
std::string ChunkEvent(const CompletionIds& ids, const std::string& role,
                       const std::string& content, const std::string& finish_reason);
// The last chunk of a stream that asked for usage: no choices, the token counts.
std::string UsageChunkEvent(const CompletionIds& ids, const Usage& usage);
std::string ModelListJson(const std::string& model, int64_t created);

}  // namespace lightvlm
