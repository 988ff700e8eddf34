#include "eval/sweep_journal.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "eval/evaluator.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<EvalItem> Items() {
  return {{.image_path = "a.png",
           .question = "What colour is the star?",
           .answer = "red",
           .kind = "colour",
           .choices = {}},
          {.image_path = "b.png",
           .question = "Which?",
           .answer = "B",
           .kind = "",
           .choices = {"circle", "square"}}};
}

MethodResult Finished(const std::string& method, double keep, int64_t final_tokens) {
  MethodResult result;
  result.method = method;
  result.budget = {.keep = keep, .final_tokens = final_tokens};
  result.items = 2;
  result.accuracy = 0.5;
  result.accuracy_by_kind = {{"colour", 1.0}};
  result.mean_image_tokens_per_layer = 68.25;
  result.average_keep = 0.3499999;
  result.prefill_ms_median = 12.5;
  result.prefill_ms_mean = 13.0625;
  result.vision_ms = 3.25;
  result.plan = {{2, 98}, {9, 49}};
  result.kv_policy = "h2o";
  result.kv_budget = 128;
  result.kv_max_entries = 129;
  result.predictions = {"red", "A, \"circle\"\n"};
  result.correct = {true, false};
  return result;
}

MethodSpec Spec(const std::string& method, double keep, int64_t final_tokens) {
  ReducerOptions options;
  options.budget = {.keep = keep, .final_tokens = final_tokens};
  return {method, options};
}

void ExpectSameRun(const MethodResult& got, const MethodResult& want) {
  EXPECT_EQ(got.method, want.method);
  EXPECT_EQ(got.budget.keep, want.budget.keep);
  EXPECT_EQ(got.budget.final_tokens, want.budget.final_tokens);
  EXPECT_EQ(got.items, want.items);
  EXPECT_EQ(got.accuracy, want.accuracy);
  EXPECT_EQ(got.accuracy_by_kind, want.accuracy_by_kind);
  EXPECT_EQ(got.mean_image_tokens_per_layer, want.mean_image_tokens_per_layer);
  EXPECT_EQ(got.average_keep, want.average_keep);
  EXPECT_EQ(got.prefill_ms_median, want.prefill_ms_median);
  EXPECT_EQ(got.prefill_ms_mean, want.prefill_ms_mean);
  EXPECT_EQ(got.vision_ms, want.vision_ms);
  ASSERT_EQ(got.plan.size(), want.plan.size());
  for (size_t i = 0; i < got.plan.size(); ++i) {
    EXPECT_EQ(got.plan[i].layer, want.plan[i].layer);
    EXPECT_EQ(got.plan[i].image_tokens, want.plan[i].image_tokens);
  }
  EXPECT_EQ(got.kv_policy, want.kv_policy);
  EXPECT_EQ(got.kv_budget, want.kv_budget);
  EXPECT_EQ(got.kv_max_entries, want.kv_max_entries);
  EXPECT_EQ(got.predictions, want.predictions);
  EXPECT_EQ(got.correct, want.correct);
}

TEST(SweepJournalTest, ResultRoundTripsThroughItsJson) {
  const MethodResult run = Finished("lightvlm", 0.35, -1);
  ExpectSameRun(RunFromJson(RunJson(run)), run);

  MethodResult by_count = Finished("fastv", 1.0, 16);
  by_count.kv_budget.reset();
  json count_object = RunJson(by_count);
  ExpectSameRun(RunFromJson(count_object), by_count);

  count_object.erase("correct");
  EXPECT_NE(testing::ErrorOf([&] { RunFromJson(count_object); }).find("\"correct\" is missing"),
            std::string::npos);
  count_object["correct"] = {true};
  EXPECT_NE(testing::ErrorOf([&] { RunFromJson(count_object); }).find("one entry per item"),
            std::string::npos);
}

TEST(SweepJournalTest, ResumeKeepsTheRecordedRunsOfTheSameSetup) {
  const std::string path = (testing::FreshTempDir() / "sub" / "sweep_runs.jsonl").string();
  const json setup = {{"model", "m"}, {"max_new_tokens", 4}};
  {
    SweepJournal journal(path, setup, Items(), JournalMode::kResume);  // no file yet: starts empty
    EXPECT_EQ(journal.runs(), 0u);
    journal.Record(Finished("none", 1.0, -1));
    journal.Record(Finished("lightvlm", 0.35, -1));
    journal.Record(Finished("lightvlm", 1.0, 16));
  }
  SweepJournal resumed(path, setup, Items(), JournalMode::kResume);
  EXPECT_EQ(resumed.runs(), 3u);
  const std::optional<MethodResult> found = resumed.Find(Spec("lightvlm", 0.35, -1));
  ASSERT_TRUE(found);
  ExpectSameRun(*found, Finished("lightvlm", 0.35, -1));
  ASSERT_TRUE(resumed.Find(Spec("lightvlm", 1.0, 16)));
  EXPECT_EQ(resumed.Find(Spec("lightvlm", 1.0, 16))->budget.final_tokens, 16);
  EXPECT_FALSE(resumed.Find(Spec("lightvlm", 0.11, -1)));
  EXPECT_FALSE(resumed.Find(Spec("fastv", 0.35, -1)));
  EXPECT_FALSE(resumed.Find(Spec("lightvlm", 1.0, 64)));

  // Without --resume a journal holding runs is refused, not overwritten; removing it starts again.
  const std::string refused =
      testing::ErrorOf([&] { SweepJournal(path, setup, Items(), JournalMode::kStart); });
  EXPECT_NE(refused.find(path + ": holds finished runs of a sweep; pass --resume"),
            std::string::npos)
      << refused;
  EXPECT_EQ(SweepJournal(path, setup, Items(), JournalMode::kResume).runs(), 3u);
  fs::remove(path);
  SweepJournal fresh(path, setup, Items(), JournalMode::kStart);
  EXPECT_EQ(fresh.runs(), 0u);
  // A journal with its setup line alone holds nothing to lose: a sweep without --resume reuses it.
  EXPECT_EQ(SweepJournal(path, setup, Items(), JournalMode::kStart).runs(), 0u);
}

TEST(SweepJournalTest, AnotherSetupOrOtherItemsAreNotResumed) {
  const std::string path = (testing::FreshTempDir() / "sweep_runs.jsonl").string();
  const json setup = {{"model", "m"}, {"max_new_tokens", 4}};
  SweepJournal(path, setup, Items(), JournalMode::kStart).Record(Finished("none", 1.0, -1));

  const std::string other_setup = testing::ErrorOf([&] {
    SweepJournal(path, {{"model", "m"}, {"max_new_tokens", 8}}, Items(), JournalMode::kResume);
  });
  EXPECT_NE(other_setup.find(path), std::string::npos) << other_setup;
  EXPECT_NE(other_setup.find("\"max_new_tokens\" differs"), std::string::npos) << other_setup;

  std::vector<EvalItem> edited = Items();
  edited[1].answer = "A";
  const std::string other_items =
      testing::ErrorOf([&] { SweepJournal(path, setup, edited, JournalMode::kResume); });
  EXPECT_NE(other_items.find("\"items_digest\" differs"), std::string::npos) << other_items;
  std::vector<EvalItem> fewer = Items();
  fewer.pop_back();
  const std::string fewer_items =
      testing::ErrorOf([&] { SweepJournal(path, setup, fewer, JournalMode::kResume); });
  EXPECT_NE(fewer_items.find("\"items\" differs"), std::string::npos) << fewer_items;
}

TEST(SweepJournalTest, BadLineNamesTheFileAndLine) {
  const std::string path = (testing::FreshTempDir() / "sweep_runs.jsonl").string();
  const json setup = {{"model", "m"}};
  SweepJournal(path, setup, Items(), JournalMode::kStart).Record(Finished("none", 1.0, -1));
  // A run cut off mid-write (no line break) is dropped, and the file cut back before it.
  const uintmax_t whole = fs::file_size(path);
  std::ofstream(path, std::ios::app) << "{\"method\": \"fastv\", \"ke";
  SweepJournal resumed(path, setup, Items(), JournalMode::kResume);
  EXPECT_EQ(resumed.runs(), 1u);
  EXPECT_EQ(fs::file_size(path), whole);
  resumed.Record(Finished("fastv", 0.5, -1));
  EXPECT_EQ(SweepJournal(path, setup, Items(), JournalMode::kResume).runs(), 2u);

  std::ofstream(path, std::ios::app) << "{\"method\": \"fastv\"\n";  // a whole line, broken
  const std::string broken =
      testing::ErrorOf([&] { SweepJournal(path, setup, Items(), JournalMode::kResume); });
  EXPECT_NE(broken.find(path + ": line 4: "), std::string::npos) << broken;

  const std::string setup_line = testing::SplitLines(testing::ReadFile(path))[0];
  std::ofstream(path, std::ios::trunc) << setup_line << "\n{\"method\": 3}\n";
  const std::string mistyped =
      testing::ErrorOf([&] { SweepJournal(path, setup, Items(), JournalMode::kResume); });
  EXPECT_NE(mistyped.find(path + ": line 2: field \"method\" has the wrong type"),
            std::string::npos)
      << mistyped;
}

TEST(SweepJournalTest, ReadModeTakesTheRunsSoFarAndChangesNothing) {
  const std::string path = (testing::FreshTempDir() / "sweep_runs.jsonl").string();
  const json setup = {{"model", "m"}};
  EXPECT_NE(testing::ErrorOf([&] {
              SweepJournal(path, setup, Items(), JournalMode::kRead);
            }).find(path + ": cannot read the sweep's journal"),
            std::string::npos);
  {
    SweepJournal journal(path, setup, Items(), JournalMode::kStart);
    MethodResult none = Finished("none", 1.0, -1);
    none.accuracy = 0.8;
    journal.Record(none);
    journal.Record(Finished("lightvlm", 0.35, -1));
    journal.Record(Finished("fastv", 0.35, -1));
  }
  // A sweep still running is writing its next run: the reader drops the part line, the file keeps
  // it.
  std::ofstream(path, std::ios::app) << "{\"method\": \"fastv\", \"ke";
  const std::string before = testing::ReadFile(path);
  SweepJournal journal(path, setup, Items(), JournalMode::kRead);
  EXPECT_EQ(journal.runs(), 3u);
  EXPECT_EQ(testing::ReadFile(path), before);
  EXPECT_NE(testing::ErrorOf([&] {
              journal.Record(Finished("pdrop", 0.35, -1));
            }).find(path + ": opened to read, not to record"),
            std::string::npos);
  EXPECT_EQ(testing::ReadFile(path), before);

  // The runs come in the order of the methods asked for, those it lacks left out, with none's
  // accuracy as the baseline.
  const std::vector<MethodResult> results =
      RecordedMethods({Spec("none", 1.0, -1), Spec("fastv", 0.35, -1), Spec("pdrop", 0.35, -1),
                       Spec("lightvlm", 0.35, -1)},
                      journal);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[1].method, "fastv");
  EXPECT_EQ(results[2].method, "lightvlm");
  EXPECT_EQ(results[2].baseline_accuracy, 0.8);
  EXPECT_DOUBLE_EQ(*results[2].retention, 0.5 / 0.8);
  const std::string no_none =
      testing::ErrorOf([&] { RecordedMethods({Spec("fastv", 0.35, -1)}, journal); });
  EXPECT_NE(no_none.find(path + ": holds no finished run of `none`"), std::string::npos) << no_none;

  const std::string other = testing::ErrorOf([&] {
    SweepJournal(path, {{"model", "other"}}, Items(), JournalMode::kRead);
  });
  EXPECT_NE(other.find("\"model\" differs"), std::string::npos) << other;
  std::ofstream(path, std::ios::trunc) << "{\"setup\": ";
  const std::string no_setup =
      testing::ErrorOf([&] { SweepJournal(path, setup, Items(), JournalMode::kRead); });
  EXPECT_NE(no_setup.find(path + ": holds no whole line"), std::string::npos) << no_setup;
}

}  // namespace
}  // namespace lightvlm
