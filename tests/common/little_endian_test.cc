#include "common/little_endian.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>

namespace vectord::little_endian {
namespace {

TEST(LittleEndian, LowByteFirstForEveryByteType) {
  char c[8];
  PutU64(c, 0x0807060504030201ull);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(c[i], static_cast<char>(i + 1));
  std::byte b[4];
  PutU32(b, 0xA1B2C3D4u);
  EXPECT_EQ(b[0], std::byte{0xD4});
  EXPECT_EQ(b[3], std::byte{0xA1});
  EXPECT_EQ(GetU32(b), 0xA1B2C3D4u);
  EXPECT_EQ(GetU64(c), 0x0807060504030201ull);
}

TEST(LittleEndian, HighBitsSurviveSignedChar) {
  std::string s;
  AppendU32(s, 0xFFFFFFFEu);
  AppendU64(s, 0x8000000000000001ull);
  ASSERT_EQ(s.size(), 12u);
  EXPECT_EQ(GetU32(s.data()), 0xFFFFFFFEu);
  EXPECT_EQ(GetU64(s.data() + 4), 0x8000000000000001ull);
}

}  // namespace
}  // namespace vectord::little_endian
