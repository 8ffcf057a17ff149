#include "common/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace vectord::crc32c {
namespace {

constexpr uint32_t kPolynomial = 0x82f63b78u;  // reflected Castagnoli

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = MakeTable();

uint32_t ExtendPortable(uint32_t crc, const uint8_t* p, size_t n) {
  uint32_t c = ~crc;
  for (size_t i = 0; i < n; ++i) c = kTable[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return ~c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint64_t ExtendWordsSse42(uint64_t c, const uint8_t* p,
                                                            size_t words) {
  for (size_t i = 0; i < words; ++i) {
    uint64_t word;
    std::memcpy(&word, p + 8 * i, 8);
    c = _mm_crc32_u64(c, word);
  }
  return c;
}

// The crc32 instruction takes three cycles but can start one a cycle, so a
// single chain of it runs at a third of the unit's speed. Large inputs are
// cut into three stripes computed side by side from a zero register; the
// register is linear over GF(2), so crc(A then B) = Shift(crc(A)) ^ crc(B),
// where Shift feeds kStripeBytes zero bytes through the register.
constexpr size_t kStripeBytes = 4096;

struct StripeShift {
  // table[k][b]: the shift of byte value b in byte position k of the register.
  std::array<std::array<uint32_t, 256>, 4> table{};

  StripeShift() {
    std::array<uint32_t, 32> shifted_bit{};
    for (int bit = 0; bit < 32; ++bit) {
      uint32_t c = 1u << bit;
      for (size_t i = 0; i < kStripeBytes; ++i) c = kTable[c & 0xff] ^ (c >> 8);
      shifted_bit[bit] = c;
    }
    for (int k = 0; k < 4; ++k) {
      for (uint32_t b = 0; b < 256; ++b) {
        uint32_t c = 0;
        for (int bit = 0; bit < 8; ++bit) {
          if ((b >> bit) & 1) c ^= shifted_bit[8 * k + bit];
        }
        table[k][b] = c;
      }
    }
  }

  uint32_t operator()(uint32_t c) const {
    return table[0][c & 0xff] ^ table[1][(c >> 8) & 0xff] ^ table[2][(c >> 16) & 0xff] ^
           table[3][c >> 24];
  }
};

__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t crc, const uint8_t* p, size_t n) {
  static const StripeShift shift;
  constexpr size_t kStripeWords = kStripeBytes / 8;
  uint64_t c = ~crc & 0xffffffffu;
  while (n >= 3 * kStripeBytes) {
    uint64_t a = c, b = 0, d = 0;
    for (size_t i = 0; i < kStripeWords; ++i) {
      uint64_t wa, wb, wd;
      std::memcpy(&wa, p + 8 * i, 8);
      std::memcpy(&wb, p + kStripeBytes + 8 * i, 8);
      std::memcpy(&wd, p + 2 * kStripeBytes + 8 * i, 8);
      a = _mm_crc32_u64(a, wa);
      b = _mm_crc32_u64(b, wb);
      d = _mm_crc32_u64(d, wd);
    }
    c = shift(shift(static_cast<uint32_t>(a)) ^ static_cast<uint32_t>(b)) ^
        static_cast<uint32_t>(d);
    p += 3 * kStripeBytes;
    n -= 3 * kStripeBytes;
  }
  c = ExtendWordsSse42(c, p, n / 8);
  p += n & ~size_t{7};
  n &= 7;
  auto c32 = static_cast<uint32_t>(c);
  while (n > 0) {
    c32 = _mm_crc32_u8(c32, *p++);
    --n;
  }
  return ~c32;
}
#endif

using ExtendFn = uint32_t (*)(uint32_t, const uint8_t*, size_t);

ExtendFn ChooseImplementation() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2")) return ExtendSse42;
#endif
  return ExtendPortable;
}

const ExtendFn kExtend = ChooseImplementation();

}  // namespace

uint32_t Extend(uint32_t crc, const void* data, size_t size) {
  return kExtend(crc, static_cast<const uint8_t*>(data), size);
}

}  // namespace vectord::crc32c
