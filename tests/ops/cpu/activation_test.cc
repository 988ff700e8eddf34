#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numbers>

#include "ops/cpu/test_data.h"
#include "ops/ops.h"

namespace lightvlm::ops {
namespace {

using testing::ExpectClose;
using testing::RandomFloats;

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Random values in the range that matters, plus zero and saturated tails.
std::vector<float> ActivationInputs(std::mt19937& rng, size_t count) {
  auto x = RandomFloats(rng, count, -8.0f, 8.0f);
  x[0] = 0.0f;
  x[1] = -60.0f;
  x[2] = 60.0f;
  return x;
}

void ExpectActivation(void (*activation)(float*, int64_t),
                      const std::function<double(double)>& reference, const std::string& name) {
  std::mt19937 rng(41);
  for (int64_t n : {3, 7, 33, 130}) {
    auto x = ActivationInputs(rng, n);
    std::vector<double> expected(n);
    for (int64_t i = 0; i < n; ++i) expected[i] = reference(x[i]);
    activation(x.data(), n);
    ExpectClose(x, expected, 1e-6, name + " n=" + std::to_string(n));
  }
}

TEST(ActivationTest, Silu) {
  ExpectActivation(
      Silu, [](double x) { return x * Sigmoid(x); }, "Silu");
}

TEST(ActivationTest, GeluErf) {
  ExpectActivation(
      Gelu, [](double x) { return 0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2)); }, "Gelu");
}

TEST(ActivationTest, GeluTanh) {
  ExpectActivation(
      GeluTanh,
      [](double x) {
        const double inner = std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x);
        return 0.5 * x * (1.0 + std::tanh(inner));
      },
      "GeluTanh");
}

TEST(ActivationTest, QuickGelu) {
  ExpectActivation(
      QuickGelu, [](double x) { return x * Sigmoid(1.702 * x); }, "QuickGelu");
}

TEST(ActivationTest, SiluMulMatchesDoubleLoop) {
  std::mt19937 rng(42);
  ThreadPool pool(3);
  // 100003 elements split into several tasks; 1 and 130 stay in one.
  for (int64_t n : {1, 130, 100003}) {
    auto gate = RandomFloats(rng, n, -8.0f, 8.0f);
    const auto up = RandomFloats(rng, n, -2.0f, 2.0f);
    std::vector<double> expected(n);
    for (int64_t i = 0; i < n; ++i) expected[i] = gate[i] * Sigmoid(gate[i]) * up[i];
    SiluMul(pool, gate.data(), up.data(), n);
    ExpectClose(gate, expected, 1e-6, "n=" + std::to_string(n));
  }
}

}  // namespace
}  // namespace lightvlm::ops
