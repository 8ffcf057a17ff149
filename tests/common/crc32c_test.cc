#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace vectord {
namespace {

TEST(Crc32c, KnownValues) {
  // Check values from RFC 3720 (iSCSI), appendix B.4.
  std::vector<uint8_t> zeros(32, 0x00);
  EXPECT_EQ(crc32c::Value(zeros.data(), zeros.size()), 0x8a9136aau);
  std::vector<uint8_t> ones(32, 0xff);
  EXPECT_EQ(crc32c::Value(ones.data(), ones.size()), 0x62a8ab43u);
  std::vector<uint8_t> ascending(32);
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(crc32c::Value(ascending.data(), ascending.size()), 0x46dd794eu);
  std::string digits = "123456789";
  EXPECT_EQ(crc32c::Value(digits.data(), digits.size()), 0xe3069283u);
}

TEST(Crc32c, ExtendEqualsWholeAtEverySplit) {
  std::string data;
  for (int i = 0; i < 100; ++i) data.push_back(static_cast<char>(i * 37));
  uint32_t whole = crc32c::Value(data.data(), data.size());
  for (size_t split = 0; split <= data.size(); ++split) {
    uint32_t part =
        crc32c::Extend(crc32c::Value(data.data(), split), data.data() + split, data.size() - split);
    EXPECT_EQ(part, whole) << "split at " << split;
  }
}

// Bit by bit, straight from the polynomial: the reference for the fast paths.
uint32_t BitwiseCrc32c(uint32_t crc, const uint8_t* p, size_t n) {
  uint32_t c = ~crc;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
  }
  return ~c;
}

TEST(Crc32c, LongInputsMatchTheBitwiseReference) {
  // Inputs of three 4 KiB stripes or more are computed as parallel stripes
  // and combined; lengths around those boundaries, from odd offsets and a
  // non-zero starting value, catch a wrong combination or a dropped tail.
  std::mt19937 rng(7);
  std::vector<uint8_t> data(5 * 12288 + 64);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  for (size_t length : {size_t{12287}, size_t{12288}, size_t{12289}, size_t{12295},
                        size_t{2 * 12288}, size_t{2 * 12288 + 13}, size_t{5 * 12288 + 7}}) {
    for (size_t offset : {0, 1, 5}) {
      const uint32_t start = static_cast<uint32_t>(rng());
      EXPECT_EQ(crc32c::Extend(start, data.data() + offset, length),
                BitwiseCrc32c(start, data.data() + offset, length))
          << "length " << length << " offset " << offset;
    }
  }
}

TEST(Crc32c, MaskIsReversibleAndChangesValue) {
  for (uint32_t crc : {0u, 1u, 0xe3069283u, 0xffffffffu}) {
    EXPECT_NE(crc32c::Mask(crc), crc);
    EXPECT_EQ(crc32c::Unmask(crc32c::Mask(crc)), crc);
  }
}

}  // namespace
}  // namespace vectord
