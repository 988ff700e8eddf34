// The SmolVLM trained on the shapes questions over the real SmolLM2-135M-Instruct
// (models/shapes_smol, tools/train_shapes_smol.py) answers its held-out test set with the accuracy
// transformers measured for it (models/shapes_smol/results.json), within one point: lightvlm runs
// the real 30-layer language model, the LoRA deltas merged into it, the trained tower and
// connector. Its full checkpoint is rebuilt from the committed parts and the GGUF by
// scripts/get_models.sh.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "eval/evaluator.h"
#include "io/json_file.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;

const fs::path kShapesSmol = fs::path(LIGHTVLM_SOURCE_DIR) / "models" / "shapes_smol";

TEST(ShapesSmolModelTest, MatchesTheTestAccuracyTransformersRecorded) {
  const fs::path model_dir = kShapesSmol / "model";
  if (!fs::exists(model_dir / "model.safetensors")) {
    GTEST_SKIP() << model_dir.string() << " is absent: run scripts/get_models.sh to build it";
  }
  const JsonFile results = JsonFile::Load((kShapesSmol / "results.json").string());
  const double recorded = results.Get<double>("test.overall");
  EXPECT_GE(recorded, 0.9) << "the model was trained to at least 90% held-out accuracy";

  const Model model = LoadModel(model_dir.string());
  ThreadPool pool(2);
  const EncodedDataset data =
      EncodeDataset(model, pool, LoadDataset((kShapesSmol / "test" / "questions.jsonl").string()));
  ASSERT_EQ(static_cast<int64_t>(data.items.size()), results.Get<int64_t>("test.n"));
  MethodSpec none{"none", {}};
  none.options.budget.keep = 1.0;
  const MethodResult result = EvaluateMethods(model, pool, data, {none}, 4)[0];

  EXPECT_LE(std::abs(result.accuracy - recorded), 0.01)
      << "lightvlm " << result.accuracy << ", transformers " << recorded;
  for (const auto& [kind, accuracy] : result.accuracy_by_kind) {
    EXPECT_LE(std::abs(accuracy - results.Get<double>("test." + kind)), 0.03) << kind;
  }
}

}  // namespace
}  // namespace lightvlm
