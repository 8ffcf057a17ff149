#include "engine/index_options.h"

#include <cmath>
#include <string>

namespace vectord::engine {

std::string_view VectorPlacementName(VectorPlacement placement) {
  return placement == VectorPlacement::kDisk ? "disk" : "memory";
}

std::optional<VectorPlacement> ParseVectorPlacement(std::string_view name) {
  if (name == "memory") return VectorPlacement::kMemory;
  if (name == "disk") return VectorPlacement::kDisk;
  return std::nullopt;
}

Status CheckParamRange(std::string_view field, int64_t value, int64_t lo, int64_t hi) {
  if (value >= lo && value <= hi) return Status::Ok();
  return Status::InvalidArgument(std::string(field) + " must be between " + std::to_string(lo) +
                                 " and " + std::to_string(hi) + ", got " + std::to_string(value));
}

Status ValidateOptions(const IndexOptions& o) {
  VECTORD_RETURN_IF_ERROR(CheckParamRange("dimension", o.dimension, 1, kMaxDimension));
  VECTORD_RETURN_IF_ERROR(CheckParamRange("m", o.m, kMinM, kMaxM));
  VECTORD_RETURN_IF_ERROR(CheckParamRange("ef_construction", o.ef_construction, 1, kMaxEf));
  VECTORD_RETURN_IF_ERROR(CheckParamRange("ef_search", o.ef_search, 1, kMaxEf));
  if (!IsKnownMetric(o.metric)) return Status::InvalidArgument("unknown metric");
  if (!IsKnownQuantization(o.quantization)) {
    return Status::InvalidArgument("unknown quantization");
  }
  if (o.vectors.placement == VectorPlacement::kDisk) {
    if (o.quantization != Quantization::kSq8) {
      return Status::InvalidArgument("vectors \"disk\" needs quantization \"sq8\"");
    }
    if (o.vectors.directory.empty()) {
      return Status::InvalidArgument("vectors \"disk\" needs a directory for its vector file");
    }
  } else if (o.vectors.placement != VectorPlacement::kMemory) {
    return Status::InvalidArgument("unknown vector placement");
  }
  return Status::Ok();
}

Status ValidateVector(std::span<const float> vector, Metric metric) {
  bool all_zero = true;
  for (size_t i = 0; i < vector.size(); ++i) {
    float v = vector[i];
    if (std::isnan(v)) return Status::InvalidArgument("vector[" + std::to_string(i) + "] is NaN");
    if (std::isinf(v)) {
      return Status::InvalidArgument("vector[" + std::to_string(i) + "] is infinite");
    }
    all_zero = all_zero && v == 0.0f;
  }
  if (DistanceMetric::For(metric).normalizes() && all_zero) {
    return Status::InvalidArgument("zero vector has no direction for cosine distance");
  }
  return Status::Ok();
}

}  // namespace vectord::engine
