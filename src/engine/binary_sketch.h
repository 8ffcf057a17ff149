// BinarySketcher: a 1-bit sketch of each vector (RaBitQ, Gao & Long,
// SIGMOD 2024) that lets a graph walk reject most far candidates after
// reading two cache lines instead of a whole code row.
//
// A vector o is sketched relative to a centre c (the data's mean): the
// residual r = o - c is rotated by a fixed random orthogonal transform P
// and only the signs of P r are kept, one bit per (padded) dimension, plus
// four floats. For a query q, with q_r = q - c:
//     <o, q> = <r, q_r> + <r, c> + <c, q>
//     <r, q_r> ~= |r|^2 / |P r|_1 * <sign(P r), P q_r>
// The estimate is unbiased and its error close to normal, with standard
// deviation |r| * |q_r| * sqrt(1 - x^2) / x / sqrt(D - 1), where
// x = |P r|_1 / (|r| sqrt(D)) and D is the padded dimension. The interval
// is epsilon of those deviations: at the authors' 1.9 it holds the truth
// about 94 % of the time (measured in binary_sketch_test), its lower end
// about 97 %. The walk uses the lower end only to reject a candidate;
// whatever it keeps it measures again on the codes it has (SketchSpace in
// distance_spaces.h), and a candidate wrongly rejected costs recall only
// when it was among the nearest.
//
// The query side is quantised to 4 bits per dimension and kept as bit
// planes, so an estimate is four AND-and-popcount passes over 2 x D bits
// (BitPlaneKernel): a few nanoseconds, against tens for a float pass.
//
// P is four rounds of random sign flips, a fast Hadamard transform of the
// first (or, alternately, last) power-of-two block of coordinates, and a
// 45-degree rotation of the two halves against each other: O(D log D) per
// vector, no matrix in memory, and orthogonal for any D that is a multiple
// of 64 (the Kac-walk construction of the RaBitQ library).
//
// Sketches are not stored in index files: like the SQ8 codes, they follow
// from the vectors and are made again when an index is loaded.
//
// Immutable once built: safe to share between any number of threads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/distance.h"

namespace vectord::engine {

// A query prepared for one search against sketches: P (q - c) quantised to
// 4 bits per dimension, lower + step * u_i, stored as 4 bit planes.
struct SketchQuery {
  std::vector<uint8_t> planes;  // 4 x padded_dimension() / 8 bytes, plane j = bit j of u
  float lower = 0;
  float step = 0;
  float quantised_sum = 0;     // sum of lower + step * u_i
  float rounding_sigma = 0;    // step * sqrt(D / 12): the rounding's spread in <sign, .>
  float residual_norm = 0;     // |q - c|
  float dot_centre = 0;        // <q, c>
  float squared_norm = 0;      // |q|^2
  std::vector<float> rotated;  // working space, kept to spare an allocation a query
};

// What one sketch says about <o, q>: an estimate and the half-width of the
// interval around it (already multiplied by epsilon).
struct SketchEstimate {
  float inner_product;
  float half_width;
  float squared_norm;  // |o|^2, for squared Euclidean distances
};

class BinarySketcher {
 public:
  // The factors stored after the bits of each sketch.
  struct Factors {
    float scale;         // |r|^2 / |P r|_1
    float error;         // |r| sqrt(1 - x^2) / x / sqrt(D - 1)
    float dot_centre;    // <r, c>
    float squared_norm;  // |o|^2
    float ones;          // set bits
  };

  // `centre` has `dimension` floats; `seed` fixes the rotation.
  BinarySketcher(std::vector<float> centre, uint64_t seed);

  size_t dimension() const { return centre_.size(); }
  // The dimension rounded up to a multiple of 64: bits per sketch.
  size_t padded_dimension() const { return padded_; }
  // Bits then Factors.
  size_t sketch_bytes() const { return BytesFor(dimension()); }
  // The same, before there is a sketcher: what a row must hold.
  static size_t BytesFor(size_t dimension) {
    return (std::max<size_t>(dimension, 1) + 63) / 64 * 8 + sizeof(Factors);
  }

  // Writes the sketch of `vector` (dimension() floats) to `out`
  // (sketch_bytes()).
  void Encode(const float* vector, uint8_t* out) const;
  void PrepareQuery(const float* query, SketchQuery* out) const;

  // The interval is epsilon standard deviations of the two independent
  // errors: the sketch's (Factors::error) and the query's rounding to 4 bits.
  SketchEstimate Estimate(const SketchQuery& query, const uint8_t* sketch, BitPlaneKernel kernel,
                          float epsilon) const {
    Factors f;
    __builtin_memcpy(&f, sketch + padded_ / 8, sizeof(f));
    const auto weighted = static_cast<float>(kernel(sketch, query.planes.data(), padded_));
    const float selected = query.lower * f.ones + query.step * weighted;
    const float sign_dot = 2 * selected - query.quantised_sum;  // <sign(P r), P q_r>
    const float sketch_error = f.error * query.residual_norm;
    const float rounding_error = f.scale * query.rounding_sigma;
    return {f.scale * sign_dot + f.dot_centre + query.dot_centre,
            epsilon * std::sqrt(sketch_error * sketch_error + rounding_error * rounding_error),
            f.squared_norm};
  }

  // Applies P to `values` (padded_dimension() floats) in place; for tests.
  void Rotate(float* values) const;

 private:
  std::vector<float> centre_;
  size_t padded_;
  size_t block_;              // the largest power of two <= padded_
  std::vector<float> signs_;  // kRounds x padded_, each +-1
};

}  // namespace vectord::engine
