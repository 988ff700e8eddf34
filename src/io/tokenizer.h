// Hugging Face tokenizer.json with a BPE model, in the two styles our families use:
//  * byte-level (GPT-2, Qwen2, Llama 3): a pre-tokenizer splits text with a regex (PCRE2, Unicode
//    classes), bytes map to printable characters, merges run per piece;
//  * SentencePiece style (Llama 2, stories260k): a normalizer turns spaces into "▁" and prepends
//    one, merges run on characters, unknown characters fall back to <0xXX> byte tokens.
// Added tokens (special or not) are matched before the model sees the text; the text between
// them is normalized piece by piece, as Hugging Face tokenizers does.
// The Tokenizer interface is also what the other checkpoint layouts give (vocab.json + merges.txt,
// SentencePiece's tokenizer.model, GGUF metadata): io/tokenizer_loader.h picks one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace lightvlm {

// The ids a tokenizer may use: 0 to size - 1, `source` naming the limit in errors. Ids index
// dense tables, so every id is checked against it before a table is sized by the largest: one
// stray id must not allocate a huge table.
struct TokenIdLimit {
  int64_t size = int64_t{1} << 24;  // real vocabularies stay far below this
  std::string source = "the largest vocabulary supported";
};

class Tokenizer {
 public:
  // Fails naming the file and the part that is malformed, and when a token id is outside
  // `id_limit` (checked before any table indexed by id is allocated).
  static std::unique_ptr<Tokenizer> Load(const std::string& path,
                                         const TokenIdLimit& id_limit = {});
  static std::unique_ptr<Tokenizer> FromJson(const std::string& json_text, const std::string& name,
                                             const TokenIdLimit& id_limit = {});
  // A tokenizer.json document already parsed, or built from other files (GGUF metadata,
  // vocab.json + merges.txt); errors name `name` and the document's field.
  static std::unique_ptr<Tokenizer> FromDocument(const nlohmann::json& root,
                                                 const std::string& name,
                                                 const TokenIdLimit& id_limit = {});
  virtual ~Tokenizer() = default;

  // Token ids of `text` (which must be valid UTF-8, else an error). With add_special, the
  // post-processor's template (e.g. a leading <s>) is applied.
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_special) const = 0;

  // Bytes of one token as the decoder would produce them in the middle of a text (for
  // SentencePiece style "▁" becomes a space; byte tokens give their byte, which alone may not be
  // valid UTF-8). An id that names no token (a padded embedding row) gives "", as in transformers.
  virtual std::string TokenBytes(int32_t id) const = 0;
  // Full decode of a sequence, as transformers' decode(skip_special_tokens) would produce it
  // (without clean_up_tokenization_spaces); ids that name no token are skipped.
  virtual std::string Decode(const std::vector<int32_t>& ids, bool skip_special) const = 0;

  virtual int32_t vocab_size() const = 0;  // model vocabulary plus added tokens
  virtual std::optional<int32_t> TokenId(std::string_view token) const = 0;
  virtual std::string TokenText(int32_t id) const = 0;  // the vocabulary string; fails if none
  virtual bool IsSpecial(int32_t id) const = 0;
};

// Turns generated ids into text as they arrive, emitting only complete UTF-8 characters: a
// character whose bytes span several tokens is held back until it is whole. The text continues
// whatever came before it, so a leading space is kept; bytes that can never form a character
// become U+FFFD.
class StreamDecoder {
 public:
  StreamDecoder(const Tokenizer& tokenizer, bool skip_special);
  // Text that became complete with this token (may be empty).
  std::string Push(int32_t id);
  // Whatever is left at the end (an incomplete character becomes U+FFFD).
  std::string Finish();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::string pending_;  // bytes of an incomplete character, waiting for the rest
};

// An answer streamed in pieces whose concatenation is exactly Decode() of all its tokens, as
// transformers decodes a whole answer (start-of-text rules included, which StreamDecoder leaves
// out). Each Push decodes the answer so far and sends what is new; a piece that would end in an
// incomplete character waits for the rest. O(n) a token: for answers, not whole documents.
class WholeTextStream {
 public:
  WholeTextStream(const Tokenizer& tokenizer, bool skip_special);
  std::string Push(int32_t id);  // the new text (may be empty)
  std::string Finish();          // whatever was held back

 private:
  std::string Next(bool final);

  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::vector<int32_t> ids_;
  size_t sent_ = 0;  // bytes of the decoded answer sent so far
};

}  // namespace lightvlm
