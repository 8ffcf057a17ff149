#include "engine/scalar_quantizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace vectord::engine {
namespace {

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += double{a[i]} * b[i];
  return sum;
}

// Decodes codes the way the header comment defines it.
std::vector<float> Decode(const std::vector<float>& lower, const std::vector<float>& upper,
                          const uint8_t* codes) {
  std::vector<float> out(lower.size());
  for (size_t i = 0; i < lower.size(); ++i) {
    float step = upper[i] > lower[i] ? (upper[i] - lower[i]) / 255.0f : 1.0f;
    out[i] = lower[i] + step * codes[i];
  }
  return out;
}

TEST(ScalarQuantizer, CodesStayWithinHalfAStepAndPaddingIsZero) {
  const size_t dim = 37, padded = 48;
  std::vector<float> lower(dim), upper(dim);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-3, 3);
  for (size_t i = 0; i < dim; ++i) {
    lower[i] = u(rng) - 4;
    upper[i] = lower[i] + 0.5f + static_cast<float>(i);
  }
  ScalarQuantizer quantizer(lower, upper, padded);
  std::vector<uint8_t> codes(padded, 0xAB);
  std::vector<float> v(dim);
  for (int trial = 0; trial < 100; ++trial) {
    for (size_t i = 0; i < dim; ++i) {
      std::uniform_real_distribution<float> in(lower[i], upper[i]);
      v[i] = in(rng);
    }
    float norm = quantizer.Encode(v.data(), codes.data());
    std::vector<float> decoded = Decode(lower, upper, codes.data());
    double expected_norm = 0;
    for (size_t i = 0; i < dim; ++i) {
      float step = (upper[i] - lower[i]) / 255.0f;
      EXPECT_LE(std::abs(decoded[i] - v[i]), step / 2 * 1.001f) << i;
      expected_norm += double{decoded[i]} * decoded[i];
    }
    EXPECT_NEAR(norm, expected_norm, 1e-4 * expected_norm);
    for (size_t i = dim; i < padded; ++i) EXPECT_EQ(codes[i], 0) << i;
  }
}

TEST(ScalarQuantizer, ValuesOutsideTheRangeClampAndConstantDimensionsAreExact) {
  std::vector<float> lower = {0, 5, -1}, upper = {1, 5, 1};
  ScalarQuantizer quantizer(lower, upper, 16);
  std::vector<uint8_t> codes(16);
  const float v[3] = {7, 5, -9};
  quantizer.Encode(v, codes.data());
  EXPECT_EQ(codes[0], 255);
  EXPECT_EQ(codes[1], 0);
  EXPECT_EQ(codes[2], 0);
  EXPECT_FLOAT_EQ(Decode(lower, upper, codes.data())[1], 5.0f);
}

TEST(ScalarQuantizer, InnerProductWithAFloatQueryIsCloseToTheDecodedOne) {
  for (size_t dim : {16u, 100u, 768u, 16384u}) {
    const size_t padded = (dim + 15) / 16 * 16;
    std::mt19937 rng(static_cast<unsigned>(dim));
    std::normal_distribution<float> normal(0, 1);
    std::vector<float> lower(dim, -4), upper(dim, 4);
    ScalarQuantizer quantizer(lower, upper, padded);
    std::vector<float> v(dim), q(dim);
    for (auto& x : v) x = normal(rng);
    for (auto& x : q) x = normal(rng);
    std::vector<uint8_t> codes(padded);
    quantizer.Encode(v.data(), codes.data());
    QueryCode prepared;
    quantizer.PrepareQuery(q.data(), &prepared);
    EXPECT_EQ(prepared.values.size(), padded);
    for (size_t s = 0; s < 2; ++s) {
      size_t count = 0;
      const KernelSet& kernels = AvailableKernels(&count)[s == 0 ? 0 : count - 1];
      const double approx = quantizer.InnerProduct(prepared, codes.data(), kernels.code_dot);
      const double exact = Dot(q, Decode(lower, upper, codes.data()));
      // The query keeps 12 bits (fewer at large dims): the error is a small
      // fraction of |q| |x|, far below the gaps a search needs to see.
      const double scale = std::sqrt(Dot(q, q) * Dot(v, v));
      EXPECT_NEAR(approx, exact, 2e-3 * scale) << dim << " " << kernels.name;
    }
    double norm = 0;
    for (float x : q) norm += double{x} * x;
    EXPECT_NEAR(prepared.squared_norm, norm, 1e-4 * norm);
  }
}

}  // namespace
}  // namespace vectord::engine
