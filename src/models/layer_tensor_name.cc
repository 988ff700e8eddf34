#include "models/layer_tensor_name.h"

#include <charconv>
#include <system_error>

namespace lightvlm {

std::optional<LayerTensorName> SplitLayerTensorName(std::string_view name,
                                                    std::string_view layers_prefix) {
  if (!name.starts_with(layers_prefix)) return std::nullopt;
  name.remove_prefix(layers_prefix.size());
  LayerTensorName split;
  const auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), split.layer);
  if (error != std::errc() || split.layer < 0 || end == name.data() + name.size() || *end != '.') {
    return std::nullopt;
  }
  split.rest = name.substr(end - name.data() + 1);
  return split;
}

}  // namespace lightvlm
