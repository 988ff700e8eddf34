#include "io/image_resize.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "io/safetensors.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;

// Written by tools/make_image_fixtures.py with Pillow: the inputs and Image.resize's outputs.
const fs::path kCasesFile =
    fs::path(LIGHTVLM_SOURCE_DIR) / "tests/fixtures/images/resize/cases.safetensors";

Image ImageOf(const StoredTensor& tensor) {
  EXPECT_EQ(tensor.dtype_name, "U8");
  EXPECT_EQ(tensor.shape.size(), 3u);
  const auto* data = reinterpret_cast<const uint8_t*>(tensor.data);
  return Image{static_cast<int>(tensor.shape[1]), static_cast<int>(tensor.shape[0]),
               std::vector<uint8_t>(data, data + tensor.num_bytes)};
}

// One Pillow output: "<input>/<filter id>/<width>x<height>".
struct ResizeCase {
  std::string input;
  ResampleFilter filter;
  int width;
  int height;
};

ResizeCase ParseCaseName(const std::string& name) {
  const size_t slash = name.find('/');
  const size_t second_slash = name.find('/', slash + 1);
  const size_t x = name.find('x', second_slash);
  return {name.substr(0, slash),
          *ResampleFilterFromPil(std::stoi(name.substr(slash + 1, second_slash - slash - 1))),
          std::stoi(name.substr(second_slash + 1, x - second_slash - 1)),
          std::stoi(name.substr(x + 1))};
}

TEST(ImageResizeTest, EqualsPillowByteForByte) {
  const auto file = SafetensorsFile::Open(kCasesFile.string());
  std::map<std::string, Image> inputs;
  std::map<ResampleFilter, int> cases_per_filter;
  for (const auto& [name, tensor] : file->tensors()) {
    if (name.starts_with("input/")) inputs[name.substr(6)] = ImageOf(tensor);
  }
  ASSERT_EQ(inputs.size(), 2u);
  for (const auto& [name, tensor] : file->tensors()) {
    if (name.starts_with("input/")) continue;
    SCOPED_TRACE(name);
    const ResizeCase c = ParseCaseName(name);
    const Image expected = ImageOf(tensor);
    ASSERT_EQ(expected.width, c.width);
    ASSERT_EQ(expected.height, c.height);
    const Image resized = ResizeImage(inputs.at(c.input), c.width, c.height, c.filter);
    EXPECT_EQ(resized.width, c.width);
    EXPECT_EQ(resized.height, c.height);
    EXPECT_TRUE(resized.rgb == expected.rgb);
    ++cases_per_filter[c.filter];
  }
  // Every filter: 6 sizes of the photo (down, up, one axis each way, mixed, 1 pixel wide) and 4
  // of the noise image.
  ASSERT_EQ(cases_per_filter.size(), 6u);
  for (const auto& [filter, count] : cases_per_filter)
    EXPECT_EQ(count, 10) << ResampleFilterName(filter);
}

// An image whose two pass orders round differently (noise in both directions).
Image NoisyImage(int width, int height) {
  Image image{width, height, std::vector<uint8_t>(size_t{3} * width * height)};
  uint32_t state = 12345;
  for (uint8_t& value : image.rgb) {
    state = state * 1664525u + 1013904223u;
    value = static_cast<uint8_t>(state >> 24);
  }
  return image;
}

TEST(ImageResizeTest, PassOrderIsPillow13s) {
  // Pillow 13 runs the vertical pass first when the height shrinks by more than twice as many
  // pixels as the width; tests/fixtures/internvl's tall.png thumbnail (24x80 to 56x56) holds
  // Pillow's bytes for such a case (tests/models/internvl_image_processor_test.cc).
  const auto bicubic = ResampleFilter::kBicubic;
  const auto vertical_first = [&](const Image& image, int width, int height) {
    return ResizeImage(ResizeImage(image, image.width, height, bicubic), width, height, bicubic)
        .rgb;
  };
  const auto horizontal_first = [&](const Image& image, int width, int height) {
    return ResizeImage(ResizeImage(image, width, image.height, bicubic), width, height, bicubic)
        .rgb;
  };
  const Image tall = NoisyImage(24, 80);
  ASSERT_NE(vertical_first(tall, 56, 56), horizontal_first(tall, 56, 56));
  EXPECT_EQ(ResizeImage(tall, 56, 56, bicubic).rgb, vertical_first(tall, 56, 56));
  const Image wide = NoisyImage(90, 30);  // the width shrinks: horizontal first
  ASSERT_NE(vertical_first(wide, 56, 56), horizontal_first(wide, 56, 56));
  EXPECT_EQ(ResizeImage(wide, 56, 56, bicubic).rgb, horizontal_first(wide, 56, 56));
  // Height shrinking by exactly twice the width's 20 pixels: still horizontal first.
  const Image both = NoisyImage(100, 90);
  ASSERT_NE(vertical_first(both, 80, 50), horizontal_first(both, 80, 50));
  EXPECT_EQ(ResizeImage(both, 80, 50, bicubic).rgb, horizontal_first(both, 80, 50));
  EXPECT_EQ(ResizeImage(both, 80, 49, bicubic).rgb, vertical_first(both, 80, 49));
}

TEST(ImageResizeTest, SameSizeIsACopy) {
  const Image image{2, 1, {1, 2, 3, 4, 5, 6}};
  for (int id = 0; id <= 5; ++id) {
    EXPECT_EQ(ResizeImage(image, 2, 1, *ResampleFilterFromPil(id)).rgb, image.rgb);
  }
}

TEST(ImageResizeTest, FilterIdsArePils) {
  EXPECT_EQ(ResampleFilterFromPil(0), ResampleFilter::kNearest);
  EXPECT_EQ(ResampleFilterFromPil(1), ResampleFilter::kLanczos);
  EXPECT_EQ(ResampleFilterFromPil(2), ResampleFilter::kBilinear);
  EXPECT_EQ(ResampleFilterFromPil(3), ResampleFilter::kBicubic);
  EXPECT_EQ(ResampleFilterFromPil(4), ResampleFilter::kBox);
  EXPECT_EQ(ResampleFilterFromPil(5), ResampleFilter::kHamming);
  EXPECT_EQ(ResampleFilterFromPil(6), std::nullopt);  // Pillow 13's MKS2013
  EXPECT_EQ(ResampleFilterFromPil(-1), std::nullopt);
  EXPECT_EQ(ResampleFilterName(ResampleFilter::kBicubic), "bicubic");
}

TEST(ImageResizeTest, RejectsEmptySizesAndMalformedImages) {
  const Image image{2, 1, {1, 2, 3, 4, 5, 6}};
  EXPECT_THROW(ResizeImage(image, 0, 1, ResampleFilter::kBicubic), Error);
  EXPECT_THROW(ResizeImage(image, 1, -3, ResampleFilter::kNearest), Error);
  EXPECT_THROW(ResizeImage(Image{2, 2, {1, 2, 3}}, 1, 1, ResampleFilter::kBilinear), Error);
}

}  // namespace
}  // namespace lightvlm
