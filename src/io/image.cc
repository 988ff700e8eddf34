#include "io/image.h"

#include <algorithm>
#include <climits>
#include <memory>

#include "base/error.h"
#include "io/mapped_file.h"

// stb_image's implementation lives in this file only. Only the formats the engine accepts are
// compiled in: fewer decoders, less attack surface, and headerless formats such as TGA cannot
// claim arbitrary bytes. STB_IMAGE_STATIC keeps its symbols private to this file; STBI_NO_STDIO
// because files are read through MappedFile. Its allocations are zeroed: on corrupt input stb reads
// memory it never wrote (a JPEG scan may use a Huffman table no segment defined, and its decoder
// state is malloc'ed), which would make the output depend on stale heap contents. stb_image 2.27
// compiles cleanly under -Wall -Wextra (GCC 12 and Clang, -O0 to -O3): no warning is silenced.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_MALLOC(size) calloc(1, size)
#define STBI_REALLOC(pointer, size) realloc(pointer, size)
#define STBI_FREE(pointer) free(pointer)
#define STB_IMAGE_STATIC
#define STBI_NO_STDIO
#define STBI_ONLY_JPEG
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

// --- A guard for a bug of stb_image 2.27 (Debian's libstb-dev): a JPEG Huffman table (DHT)
// declaring more than 256 codes makes it write past its 256-entry tables, corrupting the decoder's
// memory (upstream 2.28 rejects such tables). Those tables are invalid JPEG, so DecodeImage
// refuses them before stb reads anything. The walk below visits every DHT segment stb would read:
// it skips padding between segments (stb does before the frame header and fails on it after),
// skips each scan's entropy-coded data up to the first marker that is not stuffing (FF 00), fill
// (FF FF) or a restart (FF D0..D7), and reads tables past a segment's declared length as stb does.

// The byte at `pos`, or 0 past the end, which is what stb reads there.
uint8_t ByteAt(std::span<const uint8_t> bytes, size_t pos) {
  return pos < bytes.size() ? bytes[pos] : 0;
}

bool IsRestartMarker(uint8_t marker) { return marker >= 0xD0 && marker <= 0xD7; }

// Position just past the marker code that starts at `pos` (0xFF, more 0xFF fill, the code).
size_t SkipMarkerPrefix(std::span<const uint8_t> bytes, size_t pos) {
  while (pos < bytes.size() && bytes[pos] == 0xFF) ++pos;
  return pos;
}

// Position of the 0xFF that starts the first marker after entropy-coded data beginning at `pos`.
size_t SkipEntropyCodedData(std::span<const uint8_t> bytes, size_t pos) {
  while (pos < bytes.size()) {
    if (bytes[pos] != 0xFF) {
      ++pos;
      continue;
    }
    const size_t code = SkipMarkerPrefix(bytes, pos);
    if (code < bytes.size() && bytes[code] != 0x00 && !IsRestartMarker(bytes[code])) return pos;
    pos = code + 1;
  }
  return pos;
}

// Whether a DHT segment whose tables start at `pos` has a table of more than 256 codes.
bool HuffmanSegmentOverflows(std::span<const uint8_t> bytes, size_t pos, int segment_length) {
  for (int remaining = segment_length - 2; remaining > 0;) {
    int codes = 0;
    for (int i = 0; i < 16; ++i) codes += ByteAt(bytes, pos + 1 + i);  // after the class/id byte
    if (codes > 256) return true;
    pos += 17 + codes;
    remaining -= 17 + codes;
  }
  return false;
}

bool JpegHasOversizedHuffmanTable(std::span<const uint8_t> bytes) {
  if (bytes.empty() || bytes[0] != 0xFF) return false;
  size_t pos = SkipMarkerPrefix(bytes, 0);
  if (ByteAt(bytes, pos) != 0xD8) return false;  // no start-of-image marker: not a JPEG
  ++pos;
  while (pos < bytes.size()) {
    if (bytes[pos] != 0xFF) {  // padding between segments
      ++pos;
      continue;
    }
    pos = SkipMarkerPrefix(bytes, pos);
    const uint8_t marker = ByteAt(bytes, pos++);
    if (marker == 0xD9) break;                                                  // end of image
    if (marker == 0x00 || marker == 0x01 || IsRestartMarker(marker)) continue;  // no length
    const int length = ByteAt(bytes, pos) << 8 | ByteAt(bytes, pos + 1);
    if (marker == 0xC4 && HuffmanSegmentOverflows(bytes, pos + 2, length)) return true;
    pos += std::max(length, 2);
    if (marker == 0xDA) pos = SkipEntropyCodedData(bytes, pos);  // start of scan
  }
  return false;
}

struct HeaderSize {
  int width = 0;
  int height = 0;
};

// Width and height from the header alone: nothing is decoded or allocated yet.
HeaderSize ReadHeaderSize(const stbi_uc* data, int size, const std::string& name) {
  // stb reads Huffman tables while reading a JPEG's header, so the guard goes first.
  Check(!JpegHasOversizedHuffmanTable(std::span<const uint8_t>(data, size)), name,
        ": corrupt JPEG (a Huffman table declares more than 256 codes)");
  HeaderSize header;
  int channels = 0;
  if (!stbi_info_from_memory(data, size, &header.width, &header.height, &channels)) {
    Fail(name, ": not a readable JPEG, PNG, BMP, GIF or PNM image (", stbi_failure_reason(), ")");
  }
  Check(header.width > 0 && header.height > 0, name, ": image has zero size (", header.width, "x",
        header.height, ")");
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

Image DecodeImage(std::span<const uint8_t> bytes, const std::string& name,
                  const ImageLimits& limits) {
  Check(!bytes.empty(), name, ": empty file, not an image");
  Check(bytes.size() <= static_cast<size_t>(INT_MAX), name, ": file of ", bytes.size(),
        " bytes is too large to decode");
  const int size = static_cast<int>(bytes.size());
  const PnmHeader pnm = ReadPnmHeader(bytes);
  if (pnm.channels != 0) CheckPnmHeader(pnm, name);
  const HeaderSize header = ReadHeaderSize(bytes.data(), size, name);
  const int64_t pixels = int64_t{header.width} * header.height;
  Check(pixels <= limits.max_pixels, name, ": image of ", header.width, "x", header.height, " = ",
        pixels, " pixels exceeds the limit of ", limits.max_pixels, " pixels");
  if (pnm.channels != 0) CheckPnmHasAllSamples(pnm, pixels, bytes.size(), name);

  Image image;
  int channels_in_file = 0;
  std::unique_ptr<stbi_uc, StbFree> decoded(stbi_load_from_memory(
      bytes.data(), size, &image.width, &image.height, &channels_in_file, /*req_comp=*/3));
  if (!decoded) Fail(name, ": cannot decode image (", stbi_failure_reason(), ")");
  Check(image.width == header.width && image.height == header.height, name, ": decoded size ",
        image.width, "x", image.height, " differs from the header's ", header.width, "x",
        header.height);
  image.rgb.assign(decoded.get(), decoded.get() + 3 * pixels);
  return image;
}

Image LoadImage(const std::string& path, const ImageLimits& limits) {
  const auto file = MappedFile::Open(path);
  const auto* data = reinterpret_cast<const uint8_t*>(file->data());
  return DecodeImage(std::span<const uint8_t>(data, file->size()), path, limits);
}

}  // namespace lightvlm
