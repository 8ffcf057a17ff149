// AVX-512 kernels. Compiled with -mavx512f -mavx512bw -mavx512dq (this file
// only) and called only when the CPU reports all three (VNNI too, for the one
// kernel that uses it). Tails use a mask register, so any dimension runs
// without a scalar loop.
// GCC 12's avx512fintrin.h trips its own -Wuninitialized (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "engine/distance.h"

namespace vectord::engine::kernels {

namespace {

// Four independent accumulators of (a_i - b_i)^2, 64 floats a step.
struct SquaredDifferences {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();

  void Add64(const float* a, const float* b) {
    __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a), _mm512_loadu_ps(b));
    __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + 16), _mm512_loadu_ps(b + 16));
    __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(a + 32), _mm512_loadu_ps(b + 32));
    __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(a + 48), _mm512_loadu_ps(b + 48));
    s0 = _mm512_fmadd_ps(d0, d0, s0);
    s1 = _mm512_fmadd_ps(d1, d1, s1);
    s2 = _mm512_fmadd_ps(d2, d2, s2);
    s3 = _mm512_fmadd_ps(d3, d3, s3);
  }
  // The last `remaining` (< 64) floats, then the total.
  float AddTail(const float* a, const float* b, size_t remaining) {
    size_t i = 0;
    for (; i + 16 <= remaining; i += 16) {
      __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
      s0 = _mm512_fmadd_ps(d, d, s0);
    }
    if (i < remaining) {
      __mmask16 mask = static_cast<__mmask16>((1u << (remaining - i)) - 1);
      __m512 d =
          _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, a + i), _mm512_maskz_loadu_ps(mask, b + i));
      s1 = _mm512_fmadd_ps(d, d, s1);
    }
    return Total();
  }
  float Total() const {
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
  }
};

}  // namespace

float L2SquaredAvx512(const float* a, const float* b, size_t dim) {
  SquaredDifferences sums;
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) sums.Add64(a + i, b + i);
  return sums.AddTail(a + i, b + i, dim - i);
}

float L2SquaredBoundedAvx512(const float* a, const float* b, size_t dim, float bound) {
  // As L2SquaredInBlocks (distance.h), but one set of accumulators runs
  // through the blocks, and each block starts fetching the next one: the
  // caller fetches only the first (a rejected candidate's later blocks would
  // be memory traffic for nothing).
  SquaredDifferences sums;
  size_t i = 0;
  while (i + 64 <= dim) {
    const size_t block_end = std::min(dim & ~size_t{63}, i + kBoundCheckFloats);
    PrefetchBlock(b + i + kBoundCheckFloats, dim - std::min(dim, i + kBoundCheckFloats));
    for (; i < block_end; i += 64) sums.Add64(a + i, b + i);
    if (i < dim) {
      const float partial = sums.Total();
      if (partial >= bound) return partial;
    }
  }
  return sums.AddTail(a + i, b + i, dim - i);
}

float InnerProductAvx512(const float* a, const float* b, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    // Fetch one block ahead, as the bounded kernels do: a walk asks only for
    // a candidate's first block.
    if (i % kBoundCheckFloats == 0) {
      PrefetchBlock(b + i + kBoundCheckFloats, dim - std::min(dim, i + kBoundCheckFloats));
    }
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= dim; i += 16) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  }
  if (i < dim) {
    __mmask16 mask = static_cast<__mmask16>((1u << (dim - i)) - 1);
    s1 =
        _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + i), _mm512_maskz_loadu_ps(mask, b + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

namespace {

// 32 codes widened to 16-bit lanes.
inline __m512i WidenCodes(const uint8_t* codes) {
  return _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes)));
}
inline __m512i LoadQuery(const int16_t* query) {
  return _mm512_loadu_si512(reinterpret_cast<const void*>(query));
}
// The last 16 entries (dim is a multiple of 16), zero-extended to 512 bits.
inline __m512i TailProducts(const uint8_t* codes, const int16_t* query) {
  __m256i c = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes)));
  __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(query));
  return _mm512_zextsi256_si512(_mm256_madd_epi16(c, q));
}

}  // namespace

int32_t CodeDotAvx512(const uint8_t* codes, const int16_t* query, size_t dim) {
  // As CodeDotAvx2, 32 codes an instruction.
  __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(WidenCodes(codes + i), LoadQuery(query + i)));
    s1 = _mm512_add_epi32(s1,
                          _mm512_madd_epi16(WidenCodes(codes + i + 32), LoadQuery(query + i + 32)));
  }
  if (i + 32 <= dim) {
    s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(WidenCodes(codes + i), LoadQuery(query + i)));
    i += 32;
  }
  if (i < dim) s1 = _mm512_add_epi32(s1, TailProducts(codes + i, query + i));
  return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

// vpdpwssd multiplies and accumulates in one instruction (AVX512-VNNI).
__attribute__((target("avx512vnni"))) int32_t CodeDotAvx512Vnni(const uint8_t* codes,
                                                                const int16_t* query, size_t dim) {
  __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    s0 = _mm512_dpwssd_epi32(s0, WidenCodes(codes + i), LoadQuery(query + i));
    s1 = _mm512_dpwssd_epi32(s1, WidenCodes(codes + i + 32), LoadQuery(query + i + 32));
  }
  if (i + 32 <= dim) {
    s0 = _mm512_dpwssd_epi32(s0, WidenCodes(codes + i), LoadQuery(query + i));
    i += 32;
  }
  if (i < dim) s1 = _mm512_add_epi32(s1, TailProducts(codes + i, query + i));
  return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

namespace {

// (query - codes)^2 for 32 entries, added in pairs into 16 32-bit lanes.
inline __m512i SquaredCodeDifferences(const uint8_t* codes, const int16_t* query) {
  __m512i d = _mm512_sub_epi16(LoadQuery(query), WidenCodes(codes));
  return _mm512_madd_epi16(d, d);
}

}  // namespace

int32_t CodeL2SquaredBoundedAvx512(const uint8_t* codes, const int16_t* query, size_t dim,
                                   int32_t bound) {
  __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
  size_t i = 0;
  while (i + 64 <= dim) {
    const size_t block_end = std::min(dim & ~size_t{63}, i + kBoundCheckCodes);
    for (; i < block_end; i += 64) {
      s0 = _mm512_add_epi32(s0, SquaredCodeDifferences(codes + i, query + i));
      s1 = _mm512_add_epi32(s1, SquaredCodeDifferences(codes + i + 32, query + i + 32));
    }
    if (i < dim) {
      const int32_t partial = _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
      if (partial >= bound) return partial;
    }
  }
  if (i + 32 <= dim) {
    s0 = _mm512_add_epi32(s0, SquaredCodeDifferences(codes + i, query + i));
    i += 32;
  }
  if (i < dim) {
    __m256i c = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i)));
    __m256i d =
        _mm256_sub_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(query + i)), c);
    s1 = _mm512_add_epi32(s1, _mm512_zextsi256_si512(_mm256_madd_epi16(d, d)));
  }
  return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

__attribute__((target("avx512vpopcntdq"))) uint32_t BitPlaneDotAvx512(const uint8_t* bits,
                                                                      const uint8_t* planes,
                                                                      size_t dim) {
  const size_t plane_bytes = dim / 8;
  __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
  __m512i s2 = _mm512_setzero_si512(), s3 = _mm512_setzero_si512();
  for (size_t i = 0; i < plane_bytes; i += 64) {
    // 512 bits a step; the last step takes the 64-bit words that are left.
    const size_t words = std::min<size_t>(8, (plane_bytes - i) / 8);
    const auto mask = static_cast<__mmask8>((1u << words) - 1);
    const __m512i b = _mm512_maskz_loadu_epi64(mask, bits + i);
    const uint8_t* p = planes + i;
    s0 = _mm512_add_epi64(
        s0, _mm512_popcnt_epi64(_mm512_and_si512(b, _mm512_maskz_loadu_epi64(mask, p))));
    s1 = _mm512_add_epi64(s1, _mm512_popcnt_epi64(_mm512_and_si512(
                                  b, _mm512_maskz_loadu_epi64(mask, p + plane_bytes))));
    s2 = _mm512_add_epi64(s2, _mm512_popcnt_epi64(_mm512_and_si512(
                                  b, _mm512_maskz_loadu_epi64(mask, p + 2 * plane_bytes))));
    s3 = _mm512_add_epi64(s3, _mm512_popcnt_epi64(_mm512_and_si512(
                                  b, _mm512_maskz_loadu_epi64(mask, p + 3 * plane_bytes))));
  }
  const __m512i weighted =
      _mm512_add_epi64(_mm512_add_epi64(s0, _mm512_slli_epi64(s1, 1)),
                       _mm512_add_epi64(_mm512_slli_epi64(s2, 2), _mm512_slli_epi64(s3, 3)));
  return static_cast<uint32_t>(_mm512_reduce_add_epi64(weighted));
}

}  // namespace vectord::engine::kernels

#pragma GCC diagnostic pop
