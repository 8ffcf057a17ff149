// Constants of the write-ahead log format. The format — segment header,
// record layout, torn-write and corruption rules — is specified in
// docs/wal-format.md; keep the two in step.
#pragma once

#include <cstdint>

namespace vectord::store::log_format {

inline constexpr char kMagic[8] = {'V', 'D', 'W', 'A', 'L', '\0', '\0', '\1'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint32_t kSegmentHeaderSize = 32;
inline constexpr uint32_t kRecordHeaderSize = 17;  // crc, length, sequence, type
// A record larger than this is corruption, not a reason to allocate.
inline constexpr uint32_t kMaxRecordPayload = 256u << 20;

enum class RecordType : uint8_t {
  kUpsert = 1,
  kDelete = 2,
};

}  // namespace vectord::store::log_format
