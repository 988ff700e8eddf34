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

// How a sweep opens its journal.
enum class JournalMode {
  kStart,   // a new journal; a file that holds runs fails (a forgotten --resume keeps them)
  kResume,  // keeps the runs of a file with the same setup, and records more
  kRead,    // reads the runs of a file with the same setup, and changes nothing (--from-journal)
};

class SweepJournal {
 public:
  // Opens the journal at `path` for runs that depend on `setup` and on the items `data` holds.
  // kResume and kRead fail naming the file and the first field that differs when its setup is
  // another; kRead fails when there is no file. kStart with no file, or one holding no run, starts
  // empty; so does kResume with no file. A last line cut off mid-write (the sweep was killed) is
  // dropped: kResume cuts the file back before it, kRead leaves the file to the sweep writing it.
  // Any other line it cannot read fails naming the file and the line.
  SweepJournal(std::string path, nlohmann::json setup, const std::vector<EvalItem>& items,
               JournalMode mode);

  // The finished run of `spec`, when the journal holds one.
  std::optional<MethodResult> Find(const MethodSpec& spec) const;
  // Appends the finished run and flushes it to the file; not in kRead.
  void Record(const MethodResult& result);

  const std::string& path() const { return path_; }
  size_t runs() const { return runs_.size(); }
  bool read_only() const { return mode_ == JournalMode::kRead; }

 private:
  // Reads the whole lines of an existing journal: the setup, checked against `setup`, then runs.
  void ReadRuns(std::string_view text, const nlohmann::json& setup, size_t items);

  std::string path_;
  JournalMode mode_;
  std::vector<MethodResult> runs_;
};

// A run as the journal holds it: ResultJson's object plus "predictions" and "correct".
nlohmann::json RunJson(const MethodResult& result);
// The inverse of RunJson; fails naming the field that is missing or of the wrong type.
MethodResult RunFromJson(const nlohmann::json& object);

}  // namespace lightvlm
