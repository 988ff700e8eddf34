// Runs the lightvlm binary as a user would, on the real stories260k checkpoint and on broken
// copies of it: every bad input must end with a message naming the file and the problem and
// exit code 1 (not a crash, which the shell would report as 128 + signal).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/cli.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::CopyOfStories;
using testing::ReadFile;
using testing::RunCli;
using testing::WriteFile;

// Expects a clean failure whose message contains every one of `parts`.
void ExpectFailure(const CliResult& result, const std::vector<std::string>& parts) {
  EXPECT_EQ(result.exit_code, 1) << result.err;
  for (const auto& part : parts) {
    EXPECT_NE(result.err.find(part), std::string::npos)
        << "missing '" << part << "' in: " << result.err;
  }
}

CliResult RunStories(const fs::path& model, const std::string& prompt = "Once upon a time") {
  return RunCli({"run", "-m", model.string(), "-p", prompt, "-n", "8"});
}

TEST(CliTest, RunStreamsTheGreedyStory) {
  const CliResult result =
      RunCli({"run", "-m", testing::kStoriesDir.string(), "-p", "Once upon a time", "-n", "30"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.rfind(", there was a little girl named Lily. She loved to play outside in "
                             "the park.",
                             0),
            0u)
      << result.out;
}

TEST(CliTest, InspectDescribesTheCheckpoint) {
  const CliResult result = RunCli({"inspect", "-m", testing::kStoriesDir.string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("LlamaForCausalLM"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("5 layers"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("F32"), std::string::npos) << result.out;
  // 512*64 embeddings + 5 layers * (4 attention matrices and 3 MLP matrices and 2 norms) + norm.
  const int64_t parameters =
      512 * 64 + 5 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 64 * 172 + 2 * 64) + 64;
  EXPECT_NE(result.out.find("parameters: " + std::to_string(parameters)), std::string::npos)
      << result.out;
}

TEST(CliTest, MissingModelDirectory) {
  ExpectFailure(RunStories("/nonexistent/model"), {"/nonexistent/model"});
}

TEST(CliTest, TruncatedSafetensors) {
  const fs::path model = CopyOfStories();
  const std::string bytes = ReadFile(model / "model.safetensors");
  WriteFile(model / "model.safetensors", bytes.substr(0, bytes.size() / 2));
  ExpectFailure(RunStories(model), {"model.safetensors"});
}

TEST(CliTest, HeaderLengthPastTheEnd) {
  const fs::path model = CopyOfStories();
  std::string bytes = ReadFile(model / "model.safetensors");
  bytes[6] = 0x10;  // header length now about 2^52
  WriteFile(model / "model.safetensors", bytes);
  ExpectFailure(RunStories(model), {"model.safetensors", "header"});
}

TEST(CliTest, OverlappingSpans) {
  const fs::path model = CopyOfStories();
  std::string bytes =
      testing::SafetensorsBytes({{"model.norm.weight", "F32", {4}, std::string(16, '\0')},
                                 {"model.embed_tokens.weight", "F32", {4}, std::string(16, '\0')}});
  const size_t second = bytes.find("[16,32]");
  ASSERT_NE(second, std::string::npos);
  bytes.replace(second, 7, "[8,24] ");
  WriteFile(model / "model.safetensors", bytes);
  ExpectFailure(RunStories(model), {"model.safetensors", "overlap"});
}

TEST(CliTest, UnknownDtype) {
  const fs::path model = CopyOfStories();
  std::string bytes = ReadFile(model / "model.safetensors");
  const size_t dtype = bytes.find("\"F32\"");
  ASSERT_NE(dtype, std::string::npos);
  bytes.replace(dtype, 5, "\"Q4K\"");
  WriteFile(model / "model.safetensors", bytes);
  ExpectFailure(RunStories(model), {"model.safetensors", "Q4K"});
}

TEST(CliTest, ConfigNotJson) {
  const fs::path model = CopyOfStories();
  WriteFile(model / "config.json", "{\"model_type\": \"llama\", ");
  ExpectFailure(RunStories(model), {"config.json"});
}

TEST(CliTest, ConfigMissingField) {
  const fs::path model = CopyOfStories();
  std::string config = ReadFile(model / "config.json");
  const size_t field = config.find("\"num_hidden_layers\": 5,");
  ASSERT_NE(field, std::string::npos);
  config.erase(field, 23);
  WriteFile(model / "config.json", config);
  ExpectFailure(RunStories(model), {"config.json", "num_hidden_layers"});
}

TEST(CliTest, TokenizerMalformed) {
  const fs::path model = CopyOfStories();
  WriteFile(model / "tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": 7}}");
  ExpectFailure(RunStories(model), {"tokenizer.json", "vocab"});
  WriteFile(model / "tokenizer.json", "not json at all");
  ExpectFailure(RunStories(model), {"tokenizer.json"});
}

TEST(CliTest, PromptLongerThanTheContext) {
  const std::string prompt = "Once upon a time there was a little dog who liked to run.";
  ExpectFailure(
      RunCli({"run", "-m", testing::kStoriesDir.string(), "-p", prompt, "--context", "8"}),
      {"context of 8 tokens"});
  const CliResult truncated = RunCli({"run", "-m", testing::kStoriesDir.string(), "-p", prompt,
                                      "--context", "8", "--truncate", "-n", "3"});
  EXPECT_EQ(truncated.exit_code, 0) << truncated.err;
  ExpectFailure(
      RunCli({"run", "-m", testing::kStoriesDir.string(), "-p", prompt, "--context", "100000"}),
      {"max_position_embeddings"});
}

TEST(CliTest, InvalidUtf8Prompt) {
  ExpectFailure(RunStories(testing::kStoriesDir, "bad \xff byte"), {"UTF-8"});
}

TEST(CliTest, BadSamplingOptions) {
  ExpectFailure(RunCli({"run", "-m", testing::kStoriesDir.string(), "-p", "Hi", "--top-p", "2"}),
                {"top-p"});
}

TEST(CliTest, BadQueryTokens) {
  for (const char* value : {"0", "last"}) {
    ExpectFailure(
        RunCli({"run", "-m", testing::kStoriesDir.string(), "-p", "Hi", "--query-tokens", value}),
        {"--query-tokens", "question", value});
  }
}

TEST(CliTest, UsageErrorsAreNotCrashes) {
  const CliResult result = RunCli({"run", "-p", "no model"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_LT(result.exit_code, 128);
  EXPECT_NE(result.err.find("--model"), std::string::npos) << result.err;
}

// Flags are validated where they are declared, while the command line is parsed: before anything
// is loaded (the model directory here does not exist and is never reached). --threads -3 used to
// be accepted silently.
TEST(CliTest, BadFlagValuesFailBeforeLoading) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"--threads", "-3"},     {"--threads", "100000"},      {"--context", "-1"},
      {"--max-kv-bytes", "0"}, {"--max-image-pixels", "0"},  {"--max-tokens", "0"},
      {"--min-pixels", "-1"},  {"--max-pixels", "50000001"}, {"--kv-dtype", "f16"}};
  for (const auto& [flag, value] : bad) {
    const CliResult result = RunCli({"run", "-m", "/nonexistent", "-p", "Hi", flag, value});
    EXPECT_NE(result.exit_code, 0) << flag << " " << value;
    EXPECT_LT(result.exit_code, 128);
    EXPECT_NE(result.err.find(flag), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("/nonexistent"), std::string::npos) << result.err;
  }
  for (const std::string command : {"batch", "eval", "bench", "kvfidelity"}) {
    const CliResult result = RunCli({command, "-m", "/nonexistent", "--threads", "-3"});
    EXPECT_NE(result.exit_code, 0) << command;
    EXPECT_LT(result.exit_code, 128);
    EXPECT_NE(result.err.find("--threads"), std::string::npos) << command << ": " << result.err;
  }
  ExpectFailure(RunCli({"run", "-m", "/nonexistent", "-p", "Hi", "--temp", "-1"}),
                {"temperature must be >= 0"});
}

// --max-pixels and --min-pixels bound Qwen2-VL's smart resize: the 300x60 image is 28x224 pixels
// under the fixture's max_pixels (12544), 1x8 merged tokens; 6272 pixels make it 28x168, 1x6.
TEST(CliTest, PixelBoundsSetQwen2VlImageTokens) {
  const fs::path model = testing::kFixturesDir / "qwen2vl" / "model";
  const std::string image = (testing::kFixturesDir / "qwen2vl" / "wide.png").string();
  auto run = [&](std::vector<std::string> flags) {
    std::vector<std::string> args = {"run", "-m",    model.string(), "-i", image,
                                     "-p",  "What?", "-n",           "1",  "-v"};
    args.insert(args.end(), flags.begin(), flags.end());
    return RunCli(args);
  };
  const CliResult checkpoint = run({});
  EXPECT_EQ(checkpoint.exit_code, 0) << checkpoint.err;
  EXPECT_NE(checkpoint.err.find("8 tokens in 1 grids (1x8)"), std::string::npos) << checkpoint.err;
  const CliResult capped = run({"--max-pixels", "6272"});
  EXPECT_EQ(capped.exit_code, 0) << capped.err;
  EXPECT_NE(capped.err.find("6 tokens in 1 grids (1x6)"), std::string::npos) << capped.err;
  ExpectFailure(run({"--min-pixels", "20000"}),
                {"min_pixels 20000 is above max_pixels 12544", "--min-pixels"});
}

// The KV cache's worst case (context x layers x KV heads x head dim) is checked against
// --max-kv-bytes before a cache is created: a config.json claiming a huge context fails at once.
TEST(CliTest, KvCacheLimitHoldsBeforeTheCacheIsCreated) {
  // stories260k: 512 tokens x 5 layers x (2 x 32 floats + an int64 index) = 675840 bytes.
  ExpectFailure(RunCli({"run", "-m", testing::kStoriesDir.string(), "-p", "Once", "--max-kv-bytes",
                        "600000", "--kv-dtype", "f32"}),
                {"KV cache of 512 tokens (config.json's max_position_embeddings) x 5 layers x 4 "
                 "KV heads x 8 head dim can reach 675840 bytes, over --max-kv-bytes 600000"});
  const CliResult fits = RunCli({"run", "-m", testing::kStoriesDir.string(), "-p", "Once",
                                 "--max-kv-bytes", "675840", "-n", "2", "--kv-dtype", "f32"});
  EXPECT_EQ(fits.exit_code, 0) << fits.err;
  // The default bf16 cache: 2-byte keys and values, 512 x 5 x (2 x 32 x 2 + 8) = 348160 bytes.
  ExpectFailure(RunCli({"run", "-m", testing::kStoriesDir.string(), "-p", "Once", "--max-kv-bytes",
                        "348159"}),
                {"can reach 348160 bytes, over --max-kv-bytes 348159"});
  const CliResult bf16_fits = RunCli({"run", "-m", testing::kStoriesDir.string(), "-p", "Once",
                                      "--max-kv-bytes", "348160", "-n", "2"});
  EXPECT_EQ(bf16_fits.exit_code, 0) << bf16_fits.err;
  // batch: one cache per sequence decoded together.
  const fs::path requests = testing::FreshTempDir() / "requests.jsonl";
  WriteFile(requests, "{\"prompt\": \"Once\"}\n");
  ExpectFailure(
      RunCli({"batch", "-m", testing::kStoriesDir.string(), "--requests", requests.string(),
              "--max-kv-bytes", "1000000", "-b", "2", "--kv-dtype", "f32"}),
      {"8 head dim x 2 sequences can reach 1351680 bytes, over --max-kv-bytes 1000000"});

  const fs::path model = CopyOfStories();
  std::string config = ReadFile(model / "config.json");
  config.replace(config.find("\"max_position_embeddings\": 512"), 30,
                 "\"max_position_embeddings\": 2000000000");
  WriteFile(model / "config.json", config);
  ExpectFailure(RunStories(model), {"KV cache of 2000000000 tokens (config.json's "
                                    "max_position_embeddings)",
                                    "lower --context or raise --max-kv-bytes"});
  const CliResult short_context =
      RunCli({"run", "-m", model.string(), "-p", "Once", "--context", "64", "-n", "2"});
  EXPECT_EQ(short_context.exit_code, 0) << short_context.err;
}

const fs::path kLlavaDir = fs::path(LIGHTVLM_SOURCE_DIR) / "tests" / "fixtures" / "llava";

CliResult AskAboutImage(const fs::path& image, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"run",
                                   "-m",
                                   (kLlavaDir / "model").string(),
                                   "--image",
                                   image.string(),
                                   "-p",
                                   "What is in the picture?",
                                   "-n",
                                   "4"};
  args.insert(args.end(), extra.begin(), extra.end());
  return RunCli(args);
}

TEST(CliTest, RunAnswersAboutAnImage) {
  const CliResult result = AskAboutImage(kLlavaDir / "image.png", {"-v"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("prompt: 603 tokens"), std::string::npos) << result.err;
}

TEST(CliTest, BadImagesAreNamed) {
  const fs::path dir = testing::FreshTempDir();
  const std::string png = ReadFile(kLlavaDir / "image.png");
  WriteFile(dir / "empty.png", "");
  WriteFile(dir / "truncated.png", png.substr(0, png.size() / 3));
  WriteFile(dir / "text.png", "this is not an image");
  for (const char* name : {"empty.png", "truncated.png", "text.png"}) {
    ExpectFailure(AskAboutImage(dir / name), {name});
  }
  ExpectFailure(AskAboutImage(dir / "missing.png"), {"missing.png"});
  ExpectFailure(AskAboutImage(kLlavaDir / "image.png", {"--max-image-pixels", "1000"}),
                {"image.png", "1000"});
}

TEST(CliTest, ImagesNeedAVisionModel) {
  ExpectFailure(RunCli({"run", "-m", testing::kStoriesDir.string(), "--image",
                        (kLlavaDir / "image.png").string(), "-p", "What is it?"}),
                {"takes no images"});
}

}  // namespace
}  // namespace lightvlm
