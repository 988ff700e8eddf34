// End to end on the tiny random-weight LLaVA: tests/fixtures/eval/questions.jsonl holds four
// items whose expected answers were recorded from the model itself (see the README there), so
// that without reduction the accuracy is exactly 0.5.
#include "eval/evaluator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <set>
#include <string>

#include "eval/report.h"
#include "eval/sweep.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(LIGHTVLM_SOURCE_DIR) / "tests" / "fixtures";

class EvaluatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = new Model(LoadModel((kFixtures / "llava" / "model").string()));
    pool_ = new ThreadPool(2);
    data_ = new EncodedDataset(EncodeDataset(
        *model_, *pool_, LoadDataset((kFixtures / "eval" / "questions.jsonl").string())));
  }
  static void TearDownTestSuite() {
    delete data_;
    delete pool_;
    delete model_;
  }

  static MethodSpec Spec(const std::string& method, double keep) {
    ReducerOptions options;
    options.budget.keep = keep;
    return {method, options};
  }

  static Model* model_;
  static ThreadPool* pool_;
  static EncodedDataset* data_;
};

Model* EvaluatorTest::model_ = nullptr;
ThreadPool* EvaluatorTest::pool_ = nullptr;
EncodedDataset* EvaluatorTest::data_ = nullptr;

TEST_F(EvaluatorTest, EncodesEachImageOnce) {
  ASSERT_EQ(data_->items.size(), 4u);
  EXPECT_EQ(data_->images.size(), 2u);
  EXPECT_EQ(data_->image_of_item, (std::vector<size_t>{0, 0, 0, 1}));
  EXPECT_EQ(data_->images[0].grids.at(0).size(), 576);
  EXPECT_GT(data_->vision_ms, 0);
}

TEST_F(EvaluatorTest, NoReductionGivesTheRecordedAccuracy) {
  const std::vector<MethodResult> results =
      EvaluateMethods(*model_, *pool_, *data_, {Spec("none", 1.0)}, 8);
  ASSERT_EQ(results.size(), 1u);
  const MethodResult& none = results[0];
  EXPECT_EQ(none.method, "none");
  EXPECT_EQ(none.items, 4);
  EXPECT_DOUBLE_EQ(none.accuracy, 0.5);
  EXPECT_EQ(none.correct, (std::vector<bool>{true, false, true, false}));
  EXPECT_EQ(none.predictions[0], "acing Janing river. picture the picture");
  EXPECT_EQ(none.accuracy_by_kind, (std::map<std::string, double>{{"colour", 0}, {"object", 1}}));
  EXPECT_DOUBLE_EQ(none.mean_image_tokens_per_layer, 576);
  EXPECT_DOUBLE_EQ(none.average_keep, 1);
  EXPECT_TRUE(none.plan.empty());
  EXPECT_DOUBLE_EQ(*none.baseline_accuracy, 0.5);
  EXPECT_DOUBLE_EQ(*none.retention, 1);
  EXPECT_GT(none.prefill_ms_median, 0);
  EXPECT_GT(none.prefill_ms_mean, 0);
  EXPECT_EQ(none.vision_ms, data_->vision_ms);
}

TEST_F(EvaluatorTest, LightVlmHalvesTheImageTokensAsPlanned) {
  const std::vector<MethodResult> results =
      EvaluateMethods(*model_, *pool_, *data_, {Spec("none", 1.0), Spec("lightvlm", 0.5)}, 8);
  ASSERT_EQ(results.size(), 2u);
  const MethodResult& reduced = results[1];
  EXPECT_EQ(reduced.method, "lightvlm");
  EXPECT_DOUBLE_EQ(reduced.budget.keep, 0.5);
  ASSERT_FALSE(reduced.plan.empty());
  // The mean over the decoder's layers of the live image tokens the plan leaves.
  const int64_t layers = model_->config().num_layers;
  std::vector<int64_t> live(layers, 576);
  for (const ReductionStage& stage : reduced.plan) {
    std::fill(live.begin() + stage.layer, live.end(), stage.image_tokens);
  }
  const double planned = std::accumulate(live.begin(), live.end(), 0.0) / layers;
  EXPECT_DOUBLE_EQ(reduced.mean_image_tokens_per_layer, planned);
  EXPECT_LT(reduced.mean_image_tokens_per_layer, 576);
  EXPECT_NEAR(reduced.average_keep, 0.5, 1e-9);
  EXPECT_DOUBLE_EQ(reduced.average_keep, planned / 576);
  EXPECT_DOUBLE_EQ(*reduced.baseline_accuracy, 0.5);
  EXPECT_DOUBLE_EQ(*reduced.retention, reduced.accuracy / 0.5);
}

TEST_F(EvaluatorTest, WithoutNoneThereIsNoBaseline) {
  const std::vector<MethodResult> results =
      EvaluateMethods(*model_, *pool_, *data_, {Spec("lightvlm", 0.5)}, 8);
  EXPECT_FALSE(results[0].baseline_accuracy.has_value());
  EXPECT_FALSE(results[0].retention.has_value());
}

TEST_F(EvaluatorTest, AnswersStopAtMaxTokens) {
  const std::vector<MethodResult> results =
      EvaluateMethods(*model_, *pool_, *data_, {Spec("none", 1.0)}, 2);
  const std::string full = "acing Janing river. picture the picture";  // 8 tokens
  const std::string& prefix = results[0].predictions[0];
  EXPECT_LT(prefix.size(), full.size());
  EXPECT_EQ(full.rfind(prefix, 0), 0u) << prefix;
  EXPECT_DOUBLE_EQ(results[0].accuracy, 0);  // both right answers need more than 2 tokens
}

TEST_F(EvaluatorTest, NoneKvPolicyAnswersAsNoPolicy) {
  const std::vector<MethodSpec> methods = {Spec("none", 1.0), Spec("lightvlm", 0.5)};
  const std::vector<MethodResult> bare = EvaluateMethods(*model_, *pool_, *data_, methods, 8);
  const std::vector<MethodResult> none = EvaluateMethods(
      *model_, *pool_, *data_, methods, 8, KvPolicySpec{.name = "none", .options = {}});
  ASSERT_EQ(none.size(), bare.size());
  for (size_t m = 0; m < none.size(); ++m) {
    EXPECT_EQ(none[m].predictions, bare[m].predictions) << none[m].method;
    EXPECT_EQ(none[m].kv_policy, "none");
    EXPECT_FALSE(none[m].kv_budget.has_value());
    EXPECT_EQ(none[m].kv_max_entries, bare[m].kv_max_entries);
  }
  // The full cache: the 576 image tokens at least, in the layers before any reduction.
  EXPECT_GT(none[0].kv_max_entries, 576);
}

TEST_F(EvaluatorTest, CompressingKvPolicyKeepsItsBudget) {
  // 32 entries is far below every prompt (hundreds of image tokens even at keep 0.5), so each
  // answer is compressed; compressing after every step leaves exactly the budget at the end.
  constexpr int64_t kBudget = 32;
  for (const std::string name : {"streaming", "lightvlm"}) {
    KvPolicySpec kv = {.name = name, .options = {}};
    kv.options.budget = kBudget;
    kv.options.window = 8;
    kv.options.interval = 1;
    const std::vector<MethodResult> results =
        EvaluateMethods(*model_, *pool_, *data_, {Spec("none", 1.0), Spec("lightvlm", 0.5)}, 8, kv);
    ASSERT_EQ(results.size(), 2u);
    for (const MethodResult& result : results) {
      EXPECT_EQ(result.kv_policy, name);
      EXPECT_EQ(result.kv_budget, kBudget) << name << " " << result.method;
      EXPECT_EQ(result.kv_max_entries, kBudget) << name << " " << result.method;
      EXPECT_EQ(result.predictions.size(), 4u);
      EXPECT_DOUBLE_EQ(*result.baseline_accuracy, results[0].accuracy);
    }
    const nlohmann::json json = ResultJson(results[1]);
    EXPECT_EQ(json["kv"], name);
    EXPECT_EQ(json["kv_budget"], kBudget);
  }
}

TEST_F(EvaluatorTest, SweepWritesEveryMethodAtEveryBudget) {
  const std::vector<MethodSpec> methods = SweepMethods({});
  const std::vector<std::string> names = TokenReducerNames();
  const int64_t reducers = static_cast<int64_t>(names.size()) - 1;  // all but none
  // none's run is every reducer's keep-1 run (a reducer at keep 1 plans nothing:
  // token_reducer_test).
  const int64_t budgets = kSweepBudgets.size() - 1 + kSweepFinalTokens.size();
  ASSERT_EQ(static_cast<int64_t>(methods.size()), 1 + reducers * budgets);
  EXPECT_EQ(methods[0].method, "none");
  for (size_t i = 1; i < methods.size(); ++i) {
    const ReductionBudget& budget = methods[i].options.budget;
    EXPECT_TRUE(budget.keep < 1.0 || budget.final_tokens >= 0) << i << " " << methods[i].method;
  }

  const std::vector<MethodResult> results = EvaluateMethods(*model_, *pool_, *data_, methods, 2);
  const fs::path prefix = testing::FreshTempDir() / "out" / "sweep";
  const std::vector<std::string> written =
      WriteSweep(results, CompareWithOthers(results, "lightvlm"), prefix.string(), "tiny, 4 items");
  for (const char* suffix : {".csv", ".json", "_significance.csv", "_significance.json",
                             "_accuracy.svg", "_prefill.svg"}) {
    const fs::path path = prefix.string() + suffix;
    EXPECT_TRUE(fs::exists(path)) << path;
    EXPECT_NE(std::find(written.begin(), written.end(), path.string()), written.end()) << path;
  }

  const std::string csv = testing::ReadFile(prefix.string() + ".csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + static_cast<int64_t>(methods.size()));
  const nlohmann::json json = nlohmann::json::parse(testing::ReadFile(prefix.string() + ".json"));
  ASSERT_EQ(json.size(), methods.size());
  for (size_t i = 0; i < methods.size(); ++i) {
    EXPECT_EQ(json[i]["method"], methods[i].method);
    EXPECT_EQ(json[i]["items"], 4);
    EXPECT_EQ(json[i]["baseline_accuracy"], results[0].accuracy);
    const int64_t final_tokens = methods[i].options.budget.final_tokens;
    if (final_tokens >= 0) {
      // 576 image tokens a prompt: the last stage leaves exactly the count asked for.
      EXPECT_EQ(json[i]["final_tokens"], final_tokens);
      EXPECT_TRUE(json[i]["keep"].is_null());
      EXPECT_EQ(json[i]["plan"].back()["image_tokens"], final_tokens) << methods[i].method;
      continue;
    }
    EXPECT_EQ(json[i]["keep"], methods[i].options.budget.keep);
    // The achieved share is reported: at most the budget, and (576 image tokens, 2 layers) short
    // of it by less than one token a layer. `none` keeps everything.
    const double asked = methods[i].method == "none" ? 1.0 : methods[i].options.budget.keep;
    EXPECT_LE(json[i]["average_keep"].get<double>(), asked + 1e-9);
    EXPECT_GT(json[i]["average_keep"].get<double>(), asked - 2.0 / (2 * 576));
  }

  // lightvlm at every budget against `none` and each other reducer at the same budget.
  const nlohmann::json significance =
      nlohmann::json::parse(testing::ReadFile(prefix.string() + "_significance.json"));
  ASSERT_EQ(static_cast<int64_t>(significance.size()), budgets * reducers);
  for (const nlohmann::json& row : significance) {
    EXPECT_EQ(row["method"], "lightvlm");
    EXPECT_EQ(row["items"], 4);
    EXPECT_GE(row["p_value"].get<double>(), 0.0);
    EXPECT_LE(row["p_value"].get<double>(), 1.0);
  }

  const std::string accuracy_plot = testing::ReadFile(prefix.string() + "_accuracy.svg");
  EXPECT_NE(accuracy_plot.find("Accuracy under image-token reduction: tiny, 4 items</text>"),
            std::string::npos);
  for (const std::string& name : names) {
    EXPECT_NE(accuracy_plot.find(">" + name + "</text>"), std::string::npos) << name;
  }
  // Every method's series has a colour of its own.
  std::set<std::string> colours;
  const std::string series = "<g class=\"series\" stroke=\"";
  for (size_t at = accuracy_plot.find(series); at != std::string::npos;
       at = accuracy_plot.find(series, at + 1)) {
    colours.insert(accuracy_plot.substr(at + series.size(), 7));
  }
  EXPECT_EQ(colours.size(), names.size());
  // none's point, then a point per run: every reducer's line starts at keep 1.
  int64_t points = 0;
  for (size_t at = accuracy_plot.find("<circle"); at != std::string::npos;
       at = accuracy_plot.find("<circle", at + 1)) {
    ++points;
  }
  EXPECT_EQ(points, 1 + reducers * (1 + budgets));
}

}  // namespace
}  // namespace lightvlm
