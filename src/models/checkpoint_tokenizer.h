// The tokenizer of a checkpoint directory as a model load reads it: its ids limited to the
// decoder's vocabulary. Read once per load: a family that needs it to find its image token keeps
// it (LanguageModel::TakeTokenizer) for LoadModel, which reads it only when no family did.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "io/tokenizer.h"

namespace lightvlm {

// Fails as LoadTokenizer does, when an id is outside `vocab_size` (config.json's) and when the
// tokenizer has more tokens than that.
std::unique_ptr<Tokenizer> LoadCheckpointTokenizer(const std::string& directory,
                                                   int64_t vocab_size);

}  // namespace lightvlm
