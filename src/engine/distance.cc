#include "engine/distance.h"

#include <array>

namespace vectord::engine {
namespace {

struct KernelTable {
  std::array<KernelSet, 4> sets;
  size_t count = 0;
};

KernelTable DetectKernels() {
  KernelTable table;
#if defined(__x86_64__)
  __builtin_cpu_init();
  // Every AVX-512 CPU has AVX2 and FMA. The VNNI set differs only in its
  // code dot kernel (vpdpwssd would save one instruction of three in the
  // squared-difference loop, which waits on memory).
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq")) {
    // Not every AVX-512 CPU counts bits in vectors (Skylake-X does not);
    // every one has the scalar popcnt.
    const BitPlaneKernel bit_plane_avx512 = __builtin_cpu_supports("avx512vpopcntdq")
                                                ? kernels::BitPlaneDotAvx512
                                                : kernels::BitPlaneDotPopcnt;
    if (__builtin_cpu_supports("avx512vnni")) {
      table.sets[table.count++] = {"avx512-vnni",
                                   kernels::L2SquaredAvx512,
                                   kernels::L2SquaredBoundedAvx512,
                                   kernels::InnerProductAvx512,
                                   kernels::CodeDotAvx512Vnni,
                                   kernels::CodeL2SquaredBoundedAvx512,
                                   bit_plane_avx512};
    }
    table.sets[table.count++] = {"avx512",
                                 kernels::L2SquaredAvx512,
                                 kernels::L2SquaredBoundedAvx512,
                                 kernels::InnerProductAvx512,
                                 kernels::CodeDotAvx512,
                                 kernels::CodeL2SquaredBoundedAvx512,
                                 bit_plane_avx512};
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    table.sets[table.count++] = {"avx2",
                                 kernels::L2SquaredAvx2,
                                 kernels::L2SquaredBoundedAvx2,
                                 kernels::InnerProductAvx2,
                                 kernels::CodeDotAvx2,
                                 kernels::CodeL2SquaredBoundedAvx2,
                                 kernels::BitPlaneDotPopcnt};
  }
#endif
  table.sets[table.count++] = {"scalar",
                               kernels::L2SquaredScalar,
                               kernels::L2SquaredBoundedScalar,
                               kernels::InnerProductScalar,
                               kernels::CodeDotScalar,
                               kernels::CodeL2SquaredBoundedScalar,
                               kernels::BitPlaneDotScalar};
  return table;
}

const KernelTable& Table() {
  static const KernelTable table = DetectKernels();
  return table;
}

}  // namespace

const KernelSet& ActiveKernels() { return Table().sets[0]; }

const KernelSet* AvailableKernels(size_t* count) {
  *count = Table().count;
  return Table().sets.data();
}

}  // namespace vectord::engine
