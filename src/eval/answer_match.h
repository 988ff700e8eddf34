// Whether a generated answer is right: exact match after normalisation for open questions, the
// chosen letter for multiple choice.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lightvlm {

// Lowercase; punctuation becomes a space (a '.' or ',' between digits stays: "3.5"), apostrophes
// are dropped ("don't" -> "dont"); spaces are collapsed and trimmed; a leading article (a, an,
// the) is dropped; number words zero..ten become digits.
std::string NormalizeAnswer(std::string_view text);

// Whether `prediction` equals `expected` once both are normalised.
bool OpenAnswerMatches(std::string_view prediction, std::string_view expected);

// The letter ("A".."Z") of the option that `prediction` picks among `choices`, or "" when it picks
// none. In order of preference: the whole prediction is an option's text; the first standalone
// capital letter naming an option ("B", "(B)", "B. red", "The answer is B"); the whole prediction
// is one such letter in lowercase; the option text that appears first in the prediction.
std::string ChosenLetter(std::string_view prediction, const std::vector<std::string>& choices);

}  // namespace lightvlm
