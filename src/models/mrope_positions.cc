#include "models/mrope_positions.h"

#include <algorithm>

#include "base/error.h"

namespace lightvlm {

MropePositions ComputeMropePositions(std::span<const int32_t> token_ids,
                                     const MropeTokenIds& special,
                                     std::span<const ImageGridThw> image_grids,
                                     int spatial_merge_size) {
  Check(spatial_merge_size > 0, "spatial_merge_size must be positive, got ", spatial_merge_size);
  const int64_t n = static_cast<int64_t>(token_ids.size());
  size_t n_images = 0;
  for (int64_t i = 0; i + 1 < n; ++i) {
    if (token_ids[i] == special.vision_start && token_ids[i + 1] == special.image) ++n_images;
  }
  Check(n_images == image_grids.size(), "the prompt has ", n_images,
        " images (<|vision_start|> followed by an image token) but ", image_grids.size(),
        " image grids were given");

  MropePositions out;
  for (auto& axis : out.ids) axis.reserve(n);
  int64_t next = 0;  // the largest id so far + 1
  auto append_text = [&](int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
      for (auto& axis : out.ids) axis.push_back(next + i);
    }
    next += count;
  };

  int64_t start = 0;
  for (size_t image = 0; image < image_grids.size(); ++image) {
    const ImageGridThw& grid = image_grids[image];
    Check(grid.t > 0 && grid.h > 0 && grid.w > 0 && grid.h % spatial_merge_size == 0 &&
              grid.w % spatial_merge_size == 0,
          "image ", image + 1, ": grid (", grid.t, ", ", grid.h, ", ", grid.w,
          ") is not positive with h and w multiples of spatial_merge_size ", spatial_merge_size);
    const int64_t t = grid.t;
    const int64_t h = grid.h / spatial_merge_size;
    const int64_t w = grid.w / spatial_merge_size;
    // As the reference: the image starts at the first image token from `start`.
    const auto first = std::find(token_ids.begin() + start, token_ids.end(), special.image);
    const int64_t begin = first - token_ids.begin();
    const int64_t count = t * h * w;
    Check(begin + count <= n &&
              std::all_of(first, first + count, [&](int32_t id) { return id == special.image; }) &&
              (begin + count == n || token_ids[begin + count] != special.image),
          "image ", image + 1, " at token ", begin, ": expected exactly ", count,
          " image tokens for its grid (", grid.t, ", ", grid.h, ", ", grid.w, ")");
    append_text(begin - start);
    const int64_t base = next;
    for (int64_t i = 0; i < t; ++i) {
      for (int64_t j = 0; j < h; ++j) {
        for (int64_t k = 0; k < w; ++k) {
          out.ids[0].push_back(base + i);
          out.ids[1].push_back(base + j);
          out.ids[2].push_back(base + k);
        }
      }
    }
    next = base + std::max({t, h, w});
    start = begin + count;
  }
  append_text(n - start);
  out.next_position = next;
  out.rope_delta = next - n;
  return out;
}

}  // namespace lightvlm
