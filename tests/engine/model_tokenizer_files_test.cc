// LoadModel takes the tokenizer from whichever files a checkpoint ships (io/tokenizer_loader.h):
// the qwen2 fixture without its tokenizer.json loads from vocab.json + merges.txt and gives
// transformers' prompt ids.
#include <gtest/gtest.h>

#include <filesystem>

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

}  // namespace
}  // namespace lightvlm
