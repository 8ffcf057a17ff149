#include "engine/scalar_quantizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "test_vectors.h"

namespace vectord::engine {
namespace {

using testing::Dot;

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
    float norm = quantizer.Encode(v.data(), codes.data()).squared_norm;
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

TEST(ScalarQuantizer, WidenToUnitGridKeepsByteRangesAndRefusesWideData) {
  std::vector<float> lower = {0, 3, -100, 300, 7}, upper = {200, 255, 50, 400, 7};
  ASSERT_TRUE(ScalarQuantizer::WidenToUnitGrid(&lower, &upper));
  EXPECT_EQ(lower, (std::vector<float>{0, 0, -128, 300, 0}));
  EXPECT_EQ(upper, (std::vector<float>{255, 255, 127, 555, 255}));
  EXPECT_TRUE(ScalarQuantizer(lower, upper, 16).unit_grid());

  std::vector<float> wide_lower = {0, 0}, wide_upper = {255, 256};
  EXPECT_FALSE(ScalarQuantizer::WidenToUnitGrid(&wide_lower, &wide_upper));
  EXPECT_EQ(wide_upper, (std::vector<float>{255, 256}));
  EXPECT_FALSE(ScalarQuantizer(wide_lower, wide_upper, 16).unit_grid());
  // Integers too large for every one of them to be a float.
  std::vector<float> huge_lower = {3e7f}, huge_upper = {3e7f + 4};
  EXPECT_FALSE(ScalarQuantizer::WidenToUnitGrid(&huge_lower, &huge_upper));
  EXPECT_EQ(huge_upper[0], 3e7f + 4);
}

TEST(ScalarQuantizer, OnlyVectorsOnTheGridCodeExactly) {
  std::vector<float> lower = {0, -128, 300}, upper = {255, 127, 555};
  ScalarQuantizer quantizer(lower, upper, 16);
  std::vector<uint8_t> codes(16);
  const float on_grid[3] = {255, -128, 301};
  Encoding e = quantizer.Encode(on_grid, codes.data());
  EXPECT_TRUE(e.exact);
  EXPECT_EQ(codes[0], 255);
  EXPECT_EQ(codes[1], 0);
  EXPECT_EQ(codes[2], 1);
  EXPECT_FLOAT_EQ(e.squared_norm, 255.0f * 255 + 128 * 128 + 301 * 301);
  const float fractional[3] = {1.5f, 0, 301};
  EXPECT_FALSE(quantizer.Encode(fractional, codes.data()).exact);
  const float outside[3] = {256, 0, 301};
  EXPECT_FALSE(quantizer.Encode(outside, codes.data()).exact);
  // A lossy quantiser is exact only where a vector happens to hit its grid.
  ScalarQuantizer lossy({0, 0, 0}, {1, 1, 1}, 16);
  EXPECT_FALSE(lossy.unit_grid());
  const float half[3] = {0.5f, 0, 1};
  EXPECT_FALSE(lossy.Encode(half, codes.data()).exact);
  const float corners[3] = {0, 1, 1};
  EXPECT_TRUE(lossy.Encode(corners, codes.data()).exact);
}

// Code j holds dimension order[j]; inner products and norms do not change.
TEST(ScalarQuantizer, OrderPermutesCodesButNotInnerProducts) {
  const size_t dim = 50, padded = 64;
  std::mt19937 rng(8);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> lower(dim, -4), upper(dim, 4);
  for (size_t i = 0; i < dim; ++i) upper[i] += static_cast<float>(i % 5);
  std::vector<uint32_t> order(dim);
  std::iota(order.begin(), order.end(), 0u);
  std::shuffle(order.begin(), order.end(), rng);
  ScalarQuantizer plain(lower, upper, padded);
  ScalarQuantizer permuted(lower, upper, padded, order);
  std::vector<float> v(dim), q(dim);
  for (auto& x : v) x = normal(rng);
  for (auto& x : q) x = normal(rng);
  std::vector<uint8_t> plain_codes(padded), permuted_codes(padded, 0xAB);
  const Encoding a = plain.Encode(v.data(), plain_codes.data());
  const Encoding b = permuted.Encode(v.data(), permuted_codes.data());
  for (size_t j = 0; j < dim; ++j) EXPECT_EQ(permuted_codes[j], plain_codes[order[j]]) << j;
  for (size_t j = dim; j < padded; ++j) EXPECT_EQ(permuted_codes[j], 0) << j;
  EXPECT_NEAR(a.squared_norm, b.squared_norm, 1e-5f * a.squared_norm);
  QueryCode plain_query, permuted_query;
  plain.PrepareQuery(q.data(), &plain_query);
  permuted.PrepareQuery(q.data(), &permuted_query);
  const CodeKernel kernel = ActiveKernels().code_dot;
  EXPECT_NEAR(plain.InnerProduct(plain_query, plain_codes.data(), kernel),
              permuted.InnerProduct(permuted_query, permuted_codes.data(), kernel), 1e-3);
}

// On a unit grid a query on the grid gets exact squared distances from the
// bounded code kernel; any other query is refused.
TEST(ScalarQuantizer, GridQueriesGiveExactSquaredDistances) {
  const size_t dim = 37, padded = 48;
  std::vector<float> lower(dim, 0), upper(dim, 255);
  lower[5] = -128;
  upper[5] = 127;
  std::vector<uint32_t> order(dim);
  std::iota(order.rbegin(), order.rend(), 0u);
  ScalarQuantizer quantizer(lower, upper, padded, order);
  ASSERT_TRUE(quantizer.unit_grid());
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> pixel(0, 255);
  std::vector<float> v(dim), q(dim);
  std::vector<uint8_t> codes(padded);
  std::vector<int16_t> values;
  size_t count = 0;
  const KernelSet* sets = AvailableKernels(&count);
  for (int trial = 0; trial < 50; ++trial) {
    for (size_t i = 0; i < dim; ++i) {
      v[i] = static_cast<float>(pixel(rng) - (i == 5 ? 128 : 0));
      // Queries may leave the data's range a little: still exact.
      q[i] = static_cast<float>(pixel(rng) - (i == 5 ? 128 : 0) + (trial % 2 ? 300 : -200));
    }
    ASSERT_TRUE(quantizer.Encode(v.data(), codes.data()).exact);
    ASSERT_TRUE(quantizer.PrepareGridQuery(q.data(), &values));
    ASSERT_EQ(values.size(), padded);
    for (size_t j = dim; j < padded; ++j) EXPECT_EQ(values[j], 0);
    int64_t expected = 0;
    for (size_t i = 0; i < dim; ++i) {
      const int64_t d = static_cast<int64_t>(q[i]) - static_cast<int64_t>(v[i]);
      expected += d * d;
    }
    for (size_t s = 0; s < count; ++s) {
      EXPECT_EQ(sets[s].code_l2_squared_bounded(codes.data(), values.data(), padded, INT32_MAX),
                expected)
          << sets[s].name;
    }
  }
  q.assign(dim, 10);
  EXPECT_TRUE(quantizer.PrepareGridQuery(q.data(), &values));
  q[3] = 10.5f;
  EXPECT_FALSE(quantizer.PrepareGridQuery(q.data(), &values));
  q[3] = 1e6f;  // squared differences would overflow int32
  EXPECT_FALSE(quantizer.PrepareGridQuery(q.data(), &values));
  q[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(quantizer.PrepareGridQuery(q.data(), &values));
  q[3] = 10;
  ScalarQuantizer lossy(std::vector<float>(dim, 0), std::vector<float>(dim, 1), padded);
  EXPECT_FALSE(lossy.PrepareGridQuery(q.data(), &values));
}

}  // namespace
}  // namespace vectord::engine
