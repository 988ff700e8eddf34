#include "io/gguf_llm_params.h"

#include "base/error.h"

namespace lightvlm {
namespace {

// A positive count, as int64.
int64_t Count(const GgufFile& file, const std::string& key) {
  const int64_t value = file.Signed(key);
  Check(value > 0, file.path(), ": metadata '", key, "' is ", value, ", expected > 0");
  return value;
}

}  // namespace

GgufLlmParams ReadGgufLlmParams(const GgufFile& file) {
  GgufLlmParams params;
  params.architecture = file.String("general.architecture");
  const std::string& arch = params.architecture;
  Check(arch == "llama" || arch == "qwen2", file.path(), ": general.architecture \"", arch,
        "\" is not supported (supported: llama, qwen2)");
  const std::string prefix = arch + ".";
  params.block_count = Count(file, prefix + "block_count");
  params.context_length = Count(file, prefix + "context_length");
  params.embedding_length = Count(file, prefix + "embedding_length");
  params.feed_forward_length = Count(file, prefix + "feed_forward_length");
  params.head_count = Count(file, prefix + "attention.head_count");
  const std::string kv_key = prefix + "attention.head_count_kv";
  params.head_count_kv = file.Has(kv_key) ? Count(file, kv_key) : params.head_count;
  Check(params.head_count % params.head_count_kv == 0, file.path(), ": ", kv_key, " (",
        params.head_count_kv, ") does not divide ", prefix, "attention.head_count (",
        params.head_count, ")");
  const std::string key_length = prefix + "attention.key_length";
  if (file.Has(key_length)) {
    params.head_dim = Count(file, key_length);
  } else {
    Check(params.embedding_length % params.head_count == 0, file.path(), ": ", prefix,
          "attention.head_count (", params.head_count, ") does not divide ", prefix,
          "embedding_length (", params.embedding_length, ")");
    params.head_dim = params.embedding_length / params.head_count;
  }
  const std::string rope_key = prefix + "rope.freq_base";
  params.rope_freq_base = file.Has(rope_key) ? file.Float(rope_key) : 10000.0;
  params.rms_norm_eps = file.Float(prefix + "attention.layer_norm_rms_epsilon");
  const std::string vocab_key = prefix + "vocab_size";
  params.vocab_size = file.Has(vocab_key)
                          ? Count(file, vocab_key)
                          : static_cast<int64_t>(file.Strings("tokenizer.ggml.tokens").size());
  return params;
}

}  // namespace lightvlm
