#include "service/log_records.h"

#include <cstring>

#include "common/little_endian.h"

namespace vectord::service {
namespace {

using little_endian::AppendU32;

// Reads fields front to back, failing on any overrun.
class Cursor {
 public:
  explicit Cursor(std::string_view bytes) : bytes_(bytes) {}
  bool U32(uint32_t* v) {
    if (bytes_.size() < 4) return false;
    *v = little_endian::GetU32(bytes_.data());
    bytes_.remove_prefix(4);
    return true;
  }
  bool U8(uint8_t* v) {
    if (bytes_.empty()) return false;
    *v = static_cast<uint8_t>(bytes_[0]);
    bytes_.remove_prefix(1);
    return true;
  }
  bool Bytes(size_t n, std::string_view* out) {
    if (bytes_.size() < n) return false;
    *out = bytes_.substr(0, n);
    bytes_.remove_prefix(n);
    return true;
  }
  bool String(std::string* out) {
    uint32_t n;
    std::string_view s;
    if (!U32(&n) || !Bytes(n, &s)) return false;
    out->assign(s);
    return true;
  }
  bool done() const { return bytes_.empty(); }

 private:
  std::string_view bytes_;
};

}  // namespace

std::string EncodeUpsert(std::span<const NewItem> items) {
  size_t size = 4;
  for (const NewItem& item : items) {
    size += 4 + item.id.size() + 1 + (item.metadata ? 4 + item.metadata->size() : 0) +
            item.vector.size() * sizeof(float);
  }
  std::string out;
  out.reserve(size);
  AppendU32(out, static_cast<uint32_t>(items.size()));
  for (const NewItem& item : items) {
    AppendU32(out, static_cast<uint32_t>(item.id.size()));
    out += item.id;
    out += static_cast<char>(item.metadata ? 1 : 0);
    if (item.metadata) {
      AppendU32(out, static_cast<uint32_t>(item.metadata->size()));
      out += *item.metadata;
    }
    static_assert(std::endian::native == std::endian::little);
    out.append(reinterpret_cast<const char*>(item.vector.data()),
               item.vector.size() * sizeof(float));
  }
  return out;
}

std::string EncodeDelete(std::span<const std::string> ids) {
  std::string out;
  AppendU32(out, static_cast<uint32_t>(ids.size()));
  for (const std::string& id : ids) {
    AppendU32(out, static_cast<uint32_t>(id.size()));
    out += id;
  }
  return out;
}

std::string EncodeCancel(std::span<const uint64_t> sequences) {
  std::string out;
  AppendU32(out, static_cast<uint32_t>(sequences.size()));
  for (uint64_t sequence : sequences) {
    AppendU32(out, static_cast<uint32_t>(sequence));
    AppendU32(out, static_cast<uint32_t>(sequence >> 32));
  }
  return out;
}

Result<std::vector<NewItem>> DecodeUpsert(std::string_view payload, uint32_t dimension) {
  Cursor c(payload);
  uint32_t count;
  if (!c.U32(&count)) return Status::Corruption("upsert record: truncated count");
  std::vector<NewItem> items;
  // Each item takes at least 9 bytes: never trust count for the allocation.
  items.reserve(std::min<size_t>(count, payload.size() / 9));
  for (uint32_t i = 0; i < count; ++i) {
    NewItem& item = items.emplace_back();
    uint8_t has_metadata;
    if (!c.String(&item.id) || !c.U8(&has_metadata) || has_metadata > 1) {
      return Status::Corruption("upsert record: bad item " + std::to_string(i));
    }
    if (has_metadata) {
      item.metadata.emplace();
      if (!c.String(&*item.metadata)) {
        return Status::Corruption("upsert record: bad metadata of item " + std::to_string(i));
      }
    }
    std::string_view raw;
    if (!c.Bytes(size_t{dimension} * sizeof(float), &raw)) {
      return Status::Corruption("upsert record: truncated vector of item " + std::to_string(i));
    }
    item.vector.resize(dimension);
    std::memcpy(item.vector.data(), raw.data(), raw.size());
  }
  if (!c.done()) return Status::Corruption("upsert record: trailing bytes");
  return items;
}

Result<std::vector<std::string>> DecodeDelete(std::string_view payload) {
  Cursor c(payload);
  uint32_t count;
  if (!c.U32(&count)) return Status::Corruption("delete record: truncated count");
  std::vector<std::string> ids;
  ids.reserve(std::min<size_t>(count, payload.size() / 4));
  for (uint32_t i = 0; i < count; ++i) {
    if (!c.String(&ids.emplace_back())) {
      return Status::Corruption("delete record: bad id " + std::to_string(i));
    }
  }
  if (!c.done()) return Status::Corruption("delete record: trailing bytes");
  return ids;
}

Result<std::vector<uint64_t>> DecodeCancel(std::string_view payload) {
  Cursor c(payload);
  uint32_t count;
  if (!c.U32(&count)) return Status::Corruption("cancel record: truncated count");
  std::vector<uint64_t> sequences;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t low, high;
    if (!c.U32(&low) || !c.U32(&high)) return Status::Corruption("cancel record: truncated");
    sequences.push_back((uint64_t{high} << 32) | low);
  }
  if (!c.done()) return Status::Corruption("cancel record: trailing bytes");
  return sequences;
}

}  // namespace vectord::service
