// An evaluation set as JSON Lines: one question about one image per line.
//
//   {"image": "shapes/0001.png", "question": "What colour is the circle?", "answer": "red",
//    "kind": "colour", "choices": ["red", "green", "blue"]}
//
// "image" is relative to the JSONL file's directory (or absolute); "kind" (optional) is a category
// to break accuracy down by; "choices" (optional) makes the item multiple choice: the question is
// shown with lettered options and the expected answer is the letter of the choice equal to
// "answer" ("answer" may also be the letter itself).
#pragma once

#include <string>
#include <vector>

namespace lightvlm {

struct EvalItem {
  std::string image_path;            // resolved against the JSONL file's directory
  std::string question;              // as written in the file, without the lettered options
  std::string answer;                // expected; for multiple choice the option's letter ("B")
  std::string kind;                  // "" when the file gives none
  std::vector<std::string> choices;  // empty unless multiple choice

  bool multiple_choice() const { return !choices.empty(); }
};

// Reads the items of the JSONL file at `path`; blank lines are skipped. Fails naming the file, the
// line number and the field for a line that is not a JSON object, a missing or mistyped field,
// fewer than 2 or more than 26 choices (one per letter), an answer that matches none of the
// choices, and a file with no items.
std::vector<EvalItem> LoadDataset(const std::string& path);

// The question as the model is asked it: for multiple choice followed by the options, one per line
// ("A. red"), and the line "Answer with the option's letter.".
std::string QuestionText(const EvalItem& item);

}  // namespace lightvlm
