// LoadModel takes the tokenizer from whichever files a checkpoint ships (io/tokenizer_loader.h):
// the qwen2 fixture without its tokenizer.json loads from vocab.json + merges.txt and gives
// transformers' prompt ids. Families that read the tokenizer to find their image token hand it
// over, so that a load reads it once.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "engine/model.h"
#include "io/json_file.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;

TEST(ModelTokenizerFiles, Qwen2WithoutTokenizerJsonUsesVocabAndMerges) {
  const testing::Golden golden("qwen2");
  const fs::path dir = testing::FreshTempDir("qwen2");
  fs::copy(golden.model_dir(), dir, fs::copy_options::recursive);
  fs::remove(dir / "tokenizer.json");
  const Model model = LoadModel(dir.string());
  const JsonFile record =
      JsonFile::Load((testing::kFixturesDir / "qwen2" / "golden.json").string());
  EXPECT_EQ(model.tokenizer->Encode(record.Get<std::string>("prompt.text"), true),
            golden.Ids("input_ids"));

  for (const char* file : {"vocab.json", "merges.txt"}) fs::remove(dir / file);
  EXPECT_EQ(testing::ErrorOf([&] { LoadModel(dir.string()); }),
            dir.string() +
                ": no tokenizer: looked for tokenizer.json, vocab.json + merges.txt, and "
                "tokenizer.model");
}

TEST(ModelTokenizerFiles, FamiliesThatReadTheTokenizerHandItOverOnce) {
  // Each checkpoint with the image token its family looks up in the tokenizer.
  const std::pair<std::string, std::string> checkpoints[] = {
      {testing::Golden("smolvlm").model_dir().string(), "<image>"},
      {(testing::kFixturesDir / "internvl_original").string(), "<IMG_CONTEXT>"}};
  for (const auto& [dir, image_token] : checkpoints) {
    const std::unique_ptr<LanguageModel> language_model = LoadLanguageModel(dir);
    const std::unique_ptr<Tokenizer> tokenizer = language_model->TakeTokenizer();
    ASSERT_NE(tokenizer, nullptr) << dir;
    EXPECT_EQ(tokenizer->TokenId(image_token).value_or(-1), language_model->image_token_id())
        << dir;
    EXPECT_EQ(language_model->TakeTokenizer(), nullptr) << dir;
    EXPECT_NE(LoadModel(dir).tokenizer, nullptr) << dir;
  }
  // The llava family reads none itself; LoadModel does.
  const std::string llava = testing::Golden("llava").model_dir().string();
  EXPECT_EQ(LoadLanguageModel(llava)->TakeTokenizer(), nullptr);
  EXPECT_NE(LoadModel(llava).tokenizer, nullptr);
}

}  // namespace
}  // namespace lightvlm
