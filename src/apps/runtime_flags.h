// The flags that every command loading a model shares, declared once: -m, --dtype, --max-tiles,
// --threads, --context and the limits that hold before anything large is allocated
// (--max-image-pixels, --max-kv-bytes). Each is validated where it is declared: CLI11 runs the
// checks while parsing, so a bad value fails before anything is loaded.
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "base/dtype.h"
#include "io/image.h"
#include "models/kv_cache.h"
#include "models/kv_cache_limit.h"
#include "models/language_model.h"
#include "models/llm_config.h"

namespace lightvlm {

// -m/--model, required.
CLI::Option* AddModelFlag(CLI::App& command, std::string& path);

// How a checkpoint is loaded: --dtype (f32, bf16, int8, q4; f32 in every command), --max-tiles,
// --min-pixels, --max-pixels.
struct LoadFlags {
  std::string weight_dtype = "f32";
  int max_tiles = 0;       // 0: the checkpoint's own limit
  int64_t min_pixels = 0;  // 0: preprocessor_config.json's
  int64_t max_pixels = 0;

  LoadOptions Options() const;
};
void AddLoadFlags(CLI::App& command, LoadFlags& flags);

// -t/--threads: 0 (default) means all cores.
void AddThreadsFlag(CLI::App& command, int& threads);

struct ContextFlags {
  int64_t context = 0;  // --context; 0: config.json's max_position_embeddings
  // --max-kv-bytes: the most a command's KV caches may hold when full, checked before one is
  // created (a long context's worst case can be far more than the machine has).
  int64_t max_kv_bytes = kDefaultMaxKvBytes;
  DType kv_dtype = kDefaultKvDType;  // --kv-dtype

  // The context to run `sequences` sequences with, after checking it is within
  // max_position_embeddings and that their caches, full, stay within max_kv_bytes.
  int64_t CheckedContext(const LlmConfig& config, int64_t sequences) const;
};
void AddContextFlags(CLI::App& command, ContextFlags& flags);

// --max-kv-bytes alone, for the commands that size their caches themselves (eval, bench).
void AddMaxKvBytesFlag(CLI::App& command, int64_t& max_kv_bytes);

// --kv-dtype f32|bf16: how KV caches store keys and values (default bf16, half the bytes).
void AddKvDTypeFlag(CLI::App& command, DType& dtype);

// --max-image-pixels.
void AddImageLimitFlag(CLI::App& command, ImageLimits& limits);

}  // namespace lightvlm
