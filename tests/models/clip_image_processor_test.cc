#include "models/clip_image_processor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "base/error.h"
#include "io/image.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;
using testing::ErrorOf;

// Written by tools/make_image_fixtures.py: inputs are PNGs, so that the decoder is exact (JPEG
// decoders differ between stb_image and libjpeg by a few units), and the expected pixel_values
// come from transformers 4.46's CLIPImageProcessor reading the same config files.
const fs::path kFixturesDir = fs::path(LIGHTVLM_SOURCE_DIR) / "tests/fixtures";
const fs::path kClipDir = kFixturesDir / "images/clip";
const fs::path kLlavaDir = kFixturesDir / "llava";

std::vector<float> ValuesOf(const StoredTensor& tensor) {
  EXPECT_EQ(tensor.dtype_name, "F32");
  std::vector<float> values(tensor.num_bytes / sizeof(float));
  std::memcpy(values.data(), tensor.data, tensor.num_bytes);  // may be misaligned in the file
  return values;
}

float MaxAbsDifference(const Tensor& actual, const std::vector<float>& expected) {
  EXPECT_EQ(static_cast<size_t>(actual.num_elements()), expected.size());
  float max_difference = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    max_difference = std::max(max_difference, std::fabs(actual.f32()[i] - expected[i]));
  }
  return max_difference;
}

JsonFile ConfigText(const std::string& text) {
  return JsonFile::Parse(text, "preprocessor_config.json");
}

TEST(ClipImageProcessorTest, MatchesTransformersPixelValues) {
  const JsonFile manifest = JsonFile::Load((kClipDir / "cases.json").string());
  const auto expected = SafetensorsFile::Open((kClipDir / "expected.safetensors").string());
  const auto cases = manifest.Get<nlohmann::json>("cases");
  ASSERT_EQ(cases.size(), 7u);
  for (const auto& c : cases) {
    const std::string name = c.at("case").get<std::string>();
    SCOPED_TRACE(name);
    const auto config =
        LoadClipImageProcessorConfig((kClipDir / c.at("config").get<std::string>()).string());
    const Image image = LoadImage((kFixturesDir / c.at("image").get<std::string>()).string());
    const Tensor pixels = ClipPixelValues(image, config);
    const StoredTensor& reference = expected->tensors().at(name);
    ASSERT_EQ(pixels.shape(), reference.shape);
    // The resize is bit-exact and the float32 arithmetic is numpy's: no difference at all.
    EXPECT_LT(MaxAbsDifference(pixels, ValuesOf(reference)), 1e-6f);
  }
}

// tests/fixtures/llava: llava-1.5's processor on a 512x387 photograph, as transformers ran it.
ClipImageProcessorConfig LlavaConfig() {
  return LoadClipImageProcessorConfig((kLlavaDir / "model/preprocessor_config.json").string());
}

std::vector<float> LlavaGoldenPixelValues() {
  const auto golden = SafetensorsFile::Open((kLlavaDir / "golden.safetensors").string());
  return ValuesOf(golden->tensors().at("pixel_values"));  // [1, 3, 336, 336]
}

TEST(ClipImageProcessorTest, MatchesTheLlavaFixture) {
  // 512x387 -> bicubic 444x336 -> crop at x = 54.
  const Tensor pixels =
      ClipPixelValues(LoadImage((kLlavaDir / "image.png").string()), LlavaConfig());
  ASSERT_EQ(pixels.shape(), (Shape{3, 336, 336}));
  EXPECT_LT(MaxAbsDifference(pixels, LlavaGoldenPixelValues()), 1e-6f);
}

TEST(ClipImageProcessorTest, JpegInputIsCloseToTheLlavaFixture) {
  // The fixture's image.png is Pillow's (libjpeg's) decode of this JPEG; stb_image decodes JPEG a
  // few units differently, so only closeness is expected.
  const fs::path jpeg = fs::path(LIGHTVLM_SHARED_DIR) / "images/mmbench_2399.jpg";
  const Tensor pixels = ClipPixelValues(LoadImage(jpeg.string()), LlavaConfig());
  const std::vector<float> expected = LlavaGoldenPixelValues();
  ASSERT_EQ(pixels.shape(), (Shape{3, 336, 336}));
  double total = 0;
  for (size_t i = 0; i < expected.size(); ++i) total += std::fabs(pixels.f32()[i] - expected[i]);
  EXPECT_LT(total / expected.size(), 0.02);  // ~1 unit of 255, divided by std ~0.27
  EXPECT_LT(MaxAbsDifference(pixels, expected), 0.5f);
}

TEST(ClipImageProcessorTest, ReadsLlava15Config) {
  const auto config = LlavaConfig();
  EXPECT_EQ(config.size_shortest_edge, 336);
  EXPECT_EQ(config.resample, ResampleFilter::kBicubic);
  EXPECT_EQ(config.crop_height, 336);
  EXPECT_EQ(config.crop_width, 336);
  EXPECT_EQ(config.scaling.rescale_factor, 1.0 / 255.0);
  EXPECT_EQ(config.scaling.image_mean[0], 0.48145466f);
  EXPECT_EQ(config.scaling.image_std[2], 0.27577711f);
}

TEST(ClipImageProcessorTest, DefaultsAreClipImageProcessors) {
  const auto config = ReadClipImageProcessorConfig(ConfigText("{}"));
  EXPECT_TRUE(config.do_resize && config.do_center_crop && config.scaling.do_rescale &&
              config.scaling.do_normalize && config.do_convert_rgb);
  EXPECT_EQ(config.size_shortest_edge, 224);
  EXPECT_EQ(config.crop_height, 224);
  EXPECT_EQ(config.resample, ResampleFilter::kBicubic);
}

TEST(ClipImageProcessorTest, ResizedSizeFollowsTransformersArithmetic) {
  ClipImageProcessorConfig config;
  config.size_shortest_edge = 336;
  // int(336 * 512 / 387) = int(444.527...) = 444; the shorter side is the height here.
  EXPECT_EQ(ClipResizedSize(config, 512, 387).width, 444);
  EXPECT_EQ(ClipResizedSize(config, 512, 387).height, 336);
  EXPECT_EQ(ClipResizedSize(config, 37, 101).width, 336);
  EXPECT_EQ(ClipResizedSize(config, 37, 101).height, 917);  // int(917.189...)
  EXPECT_EQ(ClipResizedSize(config, 300, 300).width, 336);
  // 336 * 500 / 336 is exactly 500: the image keeps its size and Pillow copies it.
  EXPECT_EQ(ClipResizedSize(config, 500, 336).width, 500);
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "would be resized to more than",
                      ErrorOf([&] { ClipResizedSize(config, 1, 1'000'000); }));
  config.size_shortest_edge = 0;
  config.size_height = 30;
  config.size_width = 45;
  EXPECT_EQ(ClipResizedSize(config, 7, 900).width, 45);
  EXPECT_EQ(ClipResizedSize(config, 7, 900).height, 30);
}

TEST(ClipImageProcessorTest, CenterCropOffsetsAndPadding) {
  // A 3 wide, 2 tall image whose bytes are 1, 2, ..., 18 in memory order.
  Image image{3, 2, {}};
  for (int i = 0; i < 18; ++i) image.rgb.push_back(static_cast<uint8_t>(i + 1));
  // 2x1 crop of width 3: left = floor(1 / 2) = 0, top = floor(1 / 2) = 0.
  EXPECT_EQ(CenterCropImage(image, 1, 2).rgb, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
  // 5 wide: left = floor(-2 / 2) = -1; 5 tall: top = floor(-3 / 2) = -2 (two zero rows above,
  // one below), as transformers pads with ceil((5 - 2) / 2) = 2 rows on top.
  const Image padded = CenterCropImage(image, 5, 5);
  ASSERT_EQ(padded.rgb.size(), 75u);
  std::vector<uint8_t> expected(75, 0);
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) {
      for (int c = 0; c < 3; ++c)
        expected[3 * ((y + 2) * 5 + x + 1) + c] = image.rgb[3 * (y * 3 + x) + c];
    }
  }
  EXPECT_EQ(padded.rgb, expected);
}

TEST(ClipImageProcessorTest, ReadsOldAndAlternativeFieldForms) {
  const auto config = ReadClipImageProcessorConfig(ConfigText(
      R"({"size": [30, 45], "crop_size": 16, "image_mean": 0.5, "image_std": [1, 2, 4],
          "resample": 1})"));
  EXPECT_EQ(config.size_shortest_edge, 0);
  EXPECT_EQ(config.size_height, 30);
  EXPECT_EQ(config.size_width, 45);
  EXPECT_EQ(config.crop_height, 16);
  EXPECT_EQ(config.crop_width, 16);
  EXPECT_EQ(config.scaling.image_mean[2], 0.5f);
  EXPECT_EQ(config.scaling.image_std[2], 4.0f);
  EXPECT_EQ(config.resample, ResampleFilter::kLanczos);
  const auto with_longest = ReadClipImageProcessorConfig(
      ConfigText(R"({"size": {"shortest_edge": 384, "longest_edge": 600}})"));
  EXPECT_EQ(with_longest.size_shortest_edge, 384);  // longest_edge ignored, as CLIP does
}

TEST(ClipImageProcessorTest, ErrorsNameTheFileAndField) {
  const auto error_of = [](const std::string& text) {
    return ErrorOf([&] { ReadClipImageProcessorConfig(ConfigText(text)); });
  };
  EXPECT_EQ(error_of(R"({"resample": 7})"),
            "preprocessor_config.json: field 'resample' = 7 is not a supported PIL filter (0 "
            "nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)");
  EXPECT_EQ(error_of(R"({"size": {"shortest_edge": 0}})"),
            "preprocessor_config.json: field 'size.shortest_edge' must be positive, got 0");
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "preprocessor_config.json: field 'size' should be",
                      error_of(R"({"size": {"width": 3}})"));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring,
                      "preprocessor_config.json: field 'crop_size' should be",
                      error_of(R"({"crop_size": {"shortest_edge": 3}})"));
  EXPECT_EQ(error_of(R"({"image_mean": [0.5, 0.5]})"),
            "preprocessor_config.json: field 'image_mean' should have 3 values (R, G, B), got 2");
  EXPECT_EQ(error_of(R"({"image_std": [0.5, 0, 0.5]})"),
            "preprocessor_config.json: field 'image_std' has a zero entry");
  EXPECT_EQ(error_of(R"({"rescale_factor": -1})"),
            "preprocessor_config.json: field 'rescale_factor' must be positive, got -1");
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "preprocessor_config.json: field 'do_resize'",
                      error_of(R"({"do_resize": "yes"})"));
}

// The {height, width} and [height, width] forms had no cap: 15000x15000 allocated 689 MB per
// image. Every fixed size is now checked when the file is read, as the shortest-edge form is.
TEST(ClipImageProcessorTest, FixedSizesAreCappedWhenRead) {
  const auto error_of = [](const std::string& text) {
    return ErrorOf([&] { ReadClipImageProcessorConfig(ConfigText(text)); });
  };
  const std::string too_many = "15000x15000 images, more than 50000000 pixels";
  EXPECT_EQ(error_of(R"({"size": {"height": 15000, "width": 15000}})"),
            "preprocessor_config.json: field 'size' asks for " + too_many);
  EXPECT_EQ(error_of(R"({"size": [15000, 15000]})"),
            "preprocessor_config.json: field 'size' asks for " + too_many);
  EXPECT_EQ(error_of(R"({"crop_size": {"height": 15000, "width": 15000}})"),
            "preprocessor_config.json: field 'crop_size' asks for " + too_many);
  EXPECT_EQ(ReadClipImageProcessorConfig(ConfigText(R"({"size": {"height": 5000, "width": 5000}})"))
                .size_height,
            5000);
}

}  // namespace
}  // namespace lightvlm
