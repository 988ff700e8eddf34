#include "eval/sweep.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "base/error.h"
#include "eval/report.h"
#include "eval/svg_plot.h"

namespace lightvlm {
namespace {

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  Check(out.good(), path, ": cannot write");
}

// One line per method through (achieved share, value of `measure`); every reducer's line starts
// at `none`'s point, its run at keep 1 (SweepMethods).
LinePlot MethodPlot(const std::vector<MethodResult>& results, const std::string& title,
                    const std::string& y_label, double (*measure)(const MethodResult&),
                    bool y_from_zero) {
  LinePlot plot{.title = title,
                .x_label = "average share of image tokens over LLM layers (achieved)",
                .y_label = y_label,
                .log_x = true,
                .series = {},
                .y_from_zero = y_from_zero,
                .x_marks = {kSweepBudgets.begin(), kSweepBudgets.end()}};
  const auto none = std::find_if(results.begin(), results.end(),
                                 [](const MethodResult& r) { return r.method == "none"; });
  std::map<std::string, size_t> series_of_method;
  for (const MethodResult& result : results) {
    const auto [found, inserted] = series_of_method.try_emplace(result.method, plot.series.size());
    if (inserted) {
      plot.series.push_back({result.method, {}});
      if (none != results.end() && result.method != "none") {
        plot.series.back().points.push_back({none->average_keep, measure(*none)});
      }
    }
    plot.series[found->second].points.push_back({result.average_keep, measure(result)});
  }
  return plot;
}

std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Converts `svg` to `png` with rsvg-convert when it is installed; PNGs are a convenience, so a
// missing or failing converter is a warning, not an error.
bool ConvertToPng(const std::string& svg, const std::string& png) {
  if (std::system("command -v rsvg-convert >/dev/null 2>&1") != 0) return false;
  const std::string command = "rsvg-convert -o " + ShellQuote(png) + " " + ShellQuote(svg);
  if (std::system(command.c_str()) == 0) return true;
  std::cerr << "lightvlm: warning: rsvg-convert could not convert " << svg << '\n';
  return false;
}

}  // namespace

std::vector<MethodSpec> SweepMethods(const ReducerOptions& base) {
  std::vector<MethodSpec> methods;
  const auto add = [&](const std::string& name, ReductionBudget budget) {
    ReducerOptions options = base;
    options.budget = budget;
    methods.push_back({name, options});
  };
  add("none", {.keep = 1.0, .final_tokens = -1});
  std::vector<std::string> reducers = TokenReducerNames();
  std::erase(reducers, "none");
  for (const std::string& name : reducers) {
    for (double keep : kSweepBudgets) {
      if (keep < 1.0) add(name, {.keep = keep, .final_tokens = -1});
    }
    for (int64_t final_tokens : kSweepFinalTokens)
      add(name, {.keep = 1.0, .final_tokens = final_tokens});
  }
  return methods;
}

std::vector<std::string> WriteSweep(const std::vector<MethodResult>& results,
                                    const std::vector<PairedComparison>& comparisons,
                                    const std::string& prefix, const std::string& label) {
  const std::filesystem::path directory = std::filesystem::path(prefix).parent_path();
  if (!directory.empty()) std::filesystem::create_directories(directory);
  const std::vector<std::pair<std::string, std::string>> tables = {
      {prefix + ".csv", ResultsCsv(results)},
      {prefix + ".json", ResultsJson(results).dump(2) + "\n"},
      {prefix + "_significance.csv", ComparisonsCsv(comparisons)},
      {prefix + "_significance.json", ComparisonsJson(comparisons).dump(2) + "\n"}};
  std::vector<std::string> written;
  for (const auto& [path, text] : tables) {
    WriteText(path, text);
    written.push_back(path);
  }
  const std::string suffix = label.empty() ? "" : ": " + label;
  const auto accuracy = [](const MethodResult& r) { return r.accuracy; };
  const auto prefill_ms = [](const MethodResult& r) { return r.prefill_ms_median; };
  const std::vector<std::pair<std::string, LinePlot>> plots = {
      {prefix + "_accuracy", MethodPlot(results, "Accuracy under image-token reduction" + suffix,
                                        "accuracy", accuracy, /*y_from_zero=*/false)},
      {prefix + "_prefill",
       MethodPlot(results, "LLM prefill time under image-token reduction" + suffix,
                  "prefill time per item, median (ms)", prefill_ms, /*y_from_zero=*/true)}};
  for (const auto& [stem, plot] : plots) {
    WriteLinePlot(plot, stem + ".svg");
    written.push_back(stem + ".svg");
    if (ConvertToPng(stem + ".svg", stem + ".png")) written.push_back(stem + ".png");
  }
  return written;
}

}  // namespace lightvlm
