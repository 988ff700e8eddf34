#include "models/llm_config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <string>

#include "base/error.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

const char* kLlama = R"({
  "model_type": "llama", "hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 5,
  "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 512,
  "max_position_embeddings": 512, "rms_norm_eps": 1e-05, "tie_word_embeddings": true,
  "eos_token_id": 2, "bos_token_id": 1})";

std::string ErrorOf(const std::string& json) {
  return testing::ErrorOf([&] { ReadLlmConfig(JsonFile::Parse(json, "config.json")); });
}

std::string WithField(const std::string& field_and_value) {
  std::string json = kLlama;
  return json.insert(1, field_and_value + ",");
}

TEST(LlmConfigTest, ReadsLlama) {
  const LlmConfig c = ReadLlmConfig(JsonFile::Parse(kLlama, "config.json"));
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.kv_dim(), 32);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.eos_token_ids, std::vector<int32_t>{2});
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-5);
}

TEST(LlmConfigTest, Qwen2HasQkvBiasAndEosList) {
  std::string json = kLlama;
  json.replace(json.find("\"llama\""), 7, "\"qwen2\"");
  json.replace(json.find("\"eos_token_id\": 2"), 17, "\"eos_token_id\": [7, 9]");
  const LlmConfig c = ReadLlmConfig(JsonFile::Parse(json, "config.json"));
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_FALSE(c.o_bias);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int32_t>{7, 9}));
}

TEST(LlmConfigTest, ErrorsNameFileAndField) {
  std::string missing = kLlama;
  missing.replace(missing.find("\"hidden_size\": 64,"), 18, "");
  EXPECT_NE(ErrorOf(missing).find("hidden_size"), std::string::npos);
  EXPECT_NE(ErrorOf(missing).find("config.json"), std::string::npos);
  std::string bad_heads = kLlama;
  bad_heads.replace(bad_heads.find("\"num_key_value_heads\": 4"), 24, "\"num_key_value_heads\": 3");
  EXPECT_NE(ErrorOf(bad_heads).find("num_key_value_heads (3) does not divide"), std::string::npos)
      << ErrorOf(bad_heads);
  std::string unknown = kLlama;
  unknown.replace(unknown.find("\"llama\""), 7, "\"mamba\"");
  EXPECT_NE(ErrorOf(unknown).find("'mamba' is not supported (supported: llama, qwen2, internlm2)"),
            std::string::npos)
      << ErrorOf(unknown);
  EXPECT_NE(ErrorOf(WithField(R"("hidden_act": "relu")")).find("hidden_act"), std::string::npos);
  EXPECT_NE(
      ErrorOf(WithField(R"("rope_scaling": {"rope_type": "yarn", "factor": 2})")).find("yarn"),
      std::string::npos);
  std::string negative = kLlama;
  negative.replace(negative.find("\"vocab_size\": 512"), 17, "\"vocab_size\": -1");
  EXPECT_NE(ErrorOf(negative).find("vocab_size must be positive"), std::string::npos);
}

// hidden_size 1e12 used to end in "out of memory" naming no file (a RoPE table sized by it);
// every size is now bounded when read, so that no product of two sizes overflows.
TEST(LlmConfigTest, HugeSizesAreRefusedWhenRead) {
  std::string huge = kLlama;
  huge.replace(huge.find("\"hidden_size\": 64"), 17, "\"hidden_size\": 1000000000000");
  EXPECT_EQ(ErrorOf(huge),
            "config.json: hidden_size (1000000000000) is too large (at most "
            "2147483647)");
  EXPECT_EQ(ErrorOf(WithField(R"("head_dim": 4294967296)")),
            "config.json: head_dim (4294967296) is too large (at most 2147483647)");
}

// A list of eos ids was narrowed to int32 silently: 4294967298 became 2.
TEST(LlmConfigTest, TokenIdListsOutOfRangeAreErrors) {
  std::string json = kLlama;
  json.replace(json.find("\"eos_token_id\": 2"), 17, "\"eos_token_id\": [4294967298]");
  EXPECT_EQ(
      ErrorOf(json),
      "config.json: field 'eos_token_id[0]' = 4294967298 is out of range for a 32-bit integer");
}

TEST(LlmConfigTest, RopeFrequenciesPlainAndLinear) {
  LlmConfig c = ReadLlmConfig(JsonFile::Parse(kLlama, "config.json"));
  const auto plain = RopeInverseFrequencies(c);
  ASSERT_EQ(plain.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(plain[i], std::pow(10000.0, -2.0 * i / 8));
  c = ReadLlmConfig(JsonFile::Parse(WithField(R"("rope_scaling": {"type": "linear", "factor": 4})"),
                                    "config.json"));
  const auto linear = RopeInverseFrequencies(c);
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(linear[i], plain[i] / 4);
}

TEST(LlmConfigTest, RopeFrequenciesLlama3BandsFollowWavelength) {
  // head_dim 8, theta 10000: wavelengths 2*pi*10000^(i/4) = 6.3, 62.8, 628, 6283.
  const LlmConfig c = ReadLlmConfig(JsonFile::Parse(
      WithField(R"("rope_scaling": {"rope_type": "llama3", "factor": 8, "low_freq_factor": 1,
                 "high_freq_factor": 4, "original_max_position_embeddings": 1024})"),
      "config.json"));
  const auto scaled = RopeInverseFrequencies(c);
  const auto plain = [](int i) { return std::pow(10000.0, -2.0 * i / 8); };
  EXPECT_FLOAT_EQ(scaled[0], plain(0));  // wavelength < 1024/4: kept
  EXPECT_FLOAT_EQ(scaled[1], plain(1));
  const double smooth = (1024 / (2 * std::numbers::pi / plain(2)) - 1) / 3;  // in the band
  EXPECT_FLOAT_EQ(scaled[2], (1 - smooth) * plain(2) / 8 + smooth * plain(2));
  EXPECT_FLOAT_EQ(scaled[3], plain(3) / 8);  // wavelength > 1024: slowed by the factor
}

// InternVL2.5-8B's llm_config, trimmed: InternLM2Config names the attention biases `bias` and
// writes the RoPE scaling with "type".
const char* kInternVlWithInternLM2 = R"({
  "model_type": "internvl_chat", "llm_config": {
    "model_type": "internlm2", "hidden_size": 64, "intermediate_size": 224, "num_hidden_layers": 2,
    "num_attention_heads": 8, "num_key_value_heads": 2, "vocab_size": 92553, "bias": BIAS,
    "max_position_embeddings": 32768, "rms_norm_eps": 1e-05, "rope_theta": 1000000,
    "rope_scaling": {"factor": 2.0, "type": "dynamic"}, "tie_word_embeddings": false,
    "bos_token_id": 1, "eos_token_id": 2}})";

LlmConfig ReadInternLM2(const std::string& bias) {
  std::string json = kInternVlWithInternLM2;
  json.replace(json.find("BIAS"), 4, bias);
  return ReadLlmConfig(JsonFile::Parse(json, "config.json"), "llm_config.");
}

TEST(LlmConfigTest, ReadsInternLM2UnderLlmConfig) {
  const LlmConfig c = ReadInternLM2("false");
  EXPECT_EQ(c.model_type, "internlm2");
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.kv_dim(), 16);
  EXPECT_EQ(c.vocab_size, 92553);
  EXPECT_EQ(c.rope_theta, 1e6);
  EXPECT_EQ(c.rope_scaling.kind, "dynamic");
  EXPECT_EQ(c.rope_scaling.factor, 2.0);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_FALSE(c.o_bias);
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_EQ(c.eos_token_ids, std::vector<int32_t>{2});
  // `bias` adds wqkv's and wo's biases; InternLM2's MLP never has any.
  const LlmConfig biased = ReadInternLM2("true");
  EXPECT_TRUE(biased.qkv_bias);
  EXPECT_TRUE(biased.o_bias);
  EXPECT_FALSE(biased.mlp_bias);
  // Llama's flag means nothing to InternLM2's config, nor InternLM2's to Llama's.
  std::string llama_flag = kInternVlWithInternLM2;
  llama_flag.replace(llama_flag.find("\"bias\": BIAS"), 12, "\"attention_bias\": true");
  EXPECT_FALSE(ReadLlmConfig(JsonFile::Parse(llama_flag, "config.json"), "llm_config.").qkv_bias);
  EXPECT_FALSE(
      ReadLlmConfig(JsonFile::Parse(WithField(R"("bias": true)"), "config.json")).qkv_bias);
}

// Dynamic NTK scaling changes the RoPE base only for a sequence longer than
// max_position_embeddings, which a Session never runs: inside it the frequencies are plain RoPE's,
// whatever the factor.
TEST(LlmConfigTest, DynamicRopeFrequenciesArePlainInsideTheContext) {
  LlmConfig dynamic = ReadInternLM2("false");
  LlmConfig plain = dynamic;
  plain.rope_scaling = RopeScaling{};
  const auto expected = RopeInverseFrequencies(plain);
  ASSERT_EQ(expected.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(expected[i], std::pow(1e6, -2.0 * i / 8));
  EXPECT_EQ(RopeInverseFrequencies(dynamic), expected);
  dynamic.rope_scaling.factor = 8.0;
  EXPECT_EQ(RopeInverseFrequencies(dynamic), expected);
  // The factor is still read and checked, as for linear scaling.
  EXPECT_NE(
      ErrorOf(WithField(R"("rope_scaling": {"type": "dynamic"})")).find("rope_scaling.factor"),
      std::string::npos);
  EXPECT_NE(ErrorOf(WithField(R"("rope_scaling": {"type": "dynamic", "factor": 0})"))
                .find("rope_scaling.factor must be positive"),
            std::string::npos);
}

// transformers 5.x writes rope_theta and the scaling fields in "rope_parameters" instead.
TEST(LlmConfigTest, ReadsTransformers5RopeParameters) {
  const LlmConfig plain = ReadLlmConfig(JsonFile::Parse(
      WithField(R"("rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"})"),
      "config.json"));
  EXPECT_EQ(plain.rope_theta, 1e6);
  EXPECT_EQ(plain.rope_scaling.kind, "default");
  const LlmConfig llama3 = ReadLlmConfig(
      JsonFile::Parse(WithField(R"("rope_parameters": {"rope_type": "llama3", "factor": 8.0,
                 "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                 "original_max_position_embeddings": 64, "rope_theta": 500000.0})"),
                      "config.json"));
  EXPECT_EQ(llama3.rope_theta, 5e5);
  EXPECT_EQ(llama3.rope_scaling.kind, "llama3");
  EXPECT_EQ(llama3.rope_scaling.factor, 8.0);
  EXPECT_EQ(llama3.rope_scaling.original_max_position_embeddings, 64);
  EXPECT_NE(ErrorOf(WithField(R"("rope_parameters": {"rope_theta": -1})"))
                .find("rope_parameters.rope_theta must be positive"),
            std::string::npos);
}

// Qwen2-VL writes {"type": "mrope"} (4.46 rewrites it to "default"), 5.x rope_parameters; head_dim
// here is 64 / 8 = 8, so the sections sum to 4.
TEST(LlmConfigTest, ReadsMropeSectionsInEveryForm) {
  for (
      const std::string field :
      {R"("rope_scaling": {"type": "mrope", "mrope_section": [1, 2, 1]})",
       R"("rope_scaling": {"type": "default", "rope_type": "default", "mrope_section": [1, 2, 1]})",
       R"("rope_parameters": {"rope_type": "default", "mrope_section": [1, 2, 1], "rope_theta": 1e6})"}) {
    const LlmConfig c = ReadLlmConfig(JsonFile::Parse(WithField(field), "config.json"));
    EXPECT_EQ(c.rope_scaling.kind, "default") << field;
    EXPECT_EQ(c.rope_scaling.mrope_section, (std::vector<int64_t>{1, 2, 1})) << field;
  }
  EXPECT_TRUE(
      ReadLlmConfig(JsonFile::Parse(kLlama, "config.json")).rope_scaling.mrope_section.empty());
  EXPECT_NE(ErrorOf(WithField(R"("rope_scaling": {"type": "mrope", "mrope_section": [2, 2, 2]})"))
                .find("mrope_section must be three counts (temporal, height, width) summing to "
                      "head_dim / 2 (4), got 3 summing to 6"),
            std::string::npos);
  EXPECT_NE(ErrorOf(WithField(R"("rope_scaling": {"type": "mrope", "mrope_section": [4]})"))
                .find("got 1 summing to 4"),
            std::string::npos);
  EXPECT_NE(ErrorOf(WithField(R"("rope_scaling": {"type": "mrope", "mrope_section": [5, -1, 0]})"))
                .find("mrope_section entry -1 is outside 0..8"),
            std::string::npos);
}

}  // namespace
}  // namespace lightvlm
