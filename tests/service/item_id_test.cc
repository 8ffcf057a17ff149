#include "service/item_id.h"

#include <gtest/gtest.h>

#include <string>

namespace vectord::service {
namespace {

TEST(ItemId, AcceptsAnyPrintableUtf8UpToTheLimit) {
  for (std::string id : {"a", "doc-1", "with space", "a/b/../c", "quote\"s", "日本語", "emoji 🙂",
                         "\xc2\xa0nbsp", "\xef\xbf\xbd"}) {
    EXPECT_TRUE(ValidateItemId(id).ok()) << id;
  }
  EXPECT_TRUE(ValidateItemId(std::string(kMaxItemIdBytes, 'x')).ok());
}

TEST(ItemId, RefusesEmptyLongControlAndMalformed) {
  struct Case {
    std::string id;
    std::string message;
  };
  const Case cases[] = {
      {"", "empty id"},
      {std::string(kMaxItemIdBytes + 1, 'x'), "id longer than 1024 bytes"},
      {std::string("a\0b", 3), "id contains a control character (at byte 1)"},
      {"tab\there", "id contains a control character (at byte 3)"},
      {"del\x7f", "id contains a control character (at byte 3)"},
      {"c1\xc2\x85", "id contains a control character (at byte 2)"},  // U+0085 NEL
      {"\xff", "id is not valid UTF-8 (at byte 0)"},
      {"ab\xc3", "id is not valid UTF-8 (at byte 2)"},            // truncated
      {"\xc0\xaf", "id is not valid UTF-8 (at byte 0)"},          // overlong '/'
      {"\xe0\x80\xaf", "id is not valid UTF-8 (at byte 0)"},      // overlong, 3 bytes
      {"\xed\xa0\x80", "id is not valid UTF-8 (at byte 0)"},      // surrogate U+D800
      {"\xf4\x90\x80\x80", "id is not valid UTF-8 (at byte 0)"},  // past U+10FFFF
      {"x\x80", "id is not valid UTF-8 (at byte 1)"},             // lone continuation
  };
  for (const Case& c : cases) {
    Status s = ValidateItemId(c.id);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.message;
    EXPECT_EQ(s.message(), c.message);
  }
}

}  // namespace
}  // namespace vectord::service
