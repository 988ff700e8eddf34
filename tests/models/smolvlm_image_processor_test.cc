#include "models/smolvlm_image_processor.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "io/image.h"
#include "io/json_file.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;
using testing::ErrorOf;

// tests/fixtures/smolvlm, written by tools/make_smolvlm_fixture.py from transformers 5.25's
// SmolVLMImageProcessorPil: longest edge 144, sub-images of 48, LANCZOS, mean and std 0.5.
const fs::path kSmolVLMDir = testing::kFixturesDir / "smolvlm";

JsonFile GoldenJson() { return JsonFile::Load((kSmolVLMDir / "golden.json").string()); }

SmolVLMImageProcessorConfig FixtureConfig() {
  return LoadSmolVLMImageProcessorConfig((kSmolVLMDir / "model").string());
}

fs::path ImagePath(const std::string& name) {
  return name.ends_with(".jpg") ? fs::path(LIGHTVLM_SHARED_DIR) / "images" / name
                                : kSmolVLMDir / "images" / name;
}

std::string Stem(const std::string& name) { return name.substr(0, name.find('.')); }

TEST(SmolVLMImageProcessorTest, ReadsTheFixturesConfig) {
  const SmolVLMImageProcessorConfig config = FixtureConfig();
  EXPECT_EQ(config.longest_edge, 144);
  EXPECT_EQ(config.sub_image, 48);
  EXPECT_TRUE(config.do_image_splitting);
  EXPECT_EQ(config.resample, ResampleFilter::kLanczos);
  EXPECT_FLOAT_EQ(config.scaling.image_std[2], 0.5f);
}

// The PNG's and the JPEG photograph's sub-images and global image, value for value.
TEST(SmolVLMImageProcessorTest, PixelValuesEqualTheProcessors) {
  const testing::Golden golden("smolvlm");
  const SmolVLMImageProcessorConfig config = FixtureConfig();
  for (const std::string name : {"wide.png", "mmbench_21.jpg"}) {
    const SmolVLMPixelValues pixels =
        SmolVLMPreprocess(LoadImage(ImagePath(name).string()), config);
    const std::vector<float> expected = golden.Floats("pixel_values." + Stem(name));
    const int64_t per_image = 3 * 48 * 48;
    ASSERT_EQ(static_cast<int64_t>(pixels.sub_images.size()) * per_image,
              static_cast<int64_t>(expected.size()))
        << name;
    for (size_t i = 0; i < pixels.sub_images.size(); ++i) {
      ASSERT_EQ(pixels.sub_images[i].shape(), (Shape{3, 48, 48})) << name;
      EXPECT_EQ(testing::MaxAbsDifference(pixels.sub_images[i].f32(),
                                          expected.data() + i * per_image, per_image),
                0.0)
          << name << " sub-image " << i;
    }
  }
}

TEST(SmolVLMImageProcessorTest, EverySubImageSumsAsTheProcessors) {
  const testing::Golden golden("smolvlm");
  const SmolVLMImageProcessorConfig config = FixtureConfig();
  for (const std::string name : {"wide.png", "tall.png", "square.png", "mmbench_21.jpg"}) {
    const SmolVLMPixelValues pixels =
        SmolVLMPreprocess(LoadImage(ImagePath(name).string()), config);
    const std::vector<float> sums = golden.Floats("pixel_sums." + Stem(name));
    ASSERT_EQ(pixels.sub_images.size() * 3, sums.size()) << name;
    for (size_t i = 0; i < pixels.sub_images.size(); ++i) {
      for (int64_t channel = 0; channel < 3; ++channel) {
        double sum = 0;
        const float* plane = pixels.sub_images[i].f32() + channel * 48 * 48;
        for (int64_t j = 0; j < 48 * 48; ++j) sum += plane[j];
        EXPECT_NEAR(sum, sums[i * 3 + channel], 1e-3) << name << " " << i << " " << channel;
      }
    }
  }
}

TEST(SmolVLMImageProcessorTest, GridsMatchTheProcessorForEverySizeAndSetting) {
  const JsonFile record = GoldenJson();
  const nlohmann::json& grids = record.root()["grids"];
  ASSERT_EQ(grids.size(), 3u);
  for (const auto& [setting, cases] : grids.items()) {
    SmolVLMImageProcessorConfig config = FixtureConfig();
    if (setting == "smolvlm_2048_512") config.longest_edge = 2048, config.sub_image = 512;
    if (setting == "idefics3_1456_364") config.longest_edge = 1456, config.sub_image = 364;
    ASSERT_FALSE(cases.empty());
    for (const nlohmann::json& c : cases) {
      const SubImageGrid grid =
          SmolVLMSubImageGrid(c["width"].get<int>(), c["height"].get<int>(), config);
      EXPECT_EQ(grid.rows, c["rows"].get<int>()) << setting << " " << c.dump();
      EXPECT_EQ(grid.columns, c["cols"].get<int>()) << setting << " " << c.dump();
      EXPECT_EQ(grid.count(), c["sub_images"].get<int>()) << setting << " " << c.dump();
    }
  }
  // The images preprocessed: the grid the pixels were cut into is the predicted one.
  for (const auto& [name, image] : record.root()["images"].items()) {
    const SmolVLMPixelValues pixels =
        SmolVLMPreprocess(LoadImage(ImagePath(name).string()), FixtureConfig());
    EXPECT_EQ(pixels.grid.rows, image["rows"].get<int>()) << name;
    EXPECT_EQ(pixels.grid.columns, image["cols"].get<int>()) << name;
    EXPECT_EQ(static_cast<int>(pixels.sub_images.size()), image["sub_images"].get<int>()) << name;
  }
}

TEST(SmolVLMImageProcessorTest, WithoutSplittingTheImageIsOneSubImage) {
  SmolVLMImageProcessorConfig config = FixtureConfig();
  config.do_image_splitting = false;
  const SmolVLMPixelValues pixels =
      SmolVLMPreprocess(LoadImage(ImagePath("wide.png").string()), config);
  ASSERT_EQ(pixels.sub_images.size(), 1u);
  EXPECT_EQ(pixels.sub_images[0].shape(), (Shape{3, 48, 48}));
  EXPECT_EQ(SmolVLMSubImageGrid(90, 30, config).count(), 1);
}

TEST(SmolVLMImageProcessorTest, BadFieldsAreNamed) {
  auto read = [](const std::string& json) {
    return ErrorOf([&] { ReadSmolVLMImageProcessorConfig(JsonFile::Parse(json, "p.json")); });
  };
  EXPECT_NE(read(R"({"size": {"height": 10, "width": 10}})").find("field 'size'"),
            std::string::npos);
  EXPECT_NE(read(R"({"max_image_size": {"longest_edge": 0}})")
                .find("max_image_size.longest_edge' must be between 1 and 4096"),
            std::string::npos);
  EXPECT_NE(read(R"({"size": {"longest_edge": 100000}})").find("p.json"), std::string::npos);
  EXPECT_NE(read(R"({"image_std": [0.5, 0, 0.5]})").find("image_std"), std::string::npos);
  EXPECT_NE(read(R"({"resample": 9})").find("resample"), std::string::npos);
  EXPECT_EQ(read("{}"), "(no error)");
}

}  // namespace
}  // namespace lightvlm
