#include "io/vocab_merges_tokenizer.h"

#include <filesystem>

#include "base/error.h"
#include "io/json_file.h"
#include "io/mapped_file.h"
#include "io/pretokenizer.h"
#include "io/utf8.h"

namespace lightvlm {
namespace {

using nlohmann::json;

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

// merges.txt as Qwen2Tokenizer reads it: one "left right" pair a line, ranked by their order; a
// first line "#version: ..." and blank lines are skipped, surrounding whitespace is ignored.
json ReadMerges(const std::string& text, const std::string& name, const json& vocab) {
  if (const std::optional<size_t> bad_byte = FirstInvalidUtf8Byte(text)) {
    Fail(name, ": not valid UTF-8 at byte ", *bad_byte);
  }
  json merges = json::array();
  size_t line_start = 0;
  for (size_t line_number = 1; line_start < text.size(); ++line_number) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string::npos) line_end = text.size();
    std::string_view line(text.data() + line_start, line_end - line_start);
    line_start = line_end + 1;
    while (!line.empty() && IsAsciiSpace(line.front())) line.remove_prefix(1);
    while (!line.empty() && IsAsciiSpace(line.back())) line.remove_suffix(1);
    if (line.empty() || (line_number == 1 && line.starts_with("#version:"))) continue;
    size_t split = 0;
    while (split < line.size() && !IsAsciiSpace(line[split])) ++split;
    const std::string_view left = line.substr(0, split);
    std::string_view right = line.substr(split);
    while (!right.empty() && IsAsciiSpace(right.front())) right.remove_prefix(1);
    const bool two_tokens =
        !right.empty() && std::ranges::none_of(right, [](char c) { return IsAsciiSpace(c); });
    Check(two_tokens, name, ": line ", line_number, " (\"", line,
          "\") must be two tokens separated by a space");
    const std::string merged = StrCat(left, right);
    for (const std::string_view token : {left, right, std::string_view(merged)}) {
      Check(vocab.contains(token), name, ": line ", line_number, " names \"", token,
            "\", which is not in vocab.json");
    }
    merges.push_back({left, right});
  }
  return merges;
}

json ReadVocab(const std::string& text, const std::string& name) {
  json vocab = ParseJson(text, name);
  Check(vocab.is_object(), name, ": must be a JSON object of token: id");
  for (const auto& [token, id] : vocab.items()) {
    Check(id.is_number_integer(), name, ": \"", token, "\" must have an integer id");
  }
  return vocab;
}

}  // namespace

std::unique_ptr<Tokenizer> VocabMergesTokenizer(const std::string& vocab_json,
                                                const std::string& vocab_name,
                                                const std::string& merges_txt,
                                                const std::string& merges_name,
                                                const SlowTokenizerConfig& config,
                                                const TokenIdLimit& id_limit) {
  if (config.tokenizer_class) {
    const std::string& name = *config.tokenizer_class;
    Check(name == "Qwen2Tokenizer" || name == "Qwen2TokenizerFast", config.tokenizer_config_path,
          ": tokenizer_class \"", name, "\" is not supported with ", vocab_name, " + ", merges_name,
          " (supported: Qwen2Tokenizer, Qwen2TokenizerFast)");
  }
  json vocab = ReadVocab(vocab_json, vocab_name);
  json merges = ReadMerges(merges_txt, merges_name, vocab);
  json added_tokens = AddedAndSpecialTokens(config, [&](std::string_view content) {
    const auto it = vocab.find(content);
    return it == vocab.end() ? std::nullopt : std::optional<int32_t>(it->get<int32_t>());
  });
  const json split = {{"type", "Split"},
                      {"pattern", {{"Regex", std::string(kQwen2SplitRegex)}}},
                      {"behavior", "Isolated"}};
  const json byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}};
  const json document = {
      {"model", {{"type", "BPE"}, {"vocab", std::move(vocab)}, {"merges", std::move(merges)}}},
      {"normalizer", {{"type", "NFC"}}},
      {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", {split, byte_level}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"added_tokens", std::move(added_tokens)}};
  // Errors past this point are about ids and added tokens: name every file that holds some.
  const std::string name =
      StrCat(vocab_name, " + ", merges_name, config.added_tokens_source.empty() ? "" : " + ",
             config.added_tokens_source);
  return Tokenizer::FromDocument(document, name, id_limit);
}

std::unique_ptr<Tokenizer> LoadVocabMergesTokenizer(const std::string& directory,
                                                    const TokenIdLimit& id_limit) {
  namespace fs = std::filesystem;
  const std::string vocab_path = (fs::path(directory) / "vocab.json").string();
  const std::string merges_path = (fs::path(directory) / "merges.txt").string();
  return VocabMergesTokenizer(ReadFileText(vocab_path), vocab_path, ReadFileText(merges_path),
                              merges_path, ReadSlowTokenizerConfig(directory), id_limit);
}

}  // namespace lightvlm
