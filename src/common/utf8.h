// Strict UTF-8 decoding, for checks on text from outside (item ids, the
// config file) where a malformed sequence must be refused, not repaired.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vectord::utf8 {

// The code point starting at text[*at], advancing *at past it; -1 (and *at
// unchanged) for malformed UTF-8: a stray continuation byte, a truncated
// sequence, an overlong form, a surrogate or a value past U+10FFFF.
// Requires *at < text.size().
int32_t Decode(std::string_view text, size_t* at);

// The byte offset of the first malformed sequence, or npos if `text` is
// valid UTF-8.
size_t FindInvalid(std::string_view text);

}  // namespace vectord::utf8
