// Checkpoints broken on purpose (copies of stories260k with one file changed): each must end in
// an Error naming the file, field or step at fault, before anything is sized by the broken value.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "engine/model.h"
#include "engine/session.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;
using testing::ErrorOf;

// Sets `field` of the copy's config.json to `value`.
void SetConfigField(const fs::path& dir, const std::string& field, const nlohmann::json& value) {
  nlohmann::json config = nlohmann::json::parse(testing::ReadFile(dir / "config.json"));
  config[field] = value;
  testing::WriteFile(dir / "config.json", config.dump());
}

// Overwrites every float32 of tensor `name` in the copy's model.safetensors with `value`.
void FillTensor(const fs::path& dir, const std::string& name, float value) {
  std::string bytes = testing::ReadFile(dir / "model.safetensors");
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), sizeof(header_length));  // little-endian host
  const auto header = nlohmann::json::parse(bytes.substr(8, header_length));
  const auto& entry = header.at(name);
  ASSERT_EQ(entry.at("dtype"), "F32");
  const size_t begin = 8 + header_length + entry.at("data_offsets")[0].get<size_t>();
  const size_t end = 8 + header_length + entry.at("data_offsets")[1].get<size_t>();
  for (size_t at = begin; at < end; at += sizeof(float)) {
    std::memcpy(bytes.data() + at, &value, sizeof(float));
  }
  testing::WriteFile(dir / "model.safetensors", bytes);
}

// A head_dim of 2e9 used to build a 3.9 GB RoPE table for 37 s before the shape error; the
// shapes are now checked first, so the error comes at once.
TEST(HostileCheckpointTest, ConfigSizesMeetTheTensorShapesBeforeAnyAllocation) {
  const fs::path dir = testing::CopyOfStories();
  SetConfigField(dir, "head_dim", 2000000000);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ErrorOf([&] { LoadModel(dir.string()); }),
            (dir / "model.safetensors").string() +
                ": tensor 'model.layers.0.self_attn.q_proj.weight' has shape [64, 64], expected "
                "[16000000000, 64]");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// One vocabulary id of 16777215 used to allocate a 668 MB table before the vocabulary was
// compared with config.json's vocab_size; now the id is refused against it first.
TEST(HostileCheckpointTest, TokenizerIdsAreCheckedAgainstTheConfigVocabulary) {
  const fs::path dir = testing::CopyOfStories();
  nlohmann::json tokenizer = nlohmann::json::parse(testing::ReadFile(dir / "tokenizer.json"));
  tokenizer["model"]["vocab"]["stray"] = 16777215;
  testing::WriteFile(dir / "tokenizer.json", tokenizer.dump());
  EXPECT_EQ(ErrorOf([&] { LoadModel(dir.string()); }),
            (dir / "tokenizer.json").string() +
                ": model.vocab.stray has id 16777215 outside 0..511 (" + dir.string() +
                "/config.json's vocab_size 512)");
}

// NaN logits (here from NaN final-norm weights) used to make sampling read index -1 and greedy
// pick an arbitrary token. Both now stop with an error naming the generation step.
TEST(HostileCheckpointTest, NonFiniteLogitsStopGenerationNamingTheStep) {
  const fs::path dir = testing::CopyOfStories();
  FillTensor(dir, "model.norm.weight", std::numeric_limits<float>::quiet_NaN());
  const Model model = LoadModel(dir.string());
  ThreadPool pool(2);
  for (const float temperature : {0.0f, 0.8f}) {
    Session session(model.decoder(), pool, 64);
    GenerationOptions options;
    options.max_new_tokens = 4;
    options.sampling.temperature = temperature;
    const std::string error = ErrorOf([&] {
      session.Generate(model.tokenizer->Encode("Once upon", true), options,
                       [](int32_t) { return true; });
    });
    EXPECT_PRED_FORMAT2(::testing::IsSubstring,
                        "generation step 1 (prompt of 3 tokens): the logit of token 0 is NaN",
                        error)
        << "temperature " << temperature;
  }
}

// A FIFO named tokenizer.json used to hang the loader (opening it waits for a writer) and a
// directory was reported as "not valid JSON".
TEST(HostileCheckpointTest, NonRegularFilesAreRefusedByName) {
  const fs::path dir = testing::CopyOfStories();
  fs::remove(dir / "tokenizer.json");
  fs::create_directory(dir / "tokenizer.json");
  EXPECT_EQ(ErrorOf([&] { LoadModel(dir.string()); }),
            (dir / "tokenizer.json").string() + ": is a directory, not a file");
  fs::remove(dir / "tokenizer.json");
  ASSERT_EQ(mkfifo((dir / "tokenizer.json").c_str(), 0600), 0);
  EXPECT_EQ(ErrorOf([&] { LoadModel(dir.string()); }),
            (dir / "tokenizer.json").string() + ": not a regular file (a FIFO, socket or device)");
}

}  // namespace
}  // namespace lightvlm
