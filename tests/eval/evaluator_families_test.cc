// Every family's answers in eval are those `run` gives: the prompt of an evaluated item is built by
// MakePrompt, with the family's image markers (SmolVLM's <fake_token_around_image><global-img>
// wrapper, InternVL's <img></img>) and positions (Qwen2-VL's M-RoPE). Eval once tokenized the
// bare chat template instead, three tokens short on SmolVLM, and the trained shapes_smol model
// answered 21 of 800 test items otherwise than transformers.
#include <gtest/gtest.h>

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "engine/session.h"
#include "eval/evaluator.h"
#include "eval/sweep_journal.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;

struct FamilyCase {
  const char* fixture;
  const char* image;  // relative to the fixture's directory
};

void PrintTo(const FamilyCase& family, std::ostream* out) { *out << family.fixture; }

class EvaluatorFamiliesTest : public ::testing::TestWithParam<FamilyCase> {};

TEST_P(EvaluatorFamiliesTest, AnswersAsRunDoes) {
  const fs::path fixture = testing::kFixturesDir / GetParam().fixture;
  const fs::path image = fixture / GetParam().image;
  const fs::path data_path = testing::FreshTempDir() / "questions.jsonl";
  const std::string question = "What is in the picture?";
  testing::WriteFile(data_path, "{\"image\": \"" + fs::absolute(image).string() +
                                    "\", \"question\": \"" + question +
                                    "\", \"answer\": \"nothing\"}\n");
  const Model model = LoadModel((fixture / "model").string());
  ThreadPool pool(2);
  const EncodedDataset data = EncodeDataset(model, pool, LoadDataset(data_path.string()));
  constexpr int64_t kTokens = 4;
  const MethodSpec none{"none", {}};
  const MethodResult result = EvaluateMethods(model, pool, data, {none}, kTokens)[0];

  const Prompt prompt = MakePrompt(model, question, data.images);
  Session session(model.decoder(), pool, model.config().max_position_embeddings);
  GenerationOptions options;
  options.max_new_tokens = kTokens;
  options.stop_token_ids = model.stop_token_ids;
  const GenerationResult generated =
      session.Generate(prompt, options, [](int32_t) { return true; });
  ASSERT_EQ(result.predictions.size(), 1u);
  EXPECT_EQ(result.predictions[0], model.tokenizer->Decode(generated.tokens, true));
  // The same prompt: the cache holds as many entries at the end.
  EXPECT_EQ(result.kv_max_entries, session.length());
}

INSTANTIATE_TEST_SUITE_P(Families, EvaluatorFamiliesTest,
                         ::testing::Values(FamilyCase{"llava", "image.png"},
                                           FamilyCase{"smolvlm", "images/wide.png"},
                                           FamilyCase{"internvl", "images/square.png"},
                                           FamilyCase{"qwen2vl", "small.png"}),
                         [](const auto& info) { return std::string(info.param.fixture); });

// A sweep leaves out, saying why, a method the model cannot run: visionzip needs the vision
// tower's attention, which Qwen2-VL's windowed encoder does not give. Before, the sweep failed
// when visionzip's turn came, hours in (on SmolVLM, which now gives it).
TEST(EvaluatorSweepTest, LeavesOutAMethodTheModelCannotRun) {
  const fs::path fixture = testing::kFixturesDir / "qwen2vl";
  const fs::path dir = testing::FreshTempDir();
  const fs::path data_path = dir / "questions.jsonl";
  testing::WriteFile(data_path, "{\"image\": \"" + fs::absolute(fixture / "small.png").string() +
                                    "\", \"question\": \"What?\", \"answer\": \"x\"}\n");
  const Model model = LoadModel((fixture / "model").string());
  ThreadPool pool(2);
  const EncodedDataset data = EncodeDataset(model, pool, LoadDataset(data_path.string()));
  ReducerOptions half;
  half.budget.keep = 0.5;
  const std::vector<MethodSpec> methods = {{"none", {}}, {"visionzip", half}, {"fastv", half}};
  SweepJournal journal((dir / "sweep_runs.jsonl").string(), {{"model", "qwen2vl"}}, data.items,
                       JournalMode::kStart);
  ::testing::internal::CaptureStderr();
  const std::vector<MethodResult> results =
      EvaluateMethods(model, pool, data, methods, 2, std::nullopt, &journal);
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].method, "none");
  EXPECT_EQ(results[1].method, "fastv");
  EXPECT_EQ(journal.runs(), 2u);
  EXPECT_NE(err.find("visionzip at keep 0.5 is left out of the sweep: visionzip: the image at "
                     "token"),
            std::string::npos)
      << err;
  // Without a journal (a single evaluation) the error is the user's to see.
  EXPECT_THROW(EvaluateMethods(model, pool, data, {methods[1]}, 2), Error);
}

}  // namespace
}  // namespace lightvlm
