#include "service/item_id.h"

#include <cstdint>
#include <string>

#include "common/utf8.h"

namespace vectord::service {

Status ValidateItemId(std::string_view id) {
  if (id.empty()) return Status::InvalidArgument("empty id");
  if (id.size() > kMaxItemIdBytes) {
    return Status::InvalidArgument("id longer than " + std::to_string(kMaxItemIdBytes) + " bytes");
  }
  for (size_t at = 0; at < id.size();) {
    const size_t start = at;
    const int32_t c = utf8::Decode(id, &at);
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
