// GgufFile against what gguf-py reports for the fixtures tools/make_gguf_fixtures.py wrote
// (tests/fixtures/gguf/types.json, types_expected.safetensors): metadata, tensor infos, and every
// type dequantized. Dequantized values must be bit-identical to gguf.quants.dequantize: each
// element is one float16-to-float32 widening (exact) followed by the same float32 multiplies and
// adds in the same order, and the C++ build does not fuse a*b+c (ISO C++ mode), so there is no
// rounding step where the two could differ.
#include "io/gguf_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/gguf_rope_rows.h"
#include "io/safetensors.h"
#include "support/golden.h"

namespace lightvlm {
namespace {

using nlohmann::json;

const auto kGgufFixtures = testing::kFixturesDir / "gguf";

json Description(const std::string& file) {
  std::ifstream in(kGgufFixtures / "types.json");
  return json::parse(in).at(file);
}

// The float32 values of `name` in types_expected.safetensors.
std::vector<float> Expected(const SafetensorsFile& expected, const std::string& name) {
  const StoredTensor& stored = expected.tensors().at(name);
  EXPECT_EQ(stored.dtype_name, "F32");
  std::vector<float> values(stored.num_bytes / sizeof(float));
  std::memcpy(values.data(), stored.data, stored.num_bytes);
  return values;
}

void ExpectBitIdentical(const float* actual, const std::vector<float>& expected,
                        const std::string& name) {
  for (size_t i = 0; i < expected.size(); ++i) {
    uint32_t a, e;
    std::memcpy(&a, &actual[i], 4);
    std::memcpy(&e, &expected[i], 4);
    ASSERT_EQ(a, e) << name << " element " << i << ": " << actual[i] << " vs " << expected[i];
  }
}

// A metadata value compared with what GGUFReader reported for it.
void ExpectMetadataEqual(const GgufFile& file, const std::string& key, const json& reported) {
  SCOPED_TRACE(key);
  const GgufValue& value = file.metadata().at(key);
  const std::string type = reported.at("type");
  const json& expected = reported.at("value");
  if (type == "ARRAY") {
    const std::string element = reported.at("element_type");
    EXPECT_EQ(value.type, GgufValueType::kArray);
    if (element == "STRING") {
      EXPECT_EQ(file.Strings(key), expected.get<std::vector<std::string>>());
    } else if (element == "FLOAT32" || element == "FLOAT64") {
      EXPECT_EQ(file.Floats(key), expected.get<std::vector<double>>());
    } else if (element == "BOOL") {
      std::vector<int64_t> bools;
      for (const json& b : expected) bools.push_back(b.get<bool>() ? 1 : 0);
      EXPECT_EQ(file.Integers(key), bools);
    } else {
      EXPECT_EQ(file.Integers(key), expected.get<std::vector<int64_t>>());
    }
  } else if (type == "STRING") {
    EXPECT_EQ(file.String(key), expected.get<std::string>());
  } else if (type == "BOOL") {
    EXPECT_EQ(file.Bool(key), expected.get<bool>());
  } else if (type == "FLOAT32" || type == "FLOAT64") {
    EXPECT_EQ(file.Float(key), expected.get<double>());
  } else if (type.starts_with("U")) {
    EXPECT_EQ(file.Unsigned(key), expected.get<uint64_t>());
  } else {
    EXPECT_EQ(file.Signed(key), expected.get<int64_t>());
  }
}

class GgufFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufFixtureTest, MetadataAndTensorInfosMatchGgufReader) {
  const auto file = GgufFile::Open((kGgufFixtures / GetParam()).string());
  const json description = Description(GetParam());
  EXPECT_EQ(file->version(), description.at("version").get<uint32_t>());
  EXPECT_EQ(file->alignment(), description.at("alignment").get<uint64_t>());
  ASSERT_EQ(file->metadata().size(), description.at("metadata").size());
  for (const auto& [key, reported] : description.at("metadata").items()) {
    ExpectMetadataEqual(*file, key, reported);
  }
  const json& tensors = description.at("tensors");
  ASSERT_EQ(file->tensors().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GgufTensorInfo& info = file->tensors()[i];
    SCOPED_TRACE(info.name);
    EXPECT_EQ(info.name, tensors[i].at("name").get<std::string>());
    EXPECT_EQ(GgufTypeOf(info.type).name, tensors[i].at("type").get<std::string>());
    EXPECT_EQ(info.dims, tensors[i].at("dims").get<std::vector<int64_t>>());
    EXPECT_EQ(info.shape, Shape(info.dims.rbegin(), info.dims.rend()));
    EXPECT_EQ(info.offset, tensors[i].at("offset").get<uint64_t>());
  }
}

TEST_P(GgufFixtureTest, EveryTypeDequantizesBitIdenticalToGgufQuants) {
  const auto file = GgufFile::Open((kGgufFixtures / GetParam()).string());
  const auto expected =
      SafetensorsFile::Open((kGgufFixtures / "types_expected.safetensors").string());
  std::vector<std::string> types_seen;
  for (const GgufTensorInfo& info : file->tensors()) {
    if (!info.name.starts_with("tensor.")) continue;
    types_seen.emplace_back(GgufTypeOf(info.type).name);
    const Tensor values = file->LoadF32(info.name, info.shape);
    ExpectBitIdentical(values.f32(), Expected(*expected, info.name), info.name);
  }
  EXPECT_EQ(types_seen, (std::vector<std::string>{"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1",
                                                  "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"}));
}

TEST_P(GgufFixtureTest, UndoesTheConvertersRopeRowOrder) {
  const auto file = GgufFile::Open((kGgufFixtures / GetParam()).string());
  const auto expected =
      SafetensorsFile::Open((kGgufFixtures / "types_expected.safetensors").string());
  const json heads = json::parse(std::ifstream(kGgufFixtures / "types.json")).at("permutation");
  const std::pair<const char*, int64_t> cases[] = {
      {"blk.0.attn_q.weight", heads.at("n_head").get<int64_t>()},
      {"blk.0.attn_k.weight", heads.at("n_head_kv").get<int64_t>()}};
  for (const auto& [name, n_heads] : cases) {
    const GgufTensorInfo& info = file->TensorInfo(name);
    const Tensor stored = file->LoadF32(name, info.shape);
    const std::vector<float> original = Expected(*expected, name);
    // The stored order really differs, so the test would notice a no-op.
    EXPECT_NE(std::memcmp(stored.f32(), original.data(), original.size() * 4), 0) << name;
    ExpectBitIdentical(UndoLlamaRopeRowOrder(stored.view(), n_heads).f32(), original, name);
  }
}

// Parse (the fuzzer's entry point) reads the same file from memory, and its tensors point into it.
TEST_P(GgufFixtureTest, ParsesContentsHeldInMemory) {
  std::ifstream in(kGgufFixtures / GetParam(), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto opened = GgufFile::Open((kGgufFixtures / GetParam()).string());
  const auto parsed = GgufFile::Parse(std::as_bytes(std::span(bytes)), "in memory");
  EXPECT_EQ(parsed->path(), "in memory");
  ASSERT_EQ(parsed->tensors().size(), opened->tensors().size());
  for (size_t i = 0; i < parsed->tensors().size(); ++i) {
    const GgufTensorInfo& tensor = parsed->tensors()[i];
    const auto* data = reinterpret_cast<const char*>(tensor.data);
    EXPECT_TRUE(data >= bytes.data() && data + tensor.num_bytes <= bytes.data() + bytes.size());
    EXPECT_EQ(std::memcmp(tensor.data, opened->tensors()[i].data, tensor.num_bytes), 0);
  }
  const std::string truncated = bytes.substr(0, bytes.size() - 1);
  const std::string error =
      testing::ErrorOf([&] { GgufFile::Parse(std::as_bytes(std::span(truncated)), "in memory"); });
  EXPECT_EQ(error.rfind("in memory: ", 0), 0u) << error;
}

INSTANTIATE_TEST_SUITE_P(Versions, GgufFixtureTest,
                         ::testing::Values("types_v2.gguf", "types_v3.gguf"));

TEST(GgufFileTest, TypedMetadataErrorsNameTheKeyAndTheType) {
  const std::string path = (kGgufFixtures / "types_v3.gguf").string();
  const auto file = GgufFile::Open(path);
  EXPECT_EQ(testing::ErrorOf([&] { file->String("test.u8"); }),
            path + ": metadata 'test.u8' should be a string, got uint8");
  EXPECT_EQ(testing::ErrorOf([&] { file->Unsigned("test.i8"); }),
            path + ": metadata 'test.i8' is -100, expected a count >= 0");
  EXPECT_EQ(testing::ErrorOf([&] { file->Signed("test.u64"); }),
            path + ": metadata 'test.u64' is 9223372036854775813, too large for int64");
  EXPECT_EQ(testing::ErrorOf([&] { file->Strings("test.ints"); }),
            path + ": metadata 'test.ints' should be an array of strings, got an array of int32");
  EXPECT_EQ(testing::ErrorOf([&] { file->Bool("no.such.key"); }),
            path + ": metadata 'no.such.key' is missing");
  EXPECT_EQ(testing::ErrorOf([&] { file->TensorInfo("missing"); }),
            path + ": tensor 'missing' not found");
  EXPECT_EQ(testing::ErrorOf([&] {
              file->LoadF32("tensor.Q4_K", {2, 256});
            }),
            path + ": tensor 'tensor.Q4_K' has shape [2, 512], expected [2, 256]");
}

TEST(GgufRopeRowsTest, UndoesInterleavingWithinEachHead) {
  // Two heads of dimension 4, one column: stored rows 0..7 hold HF rows 0,2,1,3, 4,6,5,7.
  Tensor stored(DType::kF32, {8, 1});
  const float stored_values[] = {0, 2, 1, 3, 4, 6, 5, 7};
  std::memcpy(stored.f32(), stored_values, sizeof(stored_values));
  const Tensor original = UndoLlamaRopeRowOrder(stored.view(), 2);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(original.f32()[i], i);
  EXPECT_EQ(testing::ErrorOf([&] { UndoLlamaRopeRowOrder(stored.view(), 3); }),
            "RoPE row order: 8 rows do not split into 3 heads of an even size");
}

}  // namespace
}  // namespace lightvlm
