// Conversations of several turns: each turn prefills only what the session does not hold yet, and
// the answer is the one a fresh session gives to the whole conversation prefilled at once (greedy).
#include "engine/conversation.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "io/image.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

// Greedy, ending at the model's stop tokens as chat does.
GenerationOptions Greedy(const Model& model, int64_t tokens) {
  GenerationOptions options;
  options.max_new_tokens = tokens;
  options.stop_token_ids = model.stop_token_ids;
  return options;
}

const auto kAll = [](int32_t) { return true; };

// What the session holds after the first turn and the second turn's prompt, as text: the first
// prompt, the answer's tokens as generated but the last (never run), then the rest of the
// rendered conversation.
struct TwoTurns {
  std::string first_prompt, second_delta;
};

TwoTurns Texts(const Model& model, const std::vector<ChatMessage>& first_turn,
               const std::vector<int32_t>& answer, const std::string& second_question) {
  const LanguageModel& language_model = *model.language_model;
  TwoTurns texts;
  texts.first_prompt = language_model.FormatConversation(first_turn);
  std::vector<ChatMessage> all = first_turn;
  all.push_back({"assistant", model.tokenizer->Decode(answer, /*skip_special=*/true), 0});
  all.push_back({"user", second_question, 0});
  const std::string held =
      texts.first_prompt +
      model.tokenizer->Decode({answer.begin(), answer.end() - 1}, /*skip_special=*/false);
  const std::string full = language_model.FormatConversation(all);
  EXPECT_TRUE(full.starts_with(held)) << full;
  texts.second_delta = full.substr(held.size());
  return texts;
}

// The answer of a fresh session to the conversation's tokens prefilled at once: the first
// prompt, the first answer as generated but its last token, the second prompt.
std::vector<int32_t> FreshAnswer(const Model& model, ThreadPool& pool, const TwoTurns& texts,
                                 const std::vector<int32_t>& answer,
                                 std::span<const ImageEmbeddings> images, int64_t tokens) {
  const LanguageModel& language_model = *model.language_model;
  std::vector<int32_t> ids =
      model.tokenizer->Encode(language_model.ExpandImagePlaceholders(texts.first_prompt, images),
                              !language_model.formats_special_tokens());
  ids.insert(ids.end(), answer.begin(), answer.end() - 1);
  const std::vector<int32_t> delta = model.tokenizer->Encode(texts.second_delta, false);
  ids.insert(ids.end(), delta.begin(), delta.end());
  const Prompt prompt = AssemblePrompt(ids, images, language_model.image_token_id());
  Session session(model.decoder(), pool, 256);
  return session.Generate(prompt, Greedy(model, tokens), kAll).tokens;
}

TEST(ConversationTest, LaterTurnsReuseTheCacheAndAnswerAsAFreshPrefill) {
  const Model model = LoadModel((testing::kFixturesDir / "qwen2" / "model").string());
  ASSERT_TRUE(model.language_model->formats_special_tokens()) << "the fixture ships a template";
  ThreadPool pool(2);
  Conversation conversation(model, pool, 256, nullptr, nullptr);
  const auto first = conversation.Ask("Hello there", {}, Greedy(model, 6), kAll);
  const int64_t held = conversation.session().length();
  const auto second = conversation.Ask("What next?", {}, Greedy(model, 6), kAll);
  EXPECT_EQ(conversation.reused_tokens(), held);
  // The last generated token is sampled, never run: the cache holds one token fewer.
  EXPECT_EQ(held + second.prompt_tokens + static_cast<int64_t>(second.tokens.size()) - 1,
            conversation.session().length());
  EXPECT_EQ(conversation.turns(), 4);
  const TwoTurns texts = Texts(model, {{"user", "Hello there", 0}}, first.tokens, "What next?");
  EXPECT_EQ(second.tokens, FreshAnswer(model, pool, texts, first.tokens, {}, 6));

  conversation.Reset();
  EXPECT_EQ(conversation.turns(), 0);
  EXPECT_EQ(conversation.session().length(), 0);
}

TEST(ConversationTest, AnImageOfAnEarlierTurnStaysInTheCache) {
  const Model model = LoadModel((testing::kFixturesDir / "internvl" / "model").string());
  ThreadPool pool(2);
  const std::string photo =
      (std::filesystem::path(LIGHTVLM_SHARED_DIR) / "images" / "mmbench_21.jpg").string();
  std::vector<ImageEmbeddings> images;
  images.push_back(model.language_model->EncodeImage(pool, LoadImage(photo)));
  std::vector<ImageEmbeddings> again;
  again.push_back(model.language_model->EncodeImage(pool, LoadImage(photo)));
  Conversation conversation(model, pool, 256, nullptr, nullptr);
  const auto first =
      conversation.Ask("What is in the picture?", std::move(images), Greedy(model, 5), kAll);
  const auto second = conversation.Ask("Say more.", {}, Greedy(model, 5), kAll);
  EXPECT_GT(conversation.reused_tokens(), 28) << "the image's 28 tokens are reused";
  const TwoTurns texts =
      Texts(model, {{"user", "What is in the picture?", 1}}, first.tokens, "Say more.");
  EXPECT_EQ(second.tokens, FreshAnswer(model, pool, texts, first.tokens, again, 5));
}

TEST(ConversationTest, ATurnOverTheContextFailsAndTheConversationGoesOn) {
  const Model model = LoadModel((testing::kFixturesDir / "qwen2" / "model").string());
  ThreadPool pool(2);
  Conversation conversation(model, pool, 64, nullptr, nullptr);
  conversation.Ask("Hi", {}, Greedy(model, 4), kAll);
  const int64_t length = conversation.session().length();
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "word ";
  const std::string error =
      testing::ErrorOf([&] { conversation.Ask(long_text, {}, Greedy(model, 4), kAll); });
  EXPECT_NE(error.find("leaves no room to generate"), std::string::npos) << error;
  EXPECT_EQ(conversation.turns(), 2);
  EXPECT_EQ(conversation.session().length(), length);
  conversation.Ask("Bye", {}, Greedy(model, 4), kAll);
  EXPECT_EQ(conversation.turns(), 4);
}

}  // namespace
}  // namespace lightvlm
