#include "models/pixel_scaling.h"

#include <cmath>
#include <string>
#include <vector>

#include "base/error.h"

namespace lightvlm {
namespace {

std::array<float, 3> ReadPerChannel(const JsonFile& file, const std::string& field,
                                    std::array<float, 3> fallback) {
  const nlohmann::json* node = file.Node(field);
  if (node == nullptr || node->is_null()) return fallback;
  const std::vector<double> values = node->is_number()
                                         ? std::vector<double>(3, file.Get<double>(field))
                                         : file.Get<std::vector<double>>(field);
  Check(values.size() == 3, file.path(), ": field '", field,
        "' should have 3 values (R, G, B), got ", values.size());
  std::array<float, 3> result;
  for (int c = 0; c < 3; ++c) {
    Check(std::isfinite(values[c]), file.path(), ": field '", field, "' must be finite");
    result[c] = static_cast<float>(values[c]);
  }
  return result;
}

}  // namespace

PixelScaling ReadPixelScaling(const JsonFile& file, const PixelScaling& defaults) {
  PixelScaling scaling;
  scaling.do_rescale = file.GetOr<bool>("do_rescale", defaults.do_rescale);
  scaling.rescale_factor = file.GetOr<double>("rescale_factor", defaults.rescale_factor);
  Check(std::isfinite(scaling.rescale_factor) && scaling.rescale_factor > 0, file.path(),
        ": field 'rescale_factor' must be positive, got ", scaling.rescale_factor);
  scaling.do_normalize = file.GetOr<bool>("do_normalize", defaults.do_normalize);
  scaling.image_mean = ReadPerChannel(file, "image_mean", defaults.image_mean);
  scaling.image_std = ReadPerChannel(file, "image_std", defaults.image_std);
  for (float value : scaling.image_std) {
    Check(value != 0.0f, file.path(), ": field 'image_std' has a zero entry");
  }
  return scaling;
}

std::array<std::array<float, 256>, 3> PixelValueTable(const PixelScaling& scaling) {
  std::array<std::array<float, 256>, 3> table;
  for (int c = 0; c < 3; ++c) {
    for (int byte = 0; byte < 256; ++byte) {
      float value = scaling.do_rescale ? static_cast<float>(byte * scaling.rescale_factor)
                                       : static_cast<float>(byte);
      if (scaling.do_normalize) value = (value - scaling.image_mean[c]) / scaling.image_std[c];
      table[c][byte] = value;
    }
  }
  return table;
}

ResampleFilter ReadResampleFilter(const JsonFile& file, ResampleFilter fallback) {
  const int id = file.GetOr<int32_t>("resample", static_cast<int>(fallback));
  const auto filter = ResampleFilterFromPil(id);
  Check(filter.has_value(), file.path(), ": field 'resample' = ", id,
        " is not a supported PIL filter (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, ",
        "5 hamming)");
  return *filter;
}

}  // namespace lightvlm
