// The whole text path (tokenizer, decoder, cache, greedy decoding) against transformers'
// generate() on the tiny recorded checkpoints: the same prompt ids and the same 16 tokens.
#include <gtest/gtest.h>

#include "engine/model.h"
#include "engine/session.h"
#include "io/json_file.h"
#include "support/golden.h"

namespace lightvlm {
namespace {

class SessionGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SessionGoldenTest, GreedyTokensMatchTransformers) {
  const testing::Golden golden(GetParam());
  const Model model = LoadModel(golden.model_dir().string());
  const JsonFile record =
      JsonFile::Load((testing::kFixturesDir / GetParam() / "golden.json").string());
  const std::vector<int32_t> prompt =
      model.tokenizer->Encode(record.Get<std::string>("prompt.text"), /*add_special=*/true);
  EXPECT_EQ(prompt, golden.Ids("input_ids"));

  ThreadPool pool(2);
  Session session(*model.decoder, pool, model.config().max_position_embeddings);
  GenerationOptions options;
  options.max_new_tokens = 16;  // transformers ran with EOS disabled, so no stop tokens here
  const GenerationResult result = session.Generate(prompt, options, [](int32_t) { return true; });
  EXPECT_EQ(result.tokens, golden.Ids("greedy_tokens"));
}

INSTANTIATE_TEST_SUITE_P(Families, SessionGoldenTest,
                         ::testing::Values("llama", "llama/llama3", "qwen2"), [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '/', '_');
                           return name;
                         });

}  // namespace
}  // namespace lightvlm
