// A GGUF file's tokenizer.chat_template formats the prompt of `run` and the other commands: the
// real SmolLM2-135M-Instruct (fetched by scripts/get_models.sh; skipped without it) renders a
// question as jinja2 renders the same template (tests/fixtures/chat_templates/smollm2.json, made
// by tools/make_chat_template_fixtures.py from the file's template), and the prompt is tokenized
// as transformers' apply_chat_template does, without adding BOS.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "engine/model.h"
#include "io/json_file.h"
#include "support/golden.h"

namespace lightvlm {
namespace {

const std::filesystem::path kSmolLm2 = std::filesystem::path(LIGHTVLM_SOURCE_DIR) / "models" /
                                       "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf";

TEST(GgufChatFormatTest, TheQuestionIsTheUsersTurnOfTheFilesTemplate) {
  if (!std::filesystem::exists(kSmolLm2)) {
    GTEST_SKIP() << kSmolLm2.string() << " is absent: run scripts/get_models.sh to fetch it";
  }
  const Model model = LoadModel(kSmolLm2.string());
  const JsonFile cases =
      JsonFile::Load((testing::kFixturesDir / "chat_templates" / "smollm2.json").string());
  std::string expected;
  for (const auto& each : cases.root()["cases"]) {
    if (each["name"] == "strings_single") expected = each["expected"].get<std::string>();
  }
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(model.language_model->FormatPrompt("What is 2+3?", 0), expected);
  const Prompt prompt = MakePrompt(model, "What is 2+3?", {});
  EXPECT_EQ(prompt.token_ids, model.tokenizer->Encode(expected, /*add_special=*/false));
  EXPECT_EQ(prompt.token_ids.front(), 1) << "<|im_start|>, once";
  // --raw leaves the text alone.
  EXPECT_EQ(MakePrompt(model, "What is 2+3?", {}, /*raw=*/true).token_ids,
            model.tokenizer->Encode("What is 2+3?", /*add_special=*/true));
}

}  // namespace
}  // namespace lightvlm
