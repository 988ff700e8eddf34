// The journal of a sweep: every finished run (one method at one budget, with its answers) as one
// JSON line, so that a sweep stopped part way (killed, out of time) goes on where it stopped
// instead of starting again; a sweep on a real model runs for hours.
//
// File layout (JSON Lines): the first line {"setup": {...}} says what the runs depend on (the
// model, the items, the options); every later line is one run: the object of ResultJson plus
// "predictions" and "correct", the answers of every item in order.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/evaluator.h"

namespace lightvlm {

class SweepJournal {
 public:
  // Opens the journal at `path` for runs that depend on `setup` and on the items `data` holds.
  // With `resume`, the runs an existing journal holds are kept when its setup equals this one,
  // and a different setup fails naming the file and the first field that differs; without it, a
  // journal holding runs fails (so a forgotten flag does not discard them); with no file, or one
  // holding no run, the journal starts empty. A last line cut off mid-write (the sweep
  // was killed) is dropped; any other line it cannot read fails naming the file and the line.
  SweepJournal(std::string path, nlohmann::json setup, const std::vector<EvalItem>& items,
               bool resume);

  // The finished run of `spec`, when the journal holds one.
  std::optional<MethodResult> Find(const MethodSpec& spec) const;
  // Appends the finished run and flushes it to the file.
  void Record(const MethodResult& result);

  const std::string& path() const { return path_; }
  size_t runs() const { return runs_.size(); }

 private:
  // Reads the whole lines of an existing journal: the setup, checked against `setup`, then runs.
  void ReadRuns(std::string_view text, const nlohmann::json& setup, size_t items);

  std::string path_;
  std::vector<MethodResult> runs_;
};

// A run as the journal holds it: ResultJson's object plus "predictions" and "correct".
nlohmann::json RunJson(const MethodResult& result);
// The inverse of RunJson; fails naming the field that is missing or of the wrong type.
MethodResult RunFromJson(const nlohmann::json& object);

}  // namespace lightvlm
