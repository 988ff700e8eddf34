#include "io/jpeg_decoder.h"

#include <csetjmp>
#include <cstdio>  // before jpeglib.h, which uses FILE and size_t without including their headers
#include <vector>

#include <jerror.h>  // the warning codes
#include <jpeglib.h>

#include "base/error.h"

namespace lightvlm {
namespace {

// Real progressive files have about 10 scans. Each scan makes libjpeg revisit every block, so a
// small hostile file with tens of thousands of scans would keep it busy for minutes;
// libjpeg-turbo's own TurboJPEG API refuses such files by the same kind of limit.
constexpr int kMaxScans = 1000;

// libjpeg reports a fatal error by calling error_exit, which must not return: it jumps back to the
// setjmp in Attempt below. No C++ object with a destructor lives in the frames that the jump skips
// (libjpeg's own and Attempt's lambda), so the jump is well defined; the error becomes an Error
// only after it.
struct JpegErrors {
  jpeg_error_mgr manager;  // first: libjpeg's pointer to the manager is a pointer to this
  jpeg_progress_mgr progress;
  std::jmp_buf jump;
  const char* kind = "corrupt";  // "corrupt" or "truncated"
  char message[JMSG_LENGTH_MAX] = {};
};

JpegErrors& ErrorsOf(j_common_ptr cinfo) { return *reinterpret_cast<JpegErrors*>(cinfo->err); }

[[noreturn]] void ExitWithLibjpegMessage(j_common_ptr cinfo) {
  JpegErrors& errors = ErrorsOf(cinfo);
  cinfo->err->format_message(cinfo, errors.message);
  std::longjmp(errors.jump, 1);
}

// Warnings (level -1) are silent as in Pillow, except those that mean pixels would be made up:
// the file ended early, or a marker ended a scan before its data did.
void EmitMessage(j_common_ptr cinfo, int level) {
  const int code = cinfo->err->msg_code;
  if (level < 0 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER)) {
    ErrorsOf(cinfo).kind = "truncated";
    ExitWithLibjpegMessage(cinfo);
  }
}

void LimitScans(j_common_ptr cinfo) {
  if (reinterpret_cast<j_decompress_ptr>(cinfo)->input_scan_number <= kMaxScans) return;
  JpegErrors& errors = ErrorsOf(cinfo);
  std::snprintf(errors.message, sizeof errors.message, "more than %d scans", kMaxScans);
  std::longjmp(errors.jump, 1);
}

// Runs `call`, which calls into libjpeg; false when libjpeg reported an error.
template <typename Call>
bool Attempt(JpegErrors& errors, const Call& call) {
  if (setjmp(errors.jump) != 0) return false;
  call();
  return true;
}

// A libjpeg decompressor, destroyed with this object; its calls go through Run, which turns
// libjpeg's errors into Errors naming the file.
class Decompressor {
 public:
  explicit Decompressor(const std::string& name) : name_(name) {
    cinfo_.err = jpeg_std_error(&errors_.manager);
    errors_.manager.error_exit = ExitWithLibjpegMessage;
    errors_.manager.emit_message = EmitMessage;
    errors_.progress.progress_monitor = LimitScans;
    Run([this] { jpeg_create_decompress(&cinfo_); });
    cinfo_.progress = &errors_.progress;
  }
  ~Decompressor() { jpeg_destroy_decompress(&cinfo_); }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  jpeg_decompress_struct& cinfo() { return cinfo_; }

  template <typename Call>
  void Run(const Call& call) {
    if (!Attempt(errors_, call)) Fail(name_, ": ", errors_.kind, " JPEG (", errors_.message, ")");
  }

 private:
  const std::string& name_;
  JpegErrors errors_;
  jpeg_decompress_struct cinfo_ = {};
};

// What Pillow's JPEG reader asks libjpeg for, by the number of components in the frame.
J_COLOR_SPACE OutputColorSpace(int components, const std::string& name) {
  switch (components) {
    case 1:
      return JCS_GRAYSCALE;
    case 3:
      return JCS_RGB;
    case 4:
      return JCS_CMYK;
  }
  Fail(name, ": JPEG with ", components,
       " components is not supported (1 is gray, 3 colour, 4 CMYK)");
}

// Pillow's MULDIV255: a * b / 255 rounded, in integers.
int MulDiv255(int a, int b) {
  const int product = a * b + 128;
  return ((product >> 8) + product) >> 8;
}

// Pillow reads CMYK JPEGs inverted ("CMYK;I": Adobe files store 255 - ink), then
// Image.convert("RGB") computes each channel as W - C * W / 255 (MULDIV255), where C is the ink of
// the channel and W = 255 - K the light the black ink lets through; never below 0, so no clipping.
void CmykToRgb(const std::vector<uint8_t>& stored, std::vector<uint8_t>& rgb) {
  for (size_t pixel = 0; pixel < stored.size() / 4; ++pixel) {
    const uint8_t* in = &stored[4 * pixel];
    const int light = in[3];  // 255 - K, where K = 255 - in[3]
    for (int channel = 0; channel < 3; ++channel) {
      const int ink = 255 - in[channel];
      rgb[3 * pixel + channel] = static_cast<uint8_t>(light - MulDiv255(ink, light));
    }
  }
}

}  // namespace

bool LooksLikeJpeg(std::span<const uint8_t> bytes) {
  return bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
}

Image DecodeJpeg(std::span<const uint8_t> bytes, const std::string& name,
                 const ImageLimits& limits) {
  Decompressor jpeg(name);
  jpeg_decompress_struct& cinfo = jpeg.cinfo();
  jpeg.Run([&] { jpeg_mem_src(&cinfo, bytes.data(), bytes.size()); });  // fails on empty input
  jpeg.Run([&] { jpeg_read_header(&cinfo, TRUE); });
  Check(cinfo.data_precision == 8, name, ": JPEG with ", cinfo.data_precision,
        "-bit samples is not supported (8-bit only)");
  cinfo.out_color_space = OutputColorSpace(cinfo.num_components, name);
  CheckImageSize(cinfo.image_width, cinfo.image_height, limits, name);
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.do_fancy_upsampling = TRUE;
  jpeg.Run([&] { jpeg_start_decompress(&cinfo); });

  Image image;
  image.width = static_cast<int>(cinfo.output_width);
  image.height = static_cast<int>(cinfo.output_height);
  const size_t pixels = size_t{cinfo.output_width} * cinfo.output_height;
  const size_t row_size = size_t{cinfo.output_width} * cinfo.output_components;
  std::vector<uint8_t> samples(pixels * cinfo.output_components);
  uint8_t* const first_row = samples.data();
  jpeg.Run([&] {
    while (cinfo.output_scanline < cinfo.output_height) {
      JSAMPROW row = first_row + cinfo.output_scanline * row_size;
      if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) return;
    }
  });
  Check(cinfo.output_scanline == cinfo.output_height, name, ": truncated JPEG (",
        cinfo.output_scanline, " of ", cinfo.output_height, " rows decoded)");
  // jpeg_finish_decompress would only read on to the end-of-image marker, which changes no pixel.
  // libjpeg reads ahead into that marker while decoding the last row, so a file that lacks it is
  // refused as truncated all the same, as Pillow refuses it.

  switch (cinfo.output_components) {
    case 3:
      image.rgb = std::move(samples);
      break;
    case 1:
      image.rgb.resize(3 * pixels);
      for (size_t i = 0; i < pixels; ++i) {
        image.rgb[3 * i] = image.rgb[3 * i + 1] = image.rgb[3 * i + 2] = samples[i];
      }
      break;
    default:
      image.rgb.resize(3 * pixels);
      CmykToRgb(samples, image.rgb);
  }
  return image;
}

}  // namespace lightvlm
