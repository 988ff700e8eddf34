#include "serve/image_url.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "serve/api_error.h"
#include "serve/test_base64.h"

namespace lightvlm {
namespace {

std::string CodeOf(const std::string& url, const ImageUrlOptions& options = {}) {
  try {
    LoadImageUrl(url, "messages[0].content[0].image_url", options);
  } catch (const ApiError& error) {
    EXPECT_EQ(error.status(), 400);
    EXPECT_EQ(error.param(), "messages[0].content[0].image_url");
    return error.code();
  }
  return "none";
}

TEST(ImageUrlTest, DecodesBase64WithPadding) {
  for (const std::string text : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    if (text.empty()) continue;
    const std::vector<uint8_t> bytes = DecodeBase64(Base64(text), "x");
    EXPECT_EQ(std::string(bytes.begin(), bytes.end()), text);
  }
  EXPECT_EQ(Base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64("fo"), "Zm8=");
}

TEST(ImageUrlTest, RefusesBadBase64) {
  for (const std::string bad : {"", "Zm9", "Zm9v!mFy", "Zm 9v", "=Zm9", "Zm9vY==="}) {
    EXPECT_THROW(DecodeBase64(bad, "x"), ApiError) << bad;
  }
}

TEST(ImageUrlTest, DecodesAPngDataUrlAsTheFileDecodes) {
  const std::string path = LIGHTVLM_SOURCE_DIR "/tests/fixtures/llava/image.png";
  const Image image = LoadImageUrl(PngDataUrl(path), "x", {});
  const Image file = LoadImage(path);
  EXPECT_EQ(image.width, file.width);
  EXPECT_EQ(image.height, file.height);
  EXPECT_EQ(image.rgb, file.rgb);
}

TEST(ImageUrlTest, BadUrlsAreClearRequestErrors) {
  EXPECT_EQ(CodeOf("data:image/png;base64,Zm9v!"), "invalid_image_url");
  EXPECT_EQ(CodeOf("data:image/png,rawbytes"), "invalid_image_url");
  EXPECT_EQ(CodeOf("data:image/png;base64"), "invalid_image_url");
  EXPECT_EQ(CodeOf("data:image/png;base64," + Base64("not an image at all")), "invalid_image");
  EXPECT_EQ(CodeOf("http://127.0.0.1:1/a.png"), "invalid_image_url");  // remote refused
  EXPECT_EQ(CodeOf("file:///etc/passwd"), "invalid_image_url");
  ImageUrlOptions small;
  small.max_bytes = 8;
  EXPECT_EQ(CodeOf("data:image/png;base64," + Base64(std::string(64, 'x')), small),
            "invalid_image_url");
}

TEST(ImageUrlTest, FetchesRemoteImagesOnlyWhereAllowedAndWithinTheLimit) {
  const std::string path = LIGHTVLM_SOURCE_DIR "/tests/fixtures/llava/image.png";
  const std::string png = ReadFileBytes(path);
  httplib::Server server;
  server.Get("/image.png", [&](const httplib::Request&, httplib::Response& response) {
    response.set_content(png, "image/png");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread listener([&] { server.listen_after_bind(); });
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/image.png";
  EXPECT_EQ(CodeOf(url), "invalid_image_url");  // not allowed by default
  ImageUrlOptions allowed;
  allowed.allow_remote = true;
  const Image image = LoadImageUrl(url, "x", allowed);
  EXPECT_EQ(image.rgb, LoadImage(path).rgb);
  EXPECT_EQ(CodeOf("http://127.0.0.1:" + std::to_string(port) + "/missing.png", allowed),
            "invalid_image_url");
  allowed.max_bytes = 100;
  EXPECT_EQ(CodeOf(url, allowed), "invalid_image_url");
  server.stop();
  listener.join();
}

}  // namespace
}  // namespace lightvlm
