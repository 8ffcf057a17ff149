// Constants of the HNSW index file format. The format itself — layout,
// checksums, and what a reader verifies — is specified in
// docs/index-file-format.md; keep the two in step.
#pragma once

#include <cstdint>

namespace vectord::engine::index_file {

inline constexpr char kMagic[8] = {'V', 'D', 'H', 'N', 'S', 'W', '\0', '\1'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint32_t kHeaderSize = 128;
inline constexpr uint32_t kHeaderCrcOffset = 124;
inline constexpr uint32_t kNoEntryPoint = 0xffffffffu;
inline constexpr uint32_t kNodeRecordSize = 8;

enum class SectionTag : uint32_t {
  kNodes = 1,
  kLevel0 = 2,
  kUpperLevels = 3,
  kIds = 4,
  kPayloads = 5,
  kEnd = 0xffffffffu,
};

}  // namespace vectord::engine::index_file
