// LoadTokenizer: which files it picks, and the errors of malformed slow-tokenizer files.
#include <gtest/gtest.h>

#include "io/tokenizer_loader.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

using testing::ErrorOf;
using testing::FreshTempDir;
using testing::ReadFile;
using testing::WriteFile;
namespace fs = std::filesystem;

const auto kTokenizersDir = testing::kFixturesDir / "tokenizers";

// A copy of a fixture directory, to break or extend.
fs::path CopyOf(const std::string& layout) {
  const fs::path dir = FreshTempDir(layout);
  fs::copy(kTokenizersDir / layout, dir, fs::copy_options::recursive);
  return dir;
}

TEST(LoadTokenizer, PrefersTokenizerJsonThenVocabMergesThenSentencePiece) {
  const fs::path dir = CopyOf("qwen2_vocab_merges");
  fs::copy_file(kTokenizersDir / "sentencepiece" / "tokenizer.model", dir / "tokenizer.model");
  // vocab.json + merges.txt win over tokenizer.model: "<|im_start|>" is Qwen2's id 948.
  EXPECT_EQ(LoadTokenizer(dir.string())->Encode("<|im_start|>", true), std::vector<int32_t>{948});
  fs::copy_file(testing::kFixturesDir / "qwen2" / "model" / "tokenizer.json",
                dir / "tokenizer.json");
  EXPECT_EQ(LoadTokenizer(dir.string())->vocab_size(), 950);  // tokenizer.json's
  fs::remove(dir / "tokenizer.json");
  fs::remove(dir / "merges.txt");
  // Without merges.txt, tokenizer.model: bos first (the SentencePiece fixture's config says so).
  EXPECT_EQ(LoadTokenizer(dir.string())->Encode("", true), std::vector<int32_t>{1});
}

// The qwen2 model fixture ships vocab.json + merges.txt beside tokenizer.json: without the latter,
// the slow files give the ids Qwen2TokenizerFast recorded
// (tests/fixtures/qwen2/tokenizer_cases.json).
TEST(LoadTokenizer, VocabMergesEncodeAsTheQwen2TokenizerJson) {
  const fs::path dir = FreshTempDir("qwen2");
  fs::copy(testing::kFixturesDir / "qwen2" / "model", dir, fs::copy_options::recursive);
  fs::remove(dir / "tokenizer.json");
  fs::remove(dir / "model.safetensors");
  const auto tokenizer = LoadTokenizer(dir.string());
  const nlohmann::json cases =
      nlohmann::json::parse(ReadFile(testing::kFixturesDir / "qwen2" / "tokenizer_cases.json"));
  ASSERT_GE(cases.size(), 10u);
  for (const auto& item : cases) {
    EXPECT_EQ(tokenizer->Encode(item.at("text").get<std::string>(), true),
              item.at("ids").get<std::vector<int32_t>>())
        << item.at("text");
  }
}

TEST(LoadTokenizer, NamesTheDirectoryAndFilesWhenNoneIsThere) {
  const fs::path dir = FreshTempDir("empty");
  EXPECT_EQ(ErrorOf([&] { LoadTokenizer(dir.string()); }),
            dir.string() +
                ": no tokenizer: looked for tokenizer.json, vocab.json + merges.txt, and "
                "tokenizer.model");
  WriteFile(dir / "vocab.json", "{}");
  EXPECT_EQ(ErrorOf([&] { LoadTokenizer(dir.string()); }),
            dir.string() +
                ": no tokenizer: looked for tokenizer.json, vocab.json + merges.txt, and "
                "tokenizer.model (vocab.json is there, merges.txt is not)");
}

TEST(LoadTokenizer, LegacyAddedTokensJsonWithoutAddedTokensDecoder) {
  // Older checkpoints: no added_tokens_decoder; added_tokens.json's tokens are special when a
  // special-token field names them (eos_token and pad_token here), plain added tokens otherwise.
  const fs::path dir = CopyOf("qwen2_vocab_merges");
  nlohmann::json config = nlohmann::json::parse(ReadFile(dir / "tokenizer_config.json"));
  config.erase("added_tokens_decoder");
  WriteFile(dir / "tokenizer_config.json", config.dump());
  const auto tokenizer = LoadTokenizer(dir.string());
  EXPECT_EQ(tokenizer->Encode("a<|im_start|>b<|im_end|>", false),
            (std::vector<int32_t>{64, 948, 65, 949}));
  EXPECT_TRUE(tokenizer->IsSpecial(949));   // eos_token
  EXPECT_TRUE(tokenizer->IsSpecial(947));   // pad_token
  EXPECT_FALSE(tokenizer->IsSpecial(948));  // named by no field
}

TEST(LoadTokenizer, MalformedVocabAndMergesNameTheFile) {
  const fs::path dir = CopyOf("qwen2_vocab_merges");
  const std::string merges = ReadFile(dir / "merges.txt");
  WriteFile(dir / "merges.txt", merges + "a b c\n");
  const size_t lines = std::count(merges.begin(), merges.end(), '\n') + 1;
  EXPECT_EQ(ErrorOf([&] { LoadTokenizer(dir.string()); }),
            (dir / "merges.txt").string() + ": line " + std::to_string(lines) +
                " (\"a b c\") must be two tokens separated by a space");
  WriteFile(dir / "merges.txt", merges + "a\n");
  EXPECT_EQ(ErrorOf([&] { LoadTokenizer(dir.string()); }),
            (dir / "merges.txt").string() + ": line " + std::to_string(lines) +
                " (\"a\") must be two tokens separated by a space");
  WriteFile(dir / "merges.txt", "#version: 0.2\nh e\nzz q\n");
  EXPECT_EQ(ErrorOf([&] { LoadTokenizer(dir.string()); }),
            (dir / "merges.txt").string() + ": line 3 names \"zz\", which is not in vocab.json");
  WriteFile(dir / "merges.txt", "#version: 0.2\nh e\nz q\n");  // "zq" is no token
  EXPECT_EQ(ErrorOf([&] { LoadTokenizer(dir.string()); }),
            (dir / "merges.txt").string() + ": line 3 names \"zq\", which is not in vocab.json");
  WriteFile(dir / "merges.txt", "h \xff\n");
  EXPECT_EQ(ErrorOf([&] { LoadTokenizer(dir.string()); }),
            (dir / "merges.txt").string() + ": not valid UTF-8 at byte 2");

  WriteFile(dir / "merges.txt", merges);
  WriteFile(dir / "vocab.json", "[\"a\", \"b\"]");
  EXPECT_EQ(ErrorOf([&] { LoadTokenizer(dir.string()); }),
            (dir / "vocab.json").string() + ": must be a JSON object of token: id");
  WriteFile(dir / "vocab.json", "{\"a\": \"one\"}");
  EXPECT_EQ(ErrorOf([&] { LoadTokenizer(dir.string()); }),
            (dir / "vocab.json").string() + ": \"a\" must have an integer id");
  WriteFile(dir / "vocab.json", "{\"a\": ");
  EXPECT_NE(ErrorOf([&] { LoadTokenizer(dir.string()); }).find((dir / "vocab.json").string()),
            std::string::npos);
}

TEST(LoadTokenizer, VocabIdsBeyondTheModelAreRefused) {
  const fs::path dir = CopyOf("qwen2_vocab_merges");
  const std::string error = ErrorOf([&] {
    LoadTokenizer(dir.string(), {900, "config.json's vocab_size 900"});
  });
  EXPECT_NE(error.find("vocab.json"), std::string::npos) << error;
  EXPECT_NE(error.find("outside 0..899 (config.json's vocab_size 900)"), std::string::npos)
      << error;
}

TEST(LoadTokenizer, OtherTokenizerClassesWithVocabMergesAreRefused) {
  const fs::path dir = CopyOf("qwen2_vocab_merges");
  nlohmann::json config = nlohmann::json::parse(ReadFile(dir / "tokenizer_config.json"));
  config["tokenizer_class"] = "GPT2Tokenizer";
  WriteFile(dir / "tokenizer_config.json", config.dump());
  EXPECT_EQ(ErrorOf([&] { LoadTokenizer(dir.string()); }),
            (dir / "tokenizer_config.json").string() +
                ": tokenizer_class \"GPT2Tokenizer\" is not supported with " +
                (dir / "vocab.json").string() + " + " + (dir / "merges.txt").string() +
                " (supported: Qwen2Tokenizer, Qwen2TokenizerFast)");
}

TEST(LoadTokenizer, CorruptSentencePieceModelNamesTheFile) {
  const fs::path dir = CopyOf("sentencepiece");
  const std::string model = ReadFile(dir / "tokenizer.model");
  for (const std::string& bytes :
       {std::string("not a model"), model.substr(0, model.size() / 2), std::string()}) {
    WriteFile(dir / "tokenizer.model", bytes);
    const std::string error = ErrorOf([&] { LoadTokenizer(dir.string()); });
    EXPECT_EQ(error.rfind((dir / "tokenizer.model").string() + ": not a SentencePiece model", 0),
              0u)
        << error;
  }
  WriteFile(dir / "tokenizer.model", model);
  EXPECT_EQ(ErrorOf([&] {
              LoadTokenizer(dir.string(), {300, "config.json's vocab_size 300"});
            }),
            (dir / "tokenizer.model").string() +
                ": 420 pieces are more than 300 (config.json's vocab_size 300)");
}

TEST(LoadTokenizer, SentencePieceBosAndEosAsTheConfigSays) {
  const fs::path dir = CopyOf("sentencepiece");
  nlohmann::json config = nlohmann::json::parse(ReadFile(dir / "tokenizer_config.json"));
  config["add_bos_token"] = false;
  config["add_eos_token"] = true;
  WriteFile(dir / "tokenizer_config.json", config.dump());
  EXPECT_EQ(LoadTokenizer(dir.string())->Encode("", true), std::vector<int32_t>{2});
  // With no json file at all: LlamaTokenizer's and InternLM2Tokenizer's defaults, bos added and
  // the model's <s>, </s> and <unk> matched in the text as special tokens.
  for (const char* file : {"tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"})
    fs::remove(dir / file);
  const auto tokenizer = LoadTokenizer(dir.string());
  EXPECT_EQ(tokenizer->Encode("</s><unk>", true), (std::vector<int32_t>{1, 2, 0}));
  EXPECT_TRUE(tokenizer->IsSpecial(2));
  EXPECT_EQ(tokenizer->vocab_size(), 420);
  EXPECT_EQ(tokenizer->TokenId("<img>"), std::nullopt);
}

TEST(LoadTokenizer, SentencePieceAddedTokensAreChecked) {
  const fs::path dir = CopyOf("sentencepiece");
  nlohmann::json config = nlohmann::json::parse(ReadFile(dir / "tokenizer_config.json"));
  config["added_tokens_decoder"]["5"] = {{"content", "<img>"}, {"special", true}};
  WriteFile(dir / "tokenizer_config.json", config.dump());
  const std::string error = ErrorOf([&] { LoadTokenizer(dir.string()); });
  EXPECT_EQ(error.rfind((dir / "tokenizer_config.json").string(), 0), 0u) << error;
  EXPECT_NE(error.find("(5)"), std::string::npos) << error;

  config = nlohmann::json::parse(ReadFile(CopyOf("sentencepiece") / "tokenizer_config.json"));
  config["added_tokens_decoder"]["x1"] = config["added_tokens_decoder"]["1"];
  WriteFile(dir / "tokenizer_config.json", config.dump());
  EXPECT_EQ(ErrorOf([&] { LoadTokenizer(dir.string()); }),
            (dir / "tokenizer_config.json").string() +
                ": added_tokens_decoder key \"x1\" is not a token id");

  // Without added_tokens_decoder, special_tokens_map.json's fields replace tokenizer_config.json's.
  config.erase("added_tokens_decoder");
  config["bos_token"] = "<nope>";
  WriteFile(dir / "tokenizer_config.json", config.dump());
  EXPECT_EQ(LoadTokenizer(dir.string())->Encode("", true), std::vector<int32_t>{1});
  fs::remove(dir / "special_tokens_map.json");
  EXPECT_EQ(ErrorOf([&] { LoadTokenizer(dir.string()); }),
            (dir / "tokenizer_config.json").string() +
                ": bos_token (\"<nope>\") is neither an added token nor in the vocabulary");
}

}  // namespace
}  // namespace lightvlm
