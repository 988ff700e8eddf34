// The whole path (tokenizer, image pipeline, decoder, cache, greedy decoding) against
// transformers' generate() on the tiny recorded checkpoints: the same prompt ids and the same 16
// tokens.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>

#include "engine/model.h"
#include "engine/prompt.h"
#include "engine/session.h"
#include "io/image.h"
#include "io/json_file.h"
#include "reduce/token_reducer.h"
#include "support/golden.h"
#include "support/llava_layouts.h"

namespace lightvlm {
namespace {

class SessionGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SessionGoldenTest, GreedyTokensMatchTransformers) {
  const testing::Golden golden(GetParam());
  const Model model = LoadModel(golden.model_dir().string());
  const JsonFile record =
      JsonFile::Load((testing::kFixturesDir / GetParam() / "golden.json").string());
  const std::vector<int32_t> prompt =
      model.tokenizer->Encode(record.Get<std::string>("prompt.text"), /*add_special=*/true);
  EXPECT_EQ(prompt, golden.Ids("input_ids"));

  ThreadPool pool(2);
  Session session(model.decoder(), pool, model.config().max_position_embeddings);
  GenerationOptions options;
  options.max_new_tokens = 16;  // transformers ran with EOS disabled, so no stop tokens here
  const GenerationResult result = session.Generate(prompt, options, [](int32_t) { return true; });
  EXPECT_EQ(result.tokens, golden.Ids("greedy_tokens"));
}

INSTANTIATE_TEST_SUITE_P(Families, SessionGoldenTest,
                         ::testing::Values("llama", "llama/llama3", "qwen2"), [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '/', '_');
                           return name;
                         });

// LLaVA end to end: image file -> pixels -> vision tower -> projector -> prompt assembly ->
// decoder, against LlavaForConditionalGeneration on the same PNG and question, in every checkpoint
// layout transformers writes (support/llava_layouts.h).
struct LlavaLayoutCase {
  std::string name;
  std::function<std::filesystem::path()> model_dir;
  std::string golden;  // directory under tests/fixtures with golden.safetensors and golden.json
};

class LlavaLayoutTest : public ::testing::TestWithParam<LlavaLayoutCase> {};

TEST_P(LlavaLayoutTest, AnswerMatchesTransformers) {
  const testing::Golden golden(GetParam().golden);
  const Model model = LoadModel(GetParam().model_dir().string());
  const JsonFile record =
      JsonFile::Load((testing::kFixturesDir / GetParam().golden / "golden.json").string());
  const std::string text = model.language_model->FormatPrompt("What is in the picture?", 1);
  EXPECT_EQ(text, record.Get<std::string>("prompt.text"));
  ThreadPool pool(2);
  std::vector<ImageEmbeddings> images;
  images.push_back(model.language_model->EncodeImage(
      pool, LoadImage((testing::kFixturesDir / "llava" / "image.png").string())));
  const std::vector<int32_t> ids = model.tokenizer->Encode(text, /*add_special=*/true);
  const Prompt prompt = AssemblePrompt(ids, images, model.language_model->image_token_id());
  EXPECT_EQ(prompt.token_ids, golden.Ids("input_ids"));

  Session prefill_only(model.decoder(), pool, 1024);
  const std::vector<float> logits = prefill_only.Prefill(prompt);
  const std::vector<float> expected = golden.Floats("logits_last");
  ASSERT_EQ(logits.size(), expected.size());
  EXPECT_LT(testing::MaxAbsDifference(logits.data(), expected.data(), logits.size()), 1e-3);

  Session session(model.decoder(), pool, 1024);
  GenerationOptions options;
  options.max_new_tokens = 16;  // transformers ran with EOS disabled
  const auto result = session.Generate(prompt, options, [](int32_t) { return true; });
  EXPECT_EQ(result.tokens, golden.Ids("greedy_tokens"));
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, LlavaLayoutTest,
    ::testing::Values(
        // transformers 4.46: language_model.model.*, preprocessor_config.json, chat_template.json
        LlavaLayoutCase{"v4_46", [] { return testing::kLlavaModelDir; }, "llava"},
        LlavaLayoutCase{"v4_5x", testing::LlavaIn45xLayout, "llava"},
        // 5.x: processor_config.json with the image processor nested, chat_template.jinja
        LlavaLayoutCase{"tf5_original_format",
                        [] { return testing::kLlavaTf5Dir / "original_format"; }, "llava"},
        LlavaLayoutCase{"tf5_native_format", [] { return testing::kLlavaTf5Dir / "native_format"; },
                        "llava"},
        // vision_feature_select_strategy "full", num_additional_image_tokens 1: 577 image tokens
        LlavaLayoutCase{"tf5_full_strategy", testing::LlavaFullStrategy,
                        "llava_tf5/full_strategy"}),
    [](const auto& info) { return info.param.name; });

// The same prompt with the single <image> the chat format gives (the model expands it).
TEST(LlavaPromptTest, UnexpandedIdsMatchTheProcessorsTokenizer) {
  const Model model = LoadModel(testing::kLlavaModelDir.string());
  const JsonFile record =
      JsonFile::Load((testing::kFixturesDir / "llava" / "golden.json").string());
  const std::string text = model.language_model->FormatPrompt("What is in the picture?", 1);
  EXPECT_EQ(model.tokenizer->Encode(text, /*add_special=*/true),
            record.Get<std::vector<int32_t>>("prompt.unexpanded_input_ids"));
}

class LlavaSessionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = new Model(LoadModel(testing::kLlavaModelDir.string())); }
  static void TearDownTestSuite() { delete model_; }

  ImageEmbeddings Photo() {
    return model_->language_model->EncodeImage(
        pool_, LoadImage((testing::kFixturesDir / "llava" / "image.png").string()));
  }

  static Model* model_;
  ThreadPool pool_{2};
};
Model* LlavaSessionTest::model_ = nullptr;

// The JPEG photographs of ../shared/images, decoded as Pillow decodes them, give transformers'
// answers token for token (recorded by tools/make_jpeg_fixtures.py, without near ties).
// Regression: decoded by stb_image, mmbench_21.jpg's answer to the second question diverged at
// the 10th token.
TEST_F(LlavaSessionTest, AnswersAboutJpegPhotographsMatchTransformers) {
  const JsonFile record =
      JsonFile::Load((testing::kFixturesDir / "llava" / "photos.json").string());
  const auto& answers = record.root().at("answers");
  ASSERT_EQ(answers.size(), 10u);  // 6 photographs x 2 questions, less 2 near ties
  for (const auto& answer : answers) {
    const std::string file = answer.at("file").get<std::string>();
    const std::string question = answer.at("question").get<std::string>();
    SCOPED_TRACE(file + ": " + question);
    const std::string text = model_->language_model->FormatPrompt(question, 1);
    EXPECT_EQ(text, answer.at("prompt").get<std::string>());
    std::vector<ImageEmbeddings> images;
    images.push_back(model_->language_model->EncodeImage(
        pool_, LoadImage((std::filesystem::path(LIGHTVLM_SHARED_DIR) / "images" / file).string())));
    const Prompt prompt = AssemblePrompt(model_->tokenizer->Encode(text, /*add_special=*/true),
                                         images, model_->language_model->image_token_id());
    Session session(model_->decoder(), pool_, 1024);
    GenerationOptions options;
    options.max_new_tokens = 16;  // transformers ran with EOS disabled
    const auto result = session.Generate(prompt, options, [](int32_t) { return true; });
    EXPECT_EQ(result.tokens, answer.at("greedy_tokens").get<std::vector<int32_t>>());
  }
}

// Regression: a prompt ending in an image gives the reducer no text queries and could lose its
// last row; it is run unreduced.
TEST_F(LlavaSessionTest, PromptsEndingWithAnImageAreNotReduced) {
  std::vector<ImageEmbeddings> images;
  images.push_back(Photo());
  const Prompt prompt = AssemblePrompt(model_->tokenizer->Encode("USER: <image>", true), images,
                                       model_->language_model->image_token_id());
  ReducerOptions options;
  options.budget.keep = 0.5;
  const auto reducer = MakeTokenReducer("lightvlm", options);
  Session reduced(model_->decoder(), pool_, 1024);
  reduced.SetTokenReducer(reducer.get());
  Session plain(model_->decoder(), pool_, 1024);
  EXPECT_EQ(reduced.Prefill(prompt), plain.Prefill(prompt));
  EXPECT_EQ(reduced.cache().layer(1).size(), prompt.size());
}

TEST_F(LlavaSessionTest, TwoImagesAndTextOnlyPromptsRun) {
  std::vector<ImageEmbeddings> images;
  images.push_back(Photo());
  images.push_back(Photo());
  const std::string text = model_->language_model->FormatPrompt("Are they the same?", 2);
  const Prompt prompt = AssemblePrompt(model_->tokenizer->Encode(text, true), images,
                                       model_->language_model->image_token_id());
  ASSERT_EQ(prompt.images.size(), 2u);
  EXPECT_GT(prompt.images[1].start, prompt.images[0].start + 576);  // text between them
  Session session(model_->decoder(), pool_, 2048);
  GenerationOptions options;
  options.max_new_tokens = 4;
  const auto answer = session.Generate(prompt, options, [](int32_t) { return true; });
  EXPECT_EQ(answer.tokens.size(), 4u);
  EXPECT_EQ(session.length(), prompt.size() + 3);

  const std::vector<int32_t> text_only =
      model_->tokenizer->Encode(model_->language_model->FormatPrompt("Hello", 0), true);
  Session chat(model_->decoder(), pool_, 256);
  EXPECT_EQ(chat.Generate(text_only, options, [](int32_t) { return true; }).tokens.size(), 4u);
}

}  // namespace
}  // namespace lightvlm
