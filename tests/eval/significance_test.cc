#include "eval/significance.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "base/error.h"

namespace lightvlm {
namespace {

// A result whose items are right where `answers` has '1'.
MethodResult Result(const std::string& method, ReductionBudget budget, const std::string& answers) {
  MethodResult result;
  result.method = method;
  result.budget = budget;
  result.items = static_cast<int64_t>(answers.size());
  for (char answer : answers) result.correct.push_back(answer == '1');
  result.accuracy = static_cast<double>(std::count(answers.begin(), answers.end(), '1')) /
                    static_cast<double>(answers.size());
  return result;
}

TEST(SignificanceTest, ExactMcNemarPValues) {
  EXPECT_DOUBLE_EQ(ExactMcNemarPValue(0, 0), 1.0);
  EXPECT_DOUBLE_EQ(ExactMcNemarPValue(3, 3), 1.0);
  // 0 of 5 discordant items one way: 2 * (1/2)^5.
  EXPECT_NEAR(ExactMcNemarPValue(0, 5), 2.0 / 32, 1e-12);
  EXPECT_NEAR(ExactMcNemarPValue(5, 0), 2.0 / 32, 1e-12);
  // 1 of 10: 2 * (1 + 10) / 1024.
  EXPECT_NEAR(ExactMcNemarPValue(1, 9), 22.0 / 1024, 1e-12);
  // 2 of 12: 2 * (1 + 12 + 66) / 4096.
  EXPECT_NEAR(ExactMcNemarPValue(10, 2), 158.0 / 4096, 1e-12);
  // Large counts neither overflow nor lose the tail: a 400/600 split of 1000 is far beyond chance,
  // 480/520 is not.
  EXPECT_LT(ExactMcNemarPValue(400, 600), 1e-9);
  EXPECT_GT(ExactMcNemarPValue(480, 520), 0.2);
  EXPECT_LT(ExactMcNemarPValue(480, 520), 0.25);
  EXPECT_THROW(ExactMcNemarPValue(-1, 2), Error);
}

TEST(SignificanceTest, ComparesAtTheSameBudgetAndWithNone) {
  const ReductionBudget full{}, half{.keep = 0.5}, sixteen{.keep = 1.0, .final_tokens = 16};
  const std::vector<MethodResult> results = {
      Result("none", full, "111111"),     Result("lightvlm", half, "111100"),
      Result("fastv", half, "110011"),    Result("lightvlm", sixteen, "100000"),
      Result("fastv", sixteen, "000001"), Result("pdrop", half, "111100"),
  };
  const std::vector<PairedComparison> comparisons = CompareWithOthers(results, "lightvlm");
  ASSERT_EQ(comparisons.size(), 5u);  // at 0.5: none, fastv, pdrop; at 16 final: none, fastv
  EXPECT_EQ(comparisons[0].other, "none");
  EXPECT_EQ(comparisons[0].only_method_right, 0);
  EXPECT_EQ(comparisons[0].only_other_right, 2);
  EXPECT_EQ(comparisons[1].other, "fastv");
  EXPECT_DOUBLE_EQ(comparisons[1].budget.keep, 0.5);
  EXPECT_EQ(comparisons[1].only_method_right, 2);  // items 3 and 4
  EXPECT_EQ(comparisons[1].only_other_right, 2);   // items 5 and 6
  EXPECT_DOUBLE_EQ(comparisons[1].p_value, 1.0);
  EXPECT_EQ(comparisons[2].other, "pdrop");
  EXPECT_EQ(comparisons[2].only_method_right + comparisons[2].only_other_right, 0);
  EXPECT_EQ(comparisons[3].other, "none");
  EXPECT_EQ(comparisons[3].budget.final_tokens, 16);
  EXPECT_EQ(comparisons[3].only_other_right, 5);
  EXPECT_NEAR(comparisons[3].p_value, 2.0 / 32, 1e-12);
  EXPECT_EQ(comparisons[4].other, "fastv");
  EXPECT_EQ(comparisons[4].only_method_right, 1);
  EXPECT_EQ(comparisons[4].only_other_right, 1);
  EXPECT_EQ(comparisons[4].items, 6);
  EXPECT_DOUBLE_EQ(comparisons[4].method_accuracy, 1.0 / 6);

  const nlohmann::json json = ComparisonsJson(comparisons);
  ASSERT_EQ(json.size(), 5u);
  EXPECT_EQ(json[1]["keep"], 0.5);
  EXPECT_TRUE(json[1]["final_tokens"].is_null());
  EXPECT_TRUE(json[4]["keep"].is_null());
  EXPECT_EQ(json[4]["final_tokens"], 16);
  EXPECT_EQ(json[4]["only_method_right"], 1);
  const std::string csv = ComparisonsCsv(comparisons);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 6);
  EXPECT_NE(csv.find("lightvlm,fastv,,16,6,"), std::string::npos) << csv;
  EXPECT_NE(ComparisonsTable(comparisons).find("16 final"), std::string::npos);
}

TEST(SignificanceTest, RefusesResultsOfDifferentItems) {
  const std::vector<MethodResult> results = {Result("none", {}, "1111"),
                                             Result("lightvlm", {.keep = 0.5}, "11")};
  EXPECT_THROW(CompareWithOthers(results, "lightvlm"), Error);
}

}  // namespace
}  // namespace lightvlm
