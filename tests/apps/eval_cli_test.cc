// Runs `lightvlm eval` as a user would, on the tiny LLaVA fixture and the evaluation set of
// tests/fixtures/eval (whose answers without reduction are half right, see its README).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/cli.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;

const fs::path kFixtures = fs::path(LIGHTVLM_SOURCE_DIR) / "tests" / "fixtures";
const std::string kModel = (kFixtures / "llava" / "model").string();
const std::string kData = (kFixtures / "eval" / "questions.jsonl").string();

// `lightvlm eval` on the LLaVA fixture with 2 threads, then `args`.
CliResult RunEval(const std::vector<std::string>& args) {
  std::vector<std::string> command = {"eval", "-m", kModel, "-t", "2"};
  command.insert(command.end(), args.begin(), args.end());
  return testing::RunCli(command);
}

TEST(EvalCliTest, JsonHasTheNamedFields) {
  const CliResult result =
      RunEval({"--data", kData, "--reduce", "lightvlm", "--keep", "0.5", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json json = nlohmann::json::parse(result.out);
  for (const char* field :
       {"method", "keep", "final_tokens", "items", "accuracy", "accuracy_by_kind", "retention",
        "baseline_accuracy", "mean_image_tokens_per_layer", "average_keep", "prefill_ms",
        "prefill_ms_mean", "vision_ms", "plan"}) {
    EXPECT_TRUE(json.contains(field)) << field << " in " << result.out;
  }
  EXPECT_EQ(json["method"], "lightvlm");
  EXPECT_EQ(json["keep"], 0.5);
  EXPECT_TRUE(json["final_tokens"].is_null());
  EXPECT_EQ(json["items"], 4);
  EXPECT_EQ(json["baseline_accuracy"], 0.5);
  EXPECT_LT(json["mean_image_tokens_per_layer"].get<double>(), 576);
  ASSERT_TRUE(json["plan"].is_array());
  ASSERT_FALSE(json["plan"].empty());
  EXPECT_TRUE(json["plan"][0].contains("layer"));
  EXPECT_TRUE(json["plan"][0].contains("image_tokens"));
}

TEST(EvalCliTest, NoReductionTable) {
  const CliResult result = RunEval({"--data", kData, "--reduce", "none"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("none            1.00      4    0.5000     1.0000         576.0"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("colour=0.0000;object=1.0000"), std::string::npos) << result.out;
}

TEST(EvalCliTest, KvPolicyIsUsedAndReported) {
  const CliResult result =
      RunEval({"--data", kData, "--limit", "2", "--reduce", "lightvlm", "--keep", "0.5", "--kv",
               "streaming", "--kv-budget", "32", "--kv-interval", "1", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["kv"], "streaming");
  EXPECT_EQ(json["kv_budget"], 32);
  EXPECT_EQ(json["kv_max_entries"], 32);
}

TEST(EvalCliTest, NoKvFlagMeansTheFullCache) {
  const CliResult result = RunEval({"--data", kData, "--limit", "1", "--reduce", "none", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["kv"], "none");
  EXPECT_TRUE(json["kv_budget"].is_null());
}

TEST(EvalCliTest, UnknownKvPolicyFailsClearly) {
  const CliResult result = RunEval({"--data", kData, "--kv", "lru"});
  EXPECT_NE(result.exit_code, 0) << result.err;
  EXPECT_LT(result.exit_code, 128);
  EXPECT_NE(result.err.find("unknown KV policy 'lru' (known: h2o, lightvlm, none, snapkv, "
                            "streaming)"),
            std::string::npos)
      << result.err;
}

TEST(EvalCliTest, BadLineNamesTheFileAndLine) {
  const fs::path data = testing::FreshTempDir() / "broken.jsonl";
  testing::WriteFile(data,
                     "{\"image\": \"a.png\", \"question\": \"Q?\", \"answer\": \"x\"}\n"
                     "{\"image\": \"a.png\", \"question\": \"Q?\"}\n");
  const CliResult result = RunEval({"--data", data.string()});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find(data.string() + ", line 2"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("answer"), std::string::npos) << result.err;
}

TEST(EvalCliTest, MissingImageIsNamed) {
  const fs::path data = testing::FreshTempDir() / "data.jsonl";
  testing::WriteFile(data,
                     "{\"image\": \"nowhere.png\", \"question\": \"Q?\", \"answer\": \"x\"}\n");
  const CliResult result = RunEval({"--data", data.string()});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find("nowhere.png"), std::string::npos) << result.err;
}

TEST(EvalCliTest, SweepWritesItsFiles) {
  const fs::path prefix = testing::FreshTempDir() / "sweep";
  const CliResult result =
      RunEval({"--data", kData, "--sweep", "--out", prefix.string(), "--limit", "2", "-n", "1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* suffix : {".csv", ".json", "_significance.csv", "_significance.json",
                             "_accuracy.svg", "_prefill.svg"}) {
    EXPECT_TRUE(fs::exists(prefix.string() + suffix)) << suffix;
    EXPECT_NE(result.out.find("wrote " + prefix.string() + suffix), std::string::npos)
        << result.out;
  }
  const nlohmann::json rows = nlohmann::json::parse(testing::ReadFile(prefix.string() + ".json"));
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0]["method"], "none");
  EXPECT_EQ(rows[0]["items"], 2);
  // The significance table follows the results; the plots name the model and the item count.
  EXPECT_NE(result.out.find("lightvlm  fastv"), std::string::npos) << result.out;
  const std::string plot = testing::ReadFile(prefix.string() + "_accuracy.svg");
  EXPECT_NE(plot.find(": " + kModel + ", 2 items</text>"), std::string::npos) << kModel;

  // The journal: the setup, then every run as it finished.
  const std::string journal_path = prefix.string() + "_runs.jsonl";
  EXPECT_NE(result.out.find("wrote " + journal_path), std::string::npos) << result.out;
  std::vector<std::string> lines = testing::SplitLines(testing::ReadFile(journal_path));
  ASSERT_EQ(lines.size(), 1 + rows.size());
  EXPECT_TRUE(nlohmann::json::parse(lines[0]).contains("setup"));
  EXPECT_EQ(nlohmann::json::parse(lines[1])["predictions"].size(), 2u);
}

TEST(EvalCliTest, SweepResumesFromItsJournal) {
  const fs::path prefix = testing::FreshTempDir() / "sweep";
  const std::vector<std::string> args = {"--data",  kData, "--sweep", "--out", prefix.string(),
                                         "--limit", "2",   "-n",      "1"};
  ASSERT_EQ(RunEval(args).exit_code, 0);
  const std::string journal_path = prefix.string() + "_runs.jsonl";
  std::vector<std::string> lines = testing::SplitLines(testing::ReadFile(journal_path));
  const size_t runs = lines.size() - 1;
  // The same sweep again without --resume would throw the finished runs away: refused.
  const std::string finished = testing::ReadFile(journal_path);
  const CliResult again = RunEval(args);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find(journal_path + ": holds finished runs of a sweep; pass --resume"),
            std::string::npos)
      << again.err;
  EXPECT_EQ(testing::ReadFile(journal_path), finished);
  // A sweep stopped after its third run, the last one cut off mid-write; the second run marked so
  // that a resumed sweep shows whether it was taken from the journal or run again.
  nlohmann::json marked = nlohmann::json::parse(lines[2]);
  marked["accuracy"] = 0.125;
  std::string stopped = lines[0] + "\n" + lines[1] + "\n" + marked.dump() + "\n" + lines[3] + "\n" +
                        lines[4].substr(0, 40);
  testing::WriteFile(journal_path, stopped);

  std::vector<std::string> resume = args;
  resume.push_back("--resume");
  const CliResult resumed = RunEval(resume);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const nlohmann::json rows = nlohmann::json::parse(testing::ReadFile(prefix.string() + ".json"));
  ASSERT_EQ(rows.size(), runs);
  EXPECT_EQ(rows[1]["accuracy"], 0.125);
  EXPECT_EQ(testing::SplitLines(testing::ReadFile(journal_path)).size(), 1 + runs);

  // Other options are another sweep: --resume refuses its journal, naming the file and field.
  std::vector<std::string> other = resume;
  other[other.size() - 2] = "2";  // -n 2
  const CliResult refused = RunEval(other);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find(journal_path + ": line 1: was written for another sweep: its "
                                            "setup's \"max_new_tokens\" differs"),
            std::string::npos)
      << refused.err;
  // --from-journal writes the files of the runs so far, running nothing and changing nothing: a
  // journal cut to its first two runs and part of a third gives two rows, the marked one as marked.
  testing::WriteFile(journal_path,
                     stopped.substr(0, stopped.find(lines[3])) + lines[3].substr(0, 30));
  const std::string partial = testing::ReadFile(journal_path);
  std::vector<std::string> report = args;
  report.push_back("--from-journal");
  const CliResult reported = RunEval(report);
  ASSERT_EQ(reported.exit_code, 0) << reported.err;
  const nlohmann::json so_far = nlohmann::json::parse(testing::ReadFile(prefix.string() + ".json"));
  ASSERT_EQ(so_far.size(), 2u);
  EXPECT_EQ(so_far[0]["method"], "none");
  EXPECT_EQ(so_far[1]["accuracy"], 0.125);
  EXPECT_EQ(testing::ReadFile(journal_path), partial);
  EXPECT_NE(reported.out.find("wrote " + prefix.string() + "_significance.csv"), std::string::npos);
  report.push_back("--resume");
  EXPECT_NE(RunEval(report).exit_code, 0);  // the two exclude each other

  const CliResult no_sweep = RunEval({"--data", kData, "--resume"});
  EXPECT_NE(no_sweep.exit_code, 0);
  EXPECT_NE(no_sweep.err.find("--resume requires --sweep"), std::string::npos) << no_sweep.err;
}

TEST(EvalCliTest, UsageErrors) {
  const CliResult no_out = RunEval({"--data", kData, "--sweep"});
  EXPECT_EQ(no_out.exit_code, 1);
  EXPECT_NE(no_out.err.find("--out"), std::string::npos) << no_out.err;
  const CliResult both =
      RunEval({"--data", kData, "--reduce", "fastv", "--keep", "0.5", "--final-tokens", "16"});
  EXPECT_NE(both.exit_code, 0);
  EXPECT_LT(both.exit_code, 128);
  const CliResult bad_keep = RunEval({"--data", kData, "--reduce", "fastv", "--keep", "1.5"});
  EXPECT_EQ(bad_keep.exit_code, 1);
  EXPECT_NE(bad_keep.err.find("--keep"), std::string::npos) << bad_keep.err;
  const CliResult bad_query = RunEval({"--data", kData, "--query-tokens", "instruction"});
  EXPECT_EQ(bad_query.exit_code, 1);
  EXPECT_NE(bad_query.err.find("--query-tokens must be \"question\" or a count of at least 1, "
                               "got \"instruction\""),
            std::string::npos)
      << bad_query.err;
}

TEST(EvalCliTest, QueryTokensAcceptsTheQuestionSpanAndACount) {
  for (const char* value : {"question", "3"}) {
    const CliResult result = RunEval({"--data", kData, "--limit", "1", "-n", "1", "--reduce",
                                      "lightvlm", "--keep", "0.5", "--query-tokens", value});
    EXPECT_EQ(result.exit_code, 0) << value << ": " << result.err;
  }
  for (const char* value : {"mass", "equal"}) {
    const CliResult result = RunEval({"--data", kData, "--limit", "1", "-n", "1", "--reduce",
                                      "lightvlm", "--keep", "0.5", "--query-weights", value});
    EXPECT_EQ(result.exit_code, 0) << value << ": " << result.err;
  }
  const CliResult bad = RunEval({"--data", kData, "--query-weights", "sum"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--query-weights must be"), std::string::npos) << bad.err;
}

// --max-kv-bytes holds as in run: each answer's cache of max_position_embeddings tokens, full
// (2048 x 2 layers x (2 x 32 bf16 values + an 8-byte index) = 557056 bytes), is checked before
// the images are encoded.
TEST(EvalCliTest, KvCacheLimitHoldsBeforeTheAnswersRun) {
  const CliResult over =
      RunEval({"--data", kData, "--limit", "1", "-n", "1", "--max-kv-bytes", "557055"});
  EXPECT_EQ(over.exit_code, 1) << over.err;
  EXPECT_NE(over.err.find("KV cache of 2048 tokens (config.json's max_position_embeddings) x 2 "
                          "layers x 2 KV heads x 16 head dim can reach 557056 bytes, over "
                          "--max-kv-bytes 557055: raise --max-kv-bytes"),
            std::string::npos)
      << over.err;
  const CliResult fits =
      RunEval({"--data", kData, "--limit", "1", "-n", "1", "--max-kv-bytes", "557056"});
  EXPECT_EQ(fits.exit_code, 0) << fits.err;
}

}  // namespace
}  // namespace lightvlm
