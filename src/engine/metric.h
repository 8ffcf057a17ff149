// Metric: how an index measures the distance between two vectors.
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

}  // namespace vectord::engine
