#include "io/chat_template.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "base/error.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

using testing::ErrorOf;

const std::filesystem::path kFixtures =
    std::filesystem::path(LIGHTVLM_SOURCE_DIR) / "tests" / "fixtures";

// Every family's shipped template over every conversation of
// tools/make_chat_template_fixtures.py renders byte for byte as jinja2 (configured as
// transformers configures it) renders it, and fails wherever jinja2 fails.
TEST(ChatTemplateTest, MatchesJinja2OnEveryFixture) {
  int families = 0, rendered = 0, refused = 0;
  for (const char* family :
       {"llava_1_5", "qwen2", "qwen2_vl", "smolvlm", "smollm2", "internvl2_5", "features"}) {
    SCOPED_TRACE(family);
    const auto path = kFixtures / "chat_templates" / (std::string(family) + ".json");
    const auto fixture = nlohmann::ordered_json::parse(testing::ReadFile(path));
    const ChatTemplate chat_template(
        {fixture["template"].get<std::string>(), path.string() + ": template"});
    ++families;
    for (const auto& test_case : fixture["cases"]) {
      SCOPED_TRACE(test_case["name"].get<std::string>());
      if (test_case.contains("expected")) {
        EXPECT_EQ(chat_template.Render(test_case["context"]),
                  test_case["expected"].get<std::string>());
        ++rendered;
      } else {
        const std::string error = ErrorOf([&] { chat_template.Render(test_case["context"]); });
        EXPECT_NE(error, "(no error)") << "jinja2 failed with " << test_case["error"];
        EXPECT_NE(error.find(path.string()), std::string::npos) << error;
        const std::string jinja_error = test_case["error"].get<std::string>();
        if (jinja_error.starts_with("TemplateError: ")) {  // raise_exception: the same message
          EXPECT_NE(error.find(jinja_error.substr(15)), std::string::npos) << error;
        }
        ++refused;
      }
    }
  }
  EXPECT_EQ(families, 7);
  EXPECT_GE(rendered, 50);
  EXPECT_GE(refused, 10);
}

TEST(ChatTemplateTest, ErrorsNameTheOriginAndLine) {
  const std::string parse_error = ErrorOf([] {
    ChatTemplate({"line one\n{{ messages | shuffle }}", "model/chat_template.jinja"});
  });
  EXPECT_NE(
      parse_error.find("model/chat_template.jinja: chat template line 2: unknown filter 'shuffle'"),
      std::string::npos)
      << parse_error;
  const ChatTemplate raising({"\n\n{{ raise_exception('no tools here') }}", "t.jinja"});
  const std::string render_error =
      ErrorOf([&] { raising.Render(nlohmann::ordered_json::object()); });
  EXPECT_NE(render_error.find(
                "t.jinja: chat template line 3: the template raised an error: no tools here"),
            std::string::npos)
      << render_error;
}

TEST(ChatTemplateTest, RendersAnUnorderedJsonContext) {
  const ChatTemplate chat_template(*FindChatTemplate((kFixtures / "qwen2" / "model").string()));
  const auto context = nlohmann::json::parse(
      R"({"messages": [{"role": "user", "content": "Hi"}], "add_generation_prompt": true})");
  EXPECT_EQ(chat_template.Render(context),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi"
            "<|im_end|>\n<|im_start|>assistant\n");
  std::string deep(1000, '[');
  deep += std::string(1000, ']');
  const std::string error = ErrorOf([&] { chat_template.Render(nlohmann::json::parse(deep)); });
  EXPECT_NE(error.find("tokenizer_config.json: the context nests deeper"), std::string::npos)
      << error;
}

TEST(FindChatTemplateTest, ReadsChatTemplateJson) {
  const auto found = FindChatTemplate((kFixtures / "llava" / "model").string());
  ASSERT_TRUE(found.has_value());
  EXPECT_TRUE(found->text.starts_with("{% for message in messages %}"));
  EXPECT_NE(found->origin.find("chat_template.json"), std::string::npos);
}

TEST(FindChatTemplateTest, ReadsTokenizerConfig) {
  const auto found = FindChatTemplate((kFixtures / "qwen2" / "model").string());
  ASSERT_TRUE(found.has_value());
  EXPECT_NE(found->text.find("<|im_start|>"), std::string::npos);
  EXPECT_NE(found->origin.find("tokenizer_config.json"), std::string::npos);
}

}  // namespace
}  // namespace lightvlm
