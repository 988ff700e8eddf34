#include "apps/runtime_flags.h"

#include <map>
#include <string>

#include "base/error.h"
#include "models/linear.h"

namespace lightvlm {

LoadOptions LoadFlags::Options() const {
  LoadOptions options;
  options.weight_dtype = ParseWeightDType(weight_dtype);
  options.max_tiles = max_tiles;
  options.min_pixels = min_pixels;
  options.max_pixels = max_pixels;
  return options;
}

CLI::Option* AddModelFlag(CLI::App& command, std::string& path) {
  return command
      .add_option("-m,--model", path, "Checkpoint directory (Hugging Face layout) or GGUF file")
      ->required();
}

void AddLoadFlags(CLI::App& command, LoadFlags& flags) {
  command
      .add_option("--dtype", flags.weight_dtype,
                  "Weights in memory: f32, bf16 (half the bytes; bf16 matrix units where the CPU "
                  "has them), int8 (a quarter, one scale per output channel) or q4 (4 bits, one "
                  "bf16 scale per group of 32 input columns)")
      ->check(CLI::IsMember({"f32", "bf16", "int8", "q4"}))
      ->capture_default_str();
  command
      .add_option("--max-tiles", flags.max_tiles,
                  "InternVL: the most tiles an image is cut into, the thumbnail aside (0: the "
                  "checkpoint's own limit, 12 for InternVL2.5)")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  // Bounded as preprocessor_config.json's own values are (50 megapixels).
  command
      .add_option("--min-pixels", flags.min_pixels,
                  "Qwen2-VL: the fewest pixels an image is resized to (0: the checkpoint's, "
                  "56*56 for Qwen2-VL)")
      ->check(CLI::Range(int64_t{0}, int64_t{50'000'000}))
      ->capture_default_str();
  command
      .add_option("--max-pixels", flags.max_pixels,
                  "Qwen2-VL: the most pixels an image is resized to, so the most image tokens are "
                  "max-pixels / 784 (0: the checkpoint's, 28*28*1280 for Qwen2-VL-2B)")
      ->check(CLI::Range(int64_t{0}, int64_t{50'000'000}))
      ->capture_default_str();
}

void AddThreadsFlag(CLI::App& command, int& threads) {
  // Bounded above too: each thread is created at once.
  command.add_option("-t,--threads", threads, "Threads (0: all cores)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
}

int64_t ContextFlags::CheckedContext(const LlmConfig& config, int64_t sequences) const {
  const int64_t tokens = context > 0 ? context : config.max_position_embeddings;
  const char* source = context > 0 ? "--context" : "config.json's max_position_embeddings";
  Check(tokens <= config.max_position_embeddings, "--context ", tokens, " is over the model's ",
        config.max_position_embeddings, " tokens (config.json: max_position_embeddings)");
  CheckKvCacheBytes(config, tokens, sequences, kv_dtype, max_kv_bytes, source, "--context");
  return tokens;
}

void AddContextFlags(CLI::App& command, ContextFlags& flags) {
  command
      .add_option("--context", flags.context,
                  "Tokens each KV cache holds (0: config.json's max_position_embeddings)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  AddMaxKvBytesFlag(command, flags.max_kv_bytes);
  AddKvDTypeFlag(command, flags.kv_dtype);
}

void AddMaxKvBytesFlag(CLI::App& command, int64_t& max_kv_bytes) {
  command
      .add_option("--max-kv-bytes", max_kv_bytes,
                  "Refuse a context whose KV caches, full, would hold more bytes than this")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

void AddKvDTypeFlag(CLI::App& command, DType& dtype) {
  const std::map<std::string, DType> names = {{"f32", DType::kF32}, {"bf16", DType::kBF16}};
  command
      .add_option("--kv-dtype", dtype,
                  "KV cache keys and values: bf16 (half the bytes a decode step reads) or f32")
      ->transform(CLI::CheckedTransformer(names, CLI::ignore_case))
      ->default_str("bf16");
}

void AddImageLimitFlag(CLI::App& command, ImageLimits& limits) {
  command
      .add_option("--max-image-pixels", limits.max_pixels,
                  "Refuse images with more pixels than this (checked before decoding)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

}  // namespace lightvlm
