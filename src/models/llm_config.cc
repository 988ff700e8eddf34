#include "models/llm_config.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <string_view>
#include <utility>

#include "base/error.h"

namespace lightvlm {
namespace {

// `field` is "rope_scaling" (transformers 4.x) or "rope_parameters" (5.x), under the prefix.
RopeScaling ReadRopeScaling(const JsonFile& config, const std::string& field) {
  RopeScaling scaling;
  const nlohmann::json* node = config.Node(field);
  if (node == nullptr || node->is_null()) return scaling;
  Check(node->is_object(), config.path(), ": field '", field, "' should be an object or null");
  scaling.kind = config.Find<std::string>(field + ".rope_type")
                     .value_or(config.GetOr<std::string>(field + ".type", "default"));
  if (scaling.kind == "mrope" || (scaling.kind == "default" && node->contains("mrope_section"))) {
    // M-RoPE turns plain RoPE's frequencies by three ids; it scales none of them.
    scaling.kind = "default";
    scaling.mrope_section = config.Get<std::vector<int64_t>>(field + ".mrope_section");
  }
  if (scaling.kind == "default") return scaling;
  Check(scaling.kind == "linear" || scaling.kind == "dynamic" || scaling.kind == "llama3",
        config.path(), ": ", field, ".rope_type '", scaling.kind,
        "' is not supported (supported: default, linear, dynamic, llama3)");
  scaling.factor = config.Get<double>(field + ".factor");
  Check(scaling.factor > 0, config.path(), ": ", field, ".factor must be positive");
  if (scaling.kind == "llama3") {
    scaling.low_freq_factor = config.Get<double>(field + ".low_freq_factor");
    scaling.high_freq_factor = config.Get<double>(field + ".high_freq_factor");
    scaling.original_max_position_embeddings =
        config.Get<int64_t>(field + ".original_max_position_embeddings");
    Check(scaling.high_freq_factor > scaling.low_freq_factor, config.path(), ": ", field,
          ".high_freq_factor must exceed low_freq_factor");
  }
  return scaling;
}

// Every size of a real model fits in 31 bits; bounding each keeps the products of two of them
// (q_dim, kv_dim, a tensor's element count) far from overflowing int64. Whether the sizes agree
// with the weights is checked against the tensors' shapes when they are loaded.
constexpr int64_t kMaxConfigSize = std::numeric_limits<int32_t>::max();

void CheckPositive(const JsonFile& config, const std::string& field, int64_t value) {
  Check(value > 0, config.path(), ": ", field, " must be positive, got ", value);
  Check(value <= kMaxConfigSize, config.path(), ": ", field, " (", value,
        ") is too large (at most ", kMaxConfigSize, ")");
}

// What differs between the decoders' config.json files, by model_type; all else is read alike.
struct ConfigDialect {
  std::string_view model_type;
  std::string_view bias_field;  // the flag that adds attention biases
  bool qkv_bias_always;         // Qwen2 has q/k/v biases whatever the flag says
  bool o_bias_with_flag;        // the flag adds o_proj's bias too
};

constexpr std::array<ConfigDialect, 3> kConfigDialects = {{
    {"llama", "attention_bias", false, true},
    {"qwen2", "attention_bias", true, false},
    {"internlm2", "bias", false, true},  // InternLM2Config's `bias`: wqkv's and wo's
}};

const ConfigDialect& FindConfigDialect(const JsonFile& config, const std::string& field,
                                       const std::string& model_type) {
  std::string supported;
  for (const ConfigDialect& dialect : kConfigDialects) {
    if (dialect.model_type == model_type) return dialect;
    supported += StrCat(supported.empty() ? "" : ", ", dialect.model_type);
  }
  Fail(config.path(), ": ", field, " '", model_type, "' is not supported (supported: ", supported,
       ")");
}

}  // namespace

std::vector<int32_t> ReadTokenIds(const JsonFile& file, const std::string& field) {
  const nlohmann::json* node = file.Node(field);
  if (node == nullptr || node->is_null()) return {};
  if (node->is_number_integer()) return {file.Get<int32_t>(field)};
  // As int32 directly, so that an id out of range is an error rather than silently cut.
  return file.Get<std::vector<int32_t>>(field);
}

LlmConfig ReadLlmConfig(const JsonFile& config, const std::string& prefix) {
  LlmConfig c;
  auto field = [&](const char* name) { return prefix + name; };
  c.model_type = config.Get<std::string>(field("model_type"));
  const ConfigDialect& dialect = FindConfigDialect(config, field("model_type"), c.model_type);
  c.hidden_size = config.Get<int64_t>(field("hidden_size"));
  c.intermediate_size = config.Get<int64_t>(field("intermediate_size"));
  c.num_layers = config.Get<int64_t>(field("num_hidden_layers"));
  c.num_heads = config.Get<int64_t>(field("num_attention_heads"));
  c.num_kv_heads = config.GetOr<int64_t>(field("num_key_value_heads"), c.num_heads);
  c.vocab_size = config.Get<int64_t>(field("vocab_size"));
  c.max_position_embeddings = config.Get<int64_t>(field("max_position_embeddings"));
  for (const auto& [name, value] : {std::pair{"hidden_size", c.hidden_size},
                                    {"intermediate_size", c.intermediate_size},
                                    {"num_hidden_layers", c.num_layers},
                                    {"num_attention_heads", c.num_heads},
                                    {"num_key_value_heads", c.num_kv_heads},
                                    {"vocab_size", c.vocab_size},
                                    {"max_position_embeddings", c.max_position_embeddings}}) {
    CheckPositive(config, field(name), value);
  }
  Check(c.num_heads % c.num_kv_heads == 0, config.path(), ": ", field("num_key_value_heads"), " (",
        c.num_kv_heads, ") does not divide ", field("num_attention_heads"), " (", c.num_heads, ")");
  const auto head_dim = config.Find<int64_t>(field("head_dim"));
  if (head_dim.has_value()) {
    c.head_dim = *head_dim;
  } else {
    Check(c.hidden_size % c.num_heads == 0, config.path(), ": ", field("num_attention_heads"), " (",
          c.num_heads, ") does not divide ", field("hidden_size"), " (", c.hidden_size, ")");
    c.head_dim = c.hidden_size / c.num_heads;
  }
  CheckPositive(config, field("head_dim"), c.head_dim);
  Check(c.head_dim % 2 == 0, config.path(), ": head_dim (", c.head_dim, ") must be even for RoPE");
  c.rms_norm_eps = config.GetOr<double>(field("rms_norm_eps"), 1e-6);
  // transformers 5.x writes rope_theta and the scaling fields together in "rope_parameters".
  const nlohmann::json* parameters = config.Node(field("rope_parameters"));
  const bool in_parameters = parameters != nullptr && !parameters->is_null();
  const std::string theta = field(in_parameters ? "rope_parameters.rope_theta" : "rope_theta");
  c.rope_theta = config.GetOr<double>(theta, 10000.0);
  Check(c.rope_theta > 0, config.path(), ": ", theta, " must be positive");
  c.rope_scaling =
      ReadRopeScaling(config, field(in_parameters ? "rope_parameters" : "rope_scaling"));
  if (!c.rope_scaling.mrope_section.empty()) {
    int64_t frequencies = 0;
    for (const int64_t section : c.rope_scaling.mrope_section) {
      Check(section >= 0 && section <= c.head_dim, config.path(), ": mrope_section entry ", section,
            " is outside 0..", c.head_dim);
      frequencies += section;
    }
    Check(
        c.rope_scaling.mrope_section.size() == 3 && frequencies == c.head_dim / 2, config.path(),
        ": mrope_section must be three counts (temporal, height, width) summing to head_dim / 2 (",
        c.head_dim / 2, "), got ", c.rope_scaling.mrope_section.size(), " summing to ",
        frequencies);
  }
  c.hidden_act = config.GetOr<std::string>(field("hidden_act"), "silu");
  Check(c.hidden_act == "silu", config.path(), ": ", field("hidden_act"), " '", c.hidden_act,
        "' is not supported for ", c.model_type, " (supported: silu)");
  c.tie_word_embeddings = config.GetOr<bool>(field("tie_word_embeddings"), false);
  const bool attention_bias = config.GetOr<bool>(prefix + std::string(dialect.bias_field), false);
  c.qkv_bias = dialect.qkv_bias_always || attention_bias;
  c.o_bias = dialect.o_bias_with_flag && attention_bias;
  c.mlp_bias = config.GetOr<bool>(field("mlp_bias"), false);
  c.eos_token_ids = ReadTokenIds(config, field("eos_token_id"));
  const auto bos = ReadTokenIds(config, field("bos_token_id"));
  if (!bos.empty()) c.bos_token_id = bos.front();
  return c;
}

std::vector<float> RopeInverseFrequencies(const LlmConfig& config) {
  const int64_t half = config.head_dim / 2;
  const RopeScaling& scaling = config.rope_scaling;
  std::vector<float> inv_freq(half);
  for (int64_t i = 0; i < half; ++i) {
    double frequency =
        1.0 / std::pow(config.rope_theta, static_cast<double>(2 * i) / config.head_dim);
    if (scaling.kind == "linear") {
      frequency /= scaling.factor;
    } else if (scaling.kind == "dynamic") {
      // Dynamic NTK (transformers' and InternLM2's) raises the base only once a sequence grows past
      // max_position_embeddings; a Session refuses any context beyond it, so here it is plain RoPE.
    } else if (scaling.kind == "llama3") {
      // Long wavelengths are slowed by `factor`, short ones kept, the band between blended.
      const double wavelength = 2 * std::numbers::pi / frequency;
      const double old_context = static_cast<double>(scaling.original_max_position_embeddings);
      const double low_wavelength = old_context / scaling.low_freq_factor;
      const double high_wavelength = old_context / scaling.high_freq_factor;
      if (wavelength > low_wavelength) {
        frequency /= scaling.factor;
      } else if (wavelength >= high_wavelength) {
        const double smooth = (old_context / wavelength - scaling.low_freq_factor) /
                              (scaling.high_freq_factor - scaling.low_freq_factor);
        frequency = (1 - smooth) * frequency / scaling.factor + smooth * frequency;
      }
    }
    inv_freq[i] = static_cast<float>(frequency);
  }
  return inv_freq;
}

}  // namespace lightvlm
