#include "eval/answer_match.h"

#include <gtest/gtest.h>

#include "eval/evaluator.h"

namespace lightvlm {
namespace {

TEST(AnswerMatchTest, Normalisation) {
  EXPECT_EQ(NormalizeAnswer("  Red.  "), "red");
  EXPECT_EQ(NormalizeAnswer("A red   Circle!"), "red circle");
  EXPECT_EQ(NormalizeAnswer("The cat, the dog"), "cat the dog");  // only a leading article
  EXPECT_EQ(NormalizeAnswer("an apple"), "apple");
  EXPECT_EQ(NormalizeAnswer("the"), "the");  // an article alone stays
  EXPECT_EQ(NormalizeAnswer("Don't know"), "dont know");
  EXPECT_EQ(NormalizeAnswer("red-blue/green"), "red blue green");
  EXPECT_EQ(NormalizeAnswer("3.5 m."), "3.5 m");
  EXPECT_EQ(NormalizeAnswer("1,000"), "1000");
  EXPECT_EQ(NormalizeAnswer("Café"), "café");  // non-ASCII letters are kept as they are
  EXPECT_EQ(NormalizeAnswer(""), "");
  EXPECT_EQ(NormalizeAnswer("?!"), "");
}

TEST(AnswerMatchTest, NumberWordsOnBothSides) {
  EXPECT_EQ(NormalizeAnswer("Three"), "3");
  EXPECT_EQ(NormalizeAnswer("zero one two ten eleven"), "0 1 2 10 eleven");
  EXPECT_TRUE(OpenAnswerMatches("Two.", "2"));
  EXPECT_TRUE(OpenAnswerMatches("2", "two"));
  EXPECT_TRUE(OpenAnswerMatches("There are seven", "there are 7"));
  EXPECT_FALSE(OpenAnswerMatches("twenty", "20"));      // only zero..ten
  EXPECT_FALSE(OpenAnswerMatches("someone", "some1"));  // whole words only
}

TEST(AnswerMatchTest, OpenAnswers) {
  EXPECT_TRUE(OpenAnswerMatches("The Red circle.", "red circle"));
  EXPECT_TRUE(OpenAnswerMatches(" yes", "Yes"));
  EXPECT_FALSE(OpenAnswerMatches("red circle", "red"));
  EXPECT_FALSE(OpenAnswerMatches("", "red"));
}

TEST(AnswerMatchTest, MultipleChoiceLetters) {
  const std::vector<std::string> choices = {"circle", "square", "red star"};
  EXPECT_EQ(ChosenLetter("B", choices), "B");
  EXPECT_EQ(ChosenLetter(" (C) red star", choices), "C");
  EXPECT_EQ(ChosenLetter("The answer is B.", choices), "B");
  EXPECT_EQ(ChosenLetter("A. circle", choices), "A");
  EXPECT_EQ(ChosenLetter("b", choices), "B");                             // a lone lowercase letter
  EXPECT_EQ(ChosenLetter("Square", choices), "B");                        // the option's text
  EXPECT_EQ(ChosenLetter("I see a red star here", choices), "C");         // 'I' names no option
  EXPECT_EQ(ChosenLetter("it is a square, not a circle", choices), "B");  // the first one named
  EXPECT_EQ(ChosenLetter("D", choices), "");                              // beyond the options
  EXPECT_EQ(ChosenLetter("Bravo", choices), "");                          // not standalone
  EXPECT_EQ(ChosenLetter("", choices), "");
}

TEST(AnswerMatchTest, CorrectnessFollowsTheItemKind) {
  const EvalItem open{"a.png", "How many?", "three", "", {}};
  EXPECT_TRUE(IsCorrectAnswer("3", open));
  EXPECT_FALSE(IsCorrectAnswer("4", open));
  const EvalItem choice{"a.png", "Which?", "B", "", {"circle", "square"}};
  EXPECT_TRUE(IsCorrectAnswer("B) square", choice));
  EXPECT_TRUE(IsCorrectAnswer("square", choice));
  EXPECT_FALSE(IsCorrectAnswer("A", choice));
  EXPECT_FALSE(IsCorrectAnswer("B", open));
}

}  // namespace
}  // namespace lightvlm
