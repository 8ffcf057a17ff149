#include "engine/distance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace vectord::engine {
namespace {

// Every kernel this CPU can run, against a double-precision reference, over
// dimensions that exercise every loop and tail of the SIMD code.
TEST(Distance, EveryKernelMatchesTheReference) {
  size_t count = 0;
  const KernelSet* sets = AvailableKernels(&count);
  ASSERT_GE(count, 1u);
  EXPECT_EQ(sets[count - 1].name, "scalar");
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  std::vector<size_t> dims;
  for (size_t d = 1; d <= 130; ++d) dims.push_back(d);
  for (size_t d : {255u, 384u, 768u, 784u, 1000u, 1536u, 16384u}) dims.push_back(d);
  for (size_t dim : dims) {
    // Offset by one float so no kernel can rely on alignment.
    std::vector<float> a(dim + 1), b(dim + 1);
    for (auto& x : a) x = uniform(rng);
    for (auto& x : b) x = uniform(rng);
    const float* pa = a.data() + 1;
    const float* pb = b.data() + 1;
    double l2 = 0, ip = 0, magnitude = 0;
    for (size_t i = 0; i < dim; ++i) {
      l2 += (double{pa[i]} - pb[i]) * (double{pa[i]} - pb[i]);
      ip += double{pa[i]} * pb[i];
      magnitude += std::abs(double{pa[i]} * pb[i]);
    }
    for (size_t s = 0; s < count; ++s) {
      SCOPED_TRACE(std::string(sets[s].name) + " dim " + std::to_string(dim));
      EXPECT_NEAR(sets[s].l2_squared(pa, pb, dim), l2, 1e-5 * l2 + 1e-6);
      EXPECT_NEAR(sets[s].inner_product(pa, pb, dim), ip, 1e-5 * magnitude + 1e-6);
    }
  }
}

// The bounded kernels may stop once the sum passes the bound: below it they
// must give the whole distance, at or above it some value not below it —
// otherwise a search would keep a candidate that is too far, or drop one
// that is near enough.
TEST(Distance, BoundedKernelsAreExactBelowTheBoundAndNeverUnderAbove) {
  size_t count = 0;
  const KernelSet* sets = AvailableKernels(&count);
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  for (size_t dim : {1u, 7u, 31u, 32u, 127u, 128u, 129u, 200u, 255u, 256u, 384u, 784u, 1536u}) {
    std::vector<float> a(dim + 1), b(dim + 1);
    for (auto& x : a) x = uniform(rng);
    for (auto& x : b) x = uniform(rng);
    const float* pa = a.data() + 1;
    const float* pb = b.data() + 1;
    double l2 = 0;
    for (size_t i = 0; i < dim; ++i) l2 += (double{pa[i]} - pb[i]) * (double{pa[i]} - pb[i]);
    const double tolerance = 1e-5 * l2 + 1e-6;
    for (size_t s = 0; s < count; ++s) {
      SCOPED_TRACE(std::string(sets[s].name) + " dim " + std::to_string(dim));
      // Bounds from far below the distance (stops at the first check) to
      // above it (must run to the end).
      for (double fraction : {0.0, 0.01, 0.2, 0.5, 0.9, 0.999}) {
        const float bound = static_cast<float>(l2 * fraction);
        EXPECT_GE(sets[s].l2_squared_bounded(pa, pb, dim, bound), bound);
      }
      for (float bound : {static_cast<float>(l2 * 1.001 + 1e-4), static_cast<float>(l2 * 2),
                          std::numeric_limits<float>::infinity()}) {
        EXPECT_NEAR(sets[s].l2_squared_bounded(pa, pb, dim, bound), l2, tolerance);
      }
    }
  }
}

// The code kernels are exact integer arithmetic: every implementation must
// give the reference's sum to the unit, also at the extremes the quantiser
// allows (codes 255 against the largest query values, at every length).
TEST(Distance, EveryCodeKernelIsExact) {
  size_t count = 0;
  const KernelSet* sets = AvailableKernels(&count);
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> code(0, 255), value(-2047, 2047);
  for (size_t dim = 16; dim <= 16384; dim = dim < 256 ? dim + 16 : dim * 2) {
    // One byte / one int16 of offset: no kernel may rely on alignment.
    std::vector<uint8_t> codes(dim + 1);
    std::vector<int16_t> query(dim + 1);
    const int16_t limit =
        static_cast<int16_t>(std::min<int64_t>(2047, INT32_MAX / (255 * int64_t(dim))));
    for (int pattern = 0; pattern < 3; ++pattern) {
      for (size_t i = 0; i <= dim; ++i) {
        codes[i] = pattern == 0 ? static_cast<uint8_t>(code(rng)) : 255;
        query[i] = pattern == 0 ? static_cast<int16_t>(value(rng) % (limit + 1))
                                : static_cast<int16_t>(pattern == 1 ? limit : -limit);
      }
      int64_t expected = 0;
      for (size_t i = 1; i <= dim; ++i) expected += int64_t{codes[i]} * query[i];
      for (size_t s = 0; s < count; ++s) {
        SCOPED_TRACE(std::string(sets[s].name) + " dim " + std::to_string(dim));
        EXPECT_EQ(sets[s].code_dot(codes.data() + 1, query.data() + 1, dim), expected);
      }
    }
  }
}

// The bounded code kernels: exact squared differences below the bound, a
// value at or above it otherwise, at every length and at the largest
// differences ScalarQuantizer::PrepareGridQuery lets through.
TEST(Distance, EveryBoundedCodeKernelIsExactBelowItsBound) {
  size_t count = 0;
  const KernelSet* sets = AvailableKernels(&count);
  std::mt19937 rng(12);
  std::uniform_int_distribution<int> code(0, 255);
  for (size_t dim = 16; dim <= 16384; dim = dim < 320 ? dim + 16 : dim * 2) {
    const int32_t limit = static_cast<int32_t>(
        std::min(16384.0, std::floor(std::sqrt(double{INT32_MAX} / static_cast<double>(dim)))));
    std::uniform_int_distribution<int> value(255 - limit, limit);
    std::vector<uint8_t> codes(dim + 1);
    std::vector<int16_t> query(dim + 1);
    for (int pattern = 0; pattern < 3; ++pattern) {
      for (size_t i = 0; i <= dim; ++i) {
        codes[i] = pattern == 2 ? 0 : static_cast<uint8_t>(code(rng));
        query[i] = static_cast<int16_t>(pattern == 0   ? code(rng)
                                        : pattern == 1 ? value(rng)
                                                       : limit);
      }
      int64_t expected = 0;
      for (size_t i = 1; i <= dim; ++i) {
        const int64_t d = int64_t{query[i]} - codes[i];
        expected += d * d;
      }
      ASSERT_LE(expected, INT32_MAX);
      const int32_t exact = static_cast<int32_t>(expected);
      for (size_t s = 0; s < count; ++s) {
        SCOPED_TRACE(std::string(sets[s].name) + " dim " + std::to_string(dim) + " pattern " +
                     std::to_string(pattern));
        auto kernel = sets[s].code_l2_squared_bounded;
        EXPECT_EQ(kernel(codes.data() + 1, query.data() + 1, dim, INT32_MAX), exact);
        EXPECT_EQ(kernel(codes.data() + 1, query.data() + 1, dim, exact + 1), exact);
        const int32_t low = exact / 3;
        const int32_t early = kernel(codes.data() + 1, query.data() + 1, dim, low);
        EXPECT_GE(early, low);
        EXPECT_LE(early, exact);
      }
    }
  }
}

// The bit-plane kernels against a bit-by-bit count, at every length a
// sketch can have, from unaligned addresses.
TEST(Distance, EveryBitPlaneKernelCountsExactly) {
  size_t count = 0;
  const KernelSet* sets = AvailableKernels(&count);
  std::mt19937 rng(13);
  std::uniform_int_distribution<int> byte(0, 255);
  for (size_t dim = 64; dim <= 2048; dim += 64) {
    const size_t bytes = dim / 8;
    std::vector<uint8_t> bits(bytes + 1), planes(4 * bytes + 1);
    for (int pattern = 0; pattern < 2; ++pattern) {
      for (uint8_t& b : bits) b = pattern == 0 ? static_cast<uint8_t>(byte(rng)) : 0xff;
      for (uint8_t& b : planes) b = pattern == 0 ? static_cast<uint8_t>(byte(rng)) : 0xff;
      uint32_t expected = 0;
      for (size_t j = 0; j < 4; ++j) {
        for (size_t i = 0; i < dim; ++i) {
          const bool bit = (bits[1 + i / 8] >> (i % 8)) & 1;
          const bool plane = (planes[1 + j * bytes + i / 8] >> (i % 8)) & 1;
          expected += (bit && plane) ? (1u << j) : 0u;
        }
      }
      for (size_t s = 0; s < count; ++s) {
        SCOPED_TRACE(std::string(sets[s].name) + " dim " + std::to_string(dim));
        EXPECT_EQ(sets[s].bit_plane_dot(bits.data() + 1, planes.data() + 1, dim), expected);
      }
    }
  }
}

TEST(Distance, ActiveKernelIsTheBestAvailable) {
  size_t count = 0;
  const KernelSet* sets = AvailableKernels(&count);
  EXPECT_EQ(ActiveKernels().name, sets[0].name);
}

}  // namespace
}  // namespace vectord::engine
