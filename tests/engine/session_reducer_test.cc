// The baselines that need what only the session can hand them: the image's grids and the vision
// tower's saliency, from a real LLaVA (the tiny fixture) encoding a real image, through
// generation; and VisionZip's refusal when a model gives no saliency.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/prompt.h"
#include "engine/session.h"
#include "io/image.h"
#include "reduce/token_reducer.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

class SessionReducerTest : public ::testing::Test {
 protected:
  SessionReducerTest() : golden_("llava"), model_(LoadModel(golden_.model_dir().string())) {
    images_.push_back(model_.language_model->EncodeImage(
        pool_, LoadImage((testing::kFixturesDir / "llava" / "image.png").string())));
  }

  Prompt MakePrompt() const {
    const std::string text = model_.language_model->FormatPrompt("What is in the picture?", 1);
    return AssemblePrompt(model_.tokenizer->Encode(text, /*add_special=*/true), images_,
                          model_.language_model->image_token_id());
  }

  testing::Golden golden_;
  ThreadPool pool_{2};
  Model model_;
  std::vector<ImageEmbeddings> images_;
};

// Each baseline generates 8 tokens with the image cut to 16 tokens, its caches as planned: the
// ones before the LLM (cdpruner, visionzip) hold 16 image tokens in both layers, dart 576 in
// layer 0 (its stage sits at layer 1 of this 2-layer decoder).
TEST_F(SessionReducerTest, BaselinesGenerateWithTheBudgetedCaches) {
  const Prompt prompt = MakePrompt();
  const int64_t text_tokens = prompt.size() - 576;
  for (const std::string name : {"dart", "cdpruner", "visionzip"}) {
    ReducerOptions options;
    options.budget.final_tokens = 16;
    const auto reducer = MakeTokenReducer(name, options);
    Session session(model_.decoder(), pool_, 1024);
    session.SetTokenReducer(reducer.get());
    GenerationOptions generation;
    generation.max_new_tokens = 8;
    const auto result = session.Generate(prompt, generation, [](int32_t) { return true; });
    EXPECT_EQ(result.tokens.size(), 8u) << name;
    const int64_t first_layer = name == "dart" ? 576 : 16;
    EXPECT_EQ(reducer->ImageTokensPerLayer(), (std::vector<int64_t>{first_layer, 16})) << name;
    // The prompt's rows plus the 7 generated tokens fed back.
    EXPECT_EQ(session.cache().layer(0).size(), text_tokens + first_layer + 7) << name;
    EXPECT_EQ(session.cache().layer(1).size(), text_tokens + 16 + 7) << name;
  }
}

// VisionZip without contextual tokens keeps the patches the CLIP tower's class token attends to
// most (tests/models/llava_test.cc has them from transformers): the session hands each grid its
// saliency, in order.
TEST_F(SessionReducerTest, VisionZipKeepsTheTowersMostAttendedPatches) {
  ReducerOptions options;
  options.budget.final_tokens = 5;
  options.visionzip_contextual_share = 0;
  const auto reducer = MakeTokenReducer("visionzip", options);
  Session session(model_.decoder(), pool_, 1024);
  session.SetTokenReducer(reducer.get());
  const Prompt prompt = MakePrompt();
  session.Prefill(prompt);
  const LayerKvCache& cache = session.cache().layer(0);
  const int64_t start = prompt.images[0].start;
  std::vector<int64_t> kept_patches;
  for (int64_t row = 0; row < cache.size(); ++row) {
    const int64_t token = cache.token_index()[row];
    if (token >= start && token < start + 576) kept_patches.push_back(token - start);
  }
  EXPECT_EQ(kept_patches, (std::vector<int64_t>{19, 38, 42, 43, 155}));
}

TEST_F(SessionReducerTest, VisionZipRefusesAModelWithoutSaliency) {
  images_[0].vision_saliency.clear();
  ReducerOptions options;
  options.budget.final_tokens = 16;
  const auto reducer = MakeTokenReducer("visionzip", options);
  Session session(model_.decoder(), pool_, 1024);
  session.SetTokenReducer(reducer.get());
  const std::string error = testing::ErrorOf([&] { session.Prefill(MakePrompt()); });
  EXPECT_NE(error.find("visionzip"), std::string::npos) << error;
  EXPECT_NE(error.find("vision tower's attention"), std::string::npos) << error;
}

}  // namespace
}  // namespace lightvlm
