// Which of a checkpoint's chat templates is read, in transformers 5.x's precedence (measured with
// transformers 5.25: the processor reads processor_config.json's key, then chat_template.json,
// then chat_template.jinja; the tokenizer chat_template.jinja before tokenizer_config.json).
#include "io/chat_template.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;

class FindChatTemplateFilesTest : public ::testing::Test {
 protected:
  void WriteTemplateJson(const std::string& file, const nlohmann::json& value) {
    testing::WriteFile(dir_ / file, nlohmann::json{{"chat_template", value}}.dump());
  }
  std::string SourceFile() {
    return fs::path(FindChatTemplate(dir_.string())->origin).filename().string();
  }

  fs::path dir_ = testing::FreshTempDir();
};

TEST_F(FindChatTemplateFilesTest, NoneWhenNoFileHasOne) {
  testing::WriteFile(dir_ / "tokenizer_config.json", R"({"bos_token": "<s>"})");
  EXPECT_FALSE(FindChatTemplate(dir_.string()).has_value());
}

TEST_F(FindChatTemplateFilesTest, TakesEachSourceInTransformersPrecedence) {
  WriteTemplateJson("tokenizer_config.json", "from tokenizer_config");
  EXPECT_EQ(FindChatTemplate(dir_.string())->text, "from tokenizer_config");
  testing::WriteFile(dir_ / "chat_template.jinja", "from jinja\n");
  EXPECT_EQ(FindChatTemplate(dir_.string())->text, "from jinja\n");
  EXPECT_EQ(SourceFile(), "chat_template.jinja");
  WriteTemplateJson("chat_template.json", "from chat_template.json");
  EXPECT_EQ(FindChatTemplate(dir_.string())->text, "from chat_template.json");
  testing::WriteFile(dir_ / "processor_config.json", R"({"patch_size": 14})");
  EXPECT_EQ(SourceFile(), "chat_template.json");
  WriteTemplateJson("processor_config.json", "from processor_config");
  EXPECT_EQ(FindChatTemplate(dir_.string())->text, "from processor_config");
  EXPECT_EQ(SourceFile(), "processor_config.json");
}

TEST_F(FindChatTemplateFilesTest, ReadsTheDefaultOfNamedTemplates) {
  WriteTemplateJson("tokenizer_config.json",
                    nlohmann::json::array({{{"name", "tool_use"}, {"template", "tools"}},
                                           {{"name", "default"}, {"template", "plain"}}}));
  EXPECT_EQ(FindChatTemplate(dir_.string())->text, "plain");
  WriteTemplateJson("tokenizer_config.json",
                    nlohmann::json::array({{{"name", "tool_use"}, {"template", "tools"}}}));
  EXPECT_NE(testing::ErrorOf([&] { FindChatTemplate(dir_.string()); })
                .find("tokenizer_config.json: field 'chat_template' is a list without a template "
                      "named \"default\""),
            std::string::npos);
}

TEST_F(FindChatTemplateFilesTest, NullIsNoTemplateAndOtherTypesAreErrors) {
  WriteTemplateJson("tokenizer_config.json", nullptr);
  EXPECT_EQ(FindChatTemplate(dir_.string()).has_value(), false);
  WriteTemplateJson("chat_template.json", 42);
  const std::string error = testing::ErrorOf([&] { FindChatTemplate(dir_.string()); });
  EXPECT_NE(error.find("chat_template.json: field 'chat_template' should be a string"),
            std::string::npos)
      << error;
  testing::WriteFile(dir_ / "chat_template.json", "{not json");
  EXPECT_NE(testing::ErrorOf([&] { FindChatTemplate(dir_.string()); }).find("chat_template.json"),
            std::string::npos);
}

}  // namespace
}  // namespace lightvlm
