#include "io/tokenizer_loader.h"

#include <filesystem>

#include "base/error.h"
#include "io/sentencepiece_tokenizer.h"
#include "io/vocab_merges_tokenizer.h"

namespace lightvlm {

std::unique_ptr<Tokenizer> LoadTokenizer(const std::string& directory,
                                         const TokenIdLimit& id_limit) {
  namespace fs = std::filesystem;
  const auto has = [&](const char* file) { return fs::exists(fs::path(directory) / file); };
  if (has("tokenizer.json")) {
    return Tokenizer::Load((fs::path(directory) / "tokenizer.json").string(), id_limit);
  }
  if (has("vocab.json") && has("merges.txt")) return LoadVocabMergesTokenizer(directory, id_limit);
  if (has("tokenizer.model")) return LoadSentencePieceTokenizer(directory, id_limit);
  const char* half = has("vocab.json")   ? " (vocab.json is there, merges.txt is not)"
                     : has("merges.txt") ? " (merges.txt is there, vocab.json is not)"
                                         : "";
  Fail(directory,
       ": no tokenizer: looked for tokenizer.json, vocab.json + merges.txt, and tokenizer.model",
       half);
}

}  // namespace lightvlm
