// The trained shapes model (models/shapes, tools/train_shapes.py) answers its held-out sets with
// the accuracy that transformers measured when it was trained (models/shapes/results.json), and
// that accuracy is the one its README promises: the C++ vision tower, projector, prompt format
// and decoder are the model's, not an approximation of it.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "eval/evaluator.h"
#include "io/json_file.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;

const fs::path kShapes = fs::path(LIGHTVLM_SOURCE_DIR) / "models" / "shapes";

class ShapesModelTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ShapesModelTest, MatchesTheAccuracyTransformersRecorded) {
  const std::string set = GetParam();
  const JsonFile results = JsonFile::Load((kShapes / "results.json").string());
  const double recorded = results.Get<double>(set + ".overall");
  EXPECT_GE(recorded, 0.9) << "the model was trained to at least 90% held-out accuracy";

  const Model model = LoadModel((kShapes / "model").string());
  ThreadPool pool(2);
  const EncodedDataset data =
      EncodeDataset(model, pool, LoadDataset((kShapes / set / "questions.jsonl").string()));
  ASSERT_EQ(static_cast<int64_t>(data.items.size()), results.Get<int64_t>(set + ".n"));
  MethodSpec none{"none", {}};
  none.options.budget.keep = 1.0;
  const MethodResult result = EvaluateMethods(model, pool, data, {none}, 4)[0];

  EXPECT_LE(std::abs(result.accuracy - recorded), 0.01)
      << set << ": lightvlm " << result.accuracy << ", transformers " << recorded;
  for (const auto& [kind, accuracy] : result.accuracy_by_kind) {
    EXPECT_LE(std::abs(accuracy - results.Get<double>(set + "." + kind)), 0.03)
        << set << " " << kind;
  }
}

INSTANTIATE_TEST_SUITE_P(HeldOutSets, ShapesModelTest, ::testing::Values("eval", "test"));

}  // namespace
}  // namespace lightvlm
