#include "io/image.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "base/error.h"
#include "io/safetensors.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;
using testing::ErrorOf;

// Written by tools/make_image_fixtures.py from a 64x48 copy of a real photograph.
const fs::path kDecodeDir = fs::path(LIGHTVLM_SOURCE_DIR) / "tests/fixtures/images/decode";
const fs::path kPhotosDir = fs::path(LIGHTVLM_SHARED_DIR) / "images";

std::vector<uint8_t> ReadBytes(const fs::path& path) {
  const std::string text = testing::ReadFile(path);
  return std::vector<uint8_t>(text.begin(), text.end());
}

// What Pillow decodes from a fixture, after convert("RGB"): [h, w, 3] bytes.
std::vector<uint8_t> PillowPixels(const std::string& file) {
  const auto expected = SafetensorsFile::Open((kDecodeDir / "expected.safetensors").string());
  const StoredTensor& tensor = expected->tensors().at(file);
  const auto* data = reinterpret_cast<const uint8_t*>(tensor.data);
  return std::vector<uint8_t>(data, data + tensor.num_bytes);
}

void AppendBigEndian(uint32_t value, std::vector<uint8_t>& bytes) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back((value >> shift) & 0xFF);
}

// CRC-32 of a chunk's type and data, as PNG requires.
uint32_t Crc32(const std::vector<uint8_t>& bytes) {
  uint32_t crc = 0xFFFFFFFF;
  for (uint8_t byte : bytes) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320 & (0u - (crc & 1)));
  }
  return crc ^ 0xFFFFFFFF;
}

// The bytes of a PNG that has only a signature and an IHDR chunk declaring width x height RGB.
std::vector<uint8_t> PngHeader(uint32_t width, uint32_t height) {
  std::vector<uint8_t> chunk = {'I', 'H', 'D', 'R'};
  AppendBigEndian(width, chunk);
  AppendBigEndian(height, chunk);
  for (uint8_t field : {8, 2, 0, 0, 0}) chunk.push_back(field);  // 8-bit RGB, no interlace
  const uint32_t crc = Crc32(chunk);
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  AppendBigEndian(13, png);  // IHDR data length
  for (uint8_t byte : chunk) png.push_back(byte);
  AppendBigEndian(crc, png);
  return png;
}

std::vector<uint8_t> Text(const std::string& text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

TEST(ImageTest, EveryFormatDecodesToPillowsConvertRgb) {
  for (const char* file : {"photo.png", "photo.bmp", "photo.ppm", "photo.gif", "photo.jpg",
                           "photo_progressive.jpg", "photo_gray.png", "photo_gray.pgm",
                           "photo_rgba.png", "photo_la.png", "photo_palette.png"}) {
    SCOPED_TRACE(file);
    const Image image = LoadImage((kDecodeDir / file).string());
    EXPECT_EQ(image.width, 64);
    EXPECT_EQ(image.height, 48);
    EXPECT_EQ(image.rgb, PillowPixels(file));
  }
}

TEST(ImageTest, AlphaIsDroppedNotComposited) {
  // photo_rgba.png is photo.png with alpha running from 0 (left) to 255 (right): compositing on
  // any background would change the left columns, dropping alpha leaves them as they are.
  EXPECT_EQ(LoadImage((kDecodeDir / "photo_rgba.png").string()).rgb,
            LoadImage((kDecodeDir / "photo.png").string()).rgb);
}

TEST(ImageTest, GrayIsReplicatedIntoThreeChannels) {
  const Image image = LoadImage((kDecodeDir / "photo_gray.png").string());
  for (size_t i = 0; i < image.rgb.size(); i += 3) {
    ASSERT_EQ(image.rgb[i], image.rgb[i + 1]);
    ASSERT_EQ(image.rgb[i], image.rgb[i + 2]);
  }
}

TEST(ImageTest, RealPhotographsDecodeAtTheirSize) {
  const std::vector<std::tuple<std::string, int, int>> photos = {
      {"mmbench_1156.jpg", 512, 341}, {"mmbench_21.jpg", 500, 336},  {"mmbench_2399.jpg", 512, 387},
      {"mmbench_2789.jpg", 512, 324}, {"mmbench_503.jpg", 512, 512}, {"mmbench_768.jpg", 512, 385}};
  for (const auto& [file, width, height] : photos) {
    const Image image = LoadImage((kPhotosDir / file).string());
    EXPECT_EQ(image.width, width) << file;
    EXPECT_EQ(image.height, height) << file;
    EXPECT_EQ(image.rgb.size(), size_t{3} * width * height) << file;
  }
}

TEST(ImageTest, RejectsEmptyUnknownAndMissingInput) {
  EXPECT_EQ(ErrorOf([] { DecodeImage({}, "upload.png"); }), "upload.png: empty file, not an image");
  const auto empty_file = testing::FreshTempDir() / "empty.jpg";
  testing::WriteFile(empty_file, "");
  EXPECT_EQ(ErrorOf([&] { LoadImage(empty_file.string()); }),
            empty_file.string() + ": empty file, not an image");

  EXPECT_EQ(ErrorOf([] { DecodeImage(Text("GIF? no, plain text"), "notes.txt"); }),
            "notes.txt: not a readable JPEG, PNG, BMP, GIF or PNM image (unknown image type)");
  const std::string missing = (testing::FreshTempDir() / "absent.png").string();
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, missing, ErrorOf([&] { LoadImage(missing); }));
}

TEST(ImageTest, RejectsZeroSizedImages) {
  EXPECT_PRED_FORMAT2(::testing::IsSubstring,
                      "zero.png: ", ErrorOf([] { DecodeImage(PngHeader(0, 5), "zero.png"); }));
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "zero.ppm: ", ErrorOf([] {
                        DecodeImage(Text("P6\n0 5\n255\n"), "zero.ppm");
                      }));
}

TEST(ImageTest, RejectsPnmThatStbMisreads) {
  // stb_image 2.27 swaps the bytes of 16-bit samples (and reads past its buffer for gray ones),
  // fills missing pixels of a truncated file with stale heap bytes, and overflows an int on long
  // header numbers: all refused before stb decodes.
  const std::string samples(8, '\x7f');
  EXPECT_EQ(ErrorOf([&] { DecodeImage(Text("P5\n2 2\n65535\n" + samples), "deep.pgm"); }),
            "deep.pgm: 16-bit PNM images (maxval 65535) are not supported");
  EXPECT_EQ(ErrorOf([&] { DecodeImage(Text("P6\n2 2\n255\nabc"), "short.ppm"); }),
            "short.ppm: truncated PNM image: 12 bytes of pixels expected, 3 present");
  EXPECT_EQ(ErrorOf([&] { DecodeImage(Text("P6\n# comment\n99999999999 1\n255\n"), "long.ppm"); }),
            "long.ppm: PNM header has a number of more than 9 digits");
  const Image gray = DecodeImage(Text("P5 # a comment\n2 1 255\n\x80\x10"), "gray.pgm");
  EXPECT_EQ(gray.rgb, (std::vector<uint8_t>{128, 128, 128, 16, 16, 16}));
}

TEST(ImageTest, PixelLimitIsCheckedFromTheHeaderBeforeDecoding) {
  // Headers only, no pixel data: had decoding started, the error would be about missing data.
  EXPECT_EQ(ErrorOf([] { DecodeImage(PngHeader(10000, 10000), "bomb.png"); }),
            "bomb.png: image of 10000x10000 = 100000000 pixels exceeds the limit of 50000000 "
            "pixels");
  EXPECT_EQ(ErrorOf([] { DecodeImage(Text("P6\n100000 100000\n255\n"), "bomb.ppm"); }),
            "bomb.ppm: image of 100000x100000 = 10000000000 pixels exceeds the limit of 50000000 "
            "pixels");
  // Regression: stb_image refuses these itself while reading the header, and its refusal was
  // reported as "unknown image type".
  EXPECT_EQ(ErrorOf([] { DecodeImage(PngHeader(60000, 60000), "huge.png"); }),
            "huge.png: image of 60000x60000 = 3600000000 pixels exceeds the limit of 50000000 "
            "pixels");
  EXPECT_EQ(ErrorOf([] { DecodeImage(PngHeader(0xFFFFFFFF, 0xFFFFFFFF), "huger.png"); }),
            "huger.png: image of 4294967295x4294967295 = 18446744065119617025 pixels exceeds the "
            "limit of 50000000 pixels");

  const std::vector<uint8_t> png = ReadBytes(kDecodeDir / "photo.png");
  EXPECT_EQ(DecodeImage(png, "photo.png", {.max_pixels = 64 * 48}).width, 64);
  EXPECT_EQ(ErrorOf([&] { DecodeImage(png, "photo.png", {.max_pixels = 64 * 48 - 1}); }),
            "photo.png: image of 64x48 = 3072 pixels exceeds the limit of 3071 pixels");
}

// `png` with an empty IDAT chunk inserted before its first IDAT chunk.
std::vector<uint8_t> WithEmptyIdatFirst(std::vector<uint8_t> png) {
  const std::vector<uint8_t> type = {'I', 'D', 'A', 'T'};
  size_t chunk = 8;
  while (!std::equal(type.begin(), type.end(), png.begin() + chunk + 4)) {
    chunk += 12 + (png[chunk] << 24 | png[chunk + 1] << 16 | png[chunk + 2] << 8 | png[chunk + 3]);
  }
  std::vector<uint8_t> empty = {0, 0, 0, 0};  // length
  empty.insert(empty.end(), type.begin(), type.end());
  AppendBigEndian(Crc32(type), empty);
  png.insert(png.begin() + chunk, empty.begin(), empty.end());
  return png;
}

TEST(ImageTest, PngWithEmptyImageDataChunksDecodesAsPillowDoes) {
  // Regression: stb_image 2.27 offset and copied into a null pointer when the first IDAT chunk is
  // empty (-fsanitize=undefined reports it); empty IDAT chunks are now dropped before stb reads.
  const std::vector<uint8_t> png = WithEmptyIdatFirst(ReadBytes(kDecodeDir / "photo.png"));
  EXPECT_EQ(DecodeImage(png, "empty_idat.png").rgb, PillowPixels("photo.png"));
}

// Regression (fuzzing): stb_image grew its buffer to the length an IDAT chunk declares before
// reading the data, so a small PNG whose chunk claimed 1.4 GB allocated 1.4 GB. Every chunk must
// now lie inside the file.
TEST(ImageTest, PngChunkLongerThanTheFileIsRefusedBeforeDecoding) {
  std::vector<uint8_t> png = WithEmptyIdatFirst(ReadBytes(kDecodeDir / "photo.png"));
  const size_t empty_idat = 8 + 12 + 13;  // after the signature and IHDR (13 bytes of data)
  ASSERT_EQ(png[empty_idat + 4], 'I');
  png[empty_idat] = 0x52;  // the empty chunk now declares 0x52000000 bytes (1.4 GB)
  EXPECT_EQ(ErrorOf([&] { DecodeImage(png, "long_chunk.png"); }),
            "long_chunk.png: truncated PNG: the chunk at byte 33 declares 1375731712 bytes of "
            "data, past the end of the file (" +
                std::to_string(png.size()) + " bytes)");
}

// Decoding `bytes` either succeeds with a consistent image or fails with an Error naming `name`.
void ExpectImageOrError(const std::vector<uint8_t>& bytes, const std::string& name) {
  try {
    const Image image = DecodeImage(bytes, name, {.max_pixels = 1'000'000});
    ASSERT_GT(image.width, 0);
    ASSERT_GT(image.height, 0);
    ASSERT_EQ(image.rgb.size(), size_t{3} * image.width * image.height);
  } catch (const Error& error) {
    ASSERT_EQ(std::string(error.what()).rfind(name + ": ", 0), 0u) << error.what();
  }
}

std::vector<fs::path> FuzzInputs() {
  std::vector<fs::path> inputs;
  for (const char* file : {"photo.jpg", "photo_progressive.jpg", "photo.png", "photo.bmp",
                           "photo.gif", "photo.ppm", "photo_palette.png", "photo_rgba.png"}) {
    inputs.push_back(kDecodeDir / file);
  }
  for (const char* file :
       {"cmyk_progressive.jpg", "arithmetic_progressive_cjpeg.jpg", "restart_rows_s422.jpg"}) {
    inputs.push_back(kDecodeDir.parent_path() / "jpeg" / file);
  }
  inputs.push_back(kPhotosDir / "mmbench_503.jpg");
  return inputs;
}

TEST(ImageTest, TruncatedFilesDecodeOrFailCleanly) {
  for (const fs::path& path : FuzzInputs()) {
    SCOPED_TRACE(path.string());
    const std::vector<uint8_t> bytes = ReadBytes(path);
    const size_t step = std::max<size_t>(1, bytes.size() / 400);  // every length of small files
    for (size_t length = 0; length < bytes.size(); length += step) {
      ExpectImageOrError(std::vector<uint8_t>(bytes.begin(), bytes.begin() + length),
                         "truncated to " + std::to_string(length));
    }
  }
}

// Run under -fsanitize=address,undefined, these two tests found stb_image's JPEG Huffman table
// overflow (JPEG is now libjpeg's); without sanitizers they only catch crashes and hangs.
TEST(ImageTest, CorruptedFilesDecodeOrFailCleanly) {
  std::mt19937 random(20240917);
  for (const fs::path& path : FuzzInputs()) {
    SCOPED_TRACE(path.string());
    const std::vector<uint8_t> original = ReadBytes(path);
    for (int trial = 0; trial < 150; ++trial) {
      std::vector<uint8_t> bytes = original;
      const int changes = 1 + static_cast<int>(random() % 8);
      for (int i = 0; i < changes; ++i) {
        // Mostly near the start, where the headers and tables are.
        const size_t span = (random() % 2) ? std::min<size_t>(bytes.size(), 512) : bytes.size();
        bytes[random() % span] = static_cast<uint8_t>(random());
      }
      ExpectImageOrError(bytes, "corrupted #" + std::to_string(trial));
    }
  }
}

}  // namespace
}  // namespace lightvlm
