// A prompt as the decoder sees it: token ids, with each image's run of embeddings standing in
// place of its image token.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "models/language_model.h"

namespace lightvlm {

struct PromptImage {
  int64_t start = 0;                            // index of the image's first row in the prompt
  const ImageEmbeddings* embeddings = nullptr;  // not owned
  // Index in the prompt of each grid's first row: consecutive from `start`, unless the family's
  // processor writes text between the image's grids (SmolVLM's row and column markers).
  std::vector<int64_t> grid_starts;

  int64_t end() const;  // one past the image's last row in the prompt
};

struct Prompt {
  std::vector<int32_t> token_ids;   // [n] rows that belong to an image hold the image token id
  std::vector<PromptImage> images;  // in prompt order
  // [n] the rows' rotary positions from the family, counted from the prompt's start (the session
  // adds where the conversation stands); empty: one id per token, 0, 1, 2, ...
  std::vector<PositionId> positions;

  int64_t size() const { return static_cast<int64_t>(token_ids.size()); }
  int64_t image_rows() const;  // rows that belong to an image
  // Where the position of the token after the prompt continues, counted as `positions` is: one
  // past the largest id (the size, for one id per token).
  int64_t PositionSpan() const;
  // Fails unless `positions` is empty or has one id per row.
  void CheckPositions() const;
};

// The rows of `prompt` from `start` on, as a prompt that continues a session holding the rows
// before it; empty when an image straddles `start` or the family's positions are not one per
// token (M-RoPE's jumps would need the whole prompt).
std::optional<Prompt> PromptSuffix(const Prompt& prompt, int64_t start);

// Places `images` at the image tokens of `ids`, in order. Each image stands either at a single
// image token (the model expands it, older transformers), or at a run of exactly as many image
// tokens as it has rows (the processor expanded it, newer transformers), or at several runs with
// text between them, each run a whole number of its grids (SmolVLM's processor). Fails when the
// number of images and placeholders differ or a run does not end on a grid of its image.
Prompt AssemblePrompt(std::span<const int32_t> ids, std::span<const ImageEmbeddings> images,
                      int32_t image_token_id);

}  // namespace lightvlm
