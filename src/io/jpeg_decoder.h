// JPEG decoding through libjpeg-turbo, configured as Pillow configures it, so that the pixels equal
// those of transformers' processors (PIL's Image.open(...).convert("RGB")) exactly.
//
// Pillow 13 reads a JPEG by its number of components: 1 is gray (replicated into RGB), 3 is
// converted to RGB by libjpeg (from YCbCr, or kept when the file is RGB), 4 is read as CMYK
// (libjpeg turns YCCK into CMYK), inverted as Adobe files store it ("CMYK;I", which Pillow assumes
// for every CMYK JPEG), then converted to RGB with Pillow's integer formula. Decoding uses
// libjpeg's defaults, which Pillow keeps: the accurate integer IDCT and fancy (smooth) chroma
// upsampling. Files of other component counts or of other than 8-bit samples are refused, as Pillow
// refuses them.
//
// libjpeg's warnings are silent, as in Pillow, except the two that mean entropy-coded data is
// missing (the file ends early, or a marker cuts a scan short): those are errors. Pillow also fails
// on a file that ends early ("image file is truncated"), but fills a scan cut short by a marker
// with grey; lightvlm refuses both rather than answer about grey pixels.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "io/image.h"

namespace lightvlm {

// Whether `bytes` start as a JPEG does (SOI marker then another marker), Pillow's test.
bool LooksLikeJpeg(std::span<const uint8_t> bytes);

// Decodes a JPEG; the pixel limit is checked from the frame header before any pixel is decoded.
// Errors name `name` and the problem (corrupt, truncated, unsupported, too large).
Image DecodeJpeg(std::span<const uint8_t> bytes, const std::string& name,
                 const ImageLimits& limits);

}  // namespace lightvlm
