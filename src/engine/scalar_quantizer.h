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
// Integer data (pixels, counts, int8 embeddings) gets a unit step when every
// dimension spans at most 256 values (WidenToUnitGrid): its codes are then
// lossless, and a query on the same grid gets exact squared Euclidean
// distances from the codes alone (PrepareGridQuery and the bounded code
// kernel), with no float re-rank.
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

// What Encode wrote.
struct Encoding {
  float squared_norm = 0;   // of the vector the codes decode to
  float squared_error = 0;  // of the difference between the vector and that
  bool exact = false;       // the codes decode to the vector itself
  bool clamped = false;     // a component lay outside its dimension's range
};

class ScalarQuantizer {
 public:
  // Ranges for data whose components are all integers: when every dimension
  // spans at most 256 values, widens each range to exactly 255 above its
  // lower end (0..255 or -128..127 where the data fits them, so later vectors
  // in those ranges code exactly too) and returns true; otherwise leaves them
  // and returns false.
  static bool WidenToUnitGrid(std::vector<float>* lower, std::vector<float>* upper);

  // `lower` and `upper` give each dimension's range (same length, the
  // index's dimension); codes are `padded_dimension` bytes, a multiple of 16
  // not smaller than the dimension, the padding always zero. Code j holds
  // dimension order[j] (all dimensions in order when `order` is empty): with
  // the widest-spread dimensions first, a bounded kernel's partial sums grow
  // fastest and reject a far candidate after reading fewer codes. Distances
  // and inner products do not depend on the order.
  ScalarQuantizer(const std::vector<float>& lower, const std::vector<float>& upper,
                  size_t padded_dimension, std::vector<uint32_t> order = {});

  size_t dimension() const { return lower_.size(); }
  size_t padded_dimension() const { return padded_dimension_; }

  // Every step is 1: codes of integer vectors inside the ranges are exact.
  bool unit_grid() const { return unit_grid_; }

  // Writes the codes of `vector` (dimension() floats) to `codes`
  // (padded_dimension() bytes).
  Encoding Encode(const float* vector, uint8_t* codes) const;
  void PrepareQuery(const float* query, QueryCode* out) const;
  // On a unit grid only: writes query_i - lower_i to `values`
  // (padded_dimension() entries, padding zero) and returns true when each is
  // an integer near enough to 0..255 that sum (values_i - codes_i)^2 fits in
  // int32; then the bounded code kernel gives exact squared distances to
  // exact codes. Returns false otherwise (use PrepareQuery).
  bool PrepareGridQuery(const float* query, std::vector<int16_t>* values) const;

  // <query, decoded codes>.
  float InnerProduct(const QueryCode& query, const uint8_t* codes, CodeKernel kernel) const {
    return query.offset +
           query.scale * static_cast<float>(kernel(codes, query.values.data(), padded_dimension_));
  }

 private:
  std::vector<uint32_t> order_;  // code position -> dimension
  std::vector<float> lower_;     // by code position, as step_
  std::vector<float> step_;
  size_t padded_dimension_;
  int32_t query_limit_;  // |values| bound that keeps every kernel sum inside int32
  bool unit_grid_ = true;
  int32_t grid_limit_;  // |values_i - codes_i| bound that keeps a squared sum inside int32
};

}  // namespace vectord::engine
