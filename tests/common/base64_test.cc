#include "common/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace vectord {
namespace {

TEST(Base64, RoundTripsEveryLengthAndRefusesWhatIsNotBase64) {
  EXPECT_EQ(base64::Encode(""), "");
  EXPECT_EQ(base64::Encode("f"), "Zg==");
  EXPECT_EQ(base64::Encode("fo"), "Zm8=");
  EXPECT_EQ(base64::Encode("foo"), "Zm9v");
  EXPECT_EQ(base64::Encode("/vectord/x"), "L3ZlY3RvcmQveA==");
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    bytes.push_back(static_cast<char>(i * 37));
    ASSERT_EQ(base64::Decode(base64::Encode(bytes)), bytes) << i;
  }
  EXPECT_FALSE(base64::Decode("Zg=").has_value());
  EXPECT_FALSE(base64::Decode("Z!==").has_value());
  EXPECT_FALSE(base64::Decode("Zg=a").has_value());
}

}  // namespace
}  // namespace vectord
