// InternVL's vision side against transformers' InternVLForConditionalGeneration on the tiny
// recorded checkpoint (tests/fixtures/internvl: the photograph's 7 tiles of 56 pixels): the
// InternViT tower's output, the pixel shuffle of its patch tokens, the projector's image
// features; the same checkpoint in OpenGVLab's layout (tests/fixtures/internvl_original, made by
// tools/make_internvl_original_fixture.py); config fields of both formats; bad input.
#include "models/internvl_vision.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "base/error.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "models/pixel_shuffle.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;
using testing::ErrorOf;

// transformers' float32 CPU run against ours: different summation orders, nothing more.
constexpr double kTolerance = 1e-4;

const fs::path kNativeDir = testing::kFixturesDir / "internvl" / "model";
const fs::path kOriginalDir = testing::kFixturesDir / "internvl_original";

JsonFile LoadConfig(const fs::path& directory) {
  return JsonFile::Load((directory / "config.json").string());
}

InternVLVisionEncoder LoadEncoder(const fs::path& directory, DType dtype = DType::kF32) {
  const Checkpoint checkpoint = Checkpoint::Open(directory.string());
  return InternVLVisionEncoder(ReadInternVLVisionConfig(LoadConfig(directory)), checkpoint,
                               FindInternVLVisionLayout(checkpoint, directory.string()), dtype);
}

// Rows [first, first + count) of a golden tensor whose rows have `shape` (the rest of it).
Tensor GoldenRows(const testing::Golden& golden, const std::string& name, int64_t first,
                  const Shape& shape) {
  const std::vector<float> values = golden.Floats(name);
  Tensor tensor(DType::kF32, shape);
  EXPECT_LE(size_t((first + 1) * tensor.num_elements()), values.size()) << name;
  std::memcpy(tensor.f32(), values.data() + first * tensor.num_elements(), tensor.num_bytes());
  return tensor;
}

InternVLPixelValues PhotoTiles(const testing::Golden& golden) {
  InternVLPixelValues pixels;
  EXPECT_EQ(golden.ShapeOf("pixel_values.mmbench_21"), (Shape{7, 3, 56, 56}));
  for (int64_t t = 0; t < 7; ++t) {
    pixels.tiles.push_back(GoldenRows(golden, "pixel_values.mmbench_21", t, {3, 56, 56}));
  }
  pixels.grid = {3, 2};
  return pixels;
}

double MaxDifference(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  return testing::MaxAbsDifference(a.f32(), b.f32(), a.num_elements());
}

double MaxDifference(const Tensor& actual, const std::vector<float>& expected) {
  EXPECT_EQ(size_t(actual.num_elements()), expected.size());
  return testing::MaxAbsDifference(actual.f32(), expected.data(), expected.size());
}

class InternVLVisionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    golden_ = new testing::Golden("internvl");
    encoder_ = new InternVLVisionEncoder(LoadEncoder(kNativeDir));
  }
  static void TearDownTestSuite() {
    delete encoder_;
    delete golden_;
  }

  static testing::Golden* golden_;
  static InternVLVisionEncoder* encoder_;
  ThreadPool pool_{2};
};
testing::Golden* InternVLVisionTest::golden_ = nullptr;
InternVLVisionEncoder* InternVLVisionTest::encoder_ = nullptr;

TEST_F(InternVLVisionTest, ReadsTheTransformersConfig) {
  const InternVLVisionConfig c = ReadInternVLVisionConfig(LoadConfig(kNativeDir));
  EXPECT_EQ(c.format, InternVLConfigFormat::kTransformers);
  EXPECT_EQ(c.vision.encoder.hidden_size, 32);
  EXPECT_EQ(c.vision.encoder.intermediate_size, 64);
  EXPECT_EQ(c.vision.encoder.num_heads, 2);
  EXPECT_EQ(c.vision.encoder.norm_type, VitNormType::kLayerNorm);
  EXPECT_EQ(c.vision.encoder.norm_eps, 1e-6);
  EXPECT_TRUE(c.vision.encoder.attention_bias);
  EXPECT_FALSE(c.vision.encoder.qk_norm);
  EXPECT_TRUE(c.vision.encoder.layer_scale);
  EXPECT_EQ(c.vision.num_layers, 2);
  EXPECT_EQ(c.vision.layers_used, 2);       // vision_feature_layer -1
  EXPECT_EQ(c.vision.image_size, 56);       // written as [56, 56]
  EXPECT_EQ(c.vision.patch_size, 14);       // written as [14, 14]
  EXPECT_FALSE(c.vision.final_layer_norm);  // use_mean_pooling true
  EXPECT_EQ(c.tile_size, 56);
  EXPECT_EQ(c.tokens_per_tile(), 4);
  EXPECT_EQ(c.projector_act, "gelu");
  EXPECT_EQ(c.text_hidden_size, 64);
}

TEST_F(InternVLVisionTest, ReadsTheOpenGVLabConfigAsTheSameModel) {
  const InternVLVisionConfig native = ReadInternVLVisionConfig(LoadConfig(kNativeDir));
  const InternVLVisionConfig c = ReadInternVLVisionConfig(LoadConfig(kOriginalDir));
  EXPECT_EQ(c.format, InternVLConfigFormat::kOpenGVLab);
  EXPECT_EQ(c.vision.encoder.hidden_size, native.vision.encoder.hidden_size);
  EXPECT_EQ(c.vision.encoder.intermediate_size, native.vision.encoder.intermediate_size);
  EXPECT_EQ(c.vision.encoder.num_heads, native.vision.encoder.num_heads);
  EXPECT_EQ(c.vision.encoder.norm_type, VitNormType::kLayerNorm);
  EXPECT_EQ(c.vision.encoder.norm_eps, 1e-6);
  EXPECT_TRUE(c.vision.encoder.attention_bias);  // qkv_bias
  EXPECT_FALSE(c.vision.encoder.qk_norm);        // qk_normalization
  EXPECT_EQ(c.vision.num_layers, 2);
  EXPECT_EQ(c.vision.layers_used, 2);  // select_layer -1
  EXPECT_EQ(c.vision.image_size, 56);
  EXPECT_EQ(c.tile_size, 56);  // force_image_size
  EXPECT_EQ(c.tokens_per_tile(), 4);
  EXPECT_EQ(c.projector_act, "gelu");
  EXPECT_EQ(c.text_hidden_size, 64);  // llm_config.hidden_size
}

TEST_F(InternVLVisionTest, FindsEachLayoutByItsNames) {
  EXPECT_EQ(FindInternVLVisionLayout(Checkpoint::Open(kNativeDir.string()), "native").name,
            "transformers (vision_tower.*, multi_modal_projector.*)");
  EXPECT_EQ(FindInternVLVisionLayout(Checkpoint::Open(kOriginalDir.string()), "original").name,
            "OpenGVLab InternVLChatModel (vision_model.*, mlp1.*)");
}

TEST_F(InternVLVisionTest, TowerMatchesTransformers) {
  const InternVLPixelValues pixels = PhotoTiles(*golden_);
  ASSERT_EQ(golden_->ShapeOf("vision_last_hidden_state"), (Shape{7, 17, 32}));
  for (int64_t t = 0; t < 7; ++t) {
    const Tensor hidden = encoder_->tower().Forward(pool_, pixels.tiles[t]);
    ASSERT_EQ(hidden.shape(), (Shape{17, 32}));
    EXPECT_LT(MaxDifference(hidden, GoldenRows(*golden_, "vision_last_hidden_state", t, {17, 32})),
              kTolerance)
        << "tile " << t;
  }
}

TEST_F(InternVLVisionTest, PixelShuffleOfTheTowerMatchesTransformers) {
  const InternVLPixelValues pixels = PhotoTiles(*golden_);
  Tensor patches(DType::kF32, {7, 16, 32});
  for (int64_t t = 0; t < 7; ++t) {
    const Tensor hidden = encoder_->tower().Forward(pool_, pixels.tiles[t]);
    std::memcpy(patches.f32() + t * 16 * 32, hidden.f32() + 32, 16 * 32 * sizeof(float));
  }
  EXPECT_LT(MaxDifference(PixelShuffle(patches, 2), golden_->Floats("pixel_shuffle_output")),
            kTolerance);
}

TEST_F(InternVLVisionTest, ImageFeaturesMatchTransformers) {
  const Tensor features = encoder_->Encode(pool_, PhotoTiles(*golden_));
  ASSERT_EQ(golden_->ShapeOf("image_features"), (Shape{7, 4, 64}));
  ASSERT_EQ(features.shape(), (Shape{7 * 4, 64}));
  EXPECT_LT(MaxDifference(features, golden_->Floats("image_features")), kTolerance);
}

// The OpenGVLab checkpoint holds the same numbers, q/k/v fused: loading it right gives exactly
// the transformers layout's features, in every weight dtype.
TEST_F(InternVLVisionTest, OpenGVLabLayoutGivesTheSameFeatures) {
  const InternVLPixelValues pixels = PhotoTiles(*golden_);
  const Tensor native = encoder_->Encode(pool_, pixels);
  const Tensor original = LoadEncoder(kOriginalDir).Encode(pool_, pixels);
  EXPECT_EQ(MaxDifference(original, native), 0.0);
  EXPECT_LT(MaxDifference(original, golden_->Floats("image_features")), kTolerance);
  for (DType dtype : {DType::kBF16, DType::kI8}) {
    const Tensor native_rounded = LoadEncoder(kNativeDir, dtype).Encode(pool_, pixels);
    const Tensor original_rounded = LoadEncoder(kOriginalDir, dtype).Encode(pool_, pixels);
    EXPECT_EQ(MaxDifference(original_rounded, native_rounded), 0.0) << DTypeName(dtype);
    // Rounded weights move the features, but not far.
    const double moved = MaxDifference(native_rounded, native);
    EXPECT_GT(moved, 0.0) << DTypeName(dtype);
    EXPECT_LT(moved, 0.1) << DTypeName(dtype);
  }
}

// A checkpoint as transformers 4.52 to 4.57 save it: every name under "model.".
class PrefixedSource : public TensorSource {
 public:
  PrefixedSource(const TensorSource& inner, std::string prefix)
      : inner_(inner), prefix_(std::move(prefix)) {}
  bool Contains(const std::string& name) const override {
    return name.starts_with(prefix_) && inner_.Contains(name.substr(prefix_.size()));
  }
  Tensor Load(const std::string& name, const Shape& shape, DType dtype) const override {
    Check(name.starts_with(prefix_), "no tensor '", name, "'");
    return inner_.Load(name.substr(prefix_.size()), shape, dtype);
  }

 private:
  const TensorSource& inner_;
  std::string prefix_;
};

TEST_F(InternVLVisionTest, LoadsTheModelPrefixedLayout) {
  const Checkpoint checkpoint = Checkpoint::Open(kNativeDir.string());
  const PrefixedSource prefixed(checkpoint, "model.");
  const InternVLVisionLayout& layout = FindInternVLVisionLayout(prefixed, "prefixed");
  EXPECT_EQ(layout.vision.class_embedding, "model.vision_tower.embeddings.cls_token");
  const InternVLVisionEncoder encoder(ReadInternVLVisionConfig(LoadConfig(kNativeDir)), prefixed,
                                      layout);
  const InternVLPixelValues pixels = PhotoTiles(*golden_);
  EXPECT_EQ(MaxDifference(encoder.Encode(pool_, pixels), encoder_->Encode(pool_, pixels)), 0.0);
}

TEST_F(InternVLVisionTest, LoadsOnlyTheSelectedLayers) {
  auto config = nlohmann::json::parse(testing::ReadFile(kNativeDir / "config.json"));
  config["vision_feature_layer"] = -2;  // hidden_states[-2]: after layer 1 of 2
  const InternVLVisionConfig c = ReadInternVLVisionConfig(JsonFile::Parse(config.dump(), "c"));
  EXPECT_EQ(c.vision.layers_used, 1);
  const Checkpoint checkpoint = Checkpoint::Open(kNativeDir.string());
  const InternVLVisionEncoder one_layer(c, checkpoint, FindInternVLVisionLayout(checkpoint, "c"));
  const Tensor hidden = one_layer.tower().Forward(pool_, PhotoTiles(*golden_).tiles[0]);
  // Not the last layer's output (tests/models/internvit_variants_test.cc checks it against
  // transformers' hidden_states[1]).
  EXPECT_GT(MaxDifference(hidden, GoldenRows(*golden_, "vision_last_hidden_state", 0, {17, 32})),
            1e-2);
}

// ---- bad input ----

// The fixture's tensors into a fresh checkpoint, with `edit` applied to the list first.
fs::path EditedCheckpoint(const fs::path& from,
                          const std::function<void(std::vector<testing::TensorToWrite>&)>& edit) {
  const auto file = SafetensorsFile::Open((from / "model.safetensors").string());
  std::vector<testing::TensorToWrite> tensors;
  for (const auto& [name, stored] : file->tensors()) {
    tensors.push_back({name, stored.dtype_name, stored.shape,
                       std::string(reinterpret_cast<const char*>(stored.data), stored.num_bytes)});
  }
  edit(tensors);
  const fs::path dir = testing::FreshTempDir("checkpoint");
  testing::WriteFile(dir / "model.safetensors", testing::SafetensorsBytes(tensors));
  fs::copy_file(from / "config.json", dir / "config.json");
  return dir;
}

void Remove(std::vector<testing::TensorToWrite>& tensors, const std::string& name) {
  std::erase_if(tensors, [&](const auto& tensor) { return tensor.name == name; });
}

void Reshape(std::vector<testing::TensorToWrite>& tensors, const std::string& name,
             const Shape& shape) {
  for (auto& tensor : tensors) {
    if (tensor.name != name) continue;
    tensor.shape = shape;
    tensor.bytes.resize(NumElements(shape) * sizeof(float));
  }
}

TEST(InternVLVisionBadInputTest, MissingTensorIsNamed) {
  const fs::path dir = EditedCheckpoint(
      kNativeDir, [](auto& tensors) { Remove(tensors, "vision_tower.encoder.layer.1.lambda_2"); });
  EXPECT_PRED_FORMAT2(::testing::IsSubstring,
                      "tensor 'vision_tower.encoder.layer.1.lambda_2' not found",
                      ErrorOf([&] { LoadEncoder(dir); }));
  const fs::path original =
      EditedCheckpoint(kOriginalDir, [](auto& tensors) { Remove(tensors, "mlp1.3.bias"); });
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "tensor 'mlp1.3.bias' not found",
                      ErrorOf([&] { LoadEncoder(original); }));
}

TEST(InternVLVisionBadInputTest, WrongShapeIsNamed) {
  const fs::path dir = EditedCheckpoint(kNativeDir, [](auto& tensors) {
    Reshape(tensors, "vision_tower.encoder.layer.0.attention.k_proj.weight", {32, 16});
  });
  EXPECT_PRED_FORMAT2(::testing::IsSubstring,
                      "tensor 'vision_tower.encoder.layer.0.attention.k_proj.weight' has shape "
                      "[32, 16], expected [32, 32]",
                      ErrorOf([&] { LoadEncoder(dir); }));
  const fs::path original = EditedCheckpoint(kOriginalDir, [](auto& tensors) {
    Reshape(tensors, "vision_model.encoder.layers.1.attn.qkv.weight", {64, 32});
  });
  EXPECT_PRED_FORMAT2(::testing::IsSubstring,
                      "tensor 'vision_model.encoder.layers.1.attn.qkv.weight' has shape [64, 32], "
                      "expected [96, 32]",
                      ErrorOf([&] { LoadEncoder(original); }));
  const fs::path positions = EditedCheckpoint(kNativeDir, [](auto& tensors) {
    Reshape(tensors, "vision_tower.embeddings.position_embeddings", {1, 10, 32});
  });
  EXPECT_PRED_FORMAT2(::testing::IsSubstring,
                      "tensor 'vision_tower.embeddings.position_embeddings' has shape [1, 10, 32], "
                      "expected [1, 17, 32]",
                      ErrorOf([&] { LoadEncoder(positions); }));
}

TEST(InternVLVisionBadInputTest, CheckpointWithoutAVisionTowerListsTheLayouts) {
  const fs::path llava = testing::kFixturesDir / "llava" / "model";
  const std::string error =
      ErrorOf([&] { FindInternVLVisionLayout(Checkpoint::Open(llava.string()), llava.string()); });
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "no InternVL vision tower found", error);
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "vision_model.embeddings.class_embedding", error);
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "model.vision_tower.embeddings.cls_token", error);
}

// The error of reading the fixture's config with `field` set to `value` (a JSON text), `where`
// naming a config: "native" or "original".
std::string ConfigError(const std::string& where, const std::string& field,
                        const std::string& value) {
  auto config = nlohmann::json::parse(
      testing::ReadFile((where == "native" ? kNativeDir : kOriginalDir) / "config.json"));
  nlohmann::json* node = &config;
  std::string rest = field;
  for (size_t dot; (dot = rest.find('.')) != std::string::npos; rest = rest.substr(dot + 1)) {
    node = &(*node)[rest.substr(0, dot)];
  }
  if (value.empty()) {
    node->erase(rest);
  } else {
    (*node)[rest] = nlohmann::json::parse(value);
  }
  return ErrorOf([&] { ReadInternVLVisionConfig(JsonFile::Parse(config.dump(), "config.json")); });
}

TEST(InternVLVisionBadInputTest, UnsupportedConfigsAreRefusedNamingTheField) {
  auto expect = [](const std::string& where, const std::string& field, const std::string& value,
                   const std::string& message) {
    EXPECT_PRED_FORMAT2(::testing::IsSubstring, message, ConfigError(where, field, value))
        << where << " " << field << " = " << value;
  };
  expect("original", "ps_version", "", "config.json: ps_version 'v1' is not supported");
  expect("original", "ps_version", "\"v1\"", "ps_version 'v1' is not supported");
  expect("native", "downsample_ratio", "0.25", "config.json: downsample_ratio 0.25");
  expect("native", "vision_feature_select_strategy", "\"full\"",
         "vision_feature_select_strategy 'full' is not supported");
  expect("native", "vision_feature_layer", "[-1, -2]",
         "config.json: vision_feature_layer [-1,-2] is not supported");
  expect("native", "vision_feature_layer", "3",
         "config.json: vision_feature_layer (3) is outside the 2 vision layers");
  expect("original", "select_layer", "-4",
         "config.json: select_layer (-4) is outside the 2 vision layers");
  expect("native", "vision_config.norm_type", "\"batch_norm\"",
         "config.json: vision_config.norm_type 'batch_norm' is not supported");
  expect("native", "vision_config.image_size", "[56, 42]",
         "config.json: vision_config.image_size [56,42] is not square");
  expect("native", "vision_config.num_attention_heads", "3",
         "config.json: vision_config.num_attention_heads (3) does not divide hidden_size (32)");
  expect("native", "vision_config.hidden_act", "\"relu6\"",
         "config.json: vision_config.hidden_act 'relu6' is not supported");
  expect("native", "projector_hidden_act", "\"tanh\"",
         "config.json: projector_hidden_act 'tanh' is not supported");
  expect("native", "text_config.hidden_size", "", "text_config.hidden_size");
  expect("original", "force_image_size", "42",
         "config.json: tiles of 42 pixels (force_image_size, else vision_config.image_size) are "
         "not an even number");
  expect("native", "model_type", "\"llava\"", "config.json: model_type 'llava' is not InternVL's");
}

TEST(InternVLVisionBadInputTest, TilesThatCannotBeEncodedAreRefused) {
  const InternVLVisionEncoder encoder = LoadEncoder(kNativeDir);
  ThreadPool pool(1);
  auto encode = [&](std::vector<Shape> shapes) {
    InternVLPixelValues pixels;
    for (const Shape& shape : shapes) pixels.tiles.emplace_back(DType::kF32, shape);
    return ErrorOf([&] { encoder.Encode(pool, pixels); });
  };
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "the image has no tiles", encode({}));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "tile 1 has shape [3, 28, 28], tile 0 [3, 56, 56]",
                      encode({{3, 56, 56}, {3, 28, 28}}));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring,
                      "pixel values have shape [4, 56, 56], expected [3, height, width]",
                      encode({{4, 56, 56}}));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "multiples of the patch size 14",
                      encode({{3, 56, 50}}));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring,
                      "9 vision tokens are not the square of a side that 2 divides",
                      encode({{3, 42, 42}}));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "expected [channels, height, width]",
                      encode({{3, 56}}));
}

}  // namespace
}  // namespace lightvlm
