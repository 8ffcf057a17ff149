#include "service/item_id.h"

#include <cstdint>
#include <string>

namespace vectord::service {

namespace {

// The code point starting at text[*at], advancing *at; -1 for malformed
// UTF-8 (overlong forms, surrogates and values past U+10FFFF included).
int32_t NextCodePoint(std::string_view text, size_t* at) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(*at);
  size_t length;
  int32_t value;
  if (lead < 0x80) {
    ++*at;
    return lead;
  } else if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
    value = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    value = lead & 0x0f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    value = lead & 0x07;
  } else {
    return -1;
  }
  if (text.size() - *at < length) return -1;
  for (size_t i = 1; i < length; ++i) {
    const uint8_t next = byte(*at + i);
    if ((next & 0xc0) != 0x80) return -1;
    value = (value << 6) | (next & 0x3f);
  }
  static constexpr int32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (value < kSmallest[length] || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) {
    return -1;
  }
  *at += length;
  return value;
}

}  // namespace

Status ValidateItemId(std::string_view id) {
  if (id.empty()) return Status::InvalidArgument("empty id");
  if (id.size() > kMaxItemIdBytes) {
    return Status::InvalidArgument("id longer than " + std::to_string(kMaxItemIdBytes) + " bytes");
  }
  for (size_t at = 0; at < id.size();) {
    const size_t start = at;
    const int32_t c = NextCodePoint(id, &at);
    if (c < 0) {
      return Status::InvalidArgument("id is not valid UTF-8 (at byte " + std::to_string(start) +
                                     ")");
    }
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
      return Status::InvalidArgument("id contains a control character (at byte " +
                                     std::to_string(start) + ")");
    }
  }
  return Status::Ok();
}

}  // namespace vectord::service
