// The image behind a request's image_url: a data: URL with base64 bytes, or, only where the server
// allows it, an http(s) URL fetched with a size limit. Errors are ApiErrors (400) naming the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/image.h"

namespace lightvlm {

struct ImageUrlOptions {
  bool allow_remote = false;              // --allow-remote-images
  int64_t max_bytes = int64_t{20} << 20;  // of one encoded image
  int fetch_timeout_seconds = 10;
  ImageLimits limits;  // of the decoded image
};

// The bytes of a base64 payload (RFC 4648, padding required, whitespace not allowed).
std::vector<uint8_t> DecodeBase64(const std::string& text, const std::string& name);

Image LoadImageUrl(const std::string& url, const std::string& name, const ImageUrlOptions& options);

}  // namespace lightvlm
