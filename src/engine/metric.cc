#include "engine/metric.h"

#include <algorithm>
#include <cmath>

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

bool IsKnownMetric(Metric metric) { return MetricName(metric) != "unknown"; }

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

bool IsKnownQuantization(Quantization quantization) {
  return QuantizationName(quantization) != "unknown";
}

DistanceMetric::DistanceMetric(Metric metric, Form form, bool normalizes, const KernelSet& kernels)
    : metric_(metric), form_(form), normalizes_(normalizes) {
  if (form == Form::kSquaredEuclidean) {
    sign_ = 1.0f;
    kernel_ = kernels.l2_squared;
    bounded_ = kernels.l2_squared_bounded;
  } else {
    sign_ = -1.0f;
    kernel_ = kernels.inner_product;
    bounded_ = nullptr;
  }
}

const DistanceMetric& DistanceMetric::For(Metric metric) {
  static const DistanceMetric kCosine(Metric::kCosine, Form::kNegativeInnerProduct, true,
                                      ActiveKernels());
  static const DistanceMetric kEuclidean(Metric::kEuclidean, Form::kSquaredEuclidean, false,
                                         ActiveKernels());
  static const DistanceMetric kDot(Metric::kDot, Form::kNegativeInnerProduct, false,
                                   ActiveKernels());
  switch (metric) {
    case Metric::kCosine: return kCosine;
    case Metric::kEuclidean: return kEuclidean;
    case Metric::kDot: return kDot;
  }
  return kCosine;  // unreachable for validated options
}

float DistanceMetric::Reported(float internal) const {
  switch (metric_) {
    case Metric::kEuclidean: return std::sqrt(std::max(0.0f, internal));
    case Metric::kCosine: return 1.0f + internal;
    case Metric::kDot: return internal;
  }
  return internal;
}

void DistanceMetric::Prepare(std::span<const float> input, float* out, float* norm) const {
  if (!normalizes_) {
    std::copy(input.begin(), input.end(), out);
    *norm = 1.0f;
    return;
  }
  double sum = 0;
  for (float v : input) sum += static_cast<double>(v) * v;
  double length = std::sqrt(sum);
  for (size_t i = 0; i < input.size(); ++i) out[i] = static_cast<float>(input[i] / length);
  *norm = static_cast<float>(length);
}

void DistanceMetric::Restore(float norm, std::span<float> stored) const {
  if (!normalizes_) return;
  for (float& x : stored) x *= norm;
}

}  // namespace vectord::engine
