// The object keys of an index, the same on the local disk and in a bucket
// (docs/storage-layout.md), and compatible with the Go service's layout.
#pragma once

#include <string>
#include <string_view>

namespace vectord::service::storage_keys {

// The directory (locally; the key prefix in a bucket) that holds every index.
inline constexpr std::string_view kDirectory = "_vectors";
inline constexpr std::string_view kPrefix = "_vectors/";

inline std::string Params(std::string_view name) {
  return std::string(kPrefix) + std::string(name) + ".json";
}
inline std::string Snapshot(std::string_view name) {
  return std::string(kPrefix) + std::string(name) + ".hnsw";
}
inline std::string LogDirectory(std::string_view name) {
  return std::string(kPrefix) + std::string(name) + ".wal";
}
// A drop's commit point: the params file renamed to this. Its presence at
// start-up means a drop was cut short, and the rest is deleted.
inline std::string DroppingParams(std::string_view name) { return Params(name) + ".dropping"; }

// Where the files of an index that failed to load go when it is deleted or
// recovered (docs/storage-layout.md, "Quarantine"); in a bucket, where a
// recover moves the bucket's damaged copy. Never served, never uploaded.
inline constexpr std::string_view kQuarantineDirectory = "_quarantine";
// Local only: where a bucket's copy of an index is downloaded and test-loaded
// before it replaces a damaged local copy; emptied at start-up.
inline constexpr std::string_view kStagingDirectory = "_staging";

}  // namespace vectord::service::storage_keys
