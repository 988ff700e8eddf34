#include "models/qwen2vl_vision.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

// get_window_index of transformers for grid (1, 6, 8), merge 2, windows of 2x2 merged tokens: the
// 3x4 merged grid in windows row by row, the last row's windows clipped to one row.
TEST(Qwen2VlVisionTest, WindowsVisitMergedTokensWindowByWindow) {
  const VisionWindows windows = VisionWindowOrder({1, 6, 8}, 2, 2);
  EXPECT_EQ(windows.merged_order, (std::vector<int64_t>{0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 10, 11}));
  EXPECT_EQ(windows.boundaries, (std::vector<int64_t>{0, 16, 32, 40, 48}));
  // A window larger than the image: one window in the processor's order.
  const VisionWindows one = VisionWindowOrder({1, 4, 6}, 2, 4);
  EXPECT_EQ(one.merged_order, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(one.boundaries, (std::vector<int64_t>{0, 24}));
}

std::string ConfigError(const std::string& vision) {
  return testing::ErrorOf([&] {
    ReadQwen2VlVisionConfig(JsonFile::Parse(
        R"({"model_type": "qwen2_5_vl", "vision_config": {)" + vision + "}}", "config.json"));
  });
}

TEST(Qwen2VlVisionTest, ConfigErrorsNameTheField) {
  EXPECT_NE(ConfigError(R"("depth": 4, "fullatt_block_indexes": [1, 4])")
                .find("config.json: vision_config.fullatt_block_indexes holds 4, not a layer below "
                      "depth 4"),
            std::string::npos);
  EXPECT_NE(ConfigError(R"("window_size": 100)")
                .find("vision_config.window_size (100) is not a "
                      "multiple of patch_size * spatial_merge_size"),
            std::string::npos);
  EXPECT_NE(ConfigError(R"("hidden_size": 40, "num_heads": 4)").find("multiple of 4"),
            std::string::npos);
  EXPECT_NE(ConfigError(R"("depth": 0)").find("vision_config.depth must be positive"),
            std::string::npos);
}

}  // namespace
}  // namespace lightvlm
