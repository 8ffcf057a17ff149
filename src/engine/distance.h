// Distance kernels over float vectors, with the fastest implementation for
// this CPU chosen once at start-up (AVX-512, AVX2+FMA, or portable C++).
//
// The binary is built for baseline x86-64; only the files that hold the
// AVX2 and AVX-512 kernels are compiled with those instruction sets, and they
// run only on CPUs that report them. All kernels are pure functions: safe to
// call from any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vectord::engine {

using DistanceKernel = float (*)(const float* a, const float* b, size_t dim);
// sum (a_i - b_i)^2, allowed to stop early once the running sum reaches
// `bound`: the result is exact when below `bound`, and some value >= `bound`
// otherwise (a search only needs to know the candidate is too far).
using BoundedDistanceKernel = float (*)(const float* a, const float* b, size_t dim, float bound);
// sum codes_i * query_i over `dim` entries, dim a multiple of 16. The caller
// keeps the sum inside int32 (see ScalarQuantizer): no kernel checks.
using CodeKernel = int32_t (*)(const uint8_t* codes, const int16_t* query, size_t dim);
// sum (query_i - codes_i)^2 over `dim` entries, dim a multiple of 16, exact
// below `bound` and some value >= `bound` otherwise. The caller keeps every
// |query_i - codes_i| small enough for the sum to fit in int32.
using BoundedCodeKernel = int32_t (*)(const uint8_t* codes, const int16_t* query, size_t dim,
                                      int32_t bound);
// sum over j < 4 of 2^j * popcount(bits & planes_j), where planes_j is the
// dim / 8 bytes at planes + j * dim / 8 and dim a multiple of 64: a 1-bit
// sketch's inner product with a query quantised to 4 bits, one bit plane
// each (see binary_sketch.h).
using BitPlaneKernel = uint32_t (*)(const uint8_t* bits, const uint8_t* planes, size_t dim);

struct KernelSet {
  std::string_view name;      // "avx512-vnni", "avx512", "avx2", "scalar"
  DistanceKernel l2_squared;  // sum (a_i - b_i)^2
  BoundedDistanceKernel l2_squared_bounded;
  DistanceKernel inner_product;  // sum a_i * b_i
  CodeKernel code_dot;           // 8-bit codes against a 16-bit query
  BoundedCodeKernel code_l2_squared_bounded;
  BitPlaneKernel bit_plane_dot;
};

// The kernels in use in this process.
const KernelSet& ActiveKernels();

// Every implementation this CPU can run, best first (for tests and benches).
// The scalar set is always last.
const KernelSet* AvailableKernels(size_t* count);

namespace kernels {
// The bounded kernels: squared differences only add, so the sum is checked
// against `bound` after every block of 128 dimensions (a few cache lines per
// vector: a check costs less than a block, and most rejected candidates are
// known to be too far well before their last dimension).
constexpr size_t kBoundCheckFloats = 128;
// Asks for the cache lines of up to one block (kBoundCheckFloats) of `p`,
// `remaining` floats at most.
inline void PrefetchBlock(const float* p, size_t remaining) {
  const size_t floats = remaining < kBoundCheckFloats ? remaining : kBoundCheckFloats;
  for (size_t off = 0; off < floats; off += 16) __builtin_prefetch(p + off, 0, 3);
}
// The bounded code kernel checks its sum after every block of this many
// codes. It fetches nothing ahead: a walk on codes asks for whole rows.
constexpr size_t kBoundCheckCodes = 256;
inline float L2SquaredInBlocks(DistanceKernel kernel, const float* a, const float* b, size_t dim,
                               float bound) {
  float sum = 0;
  for (size_t start = 0; start < dim; start += kBoundCheckFloats) {
    if (start + kBoundCheckFloats < dim) {
      PrefetchBlock(b + start + kBoundCheckFloats, dim - start - kBoundCheckFloats);
    }
    sum += kernel(a + start, b + start,
                  dim - start < kBoundCheckFloats ? dim - start : kBoundCheckFloats);
    if (sum >= bound) return sum;
  }
  return sum;
}
float L2SquaredScalar(const float* a, const float* b, size_t dim);
float L2SquaredBoundedScalar(const float* a, const float* b, size_t dim, float bound);
float InnerProductScalar(const float* a, const float* b, size_t dim);
float L2SquaredAvx2(const float* a, const float* b, size_t dim);
float L2SquaredBoundedAvx2(const float* a, const float* b, size_t dim, float bound);
float InnerProductAvx2(const float* a, const float* b, size_t dim);
float L2SquaredAvx512(const float* a, const float* b, size_t dim);
float L2SquaredBoundedAvx512(const float* a, const float* b, size_t dim, float bound);
float InnerProductAvx512(const float* a, const float* b, size_t dim);
int32_t CodeDotScalar(const uint8_t* codes, const int16_t* query, size_t dim);
int32_t CodeDotAvx2(const uint8_t* codes, const int16_t* query, size_t dim);
int32_t CodeDotAvx512(const uint8_t* codes, const int16_t* query, size_t dim);
int32_t CodeDotAvx512Vnni(const uint8_t* codes, const int16_t* query, size_t dim);
uint32_t BitPlaneDotScalar(const uint8_t* bits, const uint8_t* planes, size_t dim);
uint32_t BitPlaneDotPopcnt(const uint8_t* bits, const uint8_t* planes, size_t dim);
uint32_t BitPlaneDotAvx512(const uint8_t* bits, const uint8_t* planes, size_t dim);
int32_t CodeL2SquaredBoundedScalar(const uint8_t* codes, const int16_t* query, size_t dim,
                                   int32_t bound);
int32_t CodeL2SquaredBoundedAvx2(const uint8_t* codes, const int16_t* query, size_t dim,
                                 int32_t bound);
int32_t CodeL2SquaredBoundedAvx512(const uint8_t* codes, const int16_t* query, size_t dim,
                                   int32_t bound);
}  // namespace kernels

}  // namespace vectord::engine
