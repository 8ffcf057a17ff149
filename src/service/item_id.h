// The rule for item ids: what the API accepts as an id, checked before any
// write is logged or applied and on every route that takes an id in its path.
//
// An id is 1 to kMaxItemIdBytes bytes of valid UTF-8 without control
// characters (U+0000–U+001F, U+007F–U+009F): ids come back in JSON, logs
// and exports, where a NUL, an escape sequence or a broken code point would
// surprise every consumer downstream. Anything else (spaces, slashes,
// quotes, any script) is fine: ids never become file names.
//
// Thread safety: a pure function.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.h"

namespace vectord::service {

inline constexpr size_t kMaxItemIdBytes = 1024;

// InvalidArgument naming the problem ("id is not valid UTF-8", ...), or Ok.
Status ValidateItemId(std::string_view id);

}  // namespace vectord::service
