// CRC32C (Castagnoli), the checksum of every vectord file and log record.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it (chosen once at start)
// and a table otherwise; both give identical values. Masking follows LevelDB:
// a CRC stored next to the data it covers is masked so that computing the CRC
// of a string that itself contains CRCs does not degenerate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace vectord::crc32c {

// Extends `crc` (the CRC of some prefix) over `data`. Start with 0.
uint32_t Extend(uint32_t crc, const void* data, size_t size);

inline uint32_t Value(const void* data, size_t size) { return Extend(0, data, size); }
inline uint32_t Value(std::span<const std::byte> bytes) {
  return Extend(0, bytes.data(), bytes.size());
}

inline constexpr uint32_t kMaskDelta = 0xa282ead8u;

inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

// Whether a checksum stored masked beside its data matches the CRC computed
// over that data. Fuzzing builds (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION,
// the libFuzzer convention) accept any stored value, so that mutated inputs
// reach the parsing behind the checksums instead of stopping at them.
inline bool StoredMatches(uint32_t stored_masked, uint32_t computed) {
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  (void)stored_masked;
  (void)computed;
  return true;
#else
  return Unmask(stored_masked) == computed;
#endif
}

}  // namespace vectord::crc32c
