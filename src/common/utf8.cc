#include "common/utf8.h"

namespace vectord::utf8 {

int32_t Decode(std::string_view text, size_t* at) {
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

size_t FindInvalid(std::string_view text) {
  for (size_t at = 0; at < text.size();) {
    if (Decode(text, &at) < 0) return at;
  }
  return std::string_view::npos;
}

}  // namespace vectord::utf8
