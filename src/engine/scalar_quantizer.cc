#include "engine/scalar_quantizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace vectord::engine {

ScalarQuantizer::ScalarQuantizer(std::vector<float> lower, const std::vector<float>& upper,
                                 size_t padded_dimension)
    : lower_(std::move(lower)), step_(lower_.size()), padded_dimension_(padded_dimension) {
  for (size_t i = 0; i < lower_.size(); ++i) {
    const float range = upper[i] - lower_[i];
    // A constant dimension codes as 0 and decodes exactly; any positive step
    // would do, 1 keeps the query's component from blowing up its scale.
    step_[i] = range > 0 ? range / 255.0f : 1.0f;
  }
  // Each product is at most 255 * limit and the kernel adds padded_dimension
  // of them in int32 (and pairs of them in vpmaddwd's 32-bit lanes). 2047
  // (12 bits) is far finer than the codes themselves.
  const int64_t fits = std::numeric_limits<int32_t>::max() /
                       (int64_t{255} * static_cast<int64_t>(std::max<size_t>(padded_dimension, 1)));
  query_limit_ = static_cast<int32_t>(std::clamp<int64_t>(fits, 1, 2047));
}

float ScalarQuantizer::Encode(const float* vector, uint8_t* codes) const {
  float squared_norm = 0;
  const size_t dim = lower_.size();
  for (size_t i = 0; i < dim; ++i) {
    float c = std::nearbyint((vector[i] - lower_[i]) / step_[i]);
    c = std::clamp(c, 0.0f, 255.0f);
    codes[i] = static_cast<uint8_t>(c);
    const float decoded = lower_[i] + step_[i] * c;
    squared_norm += decoded * decoded;
  }
  std::memset(codes + dim, 0, padded_dimension_ - dim);
  return squared_norm;
}

void ScalarQuantizer::PrepareQuery(const float* query, QueryCode* out) const {
  const size_t dim = lower_.size();
  out->values.assign(padded_dimension_, 0);
  float offset = 0, squared_norm = 0, largest = 0;
  for (size_t i = 0; i < dim; ++i) {
    offset += query[i] * lower_[i];
    squared_norm += query[i] * query[i];
    largest = std::max(largest, std::fabs(query[i] * step_[i]));
  }
  const float scale = largest > 0 ? largest / static_cast<float>(query_limit_) : 1.0f;
  const float inverse = 1.0f / scale;
  int16_t* values = out->values.data();
  for (size_t i = 0; i < dim; ++i) {
    // |x| <= query_limit_ + a rounding error, so the add-and-truncate rounding
    // below stays exact and in range; it vectorises where lrint does not.
    const float x = query[i] * step_[i] * inverse;
    values[i] = static_cast<int16_t>(x + (x >= 0 ? 0.5f : -0.5f));
  }
  out->scale = scale;
  out->offset = offset;
  out->squared_norm = squared_norm;
}

}  // namespace vectord::engine
