#include "models/internvl_image_processor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "base/error.h"
#include "io/image.h"
#include "io/json_file.h"
#include "models/image_processor_file.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;
using testing::ErrorOf;

// tests/fixtures/internvl, written by tools/make_internvl_fixture.py from transformers 5.25's
// InternVLProcessor (GotOcr2ImageProcessorPil): tile 56, 1..6 tiles, ImageNet mean/std.
const fs::path kInternVLDir = testing::kFixturesDir / "internvl";

JsonFile GoldenJson() { return JsonFile::Load((kInternVLDir / "golden.json").string()); }

InternVLImageProcessorConfig FixtureConfig() {
  return LoadInternVLImageProcessorConfig((kInternVLDir / "model").string());
}

fs::path ImagePath(const std::string& name) {
  // The photograph is the shared one (JPEG: libjpeg-turbo decodes it as Pillow does).
  return name.ends_with(".jpg") ? fs::path(LIGHTVLM_SHARED_DIR) / "images" / name
                                : kInternVLDir / "images" / name;
}

std::string Stem(const std::string& name) { return name.substr(0, name.find('.')); }

JsonFile ConfigText(const std::string& text) {
  return JsonFile::Parse(text, "preprocessor_config.json");
}

TEST(InternVLImageProcessorTest, ReadsTheFixturesNestedConfig) {
  const auto config = FixtureConfig();
  EXPECT_EQ(config.tile_height, 56);
  EXPECT_EQ(config.tile_width, 56);
  EXPECT_EQ(config.min_tiles, 1);
  EXPECT_EQ(config.max_tiles, 6);
  EXPECT_EQ(config.resample, ResampleFilter::kBicubic);
  EXPECT_EQ(config.scaling.rescale_factor, 1.0 / 255.0);
  EXPECT_EQ(config.scaling.image_mean[0], 0.485f);
  EXPECT_EQ(config.scaling.image_std[2], 0.225f);
}

TEST(InternVLImageProcessorTest, MatchesTransformersPixelValues) {
  const testing::Golden golden("internvl");
  const auto images = GoldenJson().Get<nlohmann::json>("images");
  ASSERT_EQ(images.size(), 4u);
  const auto config = FixtureConfig();
  for (const auto& [name, expected] : images.items()) {
    SCOPED_TRACE(name);
    const auto result = InternVLPreprocess(LoadImage(ImagePath(name).string()), config);
    EXPECT_EQ(result.grid.columns, expected.at("columns").get<int>());
    EXPECT_EQ(result.grid.rows, expected.at("rows").get<int>());
    ASSERT_EQ(result.tiles.size(), expected.at("tiles").get<size_t>());
    EXPECT_EQ(result.has_thumbnail(), result.tiles.size() > 1);
    const std::string tensor = "pixel_values." + Stem(name);
    ASSERT_EQ(golden.ShapeOf(tensor), (Shape{int64_t(result.tiles.size()), 3, 56, 56}));
    const std::vector<float> reference = golden.Floats(tensor);
    const size_t tile_size = 3 * 56 * 56;
    for (size_t t = 0; t < result.tiles.size(); ++t) {
      ASSERT_EQ(result.tiles[t].shape(), (Shape{3, 56, 56}));
      const double difference =
          testing::MaxAbsDifference(result.tiles[t].f32(), &reference[t * tile_size], tile_size);
      // Pillow-identical resize and numpy's float32 arithmetic: the same bits. (tall.png's
      // thumbnail, 24x80 to 56x56, is the regression test for Pillow 13's pass order.)
      EXPECT_EQ(difference, 0.0) << "tile " << t;
    }
  }
}

TEST(InternVLImageProcessorTest, TileGridsMatchTransformers) {
  const JsonFile golden = GoldenJson();
  struct Case {
    std::string key;
    int tile;
    int max_tiles;
  };
  for (const Case& c : {Case{"tile56_max6", 56, 6}, Case{"tile448_max12", 448, 12}}) {
    InternVLImageProcessorConfig config;
    config.tile_height = config.tile_width = c.tile;
    config.max_tiles = c.max_tiles;
    const auto grids = golden.Get<nlohmann::json>("grids." + c.key);
    ASSERT_GE(grids.size(), 15u);
    for (const auto& expected : grids) {
      const int width = expected.at("width").get<int>();
      const int height = expected.at("height").get<int>();
      SCOPED_TRACE(c.key + " " + std::to_string(width) + "x" + std::to_string(height));
      const TileGrid grid = InternVLTileGrid(width, height, config);
      EXPECT_EQ(grid.columns, expected.at("columns").get<int>());
      EXPECT_EQ(grid.rows, expected.at("rows").get<int>());
    }
  }
}

TEST(InternVLImageProcessorTest, AreaRuleBreaksTies) {
  InternVLImageProcessorConfig config;  // 448 tiles, 1..12
  // A square image: 1x1, 2x2 and 3x3 fit its ratio exactly; a larger grid replaces a smaller
  // one only while the image covers more than half of the grid's pixels.
  EXPECT_EQ(InternVLTileGrid(448, 448, config).columns, 1);
  EXPECT_EQ(InternVLTileGrid(634, 634, config).columns, 2);  // 401956 > 0.5 * 4 * 448^2
  EXPECT_EQ(InternVLTileGrid(633, 633, config).columns, 1);  // 400689 < 401408
  EXPECT_EQ(InternVLTileGrid(951, 951, config).columns, 3);  // > 0.5 * 9 * 448^2 = 903168
  config.min_tiles = 2;  // 1x1 is no candidate: the first exact fit is 2x2
  EXPECT_EQ(InternVLTileGrid(10, 10, config).columns, 2);
}

TEST(InternVLImageProcessorTest, RealTileSizeOnThePhotograph) {
  // InternVL's defaults (448, 1..12) on the 500x336 photograph: recorded as per-tile sums and
  // three rows of each tile (the full tensor would be 7 x 2.4 MB).
  const testing::Golden golden("internvl");
  const JsonFile json = GoldenJson();
  auto config = FixtureConfig();
  config.tile_height = config.tile_width = 448;
  config.max_tiles = 12;
  const std::string photo = json.Get<std::string>("prompt.image");
  const auto result = InternVLPreprocess(LoadImage(ImagePath(photo).string()), config);
  ASSERT_EQ(result.tiles.size(), json.Get<size_t>("photo.real448_grid.tiles"));
  EXPECT_EQ(result.grid.columns, json.Get<int>("photo.real448_grid.columns"));
  EXPECT_EQ(result.grid.rows, json.Get<int>("photo.real448_grid.rows"));
  const std::vector<float> sums = golden.Floats("real448_tile_sums");  // [tiles, 3]
  const std::vector<float> rows = golden.Floats("real448_rows");       // [tiles, 3, 3, 448]
  const int kRows[] = {0, 223, 447};
  for (size_t t = 0; t < result.tiles.size(); ++t) {
    const float* pixels = result.tiles[t].f32();
    for (int c = 0; c < 3; ++c) {
      const float* plane = pixels + static_cast<size_t>(c) * 448 * 448;
      double sum = 0;
      for (int i = 0; i < 448 * 448; ++i) sum += plane[i];
      // The reference summed in float64 too, in another order; stored as float32.
      EXPECT_NEAR(sum, sums[t * 3 + c], 1e-2 + 1e-6 * std::fabs(sum)) << "tile " << t;
      for (int r = 0; r < 3; ++r) {
        EXPECT_EQ(testing::MaxAbsDifference(plane + size_t{448} * kRows[r],
                                            &rows[((t * 3 + c) * 3 + r) * 448], 448),
                  0.0)
            << "tile " << t << " channel " << c << " row " << kRows[r];
      }
    }
  }
}

TEST(InternVLImageProcessorTest, OneTileWithoutTiling) {
  auto config = FixtureConfig();
  config.max_tiles = 1;
  const auto result =
      InternVLPreprocess(LoadImage((kInternVLDir / "images/wide.png").string()), config);
  ASSERT_EQ(result.tiles.size(), 1u);
  EXPECT_FALSE(result.has_thumbnail());
  // The whole image squeezed into one tile is the tiled run's thumbnail.
  const testing::Golden golden("internvl");
  const std::vector<float> reference = golden.Floats("pixel_values.wide");  // [4, 3, 56, 56]
  EXPECT_EQ(
      testing::MaxAbsDifference(result.tiles[0].f32(), &reference[3 * 3 * 56 * 56], 3 * 56 * 56),
      0.0);
}

TEST(InternVLImageProcessorTest, HubStyleNullsAndDefaults) {
  // InternVL3-1B-hf's preprocessor_config.json writes nulls for fields it does not use.
  const auto config = ReadInternVLImageProcessorConfig(ConfigText(
      R"({"crop_size": null, "crop_to_patches": false, "do_center_crop": null,
          "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
          "max_patches": 12, "min_patches": 1, "resample": 3, "size": {"height": 448,
          "width": 448}, "rescale_factor": 0.00392156862745098, "default_to_square": true})"));
  EXPECT_EQ(config.tile_width, 448);
  EXPECT_EQ(config.max_tiles, 12);
  const auto defaults = ReadInternVLImageProcessorConfig(ConfigText("{}"));
  EXPECT_EQ(defaults.tile_height, 448);
  EXPECT_EQ(defaults.max_tiles, 12);
  EXPECT_EQ(defaults.scaling.image_mean[0], 0.48145466f);
  EXPECT_EQ(
      ReadInternVLImageProcessorConfig(ConfigText(R"({"image_std": 0.5})")).scaling.image_std[1],
      0.5f);
}

TEST(InternVLImageProcessorTest, BadFieldsAreNamed) {
  const auto error = [](const std::string& text) {
    return ErrorOf([&] { ReadInternVLImageProcessorConfig(ConfigText(text)); });
  };
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "'min_patches' (5) exceeds 'max_patches' (4)",
                      error(R"({"min_patches": 5, "max_patches": 4})"));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "'max_patches' must be positive",
                      error(R"({"max_patches": 0})"));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "more than 50000000 pixels",
                      error(R"({"max_patches": 1000000})"));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "field 'size' should be",
                      error(R"({"size": {"shortest_edge": 448}})"));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "'size.width' must be positive",
                      error(R"({"size": {"height": 448, "width": -1}})"));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "'resample' = 9", error(R"({"resample": 9})"));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "'image_std' has a zero entry",
                      error(R"({"image_std": [0.2, 0, 0.2]})"));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "'image_mean' should have 3 values",
                      error(R"({"image_mean": [0.2, 0.2]})"));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "preprocessor_config.json",
                      error(R"({"rescale_factor": 0})"));
}

TEST(ImageProcessorFileTest, PrefersTheNestedObjectThenPreprocessorConfig) {
  const fs::path dir = testing::FreshTempDir();
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "no image processor config",
                      ErrorOf([&] { LoadImageProcessorJson(dir.string()); }));
  testing::WriteFile(dir / "preprocessor_config.json", R"({"max_patches": 3})");
  testing::WriteFile(dir / "processor_config.json", R"({"image_seq_length": 256})");
  EXPECT_EQ(LoadInternVLImageProcessorConfig(dir.string()).max_tiles, 3);
  testing::WriteFile(dir / "processor_config.json",
                     R"({"image_processor": {"max_patches": 5}, "image_seq_length": 256})");
  const JsonFile nested = LoadImageProcessorJson(dir.string());
  EXPECT_EQ(nested.Get<int>("max_patches"), 5);
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "field 'image_processor'", nested.path());
  testing::WriteFile(dir / "processor_config.json", R"({"image_processor": 7})");
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "'image_processor' should be an object",
                      ErrorOf([&] { LoadImageProcessorJson(dir.string()); }));
}

}  // namespace
}  // namespace lightvlm
