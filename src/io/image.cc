#include "io/image.h"

#include <algorithm>
#include <climits>
#include <memory>
#include <optional>
#include <vector>

#include "base/error.h"
#include "io/jpeg_decoder.h"
#include "io/mapped_file.h"

// stb_image's implementation lives in this file only. Only the formats it decodes here are
// compiled in: fewer decoders, less attack surface, and headerless formats such as TGA cannot
// claim arbitrary bytes (JPEG goes to libjpeg-turbo, see io/jpeg_decoder.h). STB_IMAGE_STATIC keeps
// its symbols private to this file; STBI_NO_STDIO because files are read through MappedFile. Its
// allocations are zeroed so that corrupt input can never make the output depend on stale heap
// contents. stb_image 2.27 compiles cleanly under -Wall -Wextra (GCC 12 and Clang, -O0 to -O3): no
// warning is silenced.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_MALLOC(size) calloc(1, size)
#define STBI_REALLOC(pointer, size) realloc(pointer, size)
#define STBI_FREE(pointer) free(pointer)
#define STB_IMAGE_STATIC
#define STBI_NO_STDIO
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_ONLY_PNM
#include <stb/stb_image.h>

namespace lightvlm {
namespace {

struct StbFree {
  void operator()(stbi_uc* pixels) const { stbi_image_free(pixels); }
};

struct HeaderSize {
  uint32_t width = 0;
  uint32_t height = 0;
};

// --- PNG. stb_image 2.27 checks a PNG's size against its own limit while reading the header, and
// stbi_info then reports any failure as "unknown image type"; so the size is read from the IHDR
// chunk here and checked against the caller's limit first.

uint32_t BigEndian32(std::span<const uint8_t> bytes, size_t pos) {
  return uint32_t{bytes[pos]} << 24 | uint32_t{bytes[pos + 1]} << 16 |
         uint32_t{bytes[pos + 2]} << 8 | bytes[pos + 3];
}

bool ChunkTypeIs(std::span<const uint8_t> bytes, size_t chunk, const char (&type)[5]) {
  return std::equal(type, type + 4, bytes.begin() + chunk + 4);
}

bool IsPng(std::span<const uint8_t> bytes) {
  static constexpr uint8_t kSignature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return bytes.size() >= 8 &&
         std::equal(std::begin(kSignature), std::end(kSignature), bytes.begin());
}

// The size declared by a PNG's first chunk, when it is a complete IHDR header.
std::optional<HeaderSize> ReadPngSize(std::span<const uint8_t> bytes) {
  if (!IsPng(bytes) || bytes.size() < 24 || !ChunkTypeIs(bytes, 8, "IHDR")) return std::nullopt;
  return HeaderSize{BigEndian32(bytes, 16), BigEndian32(bytes, 20)};
}

// Two things stb_image 2.27 gets wrong are mended here, before it reads the file:
// * it grows its buffer to the length an IDAT chunk declares before it reads the data, so a chunk
//   claiming 1.4 GB in a small file allocates 1.4 GB (found by fuzzing): every chunk up to IEND
//   must lie inside the file;
// * it offsets and copies into a null pointer when the first IDAT chunk is empty (undefined
//   behaviour, reported by -fsanitize=undefined). Empty IDAT chunks add nothing to the compressed
//   stream, so a copy of the file without them decodes to the same pixels.
// The result is empty when the file has no empty IDAT chunk (the bytes can be read as they are).
std::vector<uint8_t> PngWithoutEmptyIdatChunks(std::span<const uint8_t> bytes,
                                               const std::string& name) {
  std::vector<uint8_t> copy;
  size_t copied_up_to = 0;
  for (size_t chunk = 8; chunk + 12 <= bytes.size();) {  // length, type, data, CRC
    const uint32_t length = BigEndian32(bytes, chunk);
    Check(length <= bytes.size() - chunk - 12, name, ": truncated PNG: the chunk at byte ", chunk,
          " declares ", length, " bytes of data, past the end of the file (", bytes.size(),
          " bytes)");
    if (length == 0 && ChunkTypeIs(bytes, chunk, "IDAT")) {
      copy.insert(copy.end(), bytes.begin() + copied_up_to, bytes.begin() + chunk);
      copied_up_to = chunk + 12;
    }
    if (ChunkTypeIs(bytes, chunk, "IEND")) break;
    chunk += size_t{12} + length;
  }
  if (copied_up_to != 0) copy.insert(copy.end(), bytes.begin() + copied_up_to, bytes.end());
  return copy;
}

// Width and height from the header alone, checked against `limits`: nothing is decoded or
// allocated yet.
HeaderSize ReadCheckedHeaderSize(std::span<const uint8_t> bytes, const std::string& name,
                                 const ImageLimits& limits) {
  if (const auto png = ReadPngSize(bytes)) CheckImageSize(png->width, png->height, limits, name);
  int width = 0;
  int height = 0;
  int channels = 0;
  if (!stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width, &height,
                             &channels)) {
    Fail(name, ": not a readable JPEG, PNG, BMP, GIF or PNM image (", stbi_failure_reason(), ")");
  }
  const HeaderSize header = {static_cast<uint32_t>(width), static_cast<uint32_t>(height)};
  CheckImageSize(header.width, header.height, limits, name);
  return header;
}

// --- Guards for stb_image 2.27's PNM loader, which reads the header numbers into an int without
// an overflow check, swaps the bytes of 16-bit samples (maxval above 255) and reads gray ones past
// its buffer, and does not notice a truncated file (the missing pixels stay unwritten). So the
// header is read here first, as stb reads it: "P5" (gray) or "P6" (RGB), then width, height and
// maxval separated by whitespace and '#' comments, then one more character before the samples.
struct PnmHeader {
  int channels = 0;           // 1 for P5, 3 for P6; 0 when the input is not a binary PNM
  int64_t maxval = 0;         // > 255 means 16-bit samples
  int longest_number = 0;     // digits of the longest of the three numbers
  size_t samples_offset = 0;  // where the samples start
};

bool IsPnmSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

PnmHeader ReadPnmHeader(std::span<const uint8_t> bytes) {
  PnmHeader header;
  if (bytes.size() < 2 || bytes[0] != 'P' || (bytes[1] != '5' && bytes[1] != '6')) return header;
  header.channels = bytes[1] == '5' ? 1 : 3;
  size_t pos = 2;
  const auto at_end = [&] { return pos >= bytes.size(); };
  const auto next = [&] { return at_end() ? '\0' : static_cast<char>(bytes[pos++]); };
  char c = next();
  for (int field = 0; field < 3; ++field) {
    for (;;) {  // whitespace and comments, with stb's end-of-input rules
      while (!at_end() && IsPnmSpace(c)) c = next();
      if (at_end() || c != '#') break;
      while (!at_end() && c != '\n' && c != '\r') c = next();
    }
    int64_t value = 0;
    int digits = 0;
    while (!at_end() && c >= '0' && c <= '9' && digits < 18) {
      value = value * 10 + (c - '0');
      ++digits;
      c = next();
    }
    header.longest_number = std::max(header.longest_number, digits);
    if (field == 2) header.maxval = value;
  }
  header.samples_offset = pos;
  return header;
}

void CheckPnmHeader(const PnmHeader& pnm, const std::string& name) {
  Check(pnm.longest_number <= 9, name, ": PNM header has a number of more than 9 digits");
  Check(pnm.maxval <= 255, name, ": 16-bit PNM images (maxval ", pnm.maxval, ") are not supported");
}

void CheckPnmHasAllSamples(const PnmHeader& pnm, int64_t pixels, size_t file_size,
                           const std::string& name) {
  const int64_t needed = pixels * pnm.channels;
  const int64_t available = static_cast<int64_t>(file_size - pnm.samples_offset);
  Check(available >= needed, name, ": truncated PNM image: ", needed, " bytes of pixels expected, ",
        available, " present");
}

}  // namespace

void CheckImageSize(uint32_t width, uint32_t height, const ImageLimits& limits,
                    const std::string& name) {
  Check(width > 0 && height > 0, name, ": image has zero size (", width, "x", height, ")");
  const uint64_t pixels = uint64_t{width} * height;
  Check(pixels <= static_cast<uint64_t>(limits.max_pixels), name, ": image of ", width, "x", height,
        " = ", pixels, " pixels exceeds the limit of ", limits.max_pixels, " pixels");
}

Image DecodeImage(std::span<const uint8_t> bytes, const std::string& name,
                  const ImageLimits& limits) {
  Check(!bytes.empty(), name, ": empty file, not an image");
  Check(bytes.size() <= static_cast<size_t>(INT_MAX), name, ": file of ", bytes.size(),
        " bytes is too large to decode");
  if (LooksLikeJpeg(bytes)) return DecodeJpeg(bytes, name, limits);
  const PnmHeader pnm = ReadPnmHeader(bytes);
  if (pnm.channels != 0) CheckPnmHeader(pnm, name);
  const HeaderSize header = ReadCheckedHeaderSize(bytes, name, limits);
  const int64_t pixels = int64_t{header.width} * header.height;
  if (pnm.channels != 0) CheckPnmHasAllSamples(pnm, pixels, bytes.size(), name);
  const std::vector<uint8_t> png_copy =
      IsPng(bytes) ? PngWithoutEmptyIdatChunks(bytes, name) : std::vector<uint8_t>{};
  if (!png_copy.empty()) bytes = png_copy;

  Image image;
  int channels_in_file = 0;
  std::unique_ptr<stbi_uc, StbFree> decoded(
      stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &image.width,
                            &image.height, &channels_in_file, /*req_comp=*/3));
  if (!decoded) Fail(name, ": cannot decode image (", stbi_failure_reason(), ")");
  Check(static_cast<uint32_t>(image.width) == header.width &&
            static_cast<uint32_t>(image.height) == header.height,
        name, ": decoded size ", image.width, "x", image.height, " differs from the header's ",
        header.width, "x", header.height);
  image.rgb.assign(decoded.get(), decoded.get() + 3 * pixels);
  return image;
}

Image LoadImage(const std::string& path, const ImageLimits& limits) {
  const auto file = MappedFile::Open(path);
  const auto* data = reinterpret_cast<const uint8_t*>(file->data());
  return DecodeImage(std::span<const uint8_t>(data, file->size()), path, limits);
}

}  // namespace lightvlm
