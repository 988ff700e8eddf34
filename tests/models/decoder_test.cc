#include "models/decoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "base/error.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "models/prefill_hook.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

using testing::kStoriesDir;

LlmConfig StoriesConfig() { return ReadLlmConfig(JsonFile::Load(kStoriesDir / "config.json")); }

// Everything below is a plain double-precision Llama forward over the whole prompt, written
// from the math, to check the engine's float32 kernels, cache and layer plumbing against.
using Matrix = std::vector<double>;

Matrix Weights(const Checkpoint& checkpoint, const std::string& name) {
  const Tensor tensor = checkpoint.LoadF32(name, checkpoint.Get(name).shape);
  return Matrix(tensor.f32(), tensor.f32() + tensor.num_elements());
}

// x [n, in] times w [out, in]^T.
Matrix Project(const Matrix& x, const Matrix& w, int64_t n, int64_t in) {
  const int64_t out = static_cast<int64_t>(w.size()) / in;
  Matrix y(n * out, 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) y[r * out + o] += x[r * in + i] * w[o * in + i];
  return y;
}

Matrix Norm(const Matrix& x, const Matrix& weight, int64_t dim, double eps) {
  Matrix y(x.size());
  for (size_t r = 0; r < x.size() / dim; ++r) {
    double square_sum = 0;
    for (int64_t i = 0; i < dim; ++i) square_sum += x[r * dim + i] * x[r * dim + i];
    const double scale = 1.0 / std::sqrt(square_sum / dim + eps);
    for (int64_t i = 0; i < dim; ++i) y[r * dim + i] = x[r * dim + i] * scale * weight[i];
  }
  return y;
}

void Rope(Matrix& x, int64_t n, int64_t heads, int64_t head_dim, double theta) {
  const int64_t half = head_dim / 2;
  for (int64_t p = 0; p < n; ++p)
    for (int64_t h = 0; h < heads; ++h) {
      double* v = &x[(p * heads + h) * head_dim];
      for (int64_t i = 0; i < half; ++i) {
        const double angle = p * std::pow(theta, -2.0 * i / head_dim);
        const double a = v[i], b = v[i + half];
        v[i] = a * std::cos(angle) - b * std::sin(angle);
        v[i + half] = b * std::cos(angle) + a * std::sin(angle);
      }
    }
}

std::vector<double> ReferenceLastLogits(const LlmConfig& c, const std::vector<int32_t>& ids) {
  const Checkpoint checkpoint = Checkpoint::Open(kStoriesDir);
  const int64_t n = static_cast<int64_t>(ids.size()), d = c.hidden_size, hd = c.head_dim;
  const Matrix embed = Weights(checkpoint, "model.embed_tokens.weight");
  Matrix x(n * d);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < d; ++i) x[r * d + i] = embed[ids[r] * d + i];
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    Matrix h = Norm(x, Weights(checkpoint, p + "input_layernorm.weight"), d, c.rms_norm_eps);
    Matrix q = Project(h, Weights(checkpoint, p + "self_attn.q_proj.weight"), n, d);
    Matrix k = Project(h, Weights(checkpoint, p + "self_attn.k_proj.weight"), n, d);
    Matrix v = Project(h, Weights(checkpoint, p + "self_attn.v_proj.weight"), n, d);
    Rope(q, n, c.num_heads, hd, c.rope_theta);
    Rope(k, n, c.num_kv_heads, hd, c.rope_theta);
    Matrix attention(n * c.q_dim(), 0.0);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t head = 0; head < c.num_heads; ++head) {
        const int64_t kv = head / (c.num_heads / c.num_kv_heads);
        std::vector<double> p_row(t + 1);
        double max = -1e300, total = 0;
        for (int64_t s = 0; s <= t; ++s) {
          double dot = 0;
          for (int64_t i = 0; i < hd; ++i)
            dot += q[t * c.q_dim() + head * hd + i] * k[s * c.kv_dim() + kv * hd + i];
          p_row[s] = dot / std::sqrt(double(hd));
          max = std::max(max, p_row[s]);
        }
        for (double& value : p_row) total += value = std::exp(value - max);
        for (int64_t s = 0; s <= t; ++s)
          for (int64_t i = 0; i < hd; ++i)
            attention[t * c.q_dim() + head * hd + i] +=
                p_row[s] / total * v[s * c.kv_dim() + kv * hd + i];
      }
    Matrix o = Project(attention, Weights(checkpoint, p + "self_attn.o_proj.weight"), n, d);
    for (int64_t i = 0; i < n * d; ++i) x[i] += o[i];
    h = Norm(x, Weights(checkpoint, p + "post_attention_layernorm.weight"), d, c.rms_norm_eps);
    Matrix gate = Project(h, Weights(checkpoint, p + "mlp.gate_proj.weight"), n, d);
    const Matrix up = Project(h, Weights(checkpoint, p + "mlp.up_proj.weight"), n, d);
    for (size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
    const Matrix down =
        Project(gate, Weights(checkpoint, p + "mlp.down_proj.weight"), n, c.intermediate_size);
    for (int64_t i = 0; i < n * d; ++i) x[i] += down[i];
  }
  const Matrix last(x.end() - d, x.end());
  const Matrix normed = Norm(last, Weights(checkpoint, "model.norm.weight"), d, c.rms_norm_eps);
  return Project(normed, embed, 1, d);
}

std::vector<float> EngineLogitsTokenByToken(const Decoder& decoder, ThreadPool& pool,
                                            const std::vector<int32_t>& ids, bool one_by_one) {
  const LlmConfig& c = decoder.config();
  // float32 entries: the reference checks the decoder's arithmetic, not the cache's rounding
  // (session_kv_dtype_test bounds what bf16 entries change).
  KvCache cache = decoder.NewCache(64, DType::kF32);
  std::vector<float> logits(c.vocab_size);
  const size_t step = one_by_one ? 1 : ids.size();
  for (size_t start = 0; start < ids.size(); start += step) {
    const auto count = static_cast<int64_t>(std::min(step, ids.size() - start));
    DecoderTokens tokens;
    tokens.hidden = Tensor(DType::kF32, {count, c.hidden_size});
    decoder.Embed(std::span(ids).subspan(start, count), tokens.hidden.f32());
    for (int64_t i = 0; i < count; ++i) {
      tokens.token_index.push_back(start + i);
      tokens.position.push_back(PositionId::Sequential(start + i));
    }
    decoder.Forward(pool, tokens, cache);
    decoder.Logits(pool, tokens.hidden.f32() + (count - 1) * c.hidden_size, 1, logits.data());
  }
  EXPECT_EQ(cache.layer(c.num_layers - 1).size(), static_cast<int64_t>(ids.size()));
  return logits;
}

// "<s> Once upon a time, there was" in stories260k's vocabulary.
const std::vector<int32_t> kPrompt = {1, 403, 407, 261, 378, 432, 383, 286};

TEST(DecoderTest, StoriesLogitsMatchDoublePrecisionReference) {
  const Decoder decoder(StoriesConfig(), Checkpoint::Open(kStoriesDir));
  ThreadPool pool(2);
  const std::vector<double> reference = ReferenceLastLogits(decoder.config(), kPrompt);
  for (bool one_by_one : {false, true}) {
    const std::vector<float> logits = EngineLogitsTokenByToken(decoder, pool, kPrompt, one_by_one);
    double max_error = 0;
    for (size_t i = 0; i < logits.size(); ++i)
      max_error = std::max(max_error, std::abs(logits[i] - reference[i]));
    EXPECT_LT(max_error, 1e-4) << (one_by_one ? "decoding token by token" : "prefill at once");
  }
}

std::string LoadErrorWith(const std::vector<testing::TensorToWrite>& tensors) {
  const auto dir = testing::FreshTempDir();
  testing::WriteFile(dir / "model.safetensors", testing::SafetensorsBytes(tensors));
  return testing::ErrorOf([&] { Decoder decoder(StoriesConfig(), Checkpoint::Open(dir)); });
}

std::vector<testing::TensorToWrite> StoriesTensors() {
  const Checkpoint checkpoint = Checkpoint::Open(kStoriesDir);
  std::vector<testing::TensorToWrite> tensors;
  for (const StoredTensor* t : checkpoint.All()) {
    tensors.push_back({t->name, t->dtype_name, t->shape,
                       std::string(reinterpret_cast<const char*>(t->data), t->num_bytes)});
  }
  return tensors;
}

TEST(DecoderTest, MissingTensorIsNamed) {
  auto tensors = StoriesTensors();
  std::erase_if(tensors,
                [](const auto& t) { return t.name == "model.layers.3.mlp.up_proj.weight"; });
  const std::string error = LoadErrorWith(tensors);
  EXPECT_NE(error.find("model.layers.3.mlp.up_proj.weight"), std::string::npos) << error;
  EXPECT_NE(error.find("not found"), std::string::npos) << error;
}

TEST(DecoderTest, WrongShapeIsNamedWithBothShapes) {
  auto tensors = StoriesTensors();
  for (auto& t : tensors) {
    if (t.name == "model.norm.weight") {
      t.shape = {32};
      t.bytes.resize(32 * 4);
    }
  }
  const std::string error = LoadErrorWith(tensors);
  EXPECT_NE(error.find("model.norm.weight"), std::string::npos) << error;
  EXPECT_NE(error.find("[32]"), std::string::npos) << error;
  EXPECT_NE(error.find("[64]"), std::string::npos) << error;
}

// Records what the decoder hands a hook: the probe before layer 0 and layer 0's own attention.
class RecordingHook : public PrefillHook {
 public:
  std::vector<int64_t> ProbeRows(const DecoderTokens& tokens) override {
    return {tokens.size() - 2, tokens.size() - 1};
  }
  std::vector<int64_t> ScoreRows(int64_t layer, const DecoderTokens& tokens) override {
    return layer == 0 ? ProbeRows(tokens) : std::vector<int64_t>{};
  }
  void BeforeLayer(int64_t layer, DecoderTokens&, const LayerAttention* previous) override {
    if (layer == 0 && previous) probe = {previous->probabilities.Copy(), previous->keys.Copy()};
    if (layer == 1 && previous) layer0 = {previous->probabilities.Copy(), previous->keys.Copy()};
  }
  std::pair<Tensor, Tensor> probe, layer0;  // probabilities [2, heads, n], keys [n, kv_dim]
};

TEST(DecoderTest, ProbeOfLayerZeroEqualsItsRecordedAttention) {
  const Decoder decoder(StoriesConfig(), Checkpoint::Open(kStoriesDir));
  ThreadPool pool(2);
  KvCache cache = decoder.NewCache(64);
  DecoderTokens tokens;
  tokens.hidden = Tensor(DType::kF32, {8, 64});
  decoder.Embed(kPrompt, tokens.hidden.f32());
  for (int64_t i = 0; i < 8; ++i) {
    tokens.token_index.push_back(i);
    tokens.position.push_back(PositionId::Sequential(i));
  }
  RecordingHook hook;
  decoder.Forward(pool, tokens, cache, &hook);
  ASSERT_EQ(hook.probe.first.shape(), (Shape{2, 8, 8}));
  ASSERT_EQ(hook.layer0.first.shape(), hook.probe.first.shape());
  EXPECT_LT(testing::MaxAbsDifference(hook.probe.first.f32(), hook.layer0.first.f32(), 2 * 8 * 8),
            1e-6);
  EXPECT_EQ(testing::MaxAbsDifference(hook.probe.second.f32(), hook.layer0.second.f32(), 8 * 32),
            0.0);
}

TEST(DecoderTest, EmbedRejectsIdsOutsideVocabulary) {
  const Decoder decoder(StoriesConfig(), Checkpoint::Open(kStoriesDir));
  std::vector<float> out(64);
  const int32_t bad[] = {512};
  EXPECT_THROW(decoder.Embed(bad, out.data()), Error);
}

// A decoder without mrope_section rotates by one id: three different ones are refused, not
// rotated by one of them. With a section the same ids run, and equal ids rotate as plain RoPE.
TEST(DecoderTest, MropeIdsNeedAnMropeSection) {
  ThreadPool pool(2);
  // Three tokens, the last two at `position` and one past it (one token alone attends to itself
  // whatever its rotation).
  auto run = [&](const LlmConfig& config, PositionId position) {
    const Decoder decoder(config, Checkpoint::Open(kStoriesDir));
    KvCache cache = decoder.NewCache(8);
    DecoderTokens tokens;
    tokens.hidden = Tensor(DType::kF32, {3, 64});
    decoder.Embed(std::span(kPrompt).subspan(0, 3), tokens.hidden.f32());
    tokens.token_index = {0, 1, 2};
    tokens.position = {PositionId::Sequential(0), position, position + 1};
    decoder.Forward(pool, tokens, cache);
    return std::vector<float>(tokens.hidden.f32(), tokens.hidden.f32() + 3 * 64);
  };
  const LlmConfig plain = StoriesConfig();
  EXPECT_NE(testing::ErrorOf([&] {
              run(plain, PositionId{3, 1, 2});
            }).find("has M-RoPE positions (3, 1, 2) but the llama decoder rotates by one id"),
            std::string::npos);
  LlmConfig mrope = plain;
  const int64_t half = plain.head_dim / 2;
  mrope.rope_scaling.mrope_section = {half - 2, 1, 1};
  EXPECT_EQ(run(mrope, PositionId::Sequential(5)), run(plain, PositionId::Sequential(5)));
  EXPECT_NE(run(mrope, PositionId{5, 1, 2}), run(mrope, PositionId::Sequential(5)));
}

}  // namespace
}  // namespace lightvlm
