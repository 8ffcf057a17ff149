#include "engine/binary_sketch.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "engine/distance.h"
#include "engine/slot_storage.h"
#include "test_vectors.h"

namespace vectord::engine {
namespace {

using testing::Dot;

std::vector<float> Gaussian(size_t dim, std::mt19937& rng, float mean = 0) {
  std::normal_distribution<float> normal(mean, 1.0f);
  std::vector<float> v(dim);
  for (float& x : v) x = normal(rng);
  return v;
}

// P must keep lengths and angles: the estimator's derivation assumes an
// orthogonal transform, for dimensions that are and are not powers of two.
// Each slot's sketch row holds the whole sketch, bits and factors: a row one
// factor short (as once at 384 dimensions) let each sketch overwrite the
// start of the next, and the last of a chunk write past it.
TEST(BinarySketch, EverySlotRowHoldsItsSketch) {
  for (uint32_t dim = 1; dim <= 2100; ++dim) {
    const BinarySketcher sketcher(std::vector<float>(dim, 0.0f), 7);
    for (bool compact : {false, true}) {
      const SlotLayout layout(dim, 16, /*with_codes=*/true, compact);
      ASSERT_GE(layout.sketch_row_bytes, sketcher.sketch_bytes()) << dim << " " << compact;
      ASSERT_EQ(layout.sketch_row_bytes % (compact ? 16 : 64), 0u) << dim;
    }
  }
}

TEST(BinarySketch, RotationIsOrthogonal) {
  std::mt19937 rng(3);
  for (size_t dim : {1u, 64u, 100u, 384u, 768u, 784u, 1024u, 1536u}) {
    BinarySketcher sketcher(std::vector<float>(dim, 0.0f), 42);
    const size_t padded = sketcher.padded_dimension();
    ASSERT_EQ(padded % 64, 0u);
    ASSERT_GE(padded, dim);
    std::vector<float> x = Gaussian(padded, rng), y = Gaussian(padded, rng);
    const double xx = Dot(x, x), xy = Dot(x, y);
    sketcher.Rotate(x.data());
    sketcher.Rotate(y.data());
    EXPECT_NEAR(Dot(x, x), xx, 1e-4 * xx) << dim;
    EXPECT_NEAR(Dot(x, y), xy, 1e-4 * std::sqrt(xx * Dot(y, y))) << dim;
  }
}

// The half-width is epsilon standard deviations of the estimate's error,
// which is close to normal: at epsilon 1.9 the interval holds the true inner
// product about 94 % of the time, at 3 about 99.7 %. The estimate is
// unbiased, and every kernel gives the same estimate (they count bits:
// integers, exact).
TEST(BinarySketch, IntervalIsCalibratedInStandardDeviations) {
  size_t kernel_count = 0;
  const KernelSet* kernels = AvailableKernels(&kernel_count);
  for (size_t dim : {128u, 784u}) {
    std::mt19937 rng(static_cast<unsigned>(dim));
    std::vector<std::vector<float>> base, queries;
    std::vector<float> mean(dim, 0.0f);
    for (int i = 0; i < 300; ++i) {
      base.push_back(Gaussian(dim, rng, 0.5f));
      for (size_t d = 0; d < dim; ++d) mean[d] += base.back()[d] / 300;
    }
    for (int i = 0; i < 40; ++i) queries.push_back(Gaussian(dim, rng, 0.5f));
    BinarySketcher sketcher(mean, 7);
    std::vector<uint8_t> sketches(base.size() * sketcher.sketch_bytes());
    for (size_t i = 0; i < base.size(); ++i) {
      sketcher.Encode(base[i].data(), sketches.data() + i * sketcher.sketch_bytes());
    }
    size_t inside_19 = 0, inside_3 = 0, total = 0;
    double error_sum = 0, sigma_sum = 0;
    for (const auto& q : queries) {
      SketchQuery prepared;
      sketcher.PrepareQuery(q.data(), &prepared);
      for (size_t i = 0; i < base.size(); ++i) {
        const uint8_t* sketch = sketches.data() + i * sketcher.sketch_bytes();
        const SketchEstimate e = sketcher.Estimate(prepared, sketch, kernels[0].bit_plane_dot, 1);
        for (size_t k = 1; k < kernel_count; ++k) {
          const SketchEstimate other =
              sketcher.Estimate(prepared, sketch, kernels[k].bit_plane_dot, 1);
          ASSERT_EQ(other.inner_product, e.inner_product) << kernels[k].name;
        }
        const double error = std::abs(e.inner_product - Dot(base[i], q));
        inside_19 += error <= 1.9 * e.half_width ? 1 : 0;
        inside_3 += error <= 3.0 * e.half_width ? 1 : 0;
        ++total;
        error_sum += e.inner_product - Dot(base[i], q);
        sigma_sum += e.half_width;
        EXPECT_NEAR(e.squared_norm, Dot(base[i], base[i]), 1e-3 * Dot(base[i], base[i]));
      }
    }
    const auto share = [&](size_t n) {
      return static_cast<double>(n) / static_cast<double>(total);
    };
    EXPECT_GE(share(inside_19), 0.90) << "dim " << dim;
    EXPECT_LE(share(inside_19), 0.98) << "dim " << dim;
    EXPECT_GE(share(inside_3), 0.99) << "dim " << dim;
    // A biased estimator would drift by a good part of one deviation.
    EXPECT_LE(std::abs(error_sum / static_cast<double>(total)),
              0.1 * sigma_sum / static_cast<double>(total))
        << "dim " << dim;
  }
}

TEST(BinarySketch, VectorAtTheCentreIsExact) {
  std::mt19937 rng(5);
  const std::vector<float> centre = Gaussian(200, rng);
  BinarySketcher sketcher(centre, 1);
  std::vector<uint8_t> sketch(sketcher.sketch_bytes());
  sketcher.Encode(centre.data(), sketch.data());
  const std::vector<float> q = Gaussian(200, rng);
  SketchQuery prepared;
  sketcher.PrepareQuery(q.data(), &prepared);
  const SketchEstimate e =
      sketcher.Estimate(prepared, sketch.data(), ActiveKernels().bit_plane_dot, 1.9f);
  EXPECT_NEAR(e.inner_product, Dot(centre, q), 1e-3 * std::sqrt(Dot(q, q) * Dot(centre, centre)));
  EXPECT_EQ(e.half_width, 0.0f);
}

}  // namespace
}  // namespace vectord::engine
