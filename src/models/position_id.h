// A token's rotary position. RoPE gives a token one id (all three components equal); Qwen2-VL's
// M-RoPE gives three, temporal, height and width, which differ inside an image. The family decides
// them (LanguageModel::PromptPositions); the decoder rotates by them; reduction keeps each kept
// token's original ids.
#pragma once

#include <cstdint>

namespace lightvlm {

struct PositionId {
  int64_t temporal = 0;
  int64_t height = 0;
  int64_t width = 0;

  static PositionId Sequential(int64_t id) { return {id, id, id}; }
  bool is_sequential() const { return temporal == height && height == width; }
  PositionId operator+(int64_t offset) const {
    return {temporal + offset, height + offset, width + offset};
  }
  bool operator==(const PositionId&) const = default;
};

}  // namespace lightvlm
