#include "engine/binary_sketch.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace vectord::engine {
namespace {

constexpr int kRounds = 4;

size_t RoundUp64(size_t n) { return (n + 63) / 64 * 64; }

// splitmix64: a fixed, portable sequence, so that every build and every
// machine derives the same rotation from the same seed.
uint64_t NextRandom(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The unnormalised Walsh-Hadamard transform of n (a power of two, >= 64)
// floats. The first three levels run as one 8-point butterfly per group;
// the later ones on runs of 8, a fixed width the compiler vectorises.
void Hadamard(float* x, size_t n) {
  for (size_t i = 0; i < n; i += 8) {
    float* g = x + i;
    const float a0 = g[0] + g[1], a1 = g[0] - g[1], a2 = g[2] + g[3], a3 = g[2] - g[3];
    const float a4 = g[4] + g[5], a5 = g[4] - g[5], a6 = g[6] + g[7], a7 = g[6] - g[7];
    const float b0 = a0 + a2, b1 = a1 + a3, b2 = a0 - a2, b3 = a1 - a3;
    const float b4 = a4 + a6, b5 = a5 + a7, b6 = a4 - a6, b7 = a5 - a7;
    g[0] = b0 + b4, g[1] = b1 + b5, g[2] = b2 + b6, g[3] = b3 + b7;
    g[4] = b0 - b4, g[5] = b1 - b5, g[6] = b2 - b6, g[7] = b3 - b7;
  }
  for (size_t h = 8; h < n; h *= 2) {
    for (size_t i = 0; i < n; i += 2 * h) {
      for (size_t j = i; j < i + h; j += 8) {
        float* lo = x + j;
        float* hi = x + j + h;
        for (int k = 0; k < 8; ++k) {
          const float a = lo[k], b = hi[k];
          lo[k] = a + b;
          hi[k] = a - b;
        }
      }
    }
  }
}

}  // namespace

BinarySketcher::BinarySketcher(std::vector<float> centre, uint64_t seed)
    : centre_(std::move(centre)),
      padded_(RoundUp64(std::max<size_t>(centre_.size(), 1))),
      block_(std::bit_floor(padded_)),
      signs_(kRounds * padded_) {
  uint64_t state = seed;
  for (size_t i = 0; i < signs_.size(); i += 64) {
    const uint64_t bits = NextRandom(&state);
    for (size_t b = 0; b < 64 && i + b < signs_.size(); ++b) {
      signs_[i + b] = ((bits >> b) & 1) != 0 ? -1.0f : 1.0f;
    }
  }
}

void BinarySketcher::Rotate(float* x) const {
  const float block_scale = 1.0f / std::sqrt(static_cast<float>(block_));
  const float half_scale = 1.0f / std::sqrt(2.0f);
  const size_t half = padded_ / 2;
  for (int round = 0; round < kRounds; ++round) {
    const float* signs = signs_.data() + round * padded_;
    for (size_t i = 0; i < padded_; ++i) x[i] *= signs[i];
    // Alternate ends, so that a block smaller than the vector reaches every
    // coordinate; the halves' rotation below spreads what it leaves.
    float* block = round % 2 == 0 ? x : x + (padded_ - block_);
    Hadamard(block, block_);
    for (size_t i = 0; i < block_; ++i) block[i] *= block_scale;
    for (size_t i = 0; i < half; ++i) {
      const float a = x[i], b = x[i + half];
      x[i] = (a + b) * half_scale;
      x[i + half] = (a - b) * half_scale;
    }
  }
}

void BinarySketcher::Encode(const float* vector, uint8_t* out) const {
  const size_t dim = centre_.size();
  std::vector<float> r(padded_, 0.0f);
  double squared_norm = 0, dot_centre = 0, residual_squared = 0;
  for (size_t i = 0; i < dim; ++i) {
    r[i] = vector[i] - centre_[i];
    squared_norm += double{vector[i]} * vector[i];
    dot_centre += double{r[i]} * centre_[i];
    residual_squared += double{r[i]} * r[i];
  }
  Rotate(r.data());
  std::memset(out, 0, padded_ / 8);
  double l1 = 0;
  for (size_t i = 0; i < padded_; ++i) {
    if (r[i] > 0) out[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
    l1 += std::fabs(r[i]);
  }
  size_t ones = 0;
  for (size_t i = 0; i < padded_ / 8; ++i) ones += std::popcount(static_cast<unsigned>(out[i]));
  Factors f{0, 0, static_cast<float>(dot_centre), static_cast<float>(squared_norm),
            static_cast<float>(ones)};
  const double norm = std::sqrt(residual_squared);
  if (norm > 0 && l1 > 0) {
    // x = <sign(P r) / sqrt(D), P r / |r|>: how well the signs point along r.
    const double x = std::min(1.0, l1 / (norm * std::sqrt(static_cast<double>(padded_))));
    f.scale = static_cast<float>(residual_squared / l1);
    f.error = static_cast<float>(norm * std::sqrt(std::max(0.0, 1 - x * x)) / x /
                                 std::sqrt(static_cast<double>(padded_ - 1)));
  }
  std::memcpy(out + padded_ / 8, &f, sizeof(f));
}

void BinarySketcher::PrepareQuery(const float* query, SketchQuery* out) const {
  const size_t dim = centre_.size();
  std::vector<float>& rotated = out->rotated;
  rotated.assign(padded_, 0.0f);
  double squared_norm = 0, dot_centre = 0, residual_squared = 0;
  for (size_t i = 0; i < dim; ++i) {
    const float r = query[i] - centre_[i];
    rotated[i] = r;
    squared_norm += double{query[i]} * query[i];
    dot_centre += double{query[i]} * centre_[i];
    residual_squared += double{r} * r;
  }
  Rotate(rotated.data());
  const auto [low, high] = std::minmax_element(rotated.begin(), rotated.end());
  const float lower = *low;
  const float step = (*high - *low) / 15;
  const size_t plane_bytes = padded_ / 8;
  out->planes.assign(4 * plane_bytes, 0);
  const float inverse_step = step > 0 ? 1 / step : 0;
  uint64_t code_sum = 0;
  for (size_t byte = 0; byte < plane_bytes; ++byte) {
    uint32_t plane_bits[4] = {0, 0, 0, 0};
    for (size_t b = 0; b < 8; ++b) {
      // Non-negative, so adding one half and truncating rounds to nearest.
      const auto u = std::min<uint32_t>(
          15, static_cast<uint32_t>((rotated[byte * 8 + b] - lower) * inverse_step + 0.5f));
      code_sum += u;
      for (size_t j = 0; j < 4; ++j) plane_bits[j] |= ((u >> j) & 1u) << b;
    }
    for (size_t j = 0; j < 4; ++j) {
      out->planes[j * plane_bytes + byte] = static_cast<uint8_t>(plane_bits[j]);
    }
  }
  out->lower = lower;
  out->step = step;
  out->quantised_sum =
      static_cast<float>(padded_ * double{lower} + double{step} * static_cast<double>(code_sum));
  out->rounding_sigma = step * std::sqrt(static_cast<float>(padded_) / 12);
  out->residual_norm = static_cast<float>(std::sqrt(residual_squared));
  out->dot_centre = static_cast<float>(dot_centre);
  out->squared_norm = static_cast<float>(squared_norm);
}

}  // namespace vectord::engine
