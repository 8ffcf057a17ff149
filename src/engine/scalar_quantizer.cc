#include "engine/scalar_quantizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

namespace vectord::engine {

ScalarQuantizer::ScalarQuantizer(const std::vector<float>& lower, const std::vector<float>& upper,
                                 size_t padded_dimension, std::vector<uint32_t> order)
    : order_(std::move(order)),
      lower_(lower.size()),
      step_(lower.size()),
      padded_dimension_(padded_dimension) {
  if (order_.empty()) {
    order_.resize(lower.size());
    std::iota(order_.begin(), order_.end(), 0u);
  }
  for (size_t i = 0; i < lower_.size(); ++i) {
    lower_[i] = lower[order_[i]];
    const float range = upper[order_[i]] - lower_[i];
    // A constant dimension codes as 0 and decodes exactly; any positive step
    // would do, 1 keeps the query's component from blowing up its scale.
    step_[i] = range > 0 ? range / 255.0f : 1.0f;
    unit_grid_ = unit_grid_ && step_[i] == 1.0f;
  }
  // Each product is at most 255 * limit and the kernel adds padded_dimension
  // of them in int32 (and pairs of them in vpmaddwd's 32-bit lanes). 2047
  // (12 bits) is far finer than the codes themselves.
  const int64_t fits = std::numeric_limits<int32_t>::max() /
                       (int64_t{255} * static_cast<int64_t>(std::max<size_t>(padded_dimension, 1)));
  query_limit_ = static_cast<int32_t>(std::clamp<int64_t>(fits, 1, 2047));
  const double squares_fit = static_cast<double>(std::numeric_limits<int32_t>::max()) /
                             static_cast<double>(std::max<size_t>(padded_dimension, 1));
  grid_limit_ = static_cast<int32_t>(std::min(std::floor(std::sqrt(squares_fit)), 16384.0));
}

bool ScalarQuantizer::WidenToUnitGrid(std::vector<float>* lower, std::vector<float>* upper) {
  // Beyond 2^24 floats are not every integer: no unit grid there.
  constexpr float kExactIntegers = 16777216.0f;
  for (size_t i = 0; i < lower->size(); ++i) {
    if ((*upper)[i] - (*lower)[i] > 255.0f) return false;
    if ((*lower)[i] < -kExactIntegers || (*upper)[i] + 255.0f > kExactIntegers) return false;
  }
  for (size_t i = 0; i < lower->size(); ++i) {
    float& low = (*lower)[i];
    if (low >= 0 && (*upper)[i] <= 255) {
      low = 0;
    } else if (low >= -128 && (*upper)[i] <= 127) {
      low = -128;
    }
    (*upper)[i] = low + 255;
  }
  return true;
}

Encoding ScalarQuantizer::Encode(const float* vector, uint8_t* codes) const {
  Encoding out;
  out.exact = true;
  const size_t dim = lower_.size();
  for (size_t i = 0; i < dim; ++i) {
    const float x = vector[order_[i]];
    float c = std::nearbyint((x - lower_[i]) / step_[i]);
    out.clamped = out.clamped || c < 0.0f || c > 255.0f;
    c = std::clamp(c, 0.0f, 255.0f);
    codes[i] = static_cast<uint8_t>(c);
    const float decoded = lower_[i] + step_[i] * c;
    out.exact = out.exact && decoded == x;
    out.squared_norm += decoded * decoded;
    out.squared_error += (x - decoded) * (x - decoded);
  }
  std::memset(codes + dim, 0, padded_dimension_ - dim);
  return out;
}

bool ScalarQuantizer::PrepareGridQuery(const float* query, std::vector<int16_t>* values) const {
  if (!unit_grid_) return false;
  values->assign(padded_dimension_, 0);
  const float low = 255.0f - static_cast<float>(grid_limit_);
  const float high = static_cast<float>(grid_limit_);
  for (size_t i = 0; i < lower_.size(); ++i) {
    // Integers below 2^24 subtract exactly in float, so a fractional part
    // here is the query's own.
    const float v = query[order_[i]] - lower_[i];
    if (!(v >= low && v <= high)) return false;
    const int16_t whole = static_cast<int16_t>(v);  // in range: truncation is defined
    if (static_cast<float>(whole) != v) return false;
    (*values)[i] = whole;
  }
  return true;
}

void ScalarQuantizer::PrepareQuery(const float* query, QueryCode* out) const {
  const size_t dim = lower_.size();
  out->values.assign(padded_dimension_, 0);
  float offset = 0, squared_norm = 0, largest = 0;
  for (size_t i = 0; i < dim; ++i) {
    const float q = query[order_[i]];
    offset += q * lower_[i];
    squared_norm += q * q;
    largest = std::max(largest, std::fabs(q * step_[i]));
  }
  const float scale = largest > 0 ? largest / static_cast<float>(query_limit_) : 1.0f;
  const float inverse = 1.0f / scale;
  int16_t* values = out->values.data();
  for (size_t i = 0; i < dim; ++i) {
    // |x| <= query_limit_ + a rounding error, so the add-and-truncate rounding
    // below stays exact and in range; it vectorises where lrint does not.
    const float x = query[order_[i]] * step_[i] * inverse;
    values[i] = static_cast<int16_t>(x + (x >= 0 ? 0.5f : -0.5f));
  }
  out->scale = scale;
  out->offset = offset;
  out->squared_norm = squared_norm;
}

}  // namespace vectord::engine
