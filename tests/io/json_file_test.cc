#include "io/json_file.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

using testing::ErrorOf;

const char* kConfig = R"({
  "model_type": "llava",
  "hidden_size": 64,
  "rms_norm_eps": 1e-05,
  "rope_theta": 10000,
  "tie_word_embeddings": true,
  "ratio": 3.5,
  "big": 3000000000,
  "rope_scaling": null,
  "architectures": ["LlavaForConditionalGeneration"],
  "eos_token_id": [2, 32000],
  "mean": [0.5, 1],
  "mixed": [1, "two"],
  "text_config": {"hidden_size": 128, "vision": {"patch_size": 14}}
})";

const JsonFile Config() { return JsonFile::Parse(kConfig, "config.json"); }

TEST(JsonFileTest, LoadsFileAndNamesPath) {
  const auto path = testing::FreshTempDir() / "config.json";
  testing::WriteFile(path, kConfig);
  const JsonFile config = JsonFile::Load(path.string());
  EXPECT_EQ(config.path(), path.string());
  EXPECT_EQ(config.Get<int>("hidden_size"), 64);
  EXPECT_EQ(ErrorOf([&] { config.Get<int>("num_layers"); }),
            path.string() + ": missing field 'num_layers'");
}

TEST(JsonFileTest, RejectsUnreadableAndNonJsonFiles) {
  const auto dir = testing::FreshTempDir();
  const std::string absent_error = ErrorOf([&] { JsonFile::Load((dir / "absent.json").string()); });
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "absent.json", absent_error);

  testing::WriteFile(dir / "broken.json", "{\"hidden_size\": ");
  const std::string broken_error = ErrorOf([&] { JsonFile::Load((dir / "broken.json").string()); });
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, (dir / "broken.json").string() + ": not valid JSON",
                      broken_error);

  testing::WriteFile(dir / "empty.json", "");
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "not valid JSON",
                      ErrorOf([&] { JsonFile::Load((dir / "empty.json").string()); }));
}

// nlohmann::json reports a number it cannot hold as out_of_range, not as a parse error: that
// too must come out as an Error naming the file (and the line of a JSON Lines file).
TEST(JsonFileTest, NumberOverflowNamesTheFileAndLine) {
  const auto dir = testing::FreshTempDir();
  testing::WriteFile(dir / "config.json", "{\"hidden_size\": 1e400}");
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, (dir / "config.json").string() + ": not valid JSON: ",
                      ErrorOf([&] { JsonFile::Load((dir / "config.json").string()); }));
  testing::WriteFile(dir / "data.jsonl", "{\"a\": 1}\n{\"a\": -1e400}\n");
  EXPECT_PRED_FORMAT2(::testing::IsSubstring,
                      (dir / "data.jsonl").string() + ", line 2: not valid JSON: ", ErrorOf([&] {
                        ForEachJsonLine((dir / "data.jsonl").string(), "no items",
                                        [](const JsonFile&, int64_t) {});
                      }));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "x.json: not valid JSON",
                      ErrorOf([] { ParseJson("[1e400]", "x.json"); }));
}

TEST(JsonFileTest, DirectoryIsNamedAsOne) {
  const auto dir = testing::FreshTempDir();
  EXPECT_EQ(ErrorOf([&] { JsonFile::Load(dir.string()); }),
            dir.string() + ": is a directory, not a file");
  EXPECT_EQ(
      ErrorOf([&] { ForEachJsonLine(dir.string(), "no items", [](const JsonFile&, int64_t) {}); }),
      dir.string() + ": is a directory, not a file");
}

// With on_bad_line, each broken line is reported with its number and the others still parsed.
TEST(JsonFileTest, JsonLinesGoOnPastBadLines) {
  const auto path = testing::FreshTempDir() / "requests.jsonl";
  testing::WriteFile(path, "{\"a\": 1}\nnot json\n\n[2]\n{\"a\": 3}\n{\"b\": 4}\n");
  std::vector<std::pair<int64_t, int>> good;
  std::vector<std::pair<int64_t, std::string>> bad;
  ForEachJsonLine(
      path.string(), "no items",
      [&](const JsonFile& line, int64_t number) { good.emplace_back(number, line.Get<int>("a")); },
      [&](int64_t number, const Error& error) { bad.emplace_back(number, error.what()); });
  EXPECT_EQ(good, (std::vector<std::pair<int64_t, int>>{{1, 1}, {5, 3}}));
  ASSERT_EQ(bad.size(), 3u);
  EXPECT_EQ(bad[0].first, 2);
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, path.string() + ", line 2: not valid JSON",
                      bad[0].second);
  EXPECT_EQ(bad[1], (std::pair<int64_t, std::string>{
                        4, path.string() + ", line 4: expected a JSON object, got array"}));
  EXPECT_EQ(bad[2],
            (std::pair<int64_t, std::string>{6, path.string() + ", line 6: missing field 'a'"}));
}

TEST(JsonFileTest, ReadsScalars) {
  const JsonFile config = Config();
  EXPECT_EQ(config.Get<std::string>("model_type"), "llava");
  EXPECT_EQ(config.Get<int64_t>("hidden_size"), 64);
  EXPECT_EQ(config.Get<int64_t>("big"), 3000000000);
  EXPECT_DOUBLE_EQ(config.Get<double>("rms_norm_eps"), 1e-5);
  EXPECT_FLOAT_EQ(config.Get<float>("ratio"), 3.5f);
  EXPECT_DOUBLE_EQ(config.Get<double>("rope_theta"), 10000.0);  // integers are numbers too
  EXPECT_TRUE(config.Get<bool>("tie_word_embeddings"));
  EXPECT_TRUE(config.Get<nlohmann::json>("text_config").is_object());
}

TEST(JsonFileTest, NamesWrongTypes) {
  const JsonFile config = Config();
  EXPECT_EQ(ErrorOf([&] { config.Get<int>("model_type"); }),
            "config.json: field 'model_type' should be an integer, got string");
  EXPECT_EQ(ErrorOf([&] { config.Get<int>("ratio"); }),
            "config.json: field 'ratio' should be an integer, got float");
  EXPECT_EQ(ErrorOf([&] { config.Get<bool>("hidden_size"); }),
            "config.json: field 'hidden_size' should be a boolean, got integer");
  EXPECT_EQ(ErrorOf([&] { config.Get<std::string>("hidden_size"); }),
            "config.json: field 'hidden_size' should be a string, got integer");
  EXPECT_EQ(ErrorOf([&] { config.Get<double>("model_type"); }),
            "config.json: field 'model_type' should be a number, got string");
  EXPECT_EQ(ErrorOf([&] { config.Get<int>("rope_scaling"); }),
            "config.json: field 'rope_scaling' should be an integer, got null");
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "out of range for a 32-bit integer",
                      ErrorOf([&] { config.Get<int>("big"); }));
}

TEST(JsonFileTest, FollowsDottedPaths) {
  const JsonFile config = Config();
  EXPECT_EQ(config.Get<int>("text_config.hidden_size"), 128);
  EXPECT_EQ(config.Get<int>("text_config.vision.patch_size"), 14);
  EXPECT_EQ(config.Node("text_config.num_layers"), nullptr);
  EXPECT_EQ(config.Node("vision_config.hidden_size"), nullptr);
  EXPECT_EQ(config.Node("rope_scaling.factor"), nullptr);  // a null parent: absent
  EXPECT_EQ(ErrorOf([&] { config.Get<int>("text_config.vision.depth"); }),
            "config.json: missing field 'text_config.vision.depth'");
  EXPECT_EQ(ErrorOf([&] { config.Get<int>("model_type.size"); }),
            "config.json: field 'model_type' should be an object, got string");
  EXPECT_EQ(ErrorOf([&] { JsonFile::Parse("[1]", "list.json").Get<int>("x"); }),
            "list.json: the top level should be an object, got array");
}

TEST(JsonFileTest, ReadsVectors) {
  const JsonFile config = Config();
  EXPECT_EQ(config.Get<std::vector<int>>("eos_token_id"), (std::vector<int>{2, 32000}));
  EXPECT_EQ(config.Get<std::vector<int64_t>>("eos_token_id"), (std::vector<int64_t>{2, 32000}));
  EXPECT_EQ(config.Get<std::vector<double>>("mean"), (std::vector<double>{0.5, 1.0}));
  EXPECT_EQ(config.Get<std::vector<std::string>>("architectures"),
            (std::vector<std::string>{"LlavaForConditionalGeneration"}));
  EXPECT_EQ(ErrorOf([&] { config.Get<std::vector<int>>("mixed"); }),
            "config.json: field 'mixed[1]' should be an integer, got string");
  EXPECT_EQ(ErrorOf([&] { config.Get<std::vector<int>>("hidden_size"); }),
            "config.json: field 'hidden_size' should be an array, got integer");
}

TEST(JsonFileTest, FindAndGetOrTreatMissingAndNullAlike) {
  const JsonFile config = Config();
  EXPECT_EQ(config.Find<int>("hidden_size"), 64);
  EXPECT_EQ(config.Find<int>("num_layers"), std::nullopt);
  EXPECT_EQ(config.Find<nlohmann::json>("rope_scaling"), std::nullopt);
  EXPECT_EQ(config.GetOr<int64_t>("num_key_value_heads", 8), 8);
  EXPECT_EQ(config.GetOr<int64_t>("hidden_size", 8), 64);
  EXPECT_EQ(config.GetOr<std::string>("rope_scaling", "none"), "none");
  EXPECT_EQ(config.GetOr<std::vector<std::string>>("absent", {}), std::vector<std::string>{});
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "should be an integer",
                      ErrorOf([&] { config.GetOr<int>("model_type", 1); }));
}

TEST(JsonFileTest, ReadsJsonLinesFromAStream) {
  std::istringstream in("{\"a\": 1}\n\n  \r\n{\"a\": 2}\n");
  std::vector<int64_t> values;
  std::vector<std::string> names;
  ForEachJsonLine(in, "memory.jsonl", "no lines", [&](const JsonFile& line, int64_t) {
    values.push_back(line.Get<int64_t>("a"));
    names.push_back(line.path());
  });
  EXPECT_EQ(values, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(names, (std::vector<std::string>{"memory.jsonl, line 1", "memory.jsonl, line 4"}));
  std::istringstream blank("\n \n");
  EXPECT_EQ(testing::ErrorOf([&] { ForEachJsonLine(blank, "blank.jsonl", "no lines", {}); }),
            "blank.jsonl: no lines");
  std::istringstream not_object("[1]\n");
  EXPECT_EQ(testing::ErrorOf([&] { ForEachJsonLine(not_object, "x.jsonl", "no lines", {}); }),
            "x.jsonl, line 1: expected a JSON object, got array");
}

}  // namespace
}  // namespace lightvlm
