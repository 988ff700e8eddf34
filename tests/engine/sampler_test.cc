#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "base/error.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 2.0f, 3.0f, -1.0f};

TEST(SamplerTest, GreedyTakesFirstMaximum) {
  Sampler sampler({});
  EXPECT_EQ(sampler.Sample(kLogits), 1);
}

TEST(SamplerTest, TemperatureSamplingFollowsSoftmax) {
  Sampler sampler({.temperature = 2.0f, .seed = 7});
  std::vector<int> counts(kLogits.size(), 0);
  const int draws = 200000;
  for (int i = 0; i < draws; ++i) ++counts[sampler.Sample(kLogits)];
  double total = 0;
  for (float logit : kLogits) total += std::exp(logit / 2.0);
  for (size_t i = 0; i < kLogits.size(); ++i) {
    const double expected = std::exp(kLogits[i] / 2.0) / total;
    EXPECT_NEAR(counts[i] / double(draws), expected, 0.005) << "token " << i;
  }
}

TEST(SamplerTest, TopKRestrictsToTheKBest) {
  Sampler sampler({.temperature = 1.0f, .top_k = 2, .seed = 3});
  std::map<int32_t, int> seen;
  for (int i = 0; i < 2000; ++i) ++seen[sampler.Sample(kLogits)];
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen.count(1) && seen.count(3));
}

TEST(SamplerTest, TopPKeepsTheSmallestNucleus) {
  // Probabilities at temperature 1: 0.04, 0.42, 0.16, 0.42, 0.01 (roughly). top_p 0.5 needs the
  // two 0.42 tokens; 0.3 needs only the first of them.
  Sampler two({.temperature = 1.0f, .top_p = 0.5f, .seed = 5});
  std::map<int32_t, int> seen;
  for (int i = 0; i < 2000; ++i) ++seen[two.Sample(kLogits)];
  EXPECT_EQ(seen.size(), 2u);
  Sampler one({.temperature = 1.0f, .top_p = 0.3f, .seed = 5});
  for (int i = 0; i < 200; ++i) EXPECT_EQ(one.Sample(kLogits), 1);
}

TEST(SamplerTest, SameSeedSameTokens) {
  Sampler a({.temperature = 1.5f, .seed = 42});
  Sampler b({.temperature = 1.5f, .seed = 42});
  Sampler c({.temperature = 1.5f, .seed = 43});
  std::vector<int32_t> from_a, from_b, from_c;
  for (int i = 0; i < 64; ++i) {
    from_a.push_back(a.Sample(kLogits));
    from_b.push_back(b.Sample(kLogits));
    from_c.push_back(c.Sample(kLogits));
  }
  EXPECT_EQ(from_a, from_b);
  EXPECT_NE(from_a, from_c);
}

// NaN logits used to make sampling read candidates_[-1] and greedy return an arbitrary token.
TEST(SamplerTest, RejectsNonFiniteLogitsGreedyAndSampled) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (const float temperature : {0.0f, 1.0f}) {
    Sampler sampler({.temperature = temperature, .top_k = 2});
    EXPECT_EQ(testing::ErrorOf([&] {
                sampler.Sample(std::vector<float>{1, nan, 2});
              }),
              "the logit of token 1 is NaN: the model's weights or activations are not finite");
    EXPECT_EQ(testing::ErrorOf([&] { sampler.Sample(std::vector<float>(3, nan)); }),
              "the logit of token 0 is NaN: the model's weights or activations are not finite");
    EXPECT_EQ(testing::ErrorOf([&] {
                sampler.Sample(std::vector<float>{0, 1, -inf});
              }),
              "the logit of token 2 is -infinity: the model's weights or activations are not "
              "finite");
  }
}

TEST(SamplerTest, RejectsOutOfRangeOptions) {
  EXPECT_THROW(Sampler({.temperature = -1.0f}), Error);
  EXPECT_THROW(Sampler({.top_k = -2}), Error);
  EXPECT_THROW(Sampler({.top_p = 0.0f}), Error);
  EXPECT_THROW(Sampler({.top_p = 1.5f}), Error);
  EXPECT_THROW(Sampler({.temperature = NAN}), Error);
}

}  // namespace
}  // namespace lightvlm
