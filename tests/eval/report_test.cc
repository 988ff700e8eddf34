#include "eval/report.h"

#include <gtest/gtest.h>

namespace lightvlm {
namespace {

MethodResult Example() {
  MethodResult result;
  result.method = "lightvlm";
  result.budget.keep = 0.35;
  result.items = 4;
  result.accuracy = 0.25;
  result.accuracy_by_kind = {{"colour, shape", 0.5}, {"count", 0}};
  result.baseline_accuracy = 0.5;
  result.retention = 0.5;
  result.mean_image_tokens_per_layer = 201.5;
  result.average_keep = 0.35;
  result.prefill_ms_median = 12.5;
  result.prefill_ms_mean = 13;
  result.vision_ms = 40;
  result.plan = {{4, 288}, {8, 144}};
  result.kv_policy = "streaming";
  result.kv_budget = 64;
  result.kv_max_entries = 64;
  return result;
}

TEST(ReportTest, JsonHasEveryField) {
  const nlohmann::json json = ResultJson(Example());
  EXPECT_EQ(json["method"], "lightvlm");
  EXPECT_EQ(json["keep"], 0.35);
  EXPECT_TRUE(json["final_tokens"].is_null());
  EXPECT_EQ(json["items"], 4);
  EXPECT_EQ(json["accuracy"], 0.25);
  EXPECT_EQ(json["accuracy_by_kind"]["count"], 0);
  EXPECT_EQ(json["retention"], 0.5);
  EXPECT_EQ(json["baseline_accuracy"], 0.5);
  EXPECT_EQ(json["mean_image_tokens_per_layer"], 201.5);
  EXPECT_EQ(json["average_keep"], 0.35);
  EXPECT_EQ(json["prefill_ms"], 12.5);
  EXPECT_EQ(json["prefill_ms_mean"], 13);
  EXPECT_EQ(json["vision_ms"], 40);
  EXPECT_EQ(json["plan"],
            nlohmann::json::parse(
                R"([{"layer": 4, "image_tokens": 288}, {"layer": 8, "image_tokens": 144}])"));
  EXPECT_EQ(json["kv"], "streaming");
  EXPECT_EQ(json["kv_budget"], 64);
  EXPECT_EQ(json["kv_max_entries"], 64);
  EXPECT_EQ(json.size(), 17u);
}

TEST(ReportTest, FinalTokensAndNoBaselineAreNulls) {
  MethodResult result = Example();
  result.budget = {.keep = 1.0, .final_tokens = 16};
  result.baseline_accuracy.reset();
  result.retention.reset();
  const nlohmann::json json = ResultJson(result);
  EXPECT_TRUE(json["keep"].is_null());
  EXPECT_EQ(json["final_tokens"], 16);
  EXPECT_TRUE(json["retention"].is_null());
  EXPECT_TRUE(json["baseline_accuracy"].is_null());
}

TEST(ReportTest, UnboundedKvBudgetIsNull) {
  MethodResult result = Example();
  result.kv_policy = "none";
  result.kv_budget.reset();
  const nlohmann::json json = ResultJson(result);
  EXPECT_EQ(json["kv"], "none");
  EXPECT_TRUE(json["kv_budget"].is_null());
  EXPECT_NE(ResultsTable({result}).find("none          -"), std::string::npos)
      << ResultsTable({result});
}

TEST(ReportTest, CsvQuotesFieldsWithCommas) {
  const std::string csv = ResultsCsv({Example()});
  EXPECT_EQ(csv,
            "method,keep,final_tokens,items,accuracy,accuracy_by_kind,retention,baseline_accuracy,"
            "mean_image_tokens_per_layer,average_keep,prefill_ms,prefill_ms_mean,vision_ms,plan,kv,"
            "kv_budget,kv_max_entries\n"
            "lightvlm,0.35,,4,0.25,\"colour, shape=0.5000;count=0.0000\",0.5,0.5,201.5,0.35,12.5,"
            "13,40,4:288;8:144,streaming,64,64\n");
}

TEST(ReportTest, TableRowsAndDetails) {
  const std::string table = ResultsTable({Example()});
  EXPECT_NE(table.find("method"), std::string::npos);
  EXPECT_NE(table.find("lightvlm        0.35      4    0.2500     0.5000"), std::string::npos)
      << table;
  EXPECT_NE(table.find("plan (layer:image tokens) 4:288;8:144"), std::string::npos) << table;
  EXPECT_NE(table.find("streaming         64           64"), std::string::npos) << table;
}

}  // namespace
}  // namespace lightvlm
