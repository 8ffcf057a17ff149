#include "engine/metric.h"

namespace vectord::engine {

std::optional<Metric> ParseMetric(std::string_view name) {
  if (name == "cosine") return Metric::kCosine;
  if (name == "euclidean") return Metric::kEuclidean;
  if (name == "dot") return Metric::kDot;
  return std::nullopt;
}

std::string_view MetricName(Metric metric) {
  switch (metric) {
    case Metric::kCosine: return "cosine";
    case Metric::kEuclidean: return "euclidean";
    case Metric::kDot: return "dot";
  }
  return "unknown";
}

}  // namespace vectord::engine
