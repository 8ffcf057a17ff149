// Constants of the write-ahead log format. The format — segment header,
// record layout, torn-write and corruption rules — is specified in
// docs/wal-format.md; keep the two in step.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vectord::store::log_format {

inline constexpr char kMagic[8] = {'V', 'D', 'W', 'A', 'L', '\0', '\0', '\1'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint32_t kSegmentHeaderSize = 32;
// header_crc, payload_crc, length, sequence, type
inline constexpr uint32_t kRecordHeaderSize = 21;
// A record larger than this is corruption, not a reason to allocate.
inline constexpr uint32_t kMaxRecordPayload = 256u << 20;

enum class RecordType : uint8_t {
  kUpsert = 1,
  kDelete = 2,
  kCancel = 3,  // names records whose fsync failed: replay skips them
};

// The 32-byte segment header (magic, version, dimension, first sequence, CRC).
std::string EncodeSegmentHeader(uint32_t dimension, uint64_t first_sequence);
// One record as a segment holds it: the 21-byte header, then the payload.
std::string FrameRecord(uint64_t sequence, RecordType type, std::string_view payload);

}  // namespace vectord::store::log_format
