#include "common/uri_encoding.h"

#include <gtest/gtest.h>

namespace vectord {
namespace {

TEST(UriEncode, EncodesAllButUnreservedAndOptionallySlash) {
  EXPECT_EQ(UriEncode("a-b_c.d~e/f", true), "a-b_c.d~e/f");
  EXPECT_EQ(UriEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(UriEncode("a/b"), "a%2Fb");
  EXPECT_EQ(UriEncode("a b+c=d&e", true), "a%20b%2Bc%3Dd%26e");
  EXPECT_EQ(UriEncode("\xc3\xa9", true), "%C3%A9");
  EXPECT_EQ(UriEncode(std::string_view("\0\x1f\x7f\xff", 4)), "%00%1F%7F%FF");
  EXPECT_EQ(UriEncode(""), "");
}

}  // namespace
}  // namespace vectord
