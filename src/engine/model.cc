#include "engine/model.h"

#include <algorithm>
#include <filesystem>

#include "base/error.h"
#include "io/gguf_file.h"
#include "io/gguf_tokenizer.h"
#include "io/json_file.h"
#include "models/checkpoint_tokenizer.h"

namespace lightvlm {
namespace {

void AddUnique(std::vector<int32_t>& ids, const std::vector<int32_t>& more) {
  for (int32_t id : more) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
}

// The ids that end a turn besides eos (llama.cpp's end-of-generation tokens), when the file names
// them.
constexpr const char* kGgufStopKeys[] = {"tokenizer.ggml.eot_token_id",
                                         "tokenizer.ggml.eom_token_id"};

Model LoadGgufModel(const std::string& path, DType weight_dtype) {
  const std::unique_ptr<GgufFile> file = GgufFile::Open(path);
  Model model;
  model.path = path;
  model.language_model = LoadGgufLanguageModel(*file, weight_dtype);
  model.tokenizer = TokenizerFromGguf(*file);
  const LlmConfig& config = model.config();
  Check(model.tokenizer->vocab_size() <= config.vocab_size, path, ": the tokenizer has ",
        model.tokenizer->vocab_size(), " tokens but the vocabulary size is ", config.vocab_size);
  model.stop_token_ids = config.eos_token_ids;
  for (const char* key : kGgufStopKeys) {
    if (!file->Has(key)) continue;
    const uint64_t id = file->Unsigned(key);
    Check(id < static_cast<uint64_t>(config.vocab_size), path, ": ", key, " ", id,
          " is outside the vocabulary of ", config.vocab_size);
    AddUnique(model.stop_token_ids, {static_cast<int32_t>(id)});
  }
  return model;
}

}  // namespace

Model LoadModel(const std::string& path, const LoadOptions& options) {
  namespace fs = std::filesystem;
  Check(fs::exists(path), path, ": no such checkpoint directory or GGUF file");
  if (fs::is_regular_file(path)) return LoadGgufModel(path, options.weight_dtype);
  const std::string& directory = path;
  Model model;
  model.path = path;
  model.language_model = LoadLanguageModel(directory, options);
  const LlmConfig& config = model.config();
  model.tokenizer = model.language_model->TakeTokenizer();
  if (!model.tokenizer) model.tokenizer = LoadCheckpointTokenizer(directory, config.vocab_size);
  model.stop_token_ids = config.eos_token_ids;
  const fs::path generation_path = fs::path(directory) / "generation_config.json";
  if (fs::exists(generation_path)) {
    const JsonFile generation = JsonFile::Load(generation_path.string());
    AddUnique(model.stop_token_ids, ReadTokenIds(generation, "eos_token_id"));
  }
  return model;
}

namespace {

Prompt TokenizePrompt(const Model& model, const std::string& text,
                      std::span<const ImageEmbeddings> images, bool add_special) {
  const LanguageModel& language_model = *model.language_model;
  Prompt prompt = AssemblePrompt(
      model.tokenizer->Encode(language_model.ExpandImagePlaceholders(text, images), add_special),
      images, language_model.image_token_id());
  prompt.positions = language_model.PromptPositions(prompt.token_ids, images);
  return prompt;
}

}  // namespace

Prompt MakePrompt(const Model& model, const std::string& question,
                  std::span<const ImageEmbeddings> images, bool raw) {
  const LanguageModel& language_model = *model.language_model;
  const std::string text =
      raw ? question : language_model.FormatPrompt(question, static_cast<int64_t>(images.size()));
  return TokenizePrompt(model, text, images, raw || !language_model.formats_special_tokens());
}

Prompt MakeConversationPrompt(const Model& model, std::span<const ChatMessage> messages,
                              std::span<const ImageEmbeddings> images) {
  const LanguageModel& language_model = *model.language_model;
  return TokenizePrompt(model, language_model.FormatConversation(messages), images,
                        !language_model.formats_special_tokens());
}

}  // namespace lightvlm
