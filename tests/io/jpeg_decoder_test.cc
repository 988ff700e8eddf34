// JPEG decoding against Pillow 13 (libjpeg-turbo 3.2): the same pixels exactly, on the files
// tools/make_jpeg_fixtures.py wrote and on the real photographs; clear errors otherwise.
#include "io/jpeg_decoder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/image.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;
using testing::ErrorOf;

const fs::path kJpegDir = fs::path(LIGHTVLM_SOURCE_DIR) / "tests/fixtures/images/jpeg";
const fs::path kPhotosDir = fs::path(LIGHTVLM_SHARED_DIR) / "images";

std::vector<uint8_t> ReadBytes(const fs::path& path) {
  const std::string text = testing::ReadFile(path);
  return std::vector<uint8_t>(text.begin(), text.end());
}

// How many channel values differ, and by how much at most.
struct Difference {
  size_t count = 0;
  int max = 0;
};

Difference Compare(const std::vector<uint8_t>& actual, const uint8_t* expected) {
  Difference difference;
  for (size_t i = 0; i < actual.size(); ++i) {
    const int delta = std::abs(actual[i] - expected[i]);
    difference.count += delta != 0;
    difference.max = std::max(difference.max, delta);
  }
  return difference;
}

TEST(JpegDecoderTest, EveryEncodingDecodesToPillowsPixelsExactly) {
  const auto expected = SafetensorsFile::Open((kJpegDir / "expected.safetensors").string());
  ASSERT_GE(expected->tensors().size(), 27u);
  for (const auto& [file, tensor] : expected->tensors()) {
    SCOPED_TRACE(file);
    const Image image = LoadImage((kJpegDir / file).string());
    ASSERT_EQ(tensor.shape, (std::vector<int64_t>{image.height, image.width, 3}));
    ASSERT_EQ(image.rgb.size(), tensor.num_bytes);
    const Difference difference = Compare(image.rgb, reinterpret_cast<const uint8_t*>(tensor.data));
    EXPECT_EQ(difference.count, 0u) << "max difference " << difference.max;
  }
}

TEST(JpegDecoderTest, ExifOrientationIsNotApplied) {
  // Stored 19x50 with orientation 6 ("rotate 90 degrees to display"): Pillow's Image.open keeps
  // the stored layout, and so does lightvlm (the pixels are checked above).
  const Image image = LoadImage((kJpegDir / "exif_orientation6.jpg").string());
  EXPECT_EQ(image.width, 19);
  EXPECT_EQ(image.height, 50);
}

// FNV-1a, 64 bits: what tools/make_jpeg_fixtures.py records of Pillow's pixels of each photograph.
std::string Fnv1a64(const std::vector<uint8_t>& bytes) {
  uint64_t hash = 0xCBF29CE484222325;
  for (uint8_t byte : bytes) hash = (hash ^ byte) * 0x100000001B3;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

TEST(JpegDecoderTest, RealPhotographsDecodeToPillowsPixelsExactly) {
  const JsonFile record = JsonFile::Load((kJpegDir / "photos.json").string());
  const auto& photos = record.root().at("photos");
  ASSERT_EQ(photos.size(), 6u);
  for (const auto& photo : photos) {
    const std::string file = photo.at("file").get<std::string>();
    SCOPED_TRACE(file);
    const Image image = LoadImage((kPhotosDir / file).string());
    EXPECT_EQ(image.width, photo.at("width").get<int>());
    EXPECT_EQ(image.height, photo.at("height").get<int>());
    EXPECT_EQ(Fnv1a64(image.rgb), photo.at("rgb_fnv1a64").get<std::string>());
  }
}

TEST(JpegDecoderTest, OnlyFilesStartingAsJpegDoAreJpeg) {
  EXPECT_TRUE(LooksLikeJpeg(ReadBytes(kJpegDir / "s420.jpg")));
  EXPECT_FALSE(LooksLikeJpeg(std::vector<uint8_t>{0xFF, 0xD8}));
  EXPECT_FALSE(LooksLikeJpeg(std::vector<uint8_t>{0xFF, 0xD8, 0x00, 0xFF}));
}

// The offset of the first marker `code` (after its 0xFF) in `jpeg`.
size_t FindMarker(const std::vector<uint8_t>& jpeg, uint8_t code) {
  for (size_t i = 2; i + 1 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && jpeg[i + 1] == code) return i + 1;
  }
  ADD_FAILURE() << "no marker " << int{code};
  return 0;
}

TEST(JpegDecoderTest, EmptyAndZeroSizedInputAreErrors) {
  EXPECT_EQ(ErrorOf([] { DecodeJpeg({}, "empty.jpg", {}); }),
            "empty.jpg: corrupt JPEG (Empty input file)");
  std::vector<uint8_t> jpeg = ReadBytes(kJpegDir / "s420.jpg");
  const size_t frame = FindMarker(jpeg, 0xC0);
  jpeg[frame + 4] = jpeg[frame + 5] = 0;  // height
  EXPECT_EQ(ErrorOf([&] { DecodeImage(jpeg, "flat.jpg"); }),
            "flat.jpg: corrupt JPEG (Empty JPEG image (DNL not supported))");
}

TEST(JpegDecoderTest, TruncatedFilesAreErrorsNotGreyPixels) {
  const std::vector<uint8_t> jpeg = ReadBytes(kPhotosDir / "mmbench_21.jpg");
  const std::vector<uint8_t> half(jpeg.begin(), jpeg.begin() + jpeg.size() / 2);
  EXPECT_EQ(ErrorOf([&] { DecodeImage(half, "half.jpg"); }),
            "half.jpg: truncated JPEG (Premature end of JPEG file)");
  // Pillow fills the rest of the scan with grey when an end marker follows the cut; not lightvlm.
  std::vector<uint8_t> half_with_end = half;
  half_with_end.insert(half_with_end.end(), {0xFF, 0xD9});
  EXPECT_EQ(ErrorOf([&] { DecodeImage(half_with_end, "ended.jpg"); }),
            "ended.jpg: truncated JPEG (Corrupt JPEG data: premature end of data segment)");
  // Pillow also refuses a file missing only its end-of-image marker ("image file is truncated").
  const std::vector<uint8_t> no_end(jpeg.begin(), jpeg.end() - 2);
  EXPECT_EQ(ErrorOf([&] { DecodeImage(no_end, "no_end.jpg"); }),
            "no_end.jpg: truncated JPEG (Premature end of JPEG file)");
  const std::vector<uint8_t> header_only(jpeg.begin(), jpeg.begin() + 300);
  EXPECT_EQ(ErrorOf([&] { DecodeImage(header_only, "header.jpg"); }),
            "header.jpg: truncated JPEG (Premature end of JPEG file)");
}

TEST(JpegDecoderTest, PixelLimitIsCheckedFromTheFrameHeaderBeforeDecoding) {
  // The frame header claims 60000x60000 and the file ends right after the scan header: had
  // decoding started, the error would be about missing data.
  std::vector<uint8_t> jpeg = ReadBytes(kJpegDir / "s420.jpg");
  const size_t frame = FindMarker(jpeg, 0xC0);
  for (size_t field : {frame + 4, frame + 6}) {  // height, then width, after length and precision
    jpeg[field] = 60000 >> 8;
    jpeg[field + 1] = 60000 & 0xFF;
  }
  const size_t scan = FindMarker(jpeg, 0xDA);
  jpeg.resize(scan + 1 + (jpeg[scan + 1] << 8 | jpeg[scan + 2]));
  EXPECT_EQ(ErrorOf([&] { DecodeImage(jpeg, "bomb.jpg"); }),
            "bomb.jpg: image of 60000x60000 = 3600000000 pixels exceeds the limit of 50000000 "
            "pixels");
  EXPECT_EQ(
      DecodeImage(ReadBytes(kJpegDir / "s420.jpg"), "s420.jpg", {.max_pixels = 61 * 43}).width, 61);
  EXPECT_EQ(ErrorOf([&] {
              DecodeImage(ReadBytes(kJpegDir / "s420.jpg"), "s420.jpg", {.max_pixels = 100});
            }),
            "s420.jpg: image of 61x43 = 2623 pixels exceeds the limit of 100 pixels");
}

// The first scan of a progressive JPEG (header and entropy-coded data) that is a first pass over
// AC coefficients (Ss > 0, Ah = 0): decoding it again does not depend on what earlier scans left.
std::vector<uint8_t> FirstAcScan(const std::vector<uint8_t>& jpeg) {
  for (size_t pos = 2; pos + 3 < jpeg.size(); ++pos) {
    if (!(jpeg[pos] == 0xFF && jpeg[pos + 1] == 0xDA)) continue;
    const size_t data = pos + 2 + (jpeg[pos + 2] << 8 | jpeg[pos + 3]);
    const uint8_t first_coefficient = jpeg[data - 3];
    const uint8_t bit_positions = jpeg[data - 1];  // Ah << 4 | Al
    if (first_coefficient == 0 || bit_positions >> 4 != 0) continue;
    size_t end = data;
    while (!(jpeg[end] == 0xFF && jpeg[end + 1] != 0x00)) ++end;  // the next marker
    return std::vector<uint8_t>(jpeg.begin() + pos, jpeg.begin() + end);
  }
  ADD_FAILURE() << "no first AC scan";
  return {};
}

TEST(JpegDecoderTest, RefusesFilesWithThousandsOfScans) {
  // Each scan of a progressive file revisits every block; a small file repeating one scan would
  // keep libjpeg busy for long on a large image. The repeats only draw warnings, which are silent
  // (as in Pillow), so the scan limit is what stops it.
  const std::vector<uint8_t> jpeg = ReadBytes(kJpegDir / "progressive_s420.jpg");
  const std::vector<uint8_t> scan = FirstAcScan(jpeg);
  std::vector<uint8_t> repeated(jpeg.begin(), jpeg.end() - 2);  // all but the end marker
  for (int i = 0; i < 990; ++i) repeated.insert(repeated.end(), scan.begin(), scan.end());
  repeated.insert(repeated.end(), {0xFF, 0xD9});
  EXPECT_EQ(DecodeImage(repeated, "990.jpg").width, 61);  // 10 scans + 990: within the limit
  repeated.insert(repeated.end() - 2, scan.begin(), scan.end());
  EXPECT_EQ(ErrorOf([&] { DecodeImage(repeated, "1001.jpg"); }),
            "1001.jpg: corrupt JPEG (more than 1000 scans)");
}

TEST(JpegDecoderTest, RefusesHuffmanTablesWithTooManyCodes) {
  // A DHT table declaring 16 x 255 codes (at most 256 are valid); stb_image 2.27 wrote past its
  // tables on this, libjpeg refuses it.
  std::vector<uint8_t> jpeg = ReadBytes(kJpegDir / "s420.jpg");
  const size_t dht = FindMarker(jpeg, 0xC4);
  for (int i = 0; i < 16; ++i) jpeg[dht + 4 + i] = 255;  // after marker, length, class/id
  EXPECT_EQ(ErrorOf([&] { DecodeImage(jpeg, "evil.jpg"); }),
            "evil.jpg: corrupt JPEG (Bogus Huffman table definition)");
}

}  // namespace
}  // namespace lightvlm
