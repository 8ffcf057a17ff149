#include "engine/short_string.h"

#include <gtest/gtest.h>

#include <string>

namespace vectord::engine {
namespace {

// Inline up to 15 bytes, on the heap past that, and any bytes at all
// (ids are UTF-8, but a zero byte must not end one).
TEST(ShortString, KeepsEveryLengthAndEveryByte) {
  ShortString s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.heap_bytes(), 0u);
  for (size_t length : {size_t{1}, size_t{14}, size_t{15}, size_t{16}, size_t{100}, size_t{5000},
                        size_t{3}, size_t{0}}) {
    std::string text;
    for (size_t i = 0; i < length; ++i) text.push_back(static_cast<char>(i * 37 % 256));
    s.assign(text);
    EXPECT_EQ(std::string(s.view()), text) << length;
    EXPECT_EQ(s.size(), length);
    EXPECT_EQ(s.heap_bytes(), length > ShortString::kInline ? length : 0u) << length;
  }
  s.assign(std::string(40, 'x'));
  s.clear();
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.heap_bytes(), 0u);
  EXPECT_EQ(sizeof(ShortString), 16u);
}

}  // namespace
}  // namespace vectord::engine
