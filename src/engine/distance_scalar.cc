// Portable kernels: the reference every SIMD kernel is tested against, and the
// fallback on CPUs without AVX2. Four partial sums let the compiler keep
// several additions in flight without reassociating a single chain.
#include <algorithm>
#include <bit>
#include <cstring>

#include "engine/distance.h"

namespace vectord::engine::kernels {

float L2SquaredScalar(const float* a, const float* b, size_t dim) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= dim; i += 4) {
    float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1];
    float d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; i < dim; ++i) {
    float d = a[i] - b[i];
    s0 += d * d;
  }
  return (s0 + s1) + (s2 + s3);
}

float L2SquaredBoundedScalar(const float* a, const float* b, size_t dim, float bound) {
  return L2SquaredInBlocks(L2SquaredScalar, a, b, dim, bound);
}

float InnerProductScalar(const float* a, const float* b, size_t dim) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= dim; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < dim; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

int32_t CodeDotScalar(const uint8_t* codes, const int16_t* query, size_t dim) {
  int32_t sum = 0;
  for (size_t i = 0; i < dim; ++i) sum += static_cast<int32_t>(codes[i]) * query[i];
  return sum;
}

int32_t CodeL2SquaredBoundedScalar(const uint8_t* codes, const int16_t* query, size_t dim,
                                   int32_t bound) {
  int32_t sum = 0;
  for (size_t start = 0; start < dim; start += kBoundCheckCodes) {
    const size_t end = std::min(dim, start + kBoundCheckCodes);
    for (size_t i = start; i < end; ++i) {
      const int32_t d = query[i] - static_cast<int32_t>(codes[i]);
      sum += d * d;
    }
    if (sum >= bound) return sum;
  }
  return sum;
}

uint32_t BitPlaneDotScalar(const uint8_t* bits, const uint8_t* planes, size_t dim) {
  const size_t plane_bytes = dim / 8;
  uint64_t sum = 0;
  for (size_t i = 0; i < plane_bytes; i += 8) {
    uint64_t b;
    std::memcpy(&b, bits + i, 8);
    for (size_t j = 0; j < 4; ++j) {
      uint64_t p;
      std::memcpy(&p, planes + j * plane_bytes + i, 8);
      sum += static_cast<uint64_t>(std::popcount(b & p)) << j;
    }
  }
  return static_cast<uint32_t>(sum);
}

}  // namespace vectord::engine::kernels
