// Image decoding (JPEG, PNG, BMP, GIF first frame, PNM) into 8-bit RGB: JPEG through
// libjpeg-turbo exactly as Pillow decodes it (io/jpeg_decoder.h), the others through stb_image.
//
// Every image comes out as RGB, as transformers' processors see it after convert_to_rgb, which
// calls PIL's Image.convert("RGB"): gray is replicated into the three channels, and alpha is
// DROPPED, not composited onto any background (PIL's RGBA->RGB and LA->RGB conversions discard
// the alpha band; transformers 4.46 adds no compositing). Transparent pixels therefore keep the
// colour stored under them, exactly as the reference pixel values see them.
//
// EXIF orientation is not applied, as PIL's Image.open does not apply it. Known differences from
// PIL: 16-bit PNGs keep their high byte (PIL saturates 16-bit gray to 255 when converting to RGB);
// GIF pixels under the transparent index come out black (PIL gives the palette colour); a JPEG
// scan cut short by a marker is refused (PIL fills it with grey). 16-bit PNM files are refused:
// stb_image 2.27 decodes them wrongly.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lightvlm {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // [height, width, 3], row-major
};

struct ImageLimits {
  // Checked against the header's width x height before any pixel is decoded, so that a small
  // file claiming huge dimensions (a decompression bomb) is refused without allocating.
  int64_t max_pixels = 50'000'000;
};

// Decodes an encoded image held in memory. `name` (a path, a URL, "request image 2") is only for
// errors. Fails with an Error naming `name` and the problem for empty, truncated, corrupt,
// zero-sized, too large and unknown-format input.
Image DecodeImage(std::span<const uint8_t> bytes, const std::string& name,
                  const ImageLimits& limits = {});

// Fails, naming `name`, unless the image is non-empty and within `limits`; the decoders call it
// with the header's size before decoding.
void CheckImageSize(uint32_t width, uint32_t height, const ImageLimits& limits,
                    const std::string& name);

// Reads and decodes the file at `path`; errors name the path.
Image LoadImage(const std::string& path, const ImageLimits& limits = {});

}  // namespace lightvlm
