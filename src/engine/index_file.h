// The HNSW index file format (.hnsw): constants, the fixed header as named
// fields, and its encoding. The format itself — layout, checksums, and what
// a reader verifies — is specified in docs/index-file-format.md; keep the
// two in step. HnswIndex::Save writes the current version
// (index_file_writer.cc); HnswIndex::Load reads every version this build
// knows, dispatching on the header's version (index_file_reader.cc).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "engine/index_options.h"
#include "engine/metric.h"

namespace vectord::engine::index_file {

inline constexpr char kMagic[8] = {'V', 'D', 'H', 'N', 'S', 'W', '\0', '\1'};
// The version Save writes. Load also reads every older version listed in
// index_file_reader.cc.
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint32_t kHeaderSize = 128;
inline constexpr uint32_t kNoEntryPoint = 0xffffffffu;
inline constexpr uint32_t kNodeRecordSize = 8;
// Framing of a section: tag:u32 length:u64 before its payload, crc:u32 after.
inline constexpr uint32_t kSectionHeadSize = 12;
inline constexpr uint32_t kSectionCrcSize = 4;

// Where each header field sits (docs/index-file-format.md, "Header").
namespace offset {
inline constexpr size_t kMagic = 0;
inline constexpr size_t kFormatVersion = 8;
inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kDimension = 16;
inline constexpr size_t kMetric = 20;
inline constexpr size_t kQuantization = 21;
inline constexpr size_t kReservedA = 22;  // 2 bytes, zero
inline constexpr size_t kM = 24;
inline constexpr size_t kEfConstruction = 28;
inline constexpr size_t kEfSearch = 32;
inline constexpr size_t kRowBytes = 36;
inline constexpr size_t kRngState = 40;
inline constexpr size_t kSlotCount = 48;
inline constexpr size_t kLiveCount = 52;
inline constexpr size_t kMaxLevel = 56;
inline constexpr size_t kEntryPoint = 60;
inline constexpr size_t kLogSequence = 64;
inline constexpr size_t kReservedB = 72;  // up to the CRC, zero
inline constexpr size_t kHeaderCrc = 124;
}  // namespace offset
static_assert(offset::kHeaderCrc + 4 == kHeaderSize);
static_assert(offset::kReservedB == offset::kLogSequence + 8);

enum class SectionTag : uint32_t {
  kNodes = 1,
  kLevel0 = 2,
  kUpperLevels = 3,
  kIds = 4,
  kPayloads = 5,
  kEnd = 0xffffffffu,
};

// The header's fields, decoded. Fields are raw: a decoded header has a
// valid magic, size, checksum and zero reserved bytes, but its parameters
// are checked by the reader of its version.
struct Header {
  uint32_t format_version = kFormatVersion;
  uint32_t dimension = 0;
  Metric metric = Metric::kCosine;
  Quantization quantization = Quantization::kNone;
  uint32_t m = 0;
  uint32_t ef_construction = 0;
  uint32_t ef_search = 0;
  uint32_t row_bytes = 0;
  uint64_t rng_state = 0;
  uint32_t slot_count = 0;
  uint32_t live_count = 0;
  int32_t max_level = -1;  // -1 when the graph is empty
  uint32_t entry_point = kNoEntryPoint;
  uint64_t log_sequence = 0;
};

// The index parameters a header carries (the seed is not stored), and the
// reverse.
IndexOptions OptionsOf(const Header& header);
void SetOptions(const IndexOptions& options, Header* header);

using HeaderBytes = std::array<std::byte, kHeaderSize>;

// The header's bytes, checksum included.
HeaderBytes EncodeHeader(const Header& header);
// Corruption (without a byte offset: the header is at 0) when the magic,
// header size, checksum or reserved bytes are wrong. The version is not
// judged here: the caller decides which versions it reads.
Result<Header> DecodeHeader(const std::byte* bytes);

}  // namespace vectord::engine::index_file
