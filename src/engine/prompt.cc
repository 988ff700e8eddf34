#include "engine/prompt.h"

#include <algorithm>

#include "base/error.h"

namespace lightvlm {

int64_t PromptImage::end() const {
  return grid_starts.empty() ? start : grid_starts.back() + embeddings->grids.back().size();
}

int64_t Prompt::image_rows() const {
  int64_t rows = 0;
  for (const PromptImage& image : images) rows += image.embeddings->rows.dim(0);
  return rows;
}

std::optional<Prompt> PromptSuffix(const Prompt& prompt, int64_t start) {
  if (!prompt.positions.empty() || start < 0 || start > prompt.size()) return std::nullopt;
  Prompt suffix;
  suffix.token_ids.assign(prompt.token_ids.begin() + start, prompt.token_ids.end());
  for (const PromptImage& image : prompt.images) {
    if (image.end() <= start) continue;
    if (image.start < start) return std::nullopt;
    PromptImage moved = image;
    moved.start -= start;
    for (int64_t& grid_start : moved.grid_starts) grid_start -= start;
    suffix.images.push_back(std::move(moved));
  }
  return suffix;
}

Prompt AssemblePrompt(std::span<const int32_t> ids, std::span<const ImageEmbeddings> images,
                      int32_t image_token_id) {
  Prompt prompt;
  size_t next_image = 0;
  size_t next_grid = 0;  // of the image being placed, when it spans several runs
  for (size_t i = 0; i < ids.size();) {
    if (image_token_id < 0 || ids[i] != image_token_id) {
      prompt.token_ids.push_back(ids[i++]);
      continue;
    }
    size_t run = 0;
    while (i + run < ids.size() && ids[i + run] == image_token_id) ++run;
    i += run;
    if (next_grid == 0) {
      Check(next_image < images.size(), "the prompt has more image placeholders than the ",
            images.size(), " images given");
      images[next_image].CheckGrids();
      prompt.images.push_back({prompt.size(), &images[next_image], {}});
    }
    PromptImage& image = prompt.images.back();
    const std::vector<ImageGrid>& grids = image.embeddings->grids;
    const int64_t rows = image.embeddings->rows.dim(0);
    // A single token (or a run of all the rows) at the image's start is the whole image.
    const bool whole = next_grid == 0 && (run == 1 || static_cast<int64_t>(run) == rows);
    int64_t placed = 0;
    while (next_grid < grids.size() && (whole || placed < static_cast<int64_t>(run))) {
      image.grid_starts.push_back(prompt.size() + placed);
      placed += grids[next_grid++].size();
    }
    Check(whole || placed == static_cast<int64_t>(run), "image ", next_image + 1, " has ", rows,
          " embeddings in ", grids.size(), " grids, but the prompt holds a run of ", run,
          " image tokens that does not end on one of its grids");
    prompt.token_ids.insert(prompt.token_ids.end(), placed, image_token_id);
    if (next_grid == grids.size()) {
      next_grid = 0;
      ++next_image;
    }
  }
  Check(next_grid == 0, "image ", next_image + 1, " has ",
        next_image < images.size() ? images[next_image].rows.dim(0) : 0,
        " embeddings but the prompt's image tokens end before them");
  Check(next_image == images.size(), images.size(), " images given but the prompt has ", next_image,
        " image placeholders");
  return prompt;
}

int64_t Prompt::PositionSpan() const {
  if (positions.empty()) return size();
  int64_t largest = -1;
  for (const PositionId& p : positions) {
    largest = std::max({largest, p.temporal, p.height, p.width});
  }
  return largest + 1;
}

void Prompt::CheckPositions() const {
  Check(positions.empty() || static_cast<int64_t>(positions.size()) == size(), "the prompt has ",
        size(), " tokens but ", positions.size(), " position ids");
}

}  // namespace lightvlm
