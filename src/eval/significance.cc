#include "eval/significance.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "base/error.h"
#include "eval/report.h"

namespace lightvlm {
namespace {

bool SameBudget(const ReductionBudget& a, const ReductionBudget& b) {
  return a.final_tokens == b.final_tokens && (a.final_tokens >= 0 || a.keep == b.keep);
}

PairedComparison Compare(const MethodResult& method, const MethodResult& other) {
  Check(method.correct.size() == other.correct.size(), "significance: ", method.method,
        " answered ", method.correct.size(), " items, ", other.method, " ", other.correct.size());
  PairedComparison comparison{.method = method.method,
                              .other = other.method,
                              .budget = method.budget,
                              .items = static_cast<int64_t>(method.correct.size()),
                              .method_accuracy = method.accuracy,
                              .other_accuracy = other.accuracy};
  for (size_t i = 0; i < method.correct.size(); ++i) {
    comparison.only_method_right += method.correct[i] && !other.correct[i];
    comparison.only_other_right += !method.correct[i] && other.correct[i];
  }
  comparison.p_value =
      ExactMcNemarPValue(comparison.only_method_right, comparison.only_other_right);
  return comparison;
}

}  // namespace

double ExactMcNemarPValue(int64_t b, int64_t c) {
  Check(b >= 0 && c >= 0, "McNemar: negative counts ", b, " and ", c);
  const int64_t n = b + c;
  if (n == 0) return 1.0;
  // P[X <= min(b, c)] for X ~ Binomial(n, 1/2), each term in logs so that n in the thousands
  // neither overflows nor underflows before the sum.
  const int64_t low = std::min(b, c);
  const double log_half_n = static_cast<double>(n) * std::log(0.5);
  double tail = 0;
  for (int64_t k = 0; k <= low; ++k) {
    const double log_choose = std::lgamma(static_cast<double>(n) + 1) -
                              std::lgamma(static_cast<double>(k) + 1) -
                              std::lgamma(static_cast<double>(n - k) + 1);
    tail += std::exp(log_choose + log_half_n);
  }
  return std::min(1.0, 2 * tail);
}

std::vector<PairedComparison> CompareWithOthers(const std::vector<MethodResult>& results,
                                                const std::string& method) {
  std::vector<PairedComparison> comparisons;
  for (const MethodResult& tested : results) {
    if (tested.method != method) continue;
    for (const MethodResult& other : results) {
      if (other.method == method) continue;
      if (other.method == "none" || SameBudget(other.budget, tested.budget)) {
        comparisons.push_back(Compare(tested, other));
      }
    }
  }
  return comparisons;
}

nlohmann::json ComparisonsJson(const std::vector<PairedComparison>& comparisons) {
  nlohmann::json rows = nlohmann::json::array();
  for (const PairedComparison& c : comparisons) {
    rows.push_back({{"method", c.method},
                    {"other", c.other},
                    {"keep", KeepValue(c.budget)},
                    {"final_tokens", FinalTokensValue(c.budget)},
                    {"items", c.items},
                    {"method_accuracy", c.method_accuracy},
                    {"other_accuracy", c.other_accuracy},
                    {"only_method_right", c.only_method_right},
                    {"only_other_right", c.only_other_right},
                    {"p_value", c.p_value}});
  }
  return rows;
}

std::string ComparisonsCsv(const std::vector<PairedComparison>& comparisons) {
  std::ostringstream out;
  out << std::setprecision(6)
      << "method,other,keep,final_tokens,items,method_accuracy,other_accuracy,only_method_right,"
         "only_other_right,p_value\n";
  for (const PairedComparison& c : comparisons) {
    const bool by_count = c.budget.final_tokens >= 0;
    out << c.method << ',' << c.other << ',';
    if (!by_count) out << c.budget.keep;
    out << ',';
    if (by_count) out << c.budget.final_tokens;
    out << ',' << c.items << ',' << c.method_accuracy << ',' << c.other_accuracy << ','
        << c.only_method_right << ',' << c.only_other_right << ',' << c.p_value << '\n';
  }
  return out.str();
}

std::string ComparisonsTable(const std::vector<PairedComparison>& comparisons) {
  std::ostringstream out;
  out << std::left << std::setw(10) << "method" << std::setw(10) << "other" << std::right
      << std::setw(10) << "budget" << std::setw(7) << "items" << std::setw(10) << "accuracy"
      << std::setw(10) << "other's" << std::setw(8) << "+only" << std::setw(8) << "-only"
      << std::setw(10) << "p" << '\n';
  for (const PairedComparison& c : comparisons) {
    out << std::left << std::setw(10) << c.method << std::setw(10) << c.other << std::right
        << std::setw(10) << BudgetText(c.budget) << std::setw(7) << c.items << std::fixed
        << std::setprecision(4) << std::setw(10) << c.method_accuracy << std::setw(10)
        << c.other_accuracy << std::setw(8) << c.only_method_right << std::setw(8)
        << c.only_other_right << std::setw(10) << c.p_value << '\n';
    out.unsetf(std::ios::fixed);
  }
  return out.str();
}

}  // namespace lightvlm
