#include "eval/report.h"

#include <iomanip>
#include <sstream>

namespace lightvlm {
namespace {

nlohmann::json OptionalNumber(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

std::string Fixed(double value, int decimals) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(decimals) << value;
  return out.str();
}

// "a;b;c" from the parts, as CSV and the table show lists.
std::string JoinParts(const std::vector<std::string>& parts) {
  std::string text;
  for (const std::string& part : parts) {
    if (!text.empty()) text += ';';
    text += part;
  }
  return text;
}

std::string KindsText(const MethodResult& result) {
  std::vector<std::string> parts;
  for (const auto& [kind, accuracy] : result.accuracy_by_kind) {
    parts.push_back(kind + "=" + Fixed(accuracy, 4));
  }
  return JoinParts(parts);
}

std::string PlanText(const MethodResult& result) {
  std::vector<std::string> parts;
  for (const ReductionStage& stage : result.plan) {
    parts.push_back(std::to_string(stage.layer) + ":" + std::to_string(stage.image_tokens));
  }
  return JoinParts(parts);
}

// A CSV field, quoted when it holds a separator, a quote or a line break.
std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string CsvNumber(const std::optional<double>& value) {
  if (!value) return "";
  std::ostringstream out;
  out << std::setprecision(6) << *value;
  return out.str();
}

}  // namespace

std::string BudgetText(const ReductionBudget& budget) {
  return budget.final_tokens >= 0 ? std::to_string(budget.final_tokens) + " final"
                                  : Fixed(budget.keep, 2);
}

nlohmann::json KeepValue(const ReductionBudget& budget) {
  return budget.final_tokens >= 0 ? nlohmann::json(nullptr) : nlohmann::json(budget.keep);
}

nlohmann::json FinalTokensValue(const ReductionBudget& budget) {
  return budget.final_tokens >= 0 ? nlohmann::json(budget.final_tokens) : nlohmann::json(nullptr);
}

nlohmann::json ResultJson(const MethodResult& result) {
  nlohmann::json plan = nlohmann::json::array();
  for (const ReductionStage& stage : result.plan) {
    plan.push_back({{"layer", stage.layer}, {"image_tokens", stage.image_tokens}});
  }
  return {{"method", result.method},
          {"keep", KeepValue(result.budget)},
          {"final_tokens", FinalTokensValue(result.budget)},
          {"items", result.items},
          {"accuracy", result.accuracy},
          {"accuracy_by_kind", result.accuracy_by_kind},
          {"retention", OptionalNumber(result.retention)},
          {"baseline_accuracy", OptionalNumber(result.baseline_accuracy)},
          {"mean_image_tokens_per_layer", result.mean_image_tokens_per_layer},
          {"average_keep", result.average_keep},
          {"prefill_ms", result.prefill_ms_median},
          {"prefill_ms_mean", result.prefill_ms_mean},
          {"vision_ms", result.vision_ms},
          {"plan", plan},
          {"kv", result.kv_policy},
          {"kv_budget", result.kv_budget ? nlohmann::json(*result.kv_budget) : nullptr},
          {"kv_max_entries", result.kv_max_entries}};
}

nlohmann::json ResultsJson(const std::vector<MethodResult>& results) {
  nlohmann::json rows = nlohmann::json::array();
  for (const MethodResult& result : results) rows.push_back(ResultJson(result));
  return rows;
}

std::string ResultsTable(const std::vector<MethodResult>& results) {
  std::ostringstream out;
  out << std::left << std::setw(10) << "method" << std::right << std::setw(10) << "budget"
      << std::setw(7) << "items" << std::setw(10) << "accuracy" << std::setw(11) << "retention"
      << std::setw(14) << "image tok/lyr" << std::setw(10) << "avg keep" << std::setw(13)
      << "prefill ms" << std::setw(11) << "(mean)" << std::setw(11) << "vision ms" << std::setw(11)
      << "kv" << std::setw(11) << "kv budget" << std::setw(13) << "kv entries" << '\n';
  for (const MethodResult& result : results) {
    out << std::left << std::setw(10) << result.method << std::right << std::setw(10)
        << BudgetText(result.budget) << std::setw(7) << result.items << std::setw(10)
        << Fixed(result.accuracy, 4) << std::setw(11)
        << (result.retention ? Fixed(*result.retention, 4) : "-") << std::setw(14)
        << Fixed(result.mean_image_tokens_per_layer, 1) << std::setw(10)
        << Fixed(result.average_keep, 4) << std::setw(13) << Fixed(result.prefill_ms_median, 2)
        << std::setw(11) << Fixed(result.prefill_ms_mean, 2) << std::setw(11)
        << Fixed(result.vision_ms, 2) << std::setw(11) << result.kv_policy << std::setw(11)
        << (result.kv_budget ? std::to_string(*result.kv_budget) : "-") << std::setw(13)
        << result.kv_max_entries << '\n';
  }
  for (const MethodResult& result : results) {
    if (result.accuracy_by_kind.empty() && result.plan.empty()) continue;
    out << result.method << " " << BudgetText(result.budget) << ":";
    if (!result.accuracy_by_kind.empty()) out << " accuracy by kind " << KindsText(result);
    if (!result.plan.empty()) out << " plan (layer:image tokens) " << PlanText(result);
    out << '\n';
  }
  return out.str();
}

std::string ResultsCsv(const std::vector<MethodResult>& results) {
  std::ostringstream out;
  out << "method,keep,final_tokens,items,accuracy,accuracy_by_kind,retention,baseline_accuracy,"
         "mean_image_tokens_per_layer,average_keep,prefill_ms,prefill_ms_mean,vision_ms,plan,kv,"
         "kv_budget,kv_max_entries\n";
  for (const MethodResult& result : results) {
    const bool by_count = result.budget.final_tokens >= 0;
    out << CsvField(result.method) << ',' << (by_count ? "" : CsvNumber(result.budget.keep)) << ','
        << (by_count ? std::to_string(result.budget.final_tokens) : "") << ',' << result.items
        << ',' << CsvNumber(result.accuracy) << ',' << CsvField(KindsText(result)) << ','
        << CsvNumber(result.retention) << ',' << CsvNumber(result.baseline_accuracy) << ','
        << CsvNumber(result.mean_image_tokens_per_layer) << ',' << CsvNumber(result.average_keep)
        << ',' << CsvNumber(result.prefill_ms_median) << ',' << CsvNumber(result.prefill_ms_mean)
        << ',' << CsvNumber(result.vision_ms) << ',' << PlanText(result) << ','
        << CsvField(result.kv_policy) << ','
        << (result.kv_budget ? std::to_string(*result.kv_budget) : "") << ','
        << result.kv_max_entries << '\n';
  }
  return out.str();
}

}  // namespace lightvlm
