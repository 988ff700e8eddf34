#include "models/checkpoint_tokenizer.h"

#include "base/error.h"
#include "io/tokenizer_loader.h"

namespace lightvlm {

std::unique_ptr<Tokenizer> LoadCheckpointTokenizer(const std::string& directory,
                                                   int64_t vocab_size) {
  std::unique_ptr<Tokenizer> tokenizer = LoadTokenizer(
      directory, {vocab_size, StrCat(directory, "/config.json's vocab_size ", vocab_size)});
  Check(tokenizer->vocab_size() <= vocab_size, directory, ": the tokenizer has ",
        tokenizer->vocab_size(), " tokens but config.json's vocab_size is ", vocab_size);
  return tokenizer;
}

}  // namespace lightvlm
