#include "io/image.h"

#include <climits>
#include <cstring>
#include <memory>

#include "base/error.h"
#include "io/mapped_file.h"

// stb_image's implementation lives in this file only. Only the formats the engine accepts are
// compiled in: fewer decoders, less attack surface, and headerless formats such as TGA cannot
// claim arbitrary bytes. STB_IMAGE_STATIC keeps its symbols private to this file; STBI_NO_STDIO
// because files are read through MappedFile. Its code trips a few of our warnings.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_NO_STDIO
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_ONLY_PNM
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace lightvlm {
namespace {

struct StbFree {
  void operator()(stbi_uc* pixels) const { stbi_image_free(pixels); }
};

struct HeaderSize {
  int width = 0;
  int height = 0;
};

// Width and height from the header alone: nothing is decoded or allocated yet.
HeaderSize ReadHeaderSize(const stbi_uc* data, int size, const std::string& name) {
  HeaderSize header;
  int channels = 0;
  if (!stbi_info_from_memory(data, size, &header.width, &header.height, &channels)) {
    Fail(name, ": not a readable JPEG, PNG, BMP, GIF or PNM image (", stbi_failure_reason(), ")");
  }
  Check(header.width > 0 && header.height > 0, name, ": image has zero size (", header.width, "x",
        header.height, ")");
  return header;
}

}  // namespace

Image DecodeImage(std::span<const uint8_t> bytes, const std::string& name,
                  const ImageLimits& limits) {
  Check(!bytes.empty(), name, ": empty file, not an image");
  Check(bytes.size() <= static_cast<size_t>(INT_MAX), name, ": file of ", bytes.size(),
        " bytes is too large to decode");
  const int size = static_cast<int>(bytes.size());
  const HeaderSize header = ReadHeaderSize(bytes.data(), size, name);
  const int64_t pixels = int64_t{header.width} * header.height;
  Check(pixels <= limits.max_pixels, name, ": image of ", header.width, "x", header.height, " = ",
        pixels, " pixels exceeds the limit of ", limits.max_pixels, " pixels");

  Image image;
  int channels_in_file = 0;
  std::unique_ptr<stbi_uc, StbFree> decoded(stbi_load_from_memory(
      bytes.data(), size, &image.width, &image.height, &channels_in_file, /*req_comp=*/3));
  if (!decoded) Fail(name, ": cannot decode image (", stbi_failure_reason(), ")");
  Check(image.width == header.width && image.height == header.height, name, ": decoded size ",
        image.width, "x", image.height, " differs from the header's ", header.width, "x",
        header.height);
  image.rgb.resize(static_cast<size_t>(pixels) * 3);
  std::memcpy(image.rgb.data(), decoded.get(), image.rgb.size());
  return image;
}

Image LoadImage(const std::string& path, const ImageLimits& limits) {
  const auto file = MappedFile::Open(path);
  const auto* data = reinterpret_cast<const uint8_t*>(file->data());
  return DecodeImage(std::span<const uint8_t>(data, file->size()), path, limits);
}

}  // namespace lightvlm
