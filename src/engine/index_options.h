// IndexOptions: the parameters of one HNSW index, their defaults and their
// bounds. This is the one home of those numbers and of the checks on them;
// the service fills in defaults from here and validates through here, so an
// error names the field the same way whoever asks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "engine/metric.h"

namespace vectord::engine {

inline constexpr uint32_t kMaxDimension = 16384;
inline constexpr uint32_t kMinM = 2;
inline constexpr uint32_t kMaxM = 128;
inline constexpr uint32_t kMaxEf = 10000;
inline constexpr uint32_t kDefaultM = 16;
// Chosen by bench/engine_bench on Fashion-MNIST and the 768-d embedding-like
// set; see bench/RESULTS.md.
inline constexpr uint32_t kDefaultEfConstruction = 200;
inline constexpr uint32_t kDefaultEfSearch = 64;
// Levels are drawn with P(level >= l) = M^-l: past 30 the chance is nil for
// any M the index accepts, and the file format stores levels in one byte.
inline constexpr int kMaxLevel = 30;
// An SQ8 index learns its per-dimension ranges from this many items; smaller
// indexes are searched on the floats (an exact-enough walk costs little there).
inline constexpr size_t kQuantizerTrainingItems = 1000;

// Where an index keeps its full-precision vectors.
enum class VectorPlacement : uint8_t {
  kMemory = 0,  // in RAM, beside everything else
  // In an unnamed file in `VectorStorage::directory`, memory-mapped for
  // writes and the build, and read with pread to re-rank a search's
  // candidates: RAM holds the graph, the SQ8 codes and the sketches. Needs
  // Quantization::kSq8 (the walk runs on the codes). The file lives as long
  // as the index and is rebuilt from the index file at load, so it is
  // never a durable record and has no format of its own.
  kDisk = 1,
};

struct VectorStorage {
  VectorPlacement placement = VectorPlacement::kMemory;
  std::string directory;  // kDisk: where the unnamed vector file is made
};

struct IndexOptions {
  uint32_t dimension = 0;
  Metric metric = Metric::kCosine;
  uint32_t m = kDefaultM;
  uint32_t ef_construction = kDefaultEfConstruction;
  uint32_t ef_search = kDefaultEfSearch;  // used when a query names no ef
  Quantization quantization = Quantization::kNone;
  uint64_t seed = 0x9e3779b97f4a7c15ull;  // level generator; fixed for repeatable builds
  // Not stored in index files: the loader is told it (HnswIndex::Load).
  VectorStorage vectors;
};

// The API's names: "memory", "disk".
std::string_view VectorPlacementName(VectorPlacement placement);
std::optional<VectorPlacement> ParseVectorPlacement(std::string_view name);

// `field` must lie in [lo, hi]; otherwise InvalidArgument
// "<field> must be between <lo> and <hi>, got <value>". Takes int64 so that
// callers can check what a client sent before narrowing it.
Status CheckParamRange(std::string_view field, int64_t value, int64_t lo, int64_t hi);

// Says what is wrong with `options`, naming the field.
Status ValidateOptions(const IndexOptions& options);

// Says why `vector` cannot be stored in (or queried against) an index with
// this metric: a non-finite component, or no direction in a cosine index.
// The dimension is checked separately by the caller.
Status ValidateVector(std::span<const float> vector, Metric metric);

}  // namespace vectord::engine
