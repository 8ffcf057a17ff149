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

std::optional<Quantization> ParseQuantization(std::string_view name) {
  if (name == "none") return Quantization::kNone;
  if (name == "sq8") return Quantization::kSq8;
  return std::nullopt;
}

std::string_view QuantizationName(Quantization quantization) {
  switch (quantization) {
    case Quantization::kNone: return "none";
    case Quantization::kSq8: return "sq8";
  }
  return "unknown";
}

}  // namespace vectord::engine
