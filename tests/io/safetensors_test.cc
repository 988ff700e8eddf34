#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ErrorOf;
using testing::FreshTempDir;
using testing::SafetensorsBytes;
using testing::TensorToWrite;
using testing::WriteFile;

template <class T>
std::string Bytes(const std::vector<T>& values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// A safetensors file with `header_text` exactly as given (no padding) followed by `data`.
std::string RawFile(const std::string& header_text, const std::string& data) {
  std::string file(8, '\0');
  const uint64_t length = header_text.size();
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((length >> (8 * i)) & 0xFF);
  return file + header_text + data;
}

std::string OpenError(const std::string& bytes) {
  const fs::path path = FreshTempDir() / "bad.safetensors";
  WriteFile(path, bytes);
  return ErrorOf([&] { SafetensorsFile::Open(path.string()); });
}

// The four test tensors, F16 and BF16 values chosen to be exact in their type.
std::vector<TensorToWrite> MixedTensors() {
  return {
      {"weight.f32", "F32", {2, 2}, Bytes<float>({1.0f, -2.0f, 0.5f, 3.25f})},
      // 0.5, -2.5, 65504 (the largest F16)
      {"weight.f16", "F16", {3}, Bytes<uint16_t>({0x3800, 0xC100, 0x7BFF})},
      // 1.5, -3.0
      {"weight.bf16", "BF16", {2}, Bytes<uint16_t>({0x3FC0, 0xC040})},
      {"positions", "I64", {2}, Bytes<int64_t>({7, -9})},
  };
}

std::vector<float> Values(const Tensor& tensor) {
  return std::vector<float>(tensor.f32(), tensor.f32() + tensor.num_elements());
}

TEST(SafetensorsTest, ReadsFloatAndIntegerTensors) {
  const fs::path dir = FreshTempDir();
  WriteFile(dir / "model.safetensors", SafetensorsBytes(MixedTensors()));
  const Checkpoint checkpoint = Checkpoint::Open(dir.string());

  EXPECT_EQ(checkpoint.All().size(), 4u);
  EXPECT_EQ(Values(checkpoint.LoadF32("weight.f32", {2, 2})),
            (std::vector<float>{1.0f, -2.0f, 0.5f, 3.25f}));
  EXPECT_EQ(Values(checkpoint.LoadF32("weight.f16", {3})),
            (std::vector<float>{0.5f, -2.5f, 65504.0f}));
  EXPECT_EQ(Values(checkpoint.LoadF32("weight.bf16", {2})), (std::vector<float>{1.5f, -3.0f}));

  const StoredTensor& positions = checkpoint.Get("positions");
  EXPECT_EQ(positions.dtype_name, "I64");
  EXPECT_FALSE(positions.is_float);
  ASSERT_EQ(positions.num_bytes, 16u);
  int64_t values[2];
  std::memcpy(values, positions.data, sizeof(values));
  EXPECT_EQ(values[0], 7);
  EXPECT_EQ(values[1], -9);
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "has dtype I64",
                      ErrorOf([&] { checkpoint.LoadF32("positions", {2}); }));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "has dtype I64", ErrorOf([&] { positions.view(); }));
}

TEST(SafetensorsTest, ReadsMetadataAndViews) {
  const fs::path path = FreshTempDir() / "model.safetensors";
  const json header = {{"__metadata__", {{"format", "pt"}}},
                       {"w", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}}};
  WriteFile(path, RawFile(header.dump(), Bytes<float>({4.0f, 5.0f})));
  const auto file = SafetensorsFile::Open(path.string());
  EXPECT_EQ(file->metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  const TensorView view = file->tensors().at("w").view();
  EXPECT_EQ(view.dtype(), DType::kF32);
  EXPECT_EQ(view.shape(), (Shape{2}));
  EXPECT_EQ(view.num_bytes(), 8u);
}

TEST(SafetensorsTest, ConvertsTensorsAtOddAddresses) {
  // The mapping is page-aligned, so an unpadded header of even length followed by a 1-byte tensor
  // puts the 16-bit tensors at odd addresses.
  const json header = {
      {"flag", {{"dtype", "U8"}, {"shape", {1}}, {"data_offsets", {0, 1}}}},
      {"half", {{"dtype", "F16"}, {"shape", {2}}, {"data_offsets", {1, 5}}}},
      {"brain", {{"dtype", "BF16"}, {"shape", {2}}, {"data_offsets", {5, 9}}}},
      {"single", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {9, 13}}}},
  };
  std::string text = header.dump();
  if (text.size() % 2 == 1) text += ' ';
  const std::string data = std::string(1, '\x01') + Bytes<uint16_t>({0x3800, 0xC100}) +
                           Bytes<uint16_t>({0x3FC0, 0xC040}) + Bytes<float>({-7.5f});
  const fs::path dir = FreshTempDir();
  WriteFile(dir / "model.safetensors", RawFile(text, data));
  const Checkpoint checkpoint = Checkpoint::Open(dir.string());
  ASSERT_NE(reinterpret_cast<uintptr_t>(checkpoint.Get("half").data) % 2, 0u);
  EXPECT_EQ(Values(checkpoint.LoadF32("half", {2})), (std::vector<float>{0.5f, -2.5f}));
  EXPECT_EQ(Values(checkpoint.LoadF32("brain", {2})), (std::vector<float>{1.5f, -3.0f}));
  EXPECT_EQ(Values(checkpoint.LoadF32("single", {1})), (std::vector<float>{-7.5f}));
}

TEST(SafetensorsTest, ZeroSizedTensorsOverlapNothing) {
  const json header = {
      {"a", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}},
      {"empty", {{"dtype", "F32"}, {"shape", {0, 3}}, {"data_offsets", {4, 4}}}},
  };
  const fs::path path = FreshTempDir() / "model.safetensors";
  WriteFile(path, RawFile(header.dump(), Bytes<float>({1.0f, 2.0f})));
  const auto file = SafetensorsFile::Open(path.string());
  EXPECT_EQ(file->tensors().at("empty").num_bytes, 0u);
}

// A zero-element tensor has no buffer; loading one must not memcpy to its null data (undefined
// behaviour even for 0 bytes, reported by the sanitizer build), in every conversion.
TEST(CheckpointTest, LoadsZeroElementTensors) {
  const json header = {
      {"a", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}},
      {"empty", {{"dtype", "F32"}, {"shape", {0, 3}}, {"data_offsets", {8, 8}}}},
      {"empty_bf16", {{"dtype", "BF16"}, {"shape", {0}}, {"data_offsets", {8, 8}}}},
  };
  const fs::path dir = FreshTempDir();
  WriteFile(dir / "model.safetensors", RawFile(header.dump(), Bytes<float>({1.0f, 2.0f})));
  const Checkpoint checkpoint = Checkpoint::Open(dir.string());
  for (DType dtype : {DType::kF32, DType::kBF16}) {
    const Tensor empty = checkpoint.Load("empty", {0, 3}, dtype);
    EXPECT_EQ(empty.num_elements(), 0);
    EXPECT_EQ(empty.shape(), (Shape{0, 3}));
    EXPECT_EQ(checkpoint.Load("empty_bf16", {0}, dtype).num_elements(), 0);
  }
}

TEST(SafetensorsTest, ParsesContentsHeldInMemory) {
  const std::string bytes = SafetensorsBytes(MixedTensors());
  const auto file = SafetensorsFile::Parse(std::as_bytes(std::span(bytes)), "in memory");
  EXPECT_EQ(file->path(), "in memory");
  ASSERT_EQ(file->tensors().size(), 4u);
  const StoredTensor& f32 = file->tensors().at("weight.f32");
  EXPECT_EQ(f32.shape, (Shape{2, 2}));
  // Tensors point into the caller's bytes.
  const auto* data = reinterpret_cast<const char*>(f32.data);
  EXPECT_TRUE(data > bytes.data() && data + 16 <= bytes.data() + bytes.size());
  EXPECT_EQ(std::string(data, 16), Bytes<float>({1.0f, -2.0f, 0.5f, 3.25f}));
  const std::string truncated = bytes.substr(0, bytes.size() - 1);
  const std::string error =
      ErrorOf([&] { SafetensorsFile::Parse(std::as_bytes(std::span(truncated)), "in memory"); });
  EXPECT_EQ(error.rfind("in memory: tensor", 0), 0u) << error;
}

TEST(SafetensorsTest, RejectsShortFiles) {
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "truncated", OpenError(""));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "truncated", OpenError("abc"));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "header length 1000 runs past the end",
                      OpenError(RawFile(std::string(1000, ' '), "").substr(0, 20)));
}

struct BadHeader {
  const char* header;
  size_t data_bytes;
  const char* problem;
};

TEST(SafetensorsTest, RejectsBadHeaders) {
  const BadHeader cases[] = {
      {"{not json", 0, "not valid JSON"},
      {"", 0, "not valid JSON"},
      {R"({"w": {"dtype": "F32", "shape": [1e400], "data_offsets": [0, 4]}})", 4,
       "header: not valid JSON"},
      {"[1, 2]", 0, "should be a JSON object"},
      {R"({"w": 5})", 0, "tensor 'w' should be an object"},
      {R"({"w": {"shape": [1], "data_offsets": [0, 4]}})", 4, "tensor 'w' is missing 'dtype'"},
      {R"({"w": {"dtype": "F32", "data_offsets": [0, 4]}})", 4, "tensor 'w' is missing 'shape'"},
      {R"({"w": {"dtype": "F32", "shape": [1]}})", 4, "tensor 'w' is missing 'data_offsets'"},
      {R"({"w": {"dtype": 3, "shape": [1], "data_offsets": [0, 4]}})", 4,
       "'dtype' that is not a string"},
      {R"({"w": {"dtype": "F32", "shape": "1", "data_offsets": [0, 4]}})", 4,
       "'shape' that is not an array"},
      {R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": {}}})", 4,
       "'data_offsets' that is not an array"},
      {R"({"w": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}})", 4,
       "unknown dtype 'F99'"},
      {R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4, "negative"},
      {R"({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", 4, "not an integer"},
      {R"({"w": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 4]}})", 4,
       "too many elements"},
      {R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", 4, "[begin, end]"},
      {R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}})", 4, "negative"},
      {R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", 8, "after end"},
      {R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4, "truncated"},
      {R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", 4, "spans 4 bytes"},
      {R"({"w": {"dtype": "I64", "shape": [4611686018427387903], "data_offsets": [0, 8]}})", 8,
       "spans 8 bytes"},
      {R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
           "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
       8, "tensors 'a' and 'b' overlap"},
      {R"({"__metadata__": {"format": 1}})", 0, "__metadata__ value 'format'"},
      {R"({"__metadata__": ["pt"]})", 0, "__metadata__ should be an object"},
  };
  for (const BadHeader& bad : cases) {
    const std::string error = OpenError(RawFile(bad.header, std::string(bad.data_bytes, '\0')));
    EXPECT_PRED_FORMAT2(::testing::IsSubstring, "bad.safetensors", error) << bad.header;
    EXPECT_PRED_FORMAT2(::testing::IsSubstring, bad.problem, error) << bad.header;
  }
}

TEST(SafetensorsTest, EveryTruncationFails) {
  const std::string bytes = SafetensorsBytes(MixedTensors());
  const fs::path path = FreshTempDir() / "cut.safetensors";
  for (size_t length = 0; length < bytes.size(); ++length) {
    WriteFile(path, bytes.substr(0, length));
    EXPECT_THROW(SafetensorsFile::Open(path.string()), Error) << "cut at " << length;
  }
}

TEST(SafetensorsTest, CorruptHeadersFailCleanly) {
  const std::string bytes = SafetensorsBytes(MixedTensors());
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);  // little-endian, as is the test machine
  const size_t header_end = 8 + header_length;
  const fs::path path = FreshTempDir() / "corrupt.safetensors";
  std::mt19937 random(1234);
  std::uniform_int_distribution<size_t> position(0, header_end - 1);
  std::uniform_int_distribution<int> bit(0, 7);
  for (int trial = 0; trial < 200; ++trial) {
    std::string corrupt = bytes;
    corrupt[position(random)] ^= static_cast<char>(1 << bit(random));
    WriteFile(path, corrupt);
    // A clean refusal is as good as success; anything else escapes and fails the test.
    ErrorOf([&] { SafetensorsFile::Open(path.string()); });
  }
}

constexpr char kShard1[] = "model-00001-of-00002.safetensors";
constexpr char kShard2[] = "model-00002-of-00002.safetensors";

// A directory with two shards: "a" and "b" in the first, "c" in the second, and an index that
// maps `weight_map` (by default the true one).
fs::path ShardedCheckpoint(const json& weight_map) {
  const fs::path dir = FreshTempDir();
  WriteFile(dir / kShard1, SafetensorsBytes({{"a", "F32", {2}, Bytes<float>({1.0f, 2.0f})},
                                             {"b", "BF16", {1}, Bytes<uint16_t>({0x3FC0})}}));
  WriteFile(dir / kShard2, SafetensorsBytes({{"c", "F32", {1}, Bytes<float>({3.0f})}}));
  const json index = {{"metadata", {{"total_size", 14}}}, {"weight_map", weight_map}};
  WriteFile(dir / "model.safetensors.index.json", index.dump());
  return dir;
}

json TrueWeightMap() { return {{"a", kShard1}, {"b", kShard1}, {"c", kShard2}}; }

std::string CheckpointError(const fs::path& dir) {
  return ErrorOf([&] { Checkpoint::Open(dir.string()); });
}

TEST(CheckpointTest, LoadsShards) {
  const Checkpoint checkpoint = Checkpoint::Open(ShardedCheckpoint(TrueWeightMap()).string());
  ASSERT_EQ(checkpoint.All().size(), 3u);
  EXPECT_EQ(checkpoint.All()[2]->name, "c");
  EXPECT_TRUE(checkpoint.Contains("b"));
  EXPECT_FALSE(checkpoint.Contains("d"));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, kShard2, checkpoint.Get("c").file);
  EXPECT_EQ(Values(checkpoint.LoadF32("a", {2})), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(Values(checkpoint.LoadF32("b", {1})), (std::vector<float>{1.5f}));
  EXPECT_EQ(Values(checkpoint.LoadF32("c", {1})), (std::vector<float>{3.0f}));
}

TEST(CheckpointTest, RejectsIndexNamingMissingShard) {
  json weight_map = TrueWeightMap();
  weight_map["c"] = "model-00003-of-00002.safetensors";
  const std::string error = CheckpointError(ShardedCheckpoint(weight_map));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "model.safetensors.index.json", error);
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "shard 'model-00003-of-00002.safetensors'", error);
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "does not exist", error);
}

TEST(CheckpointTest, RejectsIndexNamingWrongShard) {
  json weight_map = TrueWeightMap();
  weight_map["c"] = kShard1;
  const std::string error = CheckpointError(ShardedCheckpoint(weight_map));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "model.safetensors.index.json", error);
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "tensor 'c' is not in its shard", error);
}

TEST(CheckpointTest, RejectsTensorStoredInTwoShards) {
  const fs::path dir = ShardedCheckpoint(TrueWeightMap());
  WriteFile(dir / kShard2, SafetensorsBytes({{"c", "F32", {1}, Bytes<float>({3.0f})},
                                             {"a", "F32", {1}, Bytes<float>({4.0f})}}));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "tensor 'a' is stored twice", CheckpointError(dir));
}

TEST(CheckpointTest, RejectsIndexWithoutWeightMap) {
  const fs::path dir = FreshTempDir();
  WriteFile(dir / "model.safetensors.index.json", R"({"metadata": {}})");
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "missing field 'weight_map'", CheckpointError(dir));
}

TEST(CheckpointTest, RejectsDirectoryWithoutWeights) {
  const fs::path dir = FreshTempDir();
  const std::string error = CheckpointError(dir);
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, dir.string(), error);
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "model.safetensors.index.json", error);
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "nor model.safetensors", error);
}

TEST(CheckpointTest, NamesMissingTensorsAndWrongShapes) {
  const fs::path dir = FreshTempDir();
  WriteFile(dir / "model.safetensors",
            SafetensorsBytes({{"x", "F32", {3, 4}, std::string(48, '\0')}}));
  const Checkpoint checkpoint = Checkpoint::Open(dir.string());
  EXPECT_EQ(ErrorOf([&] { checkpoint.Get("model.layers.0.self_attn.q_proj.weight"); }),
            dir.string() +
                ": tensor 'model.layers.0.self_attn.q_proj.weight' not found in "
                "checkpoint");
  EXPECT_EQ(
      ErrorOf([&] {
        checkpoint.LoadF32("x", {4, 4});
      }),
      (dir / "model.safetensors").string() + ": tensor 'x' has shape [3, 4], expected [4, 4]");
}

TEST(CheckpointTest, OpensStories260k) {
  const Checkpoint checkpoint = Checkpoint::Open(testing::kStoriesDir.string());
  const StoredTensor& embedding = checkpoint.Get("model.embed_tokens.weight");
  EXPECT_EQ(embedding.dtype_name, "F32");
  EXPECT_EQ(embedding.shape, (Shape{512, 64}));
  const Tensor loaded = checkpoint.LoadF32("model.embed_tokens.weight", {512, 64});
  EXPECT_EQ(std::memcmp(loaded.f32(), embedding.data, embedding.num_bytes), 0);
  // Loading released the file's pages from memory; they read back the same (a tied lm_head
  // loads the embedding twice).
  const Tensor again = checkpoint.LoadF32("model.embed_tokens.weight", {512, 64});
  EXPECT_EQ(std::memcmp(again.f32(), loaded.f32(), loaded.num_bytes()), 0);
}

}  // namespace
}  // namespace lightvlm
