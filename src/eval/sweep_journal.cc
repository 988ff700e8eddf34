#include "eval/sweep_journal.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string_view>
#include <utility>

#include "base/error.h"
#include "eval/report.h"

namespace lightvlm {
namespace {

using nlohmann::json;

// FNV-1a over every field of every item, so that a journal written for other items (another file,
// or the same file edited) is not taken for this one's.
std::string ItemsDigest(const std::vector<EvalItem>& items) {
  uint64_t hash = 14695981039346656037ull;
  const auto add = [&hash](const std::string& text) {
    for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
    hash = (hash ^ 0xff) * 1099511628211ull;  // a separator no UTF-8 text holds
  };
  for (const EvalItem& item : items) {
    add(item.image_path);
    add(item.question);
    add(item.answer);
    add(item.kind);
    for (const std::string& choice : item.choices) add(choice);
  }
  std::ostringstream hex;
  hex << std::hex << hash;
  return hex.str();
}

// The first key of `want` whose value `have` lacks or holds differently ("" when none).
std::string FirstDifference(const json& have, const json& want) {
  for (const auto& [key, value] : want.items()) {
    if (!have.contains(key) || have.at(key) != value) return key;
  }
  for (const auto& [key, value] : have.items()) {
    if (!want.contains(key)) return key;
  }
  return "";
}

template <class T>
T Field(const json& object, const char* key) {
  Check(object.contains(key), "field \"", key, "\" is missing");
  try {
    return object.at(key).get<T>();
  } catch (const json::exception&) {
    Fail("field \"", key, "\" has the wrong type");
  }
}

std::optional<double> OptionalField(const json& object, const char* key) {
  if (!object.contains(key) || object.at(key).is_null()) return std::nullopt;
  return Field<double>(object, key);
}

bool SameSpec(const MethodResult& run, const MethodSpec& spec) {
  return run.method == spec.method && run.budget.keep == spec.options.budget.keep &&
         run.budget.final_tokens == spec.options.budget.final_tokens;
}

}  // namespace

json RunJson(const MethodResult& result) {
  json object = ResultJson(result);
  object["predictions"] = result.predictions;
  object["correct"] = result.correct;
  return object;
}

MethodResult RunFromJson(const json& object) {
  Check(object.is_object(), "a run is not a JSON object");
  MethodResult result;
  result.method = Field<std::string>(object, "method");
  const std::optional<double> final_tokens = OptionalField(object, "final_tokens");
  result.budget.final_tokens = final_tokens ? static_cast<int64_t>(*final_tokens) : -1;
  result.budget.keep = OptionalField(object, "keep").value_or(1.0);
  result.items = Field<int64_t>(object, "items");
  result.accuracy = Field<double>(object, "accuracy");
  result.accuracy_by_kind = Field<std::map<std::string, double>>(object, "accuracy_by_kind");
  result.retention = OptionalField(object, "retention");
  result.baseline_accuracy = OptionalField(object, "baseline_accuracy");
  result.mean_image_tokens_per_layer = Field<double>(object, "mean_image_tokens_per_layer");
  result.average_keep = Field<double>(object, "average_keep");
  result.prefill_ms_median = Field<double>(object, "prefill_ms");
  result.prefill_ms_mean = Field<double>(object, "prefill_ms_mean");
  result.vision_ms = Field<double>(object, "vision_ms");
  for (const json& stage : Field<json>(object, "plan")) {
    result.plan.push_back({Field<int64_t>(stage, "layer"), Field<int64_t>(stage, "image_tokens")});
  }
  result.kv_policy = Field<std::string>(object, "kv");
  const std::optional<double> kv_budget = OptionalField(object, "kv_budget");
  if (kv_budget) result.kv_budget = static_cast<int64_t>(*kv_budget);
  result.kv_max_entries = Field<int64_t>(object, "kv_max_entries");
  result.predictions = Field<std::vector<std::string>>(object, "predictions");
  result.correct = Field<std::vector<bool>>(object, "correct");
  Check(static_cast<int64_t>(result.predictions.size()) == result.items &&
            static_cast<int64_t>(result.correct.size()) == result.items,
        "\"predictions\" and \"correct\" must hold one entry per item (", result.items, ")");
  return result;
}

SweepJournal::SweepJournal(std::string path, json setup, const std::vector<EvalItem>& items,
                           JournalMode mode)
    : path_(std::move(path)), mode_(mode) {
  setup["items"] = items.size();
  setup["items_digest"] = ItemsDigest(items);
  std::ifstream in(path_, std::ios::binary);
  Check(in || mode_ != JournalMode::kRead, path_, ": cannot read the sweep's journal");
  if (in) {
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Hours of finished runs are not thrown away for a forgotten flag: starting again is removing
    // the file.
    const size_t first_break = text.find('\n');
    Check(mode_ != JournalMode::kStart || first_break == std::string::npos ||
              first_break + 1 == text.size(),
          path_,
          ": holds finished runs of a sweep; pass --resume to go on from them, or remove the file "
          "to start again");
    // A line without its line break is a run cut off while it was written (the sweep was
    // killed, or is writing it now): it is dropped, and on resuming the file is cut back to the
    // last whole line.
    const size_t last_break = text.rfind('\n');
    if (mode_ != JournalMode::kStart && last_break != std::string::npos) {
      const size_t whole = last_break + 1;
      if (mode_ == JournalMode::kResume && whole < text.size()) {
        std::filesystem::resize_file(path_, whole);
      }
      ReadRuns(std::string_view(text).substr(0, whole), setup, items.size());
      return;
    }
    Check(mode_ != JournalMode::kRead, path_, ": holds no whole line (the sweep's setup)");
  }
  const std::filesystem::path directory = std::filesystem::path(path_).parent_path();
  if (!directory.empty()) std::filesystem::create_directories(directory);
  std::ofstream out(path_, std::ios::binary | std::ios::trunc);
  out << json{{"setup", setup}}.dump() << '\n';
  Check(out.good(), path_, ": cannot write");
}

void SweepJournal::ReadRuns(std::string_view text, const json& setup, size_t items) {
  int64_t number = 0;
  for (size_t start = 0; start < text.size();) {
    const size_t end = text.find('\n', start);
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    if (line.empty()) continue;
    try {
      const json object = json::parse(line);
      if (number == 1) {
        const std::string differs = FirstDifference(Field<json>(object, "setup"), setup);
        Check(differs.empty(), "was written for another sweep: its setup's \"", differs,
              "\" differs (remove the file to start again)");
        continue;
      }
      runs_.push_back(RunFromJson(object));
      Check(runs_.back().items == static_cast<int64_t>(items), "a run of ", runs_.back().items,
            " items where the setup has ", items);
    } catch (const json::exception& error) {
      Fail(path_, ": line ", number, ": ", error.what());
    } catch (const Error& error) {
      Fail(path_, ": line ", number, ": ", error.what());
    }
  }
}

std::optional<MethodResult> SweepJournal::Find(const MethodSpec& spec) const {
  for (const MethodResult& run : runs_) {
    if (SameSpec(run, spec)) return run;
  }
  return std::nullopt;
}

void SweepJournal::Record(const MethodResult& result) {
  Check(mode_ != JournalMode::kRead, path_, ": opened to read, not to record");
  std::ofstream out(path_, std::ios::binary | std::ios::app);
  out << RunJson(result).dump() << '\n';
  out.flush();
  Check(out.good(), path_, ": cannot write");
  runs_.push_back(result);
}

}  // namespace lightvlm
