// AVX2 + FMA kernels. Compiled with -mavx2 -mfma (this file only) and called
// only when the CPU reports both. Four independent accumulators hide the FMA
// latency; the tail uses a masked load so no scalar loop runs.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "engine/distance.h"

namespace vectord::engine::kernels {
namespace {

inline float HorizontalSum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 shuf = _mm_movehdup_ps(lo);
  __m128 sums = _mm_add_ps(lo, shuf);
  shuf = _mm_movehl_ps(shuf, sums);
  sums = _mm_add_ss(sums, shuf);
  return _mm_cvtss_f32(sums);
}

inline __m256i TailMask(size_t remaining) {
  alignas(32) static const int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                     0,  0,  0,  0,  0,  0,  0,  0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + 8 - remaining));
}

// Four independent accumulators of (a_i - b_i)^2, 32 floats a step.
struct SquaredDifferences {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();

  void Add32(const float* a, const float* b) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a), _mm256_loadu_ps(b));
    __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + 8), _mm256_loadu_ps(b + 8));
    __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + 16), _mm256_loadu_ps(b + 16));
    __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + 24), _mm256_loadu_ps(b + 24));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
    s2 = _mm256_fmadd_ps(d2, d2, s2);
    s3 = _mm256_fmadd_ps(d3, d3, s3);
  }
  // The last `remaining` (< 32) floats, then the total.
  float AddTail(const float* a, const float* b, size_t remaining) {
    size_t i = 0;
    for (; i + 8 <= remaining; i += 8) {
      __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
      s0 = _mm256_fmadd_ps(d, d, s0);
    }
    if (i < remaining) {
      __m256i mask = TailMask(remaining - i);
      __m256 d = _mm256_sub_ps(_mm256_maskload_ps(a + i, mask), _mm256_maskload_ps(b + i, mask));
      s1 = _mm256_fmadd_ps(d, d, s1);
    }
    return Total();
  }
  float Total() const {
    return HorizontalSum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  }
};

}  // namespace

float L2SquaredAvx2(const float* a, const float* b, size_t dim) {
  SquaredDifferences sums;
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) sums.Add32(a + i, b + i);
  return sums.AddTail(a + i, b + i, dim - i);
}

float L2SquaredBoundedAvx2(const float* a, const float* b, size_t dim, float bound) {
  // As L2SquaredInBlocks (distance.h), but one set of accumulators runs
  // through the blocks (a check costs one horizontal sum, not a call), and
  // each block starts fetching the next one: the caller fetches only the
  // first (a rejected candidate's later blocks would be traffic for nothing).
  SquaredDifferences sums;
  size_t i = 0;
  while (i + 32 <= dim) {
    const size_t block_end = std::min(dim & ~size_t{31}, i + kBoundCheckFloats);
    PrefetchBlock(b + i + kBoundCheckFloats, dim - std::min(dim, i + kBoundCheckFloats));
    for (; i < block_end; i += 32) sums.Add32(a + i, b + i);
    if (i < dim) {
      const float partial = sums.Total();
      if (partial >= bound) return partial;
    }
  }
  return sums.AddTail(a + i, b + i, dim - i);
}

float InnerProductAvx2(const float* a, const float* b, size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    // Fetch one block ahead, as the bounded kernel does: a walk asks only for
    // a candidate's first block.
    if (i % kBoundCheckFloats == 0) {
      PrefetchBlock(b + i + kBoundCheckFloats, dim - std::min(dim, i + kBoundCheckFloats));
    }
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= dim; i += 8) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  }
  if (i < dim) {
    __m256i mask = TailMask(dim - i);
    s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, mask), _mm256_maskload_ps(b + i, mask), s1);
  }
  return HorizontalSum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

int32_t CodeDotAvx2(const uint8_t* codes, const int16_t* query, size_t dim) {
  // Widen 16 codes to 16-bit lanes, multiply by the query and add pairs into
  // 32-bit lanes (vpmaddwd): products stay exact, no saturation.
  __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i)));
    __m256i c1 =
        _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i + 16)));
    s0 = _mm256_add_epi32(
        s0, _mm256_madd_epi16(c0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(query + i))));
    s1 = _mm256_add_epi32(
        s1, _mm256_madd_epi16(
                c1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(query + i + 16))));
  }
  if (i < dim) {
    __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i)));
    s0 = _mm256_add_epi32(
        s0, _mm256_madd_epi16(c0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(query + i))));
  }
  __m256i s = _mm256_add_epi32(s0, s1);
  __m128i x = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 3, 2)));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(x);
}

namespace {

inline int32_t SumLanes(__m256i s) {
  __m128i x = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 3, 2)));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(x);
}

// (query - codes)^2 for 16 entries, added in pairs into 8 32-bit lanes.
inline __m256i SquaredCodeDifferences(const uint8_t* codes, const int16_t* query) {
  __m256i c = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes)));
  __m256i d = _mm256_sub_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(query)), c);
  return _mm256_madd_epi16(d, d);
}

}  // namespace

int32_t CodeL2SquaredBoundedAvx2(const uint8_t* codes, const int16_t* query, size_t dim,
                                 int32_t bound) {
  __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
  size_t i = 0;
  while (i + 32 <= dim) {
    const size_t block_end = std::min(dim & ~size_t{31}, i + kBoundCheckCodes);
    for (; i < block_end; i += 32) {
      s0 = _mm256_add_epi32(s0, SquaredCodeDifferences(codes + i, query + i));
      s1 = _mm256_add_epi32(s1, SquaredCodeDifferences(codes + i + 16, query + i + 16));
    }
    if (i < dim) {
      const int32_t partial = SumLanes(_mm256_add_epi32(s0, s1));
      if (partial >= bound) return partial;
    }
  }
  if (i < dim) s0 = _mm256_add_epi32(s0, SquaredCodeDifferences(codes + i, query + i));
  return SumLanes(_mm256_add_epi32(s0, s1));
}

uint32_t BitPlaneDotPopcnt(const uint8_t* bits, const uint8_t* planes, size_t dim) {
  // This file is built with -mpopcnt too (every AVX2 CPU has it).
  const size_t plane_bytes = dim / 8;
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i < plane_bytes; i += 8) {
    uint64_t b, p0, p1, p2, p3;
    std::memcpy(&b, bits + i, 8);
    std::memcpy(&p0, planes + i, 8);
    std::memcpy(&p1, planes + plane_bytes + i, 8);
    std::memcpy(&p2, planes + 2 * plane_bytes + i, 8);
    std::memcpy(&p3, planes + 3 * plane_bytes + i, 8);
    s0 += static_cast<uint64_t>(_mm_popcnt_u64(b & p0));
    s1 += static_cast<uint64_t>(_mm_popcnt_u64(b & p1));
    s2 += static_cast<uint64_t>(_mm_popcnt_u64(b & p2));
    s3 += static_cast<uint64_t>(_mm_popcnt_u64(b & p3));
  }
  return static_cast<uint32_t>(s0 + 2 * s1 + 4 * s2 + 8 * s3);
}

}  // namespace vectord::engine::kernels
