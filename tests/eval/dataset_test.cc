#include "eval/dataset.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;

fs::path WriteDataset(const std::string& lines) {
  const fs::path path = testing::FreshTempDir() / "data.jsonl";
  testing::WriteFile(path, lines);
  return path;
}

// The message of the Error that loading `lines` throws.
std::string LoadError(const std::string& lines) {
  const fs::path path = WriteDataset(lines);
  const std::string error = testing::ErrorOf([&] { LoadDataset(path.string()); });
  EXPECT_NE(error, "(no error)") << "no error for: " << lines;
  return error;
}

TEST(DatasetTest, OpenQuestions) {
  const fs::path path = WriteDataset(
      R"({"image": "a.png", "question": "What colour?", "answer": "red", "kind": "colour"})"
      "\n\n"  // blank lines are skipped
      R"({"image": "/abs/b.png", "question": "How many?", "answer": "2"})"
      "\n");
  const std::vector<EvalItem> items = LoadDataset(path.string());
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].image_path, (path.parent_path() / "a.png").string());
  EXPECT_EQ(items[0].question, "What colour?");
  EXPECT_EQ(items[0].answer, "red");
  EXPECT_EQ(items[0].kind, "colour");
  EXPECT_FALSE(items[0].multiple_choice());
  EXPECT_EQ(QuestionText(items[0]), "What colour?");
  EXPECT_EQ(items[1].image_path, "/abs/b.png");
  EXPECT_EQ(items[1].kind, "");
}

TEST(DatasetTest, MultipleChoiceAnswersBecomeLetters) {
  const fs::path path = WriteDataset(
      R"({"image": "a.png", "question": "Which shape?", "choices": ["circle", "square", "star"], "answer": "Square"})"
      "\n"
      R"({"image": "a.png", "question": "Which shape?", "choices": ["circle", "square"], "answer": "a"})"
      "\n");
  const std::vector<EvalItem> items = LoadDataset(path.string());
  ASSERT_EQ(items.size(), 2u);
  EXPECT_TRUE(items[0].multiple_choice());
  EXPECT_EQ(items[0].answer, "B");  // the choice equal to the answer, after normalisation
  EXPECT_EQ(items[1].answer, "A");  // the answer given as a letter
  EXPECT_EQ(QuestionText(items[0]),
            "Which shape?\nA. circle\nB. square\nC. star\nAnswer with the option's letter.");
}

TEST(DatasetTest, BadLinesNameTheFileLineAndField) {
  const std::string good = R"({"image": "a.png", "question": "Q?", "answer": "x"})";
  struct Case {
    std::string line;
    std::string field;
  };
  const std::vector<Case> cases = {
      {R"({"image": "a.png", "answer": "x"})", "question"},
      {R"({"image": "a.png", "question": 3, "answer": "x"})", "question"},
      {R"({"question": "Q?", "answer": "x"})", "image"},
      {R"({"image": "", "question": "Q?", "answer": "x"})", "image"},
      {R"({"image": "a.png", "question": "Q?"})", "answer"},
      {R"({"image": "a.png", "question": "Q?", "answer": "x", "kind": 7})", "kind"},
      {R"({"image": "a.png", "question": "Q?", "answer": "x", "choices": "x"})", "choices"},
      {R"({"image": "a.png", "question": "Q?", "answer": "x", "choices": ["x"]})", "choices"},
      {R"({"image": "a.png", "question": "Q?", "answer": "z", "choices": ["x", "y"]})", "answer"},
      {R"({"image": "a.png", "question": "Q?", "answer": "C", "choices": ["x", "y"]})", "answer"},
      {R"({"image": "a.png", "question": "Q?", "answer": "x")", "JSON"},
      {R"(["a.png", "Q?", "x"])", "object"},
  };
  for (const Case& bad : cases) {
    const std::string message = LoadError(good + "\n\n" + bad.line + "\n" + good + "\n");
    EXPECT_NE(message.find("data.jsonl, line 3"), std::string::npos) << message;
    EXPECT_NE(message.find(bad.field), std::string::npos) << message;
  }
}

TEST(DatasetTest, MissingAndEmptyFiles) {
  EXPECT_NE(LoadError("\n \n").find("no items"), std::string::npos);
  EXPECT_THROW(LoadDataset("/nonexistent/data.jsonl"), Error);
  const std::string missing = testing::ErrorOf([] { LoadDataset("/nonexistent/data.jsonl"); });
  EXPECT_NE(missing.find("/nonexistent/data.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace lightvlm
