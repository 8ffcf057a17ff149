// The payloads of write-ahead-log records (docs/wal-format.md, "Record
// types"): an upsert batch or a delete batch, encoded and decoded here so the
// store layer only ever sees opaque bytes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "service/index_registry.h"

namespace vectord::service {

std::string EncodeUpsert(std::span<const NewItem> items);
std::string EncodeDelete(std::span<const std::string> ids);
std::string EncodeCancel(std::span<const uint64_t> sequences);

// Corruption when the payload does not parse to exactly its length or a
// vector is not `dimension` long.
Result<std::vector<NewItem>> DecodeUpsert(std::string_view payload, uint32_t dimension);
Result<std::vector<std::string>> DecodeDelete(std::string_view payload);
Result<std::vector<uint64_t>> DecodeCancel(std::string_view payload);

}  // namespace vectord::service
