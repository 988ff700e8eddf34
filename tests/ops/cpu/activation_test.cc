#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numbers>

#include "base/thread_pool.h"
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

// Sizes below one vector, with a tail, and over several tasks of 3 threads (each with a tail of
// its own); every value within 1e-6 of the double reference.
void ExpectActivation(void (*activation)(ThreadPool&, float*, int64_t),
                      const std::function<double(double)>& reference, const std::string& name) {
  std::mt19937 rng(41);
  ThreadPool pool(3);
  for (int64_t n : {3, 7, 33, 130, 50001}) {
    auto x = ActivationInputs(rng, n);
    std::vector<double> expected(n);
    for (int64_t i = 0; i < n; ++i) expected[i] = reference(x[i]);
    activation(pool, x.data(), n);
    ExpectClose(x, expected, 1e-6, name + " n=" + std::to_string(n));
  }
}

// The sigmoid forms (GELU's tanh form among them) cap exp's argument: far tails give the limits,
// not NaN or garbage.
TEST(ActivationTest, SigmoidFormsSaturateAtBothEnds) {
  ThreadPool pool(1);
  for (auto* activation : {Silu, QuickGelu, GeluTanh}) {
    std::vector<float> x = {-1000.0f, -200.0f, 200.0f, 1000.0f, -3.0e38f, 3.0e38f};
    activation(pool, x.data(), static_cast<int64_t>(x.size()));
    EXPECT_EQ(x[0], 0.0f);
    EXPECT_EQ(x[1], 0.0f);
    EXPECT_EQ(x[2], 200.0f);
    EXPECT_EQ(x[3], 1000.0f);
    EXPECT_EQ(x[4], 0.0f);
    EXPECT_EQ(x[5], 3.0e38f);
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
