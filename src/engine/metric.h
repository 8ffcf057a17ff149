// Metric: how an index measures the distance between two vectors;
// Quantization: which compact copy of the vectors its searches traverse.
// DistanceMetric: everything the engine needs to know about one metric, in
// one place — its kernels on this CPU, how a vector is prepared at insert,
// how an internal distance becomes the one reported, and which shortcuts
// (bounded kernels, exact integer codes) are sound for it.
//
// Adding a metric: a new Metric value and its name here, its case in
// DistanceMetric::For (metric.cc), kernels in distance*.cc if it needs new
// ones, and docs/API.md. Nothing else switches on the metric.
//
// The enum values are stored in index files, so they never change meaning.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "engine/distance.h"

namespace vectord::engine {

enum class Metric : uint8_t {
  kCosine = 1,     // 1 - cos(a, b); vectors are normalised once at insert
  kEuclidean = 2,  // |a - b|, the true (not squared) Euclidean distance
  kDot = 3,        // -<a, b>, so that nearer means more similar
};

std::optional<Metric> ParseMetric(std::string_view name);
std::string_view MetricName(Metric metric);
bool IsKnownMetric(Metric metric);

enum class Quantization : uint8_t {
  kNone = 0,  // searches compute every distance on the float vectors
  // Searches walk the graph on 8-bit codes (a quarter of the bytes, see
  // scalar_quantizer.h) and re-rank their candidates on the float vectors.
  // Costs one byte per dimension per item beside the floats.
  kSq8 = 1,
};

std::optional<Quantization> ParseQuantization(std::string_view name);
std::string_view QuantizationName(Quantization quantization);
bool IsKnownQuantization(Quantization quantization);

// A metric as the engine computes it. Internally every metric is one of two
// forms that order neighbours the same way as the reported distance and are
// cheaper: squared Euclidean distance, or minus the inner product (cosine
// works on unit vectors, so minus their inner product orders like 1 - cos).
//
// Immutable and cheap to copy; For() returns a process-wide instance.
class DistanceMetric {
 public:
  enum class Form : uint8_t { kSquaredEuclidean, kNegativeInnerProduct };

  static const DistanceMetric& For(Metric metric);

  Metric metric() const { return metric_; }
  Form form() const { return form_; }
  // Cosine: vectors are stored at unit length, their length kept beside.
  bool normalizes() const { return normalizes_; }
  // Squared Euclidean sums grow with every dimension, so a walk may stop a
  // distance early once it passes a bound; null for the other forms.
  BoundedDistanceKernel bounded_kernel() const { return bounded_; }
  // Exact integer codes (a unit grid) give exact distances only in the
  // squared Euclidean form; the other forms still re-rank on the floats.
  bool walks_exact_codes() const { return form_ == Form::kSquaredEuclidean; }

  // The internal distance between two prepared vectors.
  float Distance(const float* a, const float* b, size_t dim) const {
    return sign_ * kernel_(a, b, dim);
  }
  // The internal distance from the codes' inner product with a query.
  float FromCodeDot(float dot, float query_squared_norm, float code_squared_norm) const {
    if (form_ == Form::kNegativeInnerProduct) return -dot;
    return query_squared_norm + code_squared_norm - 2 * dot;
  }
  // What a client is told (see Metric).
  float Reported(float internal) const;
  // Writes the vector as stored (unit length for cosine) to `out`, and its
  // length (1 when not normalised) to `norm`.
  void Prepare(std::span<const float> input, float* out, float* norm) const;
  // The vector as the client gave it, from the stored one and its norm.
  void Restore(float norm, std::span<float> stored) const;

 private:
  DistanceMetric(Metric metric, Form form, bool normalizes, const KernelSet& kernels);

  Metric metric_;
  Form form_;
  bool normalizes_;
  float sign_;
  DistanceKernel kernel_;
  BoundedDistanceKernel bounded_;
};

}  // namespace vectord::engine
