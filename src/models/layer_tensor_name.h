// A decoder tensor's name split at its layer index, for the tables that present one checkpoint
// layout under another's names (gguf_tensor_source.h, internlm2_tensor_source.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace lightvlm {

struct LayerTensorName {
  int64_t layer = 0;
  std::string_view rest;  // after the index and its dot, e.g. "mlp.up_proj.weight"
};

// "model.layers.3.mlp.up_proj.weight" under `layers_prefix` "model.layers." is layer 3 and
// "mlp.up_proj.weight"; nullopt when `name` does not start with the prefix, a number and a dot.
std::optional<LayerTensorName> SplitLayerTensorName(std::string_view name,
                                                    std::string_view layers_prefix);

}  // namespace lightvlm
