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

}  // namespace vectord::service::storage_keys
