// The rules for index names.
//
// A name becomes part of object keys ("_vectors/<name>.hnsw") and file
// paths, so it must never escape the data directory nor collide with the
// layout's own suffixes: 1 to 128 characters of [A-Za-z0-9_.-], starting
// with a letter or digit, no "..", and no final ".json", ".hnsw", ".wal" or
// ".tmp" (those name files, not indexes).
#pragma once

#include <string_view>

#include "common/status.h"

namespace vectord::service {

inline constexpr size_t kMaxIndexNameLength = 128;

Status ValidateIndexName(std::string_view name);

}  // namespace vectord::service
