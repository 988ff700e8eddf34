#include "eval/answer_match.h"

#include <array>
#include <cctype>
#include <sstream>

namespace lightvlm {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
// Letters, digits and every byte of a non-ASCII (UTF-8) character are word characters.
bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80;
}

std::string NumberWordToDigits(const std::string& word) {
  static constexpr std::array<std::string_view, 11> kNumberWords = {
      "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"};
  for (size_t value = 0; value < kNumberWords.size(); ++value) {
    if (word == kNumberWords[value]) return std::to_string(value);
  }
  return word;
}

bool IsArticle(const std::string& word) { return word == "a" || word == "an" || word == "the"; }

}  // namespace

std::string NormalizeAnswer(std::string_view text) {
  std::string spaced;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool between_digits =
        i > 0 && i + 1 < text.size() && IsDigit(text[i - 1]) && IsDigit(text[i + 1]);
    if (IsWordChar(c)) {
      spaced += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (c == '.' && between_digits) {
      spaced += c;  // a decimal point
    } else if (c == '\'' || (c == ',' && between_digits)) {
      // "don't" -> "dont", "1,000" -> "1000": these join what they separate
    } else {
      spaced += ' ';
    }
  }
  std::istringstream stream(spaced);
  std::vector<std::string> words;
  for (std::string word; stream >> word;) words.push_back(NumberWordToDigits(word));
  // A leading article goes, unless it is the whole answer.
  if (words.size() > 1 && IsArticle(words.front())) words.erase(words.begin());
  std::string normalized;
  for (const std::string& word : words) normalized += (normalized.empty() ? "" : " ") + word;
  return normalized;
}

bool OpenAnswerMatches(std::string_view prediction, std::string_view expected) {
  return NormalizeAnswer(prediction) == NormalizeAnswer(expected);
}

std::string ChosenLetter(std::string_view prediction, const std::vector<std::string>& choices) {
  const auto letter = [](size_t index) { return std::string(1, static_cast<char>('A' + index)); };
  const char last_letter = static_cast<char>('A' + choices.size() - 1);
  const std::string normalized = NormalizeAnswer(prediction);
  for (size_t i = 0; i < choices.size(); ++i) {
    if (NormalizeAnswer(choices[i]) == normalized) return letter(i);
  }
  for (size_t i = 0; i < prediction.size(); ++i) {
    const char c = prediction[i];
    const bool standalone = (i == 0 || !IsWordChar(prediction[i - 1])) &&
                            (i + 1 == prediction.size() || !IsWordChar(prediction[i + 1]));
    if (c >= 'A' && c <= last_letter && standalone) return std::string(1, c);
  }
  const int letter_count = static_cast<int>(choices.size());
  if (normalized.size() == 1 && normalized[0] >= 'a' && normalized[0] < 'a' + letter_count)
    return letter(normalized[0] - 'a');
  // The option whose text starts earliest in the prediction, as whole words; the longer on a tie.
  const std::string padded = " " + normalized + " ";
  size_t best_position = std::string::npos, best_length = 0;
  std::string best;
  for (size_t i = 0; i < choices.size(); ++i) {
    const std::string option = NormalizeAnswer(choices[i]);
    if (option.empty()) continue;
    const size_t position = padded.find(" " + option + " ");
    if (position == std::string::npos) continue;
    if (position < best_position || (position == best_position && option.size() > best_length)) {
      best_position = position;
      best_length = option.size();
      best = letter(i);
    }
  }
  return best;
}

}  // namespace lightvlm
