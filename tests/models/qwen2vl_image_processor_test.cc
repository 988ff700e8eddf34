#include "models/qwen2vl_image_processor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "base/error.h"
#include "io/image.h"
#include "io/json_file.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;
using testing::ErrorOf;

// Written by tools/make_qwen2vl_fixture.py with transformers 4.46.3's Qwen2VLImageProcessor. The
// images are PNGs (the JPEG case is llava/image.png, mmbench_2399.jpg as PIL decodes it), so the
// decoder is exact.
const fs::path kQwen2VlDir = testing::kFixturesDir / "qwen2vl";

Qwen2VlImageProcessorConfig FixtureConfig() {
  return LoadQwen2VlImageProcessorConfig((kQwen2VlDir / "model/preprocessor_config.json").string());
}

JsonFile ConfigText(const std::string& text) {
  return JsonFile::Parse(text, "preprocessor_config.json");
}

TEST(Qwen2VlImageProcessorTest, ReadsTheFixtureConfig) {
  const auto config = FixtureConfig();
  EXPECT_EQ(config.min_pixels, 56 * 56);
  EXPECT_EQ(config.max_pixels, 28 * 28 * 16);
  EXPECT_EQ(config.patch_size, 14);
  EXPECT_EQ(config.temporal_patch_size, 2);
  EXPECT_EQ(config.merge_size, 2);
  EXPECT_EQ(config.resample, ResampleFilter::kBicubic);
  EXPECT_FLOAT_EQ(config.scaling.image_mean[0], 0.48145466f);
  EXPECT_FLOAT_EQ(config.scaling.image_std[2], 0.27577711f);
}

TEST(Qwen2VlImageProcessorTest, ReadsPixelBoundsUnderSize) {
  auto config = ReadQwen2VlImageProcessorConfig(
      ConfigText(R"({"size": {"shortest_edge": 1000, "longest_edge": 5000}})"));
  EXPECT_EQ(config.min_pixels, 1000);
  EXPECT_EQ(config.max_pixels, 5000);
  config = ReadQwen2VlImageProcessorConfig(
      ConfigText(R"({"min_pixels": 100, "size": {"min_pixels": 7, "max_pixels": 900}})"));
  EXPECT_EQ(config.min_pixels, 100);  // the top-level field wins, as 4.46 reads it
  EXPECT_EQ(config.max_pixels, 900);
  config = ReadQwen2VlImageProcessorConfig(ConfigText("{}"));
  EXPECT_EQ(config.min_pixels, 56 * 56);
  EXPECT_EQ(config.max_pixels, 28 * 28 * 1280);
}

TEST(Qwen2VlImageProcessorTest, RejectsBadConfigs) {
  auto error = [](const std::string& text) {
    return ErrorOf([&] { ReadQwen2VlImageProcessorConfig(ConfigText(text)); });
  };
  EXPECT_NE(error(R"({"min_pixels": 5000, "max_pixels": 4000})").find("exceeds max_pixels"),
            std::string::npos);
  EXPECT_NE(error(R"({"max_pixels": 1000000000000})").find("'max_pixels'"), std::string::npos);
  EXPECT_NE(error(R"({"min_pixels": 0})").find("'min_pixels'"), std::string::npos);
  EXPECT_NE(error(R"({"patch_size": 0})").find("'patch_size'"), std::string::npos);
  EXPECT_NE(error(R"({"merge_size": 100000})").find("'merge_size'"), std::string::npos);
  EXPECT_NE(error(R"({"resample": 9})").find("'resample'"), std::string::npos);
  EXPECT_NE(error(R"({"image_std": [1, 0, 1]})").find("'image_std'"), std::string::npos);
  EXPECT_NE(error(R"({"image_mean": [1, 2]})").find("'image_mean'"), std::string::npos);
  EXPECT_NE(error(R"({"rescale_factor": -1})").find("'rescale_factor'"), std::string::npos);
}

// Every size in smart_resize.json, with the real Qwen2-VL-2B bounds: the same size, or an error
// where the reference raises one.
TEST(Qwen2VlImageProcessorTest, SmartResizeMatchesTransformers) {
  const JsonFile record = JsonFile::Load((kQwen2VlDir / "smart_resize.json").string());
  const auto cases = record.Get<nlohmann::json>("cases");
  ASSERT_GE(cases.size(), 20u);
  int errors = 0;
  for (const auto& c : cases) {
    const int height = c.at("height").get<int>();
    const int width = c.at("width").get<int>();
    SCOPED_TRACE(std::to_string(height) + "x" + std::to_string(width));
    if (c.contains("error")) {
      ++errors;
      const std::string message =
          ErrorOf([&] { SmartResize(height, width, 28, 56 * 56, 28 * 28 * 1280); });
      const bool too_small =
          c.at("error").get<std::string>().find("larger than factor") != std::string::npos;
      EXPECT_NE(message.find(too_small ? "too small" : "aspect ratio"), std::string::npos)
          << message;
      continue;
    }
    const SmartResizedSize size = SmartResize(height, width, 28, 56 * 56, 28 * 28 * 1280);
    EXPECT_EQ(size.height, c.at("resized_height").get<int>());
    EXPECT_EQ(size.width, c.at("resized_width").get<int>());
  }
  EXPECT_GE(errors, 3);
}

TEST(Qwen2VlImageProcessorTest, SmartResizeRoundsHalfToEvenAsPython) {
  // 70 / 28 = 2.5 and 126 / 28 = 4.5: Python's round() gives 2 and 4, not 3 and 5.
  const SmartResizedSize size = SmartResize(70, 126, 28, 1, 1'000'000);
  EXPECT_EQ(size.height, 56);
  EXPECT_EQ(size.width, 112);
}

TEST(Qwen2VlImageProcessorTest, SmartResizeRefusesAZeroSide) {
  // 28 x 5600 fits the aspect limit, but under 784 pixels the short side floors to 0.
  const std::string message = ErrorOf([] { SmartResize(28, 5600, 28, 1, 784); });
  EXPECT_NE(message.find("too extreme"), std::string::npos) << message;
}

// The flattened patches of every recorded case: wide, tall and small (upscaled to min_pixels)
// PNGs, and a photo plus the tall PNG in one prompt (rows of both images, in prompt order).
// Rescale and normalize are numpy's float operations, done the same way here, so the values are
// expected bit for bit (and are, with GCC -O2 on x86-64: max difference 0). 1e-6 is the CLIP
// preprocessor test's tolerance, about 4 float32 ulps of the largest values (about 2.6): room only
// for a compiler contracting the arithmetic, far below any resize or ordering error (>= 1/255/std).
TEST(Qwen2VlImageProcessorTest, PatchesMatchTransformersPixelValues) {
  const testing::Golden golden("qwen2vl");
  const auto config = FixtureConfig();
  const std::vector<std::pair<std::string, std::vector<fs::path>>> cases = {
      {"wide", {kQwen2VlDir / "wide.png"}},
      {"tall", {kQwen2VlDir / "tall.png"}},
      {"small", {kQwen2VlDir / "small.png"}},
      {"pair", {testing::kFixturesDir / "llava/image.png", kQwen2VlDir / "tall.png"}}};
  for (const auto& [name, images] : cases) {
    SCOPED_TRACE(name);
    const std::vector<float> expected = golden.Floats(name + ".pixel_values");
    const std::vector<int32_t> grids = golden.Ids(name + ".image_grid_thw");
    ASSERT_EQ(grids.size(), 3 * images.size());
    std::vector<float> actual;
    for (size_t i = 0; i < images.size(); ++i) {
      const Qwen2VlImagePatches patches = Qwen2VlPatchify(LoadImage(images[i].string()), config);
      EXPECT_EQ(patches.grid.t, grids[3 * i]);
      EXPECT_EQ(patches.grid.h, grids[3 * i + 1]);
      EXPECT_EQ(patches.grid.w, grids[3 * i + 2]);
      EXPECT_EQ(patches.patches.shape(), (Shape{patches.grid.h * patches.grid.w, 3 * 2 * 14 * 14}));
      actual.insert(actual.end(), patches.patches.f32(),
                    patches.patches.f32() + patches.patches.num_elements());
    }
    EXPECT_EQ(golden.ShapeOf(name + ".pixel_values")[1], 3 * 2 * 14 * 14);
    ASSERT_EQ(actual.size(), expected.size());
    EXPECT_LT(testing::MaxAbsDifference(actual.data(), expected.data(), actual.size()), 1e-6);
  }
}

TEST(Qwen2VlImageProcessorTest, BothFramesOfAPatchAreTheImage) {
  Image image{56, 56, std::vector<uint8_t>(56 * 56 * 3)};
  for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = static_cast<uint8_t>(i * 7 % 251);
  Qwen2VlImageProcessorConfig config;
  config.scaling.do_normalize = false;
  config.scaling.do_rescale = false;
  const Qwen2VlImagePatches patches = Qwen2VlPatchify(image, config);  // 56x56 needs no resize
  ASSERT_EQ(patches.patches.shape(), (Shape{16, 3 * 2 * 14 * 14}));
  // Row 3 is the second row, second column of patches (merge order); element (c, frame, y, x).
  const float* row = patches.patches.f32() + 3 * 3 * 2 * 14 * 14;
  for (int c = 0; c < 3; ++c) {
    for (int frame = 0; frame < 2; ++frame) {
      const int y = 5, x = 9;
      const float value = row[((c * 2 + frame) * 14 + y) * 14 + x];
      EXPECT_EQ(value, image.rgb[((14 + y) * 56 + 14 + x) * 3 + c]);
    }
  }
}

TEST(Qwen2VlImageProcessorTest, RejectsImagesSmallerThanAMergedPatch) {
  const Image image{20, 100, std::vector<uint8_t>(20 * 100 * 3)};
  const std::string message = ErrorOf([&] { Qwen2VlPatchify(image, FixtureConfig()); });
  EXPECT_NE(message.find("20x100 is too small"), std::string::npos) << message;
}

TEST(Qwen2VlImageProcessorTest, WithoutResizeTheSidesMustBeMultiplesOf28) {
  const Image image{30, 56, std::vector<uint8_t>(30 * 56 * 3)};
  Qwen2VlImageProcessorConfig config;
  config.do_resize = false;
  const std::string message = ErrorOf([&] { Qwen2VlPatchify(image, config); });
  EXPECT_NE(message.find("not a multiple of 28"), std::string::npos) << message;
}

}  // namespace
}  // namespace lightvlm
