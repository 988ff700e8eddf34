#include "io/gguf_tokenizer.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "io/pretokenizer.h"
#include "io/utf8.h"

namespace lightvlm {
namespace {

using nlohmann::json;

constexpr char kModelKey[] = "tokenizer.ggml.model";
constexpr char kPreKey[] = "tokenizer.ggml.pre";
constexpr char kTokensKey[] = "tokenizer.ggml.tokens";
constexpr char kTypesKey[] = "tokenizer.ggml.token_type";
constexpr char kMergesKey[] = "tokenizer.ggml.merges";
constexpr char kScoresKey[] = "tokenizer.ggml.scores";
constexpr char kMetaspace[] = "\u2581";

// tokenizer.ggml.token_type values (llama_token_type in the GGUF specification).
enum TokenType : int64_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6
};

// llama.cpp's pre-tokenizer regexes (src/llama-vocab.cpp), by the name it writes into
// tokenizer.ggml.pre. Each regex splits every piece into matches and the text between them.
// (GPT-2's own regex is ByteLevel's use_regex, below; Qwen2's is in io/pretokenizer.h.)
constexpr char kLlama3Regex[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

json SplitStep(const char* regex) {
  return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}};
}

// ByteLevel maps bytes to GPT-2's printable characters; with use_regex it first splits by the
// GPT-2 regex, which is the last step of llama.cpp's "gpt-2" and "smollm".
json ByteLevelStep(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", use_regex}};
}

struct ByteLevelPre {
  json pre_tokenizer;
  bool ignore_merges;  // a word that is a whole token is not merged (llama.cpp's LLAMA3 type)
};

ByteLevelPre PreTokenizerFor(const GgufFile& file, const std::string& name) {
  if (name == "gpt-2") return {ByteLevelStep(true), false};
  const auto sequence = [](json first, json second) {
    return json{{"type", "Sequence"}, {"pretokenizers", {std::move(first), std::move(second)}}};
  };
  if (name == "smollm") return {sequence(SplitStep("\\p{N}"), ByteLevelStep(true)), false};
  if (name == "qwen2") return {sequence(SplitStep(kQwen2SplitRegex), ByteLevelStep(false)), false};
  if (name == "llama-bpe") return {sequence(SplitStep(kLlama3Regex), ByteLevelStep(false)), true};
  Fail(file.path(), ": ", kPreKey, " \"", name,
       "\" is not a supported pre-tokenizer (supported: gpt-2, smollm, qwen2, llama-bpe)");
}

std::optional<int32_t> OptionalId(const GgufFile& file, const std::string& key, size_t vocab_size) {
  if (!file.Has(key)) return std::nullopt;
  const uint64_t id = file.Unsigned(key);
  Check(id < vocab_size, file.path(), ": metadata '", key, "' is ", id, ", outside the ",
        vocab_size, " tokens of ", kTokensKey);
  return static_cast<int32_t>(id);
}

// The pieces every translation needs: tokens (valid UTF-8) and their types.
struct Vocabulary {
  const std::vector<std::string>& tokens;
  std::vector<int64_t> types;  // [tokens.size()]
};

Vocabulary ReadVocabulary(const GgufFile& file) {
  const std::vector<std::string>& tokens = file.Strings(kTokensKey);
  for (size_t id = 0; id < tokens.size(); ++id) {
    Check(!FirstInvalidUtf8Byte(tokens[id]), file.path(), ": ", kTokensKey, "[", id,
          "] is not valid UTF-8");
  }
  Vocabulary vocabulary{tokens, std::vector<int64_t>(tokens.size(), kNormal)};
  if (file.Has(kTypesKey)) {
    vocabulary.types = file.Integers(kTypesKey);
    Check(vocabulary.types.size() == tokens.size(), file.path(), ": ", kTypesKey, " has ",
          vocabulary.types.size(), " entries for ", tokens.size(), " tokens");
  }
  return vocabulary;
}

json VocabObject(const GgufFile& file, const Vocabulary& vocabulary) {
  json vocab = json::object();
  for (size_t id = 0; id < vocabulary.tokens.size(); ++id) {
    const auto [it, inserted] = vocab.emplace(vocabulary.tokens[id], id);
    Check(inserted, file.path(), ": ", kTokensKey, " has \"", vocabulary.tokens[id],
          "\" twice, at ids ", it->get<size_t>(), " and ", id);
  }
  return vocab;
}

json AddedTokens(const Vocabulary& vocabulary) {
  json added = json::array();
  for (size_t id = 0; id < vocabulary.tokens.size(); ++id) {
    const int64_t type = vocabulary.types[id];
    if (type != kControl && type != kUnknown && type != kUserDefined) continue;
    if (vocabulary.tokens[id].empty()) continue;  // nothing to match in a text
    added.push_back(
        {{"id", id}, {"content", vocabulary.tokens[id]}, {"special", type != kUserDefined}});
  }
  return added;
}

// SentencePiece merges from scores: every split of a normal token into two normal tokens is a
// merge, ranked by the token's score (higher first; equal scores by lower id), as llama.cpp
// merges the adjacent pair whose concatenation scores highest.
json MergesFromScores(const GgufFile& file, const Vocabulary& vocabulary) {
  const std::vector<double>& scores = file.Floats(kScoresKey);
  Check(scores.size() == vocabulary.tokens.size(), file.path(), ": ", kScoresKey, " has ",
        scores.size(), " entries for ", vocabulary.tokens.size(), " tokens");
  std::unordered_map<std::string_view, size_t> normal_ids;
  for (size_t id = 0; id < vocabulary.tokens.size(); ++id) {
    if (vocabulary.types[id] == kNormal) normal_ids.emplace(vocabulary.tokens[id], id);
  }
  struct Merge {
    double score;
    size_t merged_id;
    std::string_view left, right;
  };
  std::vector<Merge> merges;
  for (const auto& entry : normal_ids) {
    // Named copies, not a structured binding: clang 14 (the fuzz build) cannot capture those.
    const std::string_view token = entry.first;
    const size_t id = entry.second;
    size_t split = 0;
    ForEachUtf8Char(token, [&](std::string_view character) {
      if (split > 0) {
        const std::string_view left = token.substr(0, split), right = token.substr(split);
        if (normal_ids.contains(left) && normal_ids.contains(right)) {
          merges.push_back({scores[id], id, left, right});
        }
      }
      split += character.size();
    });
  }
  std::sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.merged_id != b.merged_id) return a.merged_id < b.merged_id;
    return a.left.size() < b.left.size();
  });
  json list = json::array();
  for (const Merge& merge : merges) list.push_back({merge.left, merge.right});
  return list;
}

json ByteLevelDocument(const GgufFile& file, const Vocabulary& vocabulary) {
  const ByteLevelPre pre =
      PreTokenizerFor(file, file.Has(kPreKey) ? file.String(kPreKey) : "gpt-2");
  json merges = json::array();
  const std::vector<std::string>& merge_list = file.Strings(kMergesKey);
  for (size_t i = 0; i < merge_list.size(); ++i) {
    Check(!FirstInvalidUtf8Byte(merge_list[i]), file.path(), ": ", kMergesKey, "[", i,
          "] is not valid UTF-8");
    merges.push_back(merge_list[i]);
  }
  return {{"model",
           {{"type", "BPE"},
            {"vocab", VocabObject(file, vocabulary)},
            {"merges", std::move(merges)},
            {"ignore_merges", pre.ignore_merges}}},
          {"pre_tokenizer", pre.pre_tokenizer},
          {"decoder", {{"type", "ByteLevel"}}}};
}

json SentencePieceDocument(const GgufFile& file, const Vocabulary& vocabulary,
                           const GgufSpecialTokens& special) {
  const bool add_space_prefix = file.Has("tokenizer.ggml.add_space_prefix")
                                    ? file.Bool("tokenizer.ggml.add_space_prefix")
                                    : true;
  json model = {{"type", "BPE"},
                {"vocab", VocabObject(file, vocabulary)},
                {"merges", MergesFromScores(file, vocabulary)},
                {"fuse_unk", true},
                {"byte_fallback", std::ranges::count(vocabulary.types, kByte) > 0}};
  if (special.unknown) model["unk_token"] = vocabulary.tokens[*special.unknown];
  json normalizers = json::array();
  if (add_space_prefix) normalizers.push_back({{"type", "Prepend"}, {"prepend", kMetaspace}});
  normalizers.push_back(
      {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kMetaspace}});
  json decoders = {{{"type", "Replace"}, {"pattern", {{"String", kMetaspace}}}, {"content", " "}},
                   {{"type", "ByteFallback"}},
                   {{"type", "Fuse"}}};
  if (add_space_prefix) {
    decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
  }
  return {{"model", std::move(model)},
          {"normalizer", {{"type", "Sequence"}, {"normalizers", std::move(normalizers)}}},
          {"decoder", {{"type", "Sequence"}, {"decoders", std::move(decoders)}}}};
}

// bos before and eos after the text, as the add_bos_token / add_eos_token flags ask.
json PostProcessor(const Vocabulary& vocabulary, const GgufSpecialTokens& special) {
  json single = json::array();
  json special_tokens = json::object();
  const auto add = [&](int32_t id) {
    const std::string& token = vocabulary.tokens[id];
    single.push_back({{"SpecialToken", {{"id", token}, {"type_id", 0}}}});
    special_tokens[token] = {{"id", token}, {"ids", {id}}, {"tokens", {token}}};
  };
  if (special.add_bos && special.bos) add(*special.bos);
  single.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
  if (special.add_eos && special.eos) add(*special.eos);
  return {{"type", "TemplateProcessing"}, {"single", single}, {"special_tokens", special_tokens}};
}

}  // namespace

GgufSpecialTokens ReadGgufSpecialTokens(const GgufFile& file) {
  const size_t vocab_size = file.Strings(kTokensKey).size();
  GgufSpecialTokens special;
  special.bos = OptionalId(file, "tokenizer.ggml.bos_token_id", vocab_size);
  special.eos = OptionalId(file, "tokenizer.ggml.eos_token_id", vocab_size);
  special.unknown = OptionalId(file, "tokenizer.ggml.unknown_token_id", vocab_size);
  special.padding = OptionalId(file, "tokenizer.ggml.padding_token_id", vocab_size);
  const bool sentencepiece = file.String(kModelKey) == "llama";
  special.add_bos = file.Has("tokenizer.ggml.add_bos_token")
                        ? file.Bool("tokenizer.ggml.add_bos_token")
                        : sentencepiece;
  special.add_eos =
      file.Has("tokenizer.ggml.add_eos_token") && file.Bool("tokenizer.ggml.add_eos_token");
  return special;
}

std::unique_ptr<Tokenizer> TokenizerFromGguf(const GgufFile& file) {
  const std::string& model = file.String(kModelKey);
  Check(model == "gpt2" || model == "llama", file.path(), ": ", kModelKey, " \"", model,
        "\" is not a supported tokenizer model (supported: gpt2, llama)");
  const Vocabulary vocabulary = ReadVocabulary(file);
  const GgufSpecialTokens special = ReadGgufSpecialTokens(file);
  json document = model == "gpt2" ? ByteLevelDocument(file, vocabulary)
                                  : SentencePieceDocument(file, vocabulary, special);
  document["added_tokens"] = AddedTokens(vocabulary);
  document["post_processor"] = PostProcessor(vocabulary, special);
  // Through tokenizer.json's own entry point, so that both sources build one implementation;
  // errors then name the metadata's tokenizer.json equivalent ("model.merges[3] ...").
  return Tokenizer::FromDocument(document, file.path() + " (tokenizer metadata)");
}

std::optional<std::string> GgufChatTemplate(const GgufFile& file) {
  if (!file.Has("tokenizer.chat_template")) return std::nullopt;
  return file.String("tokenizer.chat_template");
}

}  // namespace lightvlm
