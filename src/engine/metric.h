// Metric: how an index measures the distance between two vectors;
// Quantization: which compact copy of the vectors its searches traverse.
//
// The values are stored in index files, so they never change meaning.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace vectord::engine {

enum class Metric : uint8_t {
  kCosine = 1,     // 1 - cos(a, b); vectors are normalised once at insert
  kEuclidean = 2,  // |a - b|, the true (not squared) Euclidean distance
  kDot = 3,        // -<a, b>, so that nearer means more similar
};

std::optional<Metric> ParseMetric(std::string_view name);
std::string_view MetricName(Metric metric);

enum class Quantization : uint8_t {
  kNone = 0,  // searches compute every distance on the float vectors
  // Searches walk the graph on 8-bit codes (a quarter of the bytes, see
  // scalar_quantizer.h) and re-rank their candidates on the float vectors.
  // Costs one byte per dimension per item beside the floats.
  kSq8 = 1,
};

std::optional<Quantization> ParseQuantization(std::string_view name);
std::string_view QuantizationName(Quantization quantization);

}  // namespace vectord::engine
