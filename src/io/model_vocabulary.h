// A tokenizer model's own vocabulary (BPE's, SentencePiece's), as the added tokens are checked
// against it: an added token must agree with the model on the id of a string both have.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lightvlm {

class ModelVocabulary {
 public:
  virtual ~ModelVocabulary() = default;
  virtual std::optional<int32_t> TokenId(std::string_view token) const = 0;
  // The vocabulary string of `id`, or nullptr when the vocabulary has no such id.
  virtual const std::string* TokenText(int32_t id) const = 0;
  virtual int32_t id_limit() const = 0;  // largest id + 1
};

}  // namespace lightvlm
