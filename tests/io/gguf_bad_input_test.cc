// Malformed GGUF files: each fails Open with an Error naming the file and what is wrong, before
// anything is allocated from an untrusted count.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "io/gguf_file.h"
#include "support/gguf_bytes.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

using testing::ErrorOf;
using testing::FreshTempDir;
using testing::GgufBytes;
using testing::WriteFile;

constexpr uint32_t kF32 = 0, kQ4_0 = 2, kQ4_K = 12;
constexpr uint32_t kTypeU32 = 4, kTypeString = 8, kTypeArray = 9;

struct BadFile {
  std::string path;
  std::string error;
};

BadFile OpenBytes(const std::string& bytes) {
  const std::string path = (FreshTempDir() / "bad.gguf").string();
  WriteFile(path, bytes);
  return {path, ErrorOf([&] { GgufFile::Open(path); })};
}

TEST(GgufBadInputTest, AValidHandBuiltFileOpens) {
  // The builder itself makes valid files, so each failure below is the one field it breaks.
  const auto bytes = GgufBytes()
                         .Header(2, 1)
                         .Str("general.alignment")
                         .U32(kTypeU32)
                         .U32(32)
                         .Info("a", {4, 2}, kF32, 0)
                         .Info("b", {32}, kQ4_0, 32)
                         .Data(32 + 18);
  const BadFile result = OpenBytes(bytes.str());
  EXPECT_EQ(result.error, "(no error)");
}

TEST(GgufBadInputTest, WrongMagic) {
  const BadFile bad = OpenBytes("GGML" + GgufBytes().U32(3).U64(0).U64(0).str());
  EXPECT_EQ(bad.error, bad.path + ": not a GGUF file (the first 4 bytes are not \"GGUF\")");
}

TEST(GgufBadInputTest, UnsupportedVersions) {
  for (uint32_t version : {1u, 4u}) {
    const BadFile bad = OpenBytes(GgufBytes().Header(0, 0, version).str());
    EXPECT_EQ(bad.error, bad.path + ": GGUF version " + std::to_string(version) +
                             " is not supported; only little-endian versions 2 and 3 are");
  }
  const BadFile big_endian = OpenBytes(GgufBytes().Header(0, 0, 0x03000000).str());
  EXPECT_EQ(big_endian.error, big_endian.path +
                                  ": GGUF version 50331648 (a big-endian file) is not supported; "
                                  "only little-endian versions 2 and 3 are");
}

TEST(GgufBadInputTest, TruncationsOfARealFileFailCleanly) {
  const std::string whole = testing::ReadFile(testing::kFixturesDir / "gguf" / "types_v3.gguf");
  const auto file = GgufFile::Open((testing::kFixturesDir / "gguf" / "types_v3.gguf").string());
  const uint64_t data_end = file->tensors().back().offset + file->tensors().back().num_bytes;
  ASSERT_LT(data_end, whole.size());  // the last tensor ends before the file does
  // Every 31st prefix: cuts through the header, every kind of metadata value and the infos.
  for (size_t length = 0; length < whole.size() - 64; length += 31) {
    const BadFile bad = OpenBytes(whole.substr(0, length));
    EXPECT_TRUE(bad.error.starts_with(bad.path + ": ")) << length << ": " << bad.error;
  }
  const BadFile no_data = OpenBytes(whole.substr(0, whole.size() - 100));
  EXPECT_NE(no_data.error.find("past its end"), std::string::npos) << no_data.error;
}

TEST(GgufBadInputTest, TensorDataPastTheEnd) {
  const BadFile bad = OpenBytes(GgufBytes().Header(1, 0).Info("w", {4, 2}, kF32, 0).Data(31).str());
  EXPECT_EQ(bad.error,
            bad.path +
                ": tensor 'w' needs 32 bytes at offset 0 of the data section, past its end at "
                "31 (file truncated?)");
}

TEST(GgufBadInputTest, OffsetNearTheTopOfUint64) {
  const BadFile bad =
      OpenBytes(GgufBytes().Header(1, 0).Info("w", {8}, kF32, ~uint64_t{31}).Data(64).str());
  EXPECT_EQ(bad.error, bad.path +
                           ": tensor 'w' needs 32 bytes at offset 18446744073709551584 of the "
                           "data section, past its end at 64 (file truncated?)");
}

TEST(GgufBadInputTest, TypesThatOpenButDoNotDequantize) {
  const std::string path = (FreshTempDir() / "q2_k.gguf").string();
  WriteFile(path, GgufBytes().Header(1, 0).Info("w", {256}, /*Q2_K=*/10, 0).Data(84).str());
  const auto file = GgufFile::Open(path);
  EXPECT_EQ(file->TensorInfo("w").num_bytes, 84u);
  EXPECT_EQ(ErrorOf([&] { file->LoadF32("w", {256}); }),
            path + ": tensor 'w' has type Q2_K, which cannot be dequantized");
}

TEST(GgufBadInputTest, OverlappingTensors) {
  const BadFile bad = OpenBytes(
      GgufBytes().Header(2, 0).Info("a", {16}, kF32, 0).Info("b", {8}, kF32, 32).Data(64).str());
  EXPECT_EQ(bad.error, bad.path + ": tensors 'a' and 'b' overlap in the data section");
}

TEST(GgufBadInputTest, UnknownTensorType) {
  const BadFile bad = OpenBytes(GgufBytes().Header(1, 0).Info("w", {4}, 99, 0).Data(64).str());
  EXPECT_EQ(bad.error, bad.path + ": tensor 'w' has unknown type id 99");
}

TEST(GgufBadInputTest, BlockSizeThatDoesNotDivideTheRow) {
  const BadFile q4 =
      OpenBytes(GgufBytes().Header(1, 0).Info("w", {48, 2}, kQ4_0, 0).Data(256).str());
  EXPECT_EQ(q4.error, q4.path +
                          ": tensor 'w' has rows of 48 elements, not a multiple of Q4_0's "
                          "block of 32");
  const BadFile k = OpenBytes(GgufBytes().Header(1, 0).Info("w", {128}, kQ4_K, 0).Data(256).str());
  EXPECT_EQ(k.error, k.path +
                         ": tensor 'w' has rows of 128 elements, not a multiple of Q4_K's "
                         "block of 256");
}

TEST(GgufBadInputTest, HugeTensorsAreRejectedWithoutAllocating) {
  // 2^60 elements fit in int64, but not in the file.
  const BadFile huge = OpenBytes(
      GgufBytes().Header(1, 0).Info("w", {1ull << 30, 1ull << 30}, kF32, 0).Data(64).str());
  EXPECT_EQ(huge.error, huge.path +
                            ": tensor 'w' needs 4611686018427387904 bytes at offset 0 of the data "
                            "section, past its end at 64 (file truncated?)");
  const BadFile overflow = OpenBytes(
      GgufBytes().Header(1, 0).Info("w", {1ull << 40, 1ull << 40}, kF32, 0).Data(64).str());
  EXPECT_EQ(overflow.error,
            overflow.path + ": tensor 'w' has too many elements (dimension 1 is 1099511627776)");
  const BadFile bytes_overflow =
      OpenBytes(GgufBytes().Header(1, 0).Info("w", {1ull << 62}, kF32, 0).Data(64).str());
  EXPECT_EQ(bytes_overflow.error, bytes_overflow.path +
                                      ": tensor 'w' has too many bytes (4611686018427387904 "
                                      "elements of F32)");
  const BadFile dims =
      OpenBytes(GgufBytes().Header(1, 0).Info("w", {1, 1, 1, 1, 1}, kF32, 0).str());
  EXPECT_EQ(dims.error, dims.path + ": tensor 'w' has 5 dimensions, more than 4");
}

TEST(GgufBadInputTest, MetadataStringLongerThanTheFile) {
  const BadFile bad =
      OpenBytes(GgufBytes().Header(0, 1).Str("k").U32(kTypeString).U64(1ull << 62).str());
  EXPECT_EQ(bad.error, bad.path +
                           ": metadata 'k' is a string of 4611686018427387904 bytes at byte 45, "
                           "past the end of the file (45 bytes): truncated or corrupt");
  const BadFile key = OpenBytes(GgufBytes().Header(0, 1).U64(~0ull).U64(0).U64(0).str());
  EXPECT_EQ(key.error, key.path +
                           ": metadata key 0 is a string of 18446744073709551615 bytes at byte "
                           "32, past the end of the file (48 bytes): truncated or corrupt");
}

TEST(GgufBadInputTest, MetadataArraysLongerThanTheFile) {
  const BadFile numbers = OpenBytes(
      GgufBytes().Header(0, 1).Str("k").U32(kTypeArray).U32(kTypeU32).U64(1ull << 61).str());
  EXPECT_EQ(numbers.error, numbers.path +
                               ": metadata 'k' element count is 2305843009213693952, "
                               "more than the 0 bytes left in the file at byte 49 "
                               "could hold (truncated or corrupt)");
  const BadFile strings = OpenBytes(GgufBytes()
                                        .Header(0, 1)
                                        .Str("k")
                                        .U32(kTypeArray)
                                        .U32(kTypeString)
                                        .U64(100)
                                        .U64(0)
                                        .U64(0)
                                        .str());
  EXPECT_EQ(strings.error, strings.path +
                               ": metadata 'k' element count is 100, more than the 16 "
                               "bytes left in the file at byte 49 could hold "
                               "(truncated or corrupt)");
  const BadFile nested = OpenBytes(
      GgufBytes().Header(0, 1).Str("k").U32(kTypeArray).U32(kTypeArray).U64(1).U64(0).str());
  EXPECT_EQ(nested.error, nested.path +
                              ": metadata 'k' is an array of arrays, which is not "
                              "supported");
}

TEST(GgufBadInputTest, CountsLargerThanTheFile) {
  const BadFile kvs = OpenBytes(GgufBytes().Header(0, 1ull << 60).str());
  EXPECT_EQ(kvs.error, kvs.path +
                           ": the metadata count is 1152921504606846976, more than the 0 "
                           "bytes left in the file at byte 24 could hold (truncated or "
                           "corrupt)");
  const BadFile tensors = OpenBytes(GgufBytes().Header(1ull << 60, 0).str());
  EXPECT_EQ(tensors.error, tensors.path +
                               ": the tensor count is 1152921504606846976, more than "
                               "the 0 bytes left in the file at byte 24 could hold "
                               "(truncated or corrupt)");
}

TEST(GgufBadInputTest, BadMetadataValues) {
  const BadFile type = OpenBytes(GgufBytes().Header(0, 1).Str("k").U32(77).str());
  EXPECT_EQ(type.error, type.path + ": metadata 'k' has unknown value type 77");
  const BadFile boolean = OpenBytes(GgufBytes().Header(0, 1).Str("k").U32(7).Byte(2).str());
  EXPECT_EQ(boolean.error, boolean.path + ": metadata 'k' is a bool of value 2, not 0 or 1");
  const BadFile twice = OpenBytes(
      GgufBytes().Header(0, 2).Str("k").U32(kTypeU32).U32(1).Str("k").U32(kTypeU32).U32(2).str());
  EXPECT_EQ(twice.error, twice.path + ": metadata key 'k' appears twice");
}

TEST(GgufBadInputTest, BadAlignment) {
  const BadFile not_power =
      OpenBytes(GgufBytes().Header(0, 1).Str("general.alignment").U32(kTypeU32).U32(24).str());
  EXPECT_EQ(not_power.error, not_power.path + ": general.alignment is 24, not a power of two");
  const BadFile wrong_type =
      OpenBytes(GgufBytes().Header(0, 1).Str("general.alignment").U32(kTypeString).Str("32").str());
  EXPECT_EQ(wrong_type.error, wrong_type.path + ": general.alignment should be uint32, got string");
  const BadFile misaligned =
      OpenBytes(GgufBytes().Header(1, 0).Info("w", {4}, kF32, 16).Data(64).str());
  EXPECT_EQ(misaligned.error,
            misaligned.path + ": tensor 'w' has offset 16, not a multiple of the alignment 32");
}

TEST(GgufBadInputTest, DuplicateOrUnnamedTensors) {
  const BadFile twice = OpenBytes(
      GgufBytes().Header(2, 0).Info("w", {8}, kF32, 0).Info("w", {8}, kF32, 32).Data(64).str());
  EXPECT_EQ(twice.error, twice.path + ": tensor 'w' appears twice");
  const BadFile unnamed = OpenBytes(GgufBytes().Header(1, 0).Info("", {8}, kF32, 0).Data(64).str());
  EXPECT_EQ(unnamed.error, unnamed.path + ": tensor info 0 has an empty name");
}

}  // namespace
}  // namespace lightvlm
