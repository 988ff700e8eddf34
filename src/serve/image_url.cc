#include "serve/image_url.h"

#include <openssl/evp.h>

#include <httplib.h>

#include "serve/api_error.h"

namespace lightvlm {
namespace {

[[noreturn]] void BadImage(const std::string& name, const std::string& message) {
  throw ApiError(400, "invalid_image_url", StrCat(name, ": ", message), name);
}

std::vector<uint8_t> DataUrlBytes(const std::string& url, const std::string& name,
                                  const ImageUrlOptions& options) {
  const size_t comma = url.find(',');
  if (comma == std::string::npos) BadImage(name, "a data: URL needs a comma before its data");
  const std::string header = url.substr(5, comma - 5);
  if (!header.ends_with(";base64")) BadImage(name, "only base64 data: URLs are taken");
  const std::string payload = url.substr(comma + 1);
  // Base64 grows the bytes by 4/3: refuse before decoding anything.
  if (static_cast<int64_t>(payload.size()) / 4 * 3 > options.max_bytes) {
    BadImage(name, StrCat("the image is over the limit of ", options.max_bytes, " bytes"));
  }
  return DecodeBase64(payload, name);
}

std::vector<uint8_t> RemoteBytes(const std::string& url, const std::string& name,
                                 const ImageUrlOptions& options) {
  if (!options.allow_remote) {
    BadImage(name,
             "remote image URLs are refused (start the server with --allow-remote-images); "
             "send the image as a data: URL");
  }
  const size_t scheme_end = url.find("://");
  const size_t path_start = url.find('/', scheme_end + 3);
  const std::string origin = url.substr(0, path_start);
  const std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
  httplib::Client client(origin);
  client.set_connection_timeout(options.fetch_timeout_seconds);
  client.set_read_timeout(options.fetch_timeout_seconds);
  client.set_follow_location(true);
  std::vector<uint8_t> bytes;
  bool too_large = false;
  const httplib::Result result = client.Get(path, [&](const char* data, size_t length) {
    if (static_cast<int64_t>(bytes.size() + length) > options.max_bytes) {
      too_large = true;
      return false;
    }
    bytes.insert(bytes.end(), data, data + length);
    return true;
  });
  if (too_large)
    BadImage(name, StrCat("the image is over the limit of ", options.max_bytes, " bytes"));
  if (!result)
    BadImage(name, StrCat("cannot fetch ", url, ": ", httplib::to_string(result.error())));
  if (result->status != 200) BadImage(name, StrCat("fetching ", url, " answered ", result->status));
  return bytes;
}

}  // namespace

std::vector<uint8_t> DecodeBase64(const std::string& text, const std::string& name) {
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  bool valid = !text.empty() && text.size() % 4 == 0;
  for (size_t i = 0; valid && i < text.size() - padding; ++i) {
    valid = kAlphabet.find(text[i]) != std::string_view::npos;
  }
  if (!valid) BadImage(name, "the data is not valid base64");
  // OpenSSL decodes whole groups of four, the padding's bytes as zeros.
  std::vector<uint8_t> bytes(text.size() / 4 * 3);
  const int written = EVP_DecodeBlock(bytes.data(), reinterpret_cast<const uint8_t*>(text.data()),
                                      static_cast<int>(text.size()));
  if (written < 0) BadImage(name, "the data is not valid base64");
  bytes.resize(static_cast<size_t>(written) - padding);
  return bytes;
}

Image LoadImageUrl(const std::string& url, const std::string& name,
                   const ImageUrlOptions& options) {
  std::vector<uint8_t> bytes;
  if (url.starts_with("data:")) {
    bytes = DataUrlBytes(url, name, options);
  } else if (url.starts_with("http://") || url.starts_with("https://")) {
    bytes = RemoteBytes(url, name, options);
  } else {
    BadImage(name, "must be a data: URL (or http(s) where the server allows remote images)");
  }
  try {
    return DecodeImage(bytes, name, options.limits);
  } catch (const ApiError&) {
    throw;
  } catch (const Error& error) {
    throw ApiError(400, "invalid_image", error.what(), name);
  }
}

}  // namespace lightvlm
