// ScalarQuantizer: an 8-bit code per vector component (SQ8), each dimension
// with its own range, so a graph search can traverse a quarter of the bytes
// of the float vectors and re-rank its final candidates at full precision.
//
// A component x_i is coded as c_i = round((x_i - lower_i) / step_i), clamped
// to 0..255, and decoded as lower_i + step_i * c_i. The inner product of a
// float query q with a decoded vector is
//     <q, x> = sum q_i lower_i + sum (q_i step_i) c_i
// The first sum is one number per query; the second is computed in integers
// against a 16-bit copy of (q_i step_i) (QueryCode), which is what the code
// kernels in distance.h do. Squared Euclidean distance follows from the inner
// product and the squared norms, the decoded vector's norm being stored
// beside its codes.
//
// Immutable once built: safe to share between any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/distance.h"

namespace vectord::engine {

// A query prepared for one search against codes.
struct QueryCode {
  std::vector<int16_t> values;  // round((q_i step_i) / scale), padded with zeros
  float scale = 1;              // one unit of `values`
  float offset = 0;             // sum q_i lower_i
  float squared_norm = 0;       // sum q_i^2
};

class ScalarQuantizer {
 public:
  // `lower` and `upper` give each dimension's range (same length, the
  // index's dimension); codes are `padded_dimension` bytes, a multiple of 16
  // not smaller than the dimension, the padding always zero.
  ScalarQuantizer(std::vector<float> lower, const std::vector<float>& upper,
                  size_t padded_dimension);

  size_t dimension() const { return lower_.size(); }
  size_t padded_dimension() const { return padded_dimension_; }

  // Writes the codes of `vector` (dimension() floats) to `codes`
  // (padded_dimension() bytes) and returns the squared norm of the vector the
  // codes decode to.
  float Encode(const float* vector, uint8_t* codes) const;
  void PrepareQuery(const float* query, QueryCode* out) const;

  // <query, decoded codes>.
  float InnerProduct(const QueryCode& query, const uint8_t* codes, CodeKernel kernel) const {
    return query.offset +
           query.scale * static_cast<float>(kernel(codes, query.values.data(), padded_dimension_));
  }

 private:
  std::vector<float> lower_;
  std::vector<float> step_;
  size_t padded_dimension_;
  int32_t query_limit_;  // |values| bound that keeps every kernel sum inside int32
};

}  // namespace vectord::engine
