#include "eval/dataset.h"

#include <cctype>
#include <filesystem>
#include <utility>

#include "base/error.h"
#include "eval/answer_match.h"
#include "io/json_file.h"

namespace lightvlm {
namespace {

constexpr size_t kMaxChoices = 26;  // one per letter A-Z

char ChoiceLetter(size_t index) { return static_cast<char>('A' + index); }

// The letter of the choice that `answer` names: a choice equal to it after normalisation, else
// the answer itself when it is one of the choices' letters. Empty when it names none.
std::string ExpectedLetter(const std::string& answer, const std::vector<std::string>& choices) {
  const std::string normalized = NormalizeAnswer(answer);
  for (size_t i = 0; i < choices.size(); ++i) {
    if (NormalizeAnswer(choices[i]) == normalized) return std::string(1, ChoiceLetter(i));
  }
  if (answer.size() == 1) {
    const char letter = static_cast<char>(std::toupper(static_cast<unsigned char>(answer[0])));
    if (letter >= 'A' && letter < ChoiceLetter(choices.size())) return std::string(1, letter);
  }
  return "";
}

EvalItem ParseItem(const JsonFile& json, const std::filesystem::path& base_dir) {
  const std::string& where = json.path();
  EvalItem item;
  const std::filesystem::path image = json.Get<std::string>("image");
  Check(!image.empty(), where, ": field 'image' is empty");
  item.image_path = (image.is_absolute() ? image : base_dir / image).string();
  item.question = json.Get<std::string>("question");
  item.answer = json.Get<std::string>("answer");
  item.kind = json.GetOr<std::string>("kind", "");
  if (auto choices = json.Find<std::vector<std::string>>("choices")) {
    Check(choices->size() >= 2 && choices->size() <= kMaxChoices, where,
          ": field 'choices' should hold 2 to ", kMaxChoices, " options, got ", choices->size());
    item.choices = std::move(*choices);
  }
  if (item.multiple_choice()) {
    const std::string letter = ExpectedLetter(item.answer, item.choices);
    Check(!letter.empty(), where, ": field 'answer' (\"", item.answer,
          "\") is neither one of the choices nor one of their letters");
    item.answer = letter;
  }
  return item;
}

}  // namespace

std::vector<EvalItem> LoadDataset(const std::string& path) {
  const std::filesystem::path base_dir = std::filesystem::path(path).parent_path();
  std::vector<EvalItem> items;
  ForEachJsonLine(path, "no items", [&](const JsonFile& line, int64_t) {
    items.push_back(ParseItem(line, base_dir));
  });
  return items;
}

std::string QuestionText(const EvalItem& item) {
  if (!item.multiple_choice()) return item.question;
  std::string text = item.question;
  for (size_t i = 0; i < item.choices.size(); ++i) {
    text += StrCat("\n", ChoiceLetter(i), ". ", item.choices[i]);
  }
  return text + "\nAnswer with the option's letter.";
}

}  // namespace lightvlm
