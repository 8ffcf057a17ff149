// What a graph walk measures distances on. HnswGraph's walk is a template
// over one of these, so that each inner loop is compiled for its space:
// - FloatSpace: the prepared float vectors (the reference, and the re-rank);
// - CodeSpace: SQ8 codes, approximate, on the float distances' scale;
// - GridSpace: exact codes of integer data on a unit grid, in integers;
// - SketchSpace: 1-bit sketches in front of one of the two above, which
//   reject most far candidates before their codes are read.
// Each gives Distance(slot), DistanceBelow(slot, bound) (exact below bound,
// some value >= bound otherwise) and two prefetch hints.
//
// Thread safety: plain views over storage the caller keeps alive; as safe
// as the slots they read (see SlotStorage).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "engine/binary_sketch.h"
#include "engine/distance.h"
#include "engine/metric.h"
#include "engine/scalar_quantizer.h"
#include "engine/slot_storage.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace vectord::engine {

// The first four cache lines of a row.
inline void PrefetchRowStart(const void* p) {
#if defined(__x86_64__)
  const char* c = static_cast<const char*>(p);
  _mm_prefetch(c, _MM_HINT_T0);
  _mm_prefetch(c + 64, _MM_HINT_T0);
  _mm_prefetch(c + 128, _MM_HINT_T0);
  _mm_prefetch(c + 192, _MM_HINT_T0);
#else
  (void)p;
#endif
}

inline void PrefetchBytes(const void* p, size_t bytes) {
#if defined(__x86_64__)
  const char* c = static_cast<const char*>(p);
  for (size_t off = 0; off < bytes; off += 64) _mm_prefetch(c + off, _MM_HINT_T0);
#else
  (void)p;
  (void)bytes;
#endif
}

// Distances from a prepared float query (normalised for cosine) to slots.
struct FloatSpace {
  const SlotStorage& storage;
  const DistanceMetric& metric;
  uint32_t dimension;
  const float* query;

  float Distance(uint32_t slot) const {
    return metric.Distance(query, storage.VectorOf(slot), dimension);
  }
  // Only squared Euclidean distances grow monotonically over the
  // dimensions, so the other forms compute the whole distance.
  float DistanceBelow(uint32_t slot, float bound) const {
    const BoundedDistanceKernel bounded = metric.bounded_kernel();
    if (bounded == nullptr) return Distance(slot);
    return bounded(query, storage.VectorOf(slot), dimension, bound);
  }
  void PrefetchStart(uint32_t slot) const { PrefetchRowStart(storage.VectorOf(slot)); }
  // The kernels fetch each next block themselves, so only the first is
  // asked for here: most candidates are rejected after a block or a few.
  void PrefetchAll(uint32_t slot) const {
    PrefetchBytes(storage.VectorOf(slot),
                  std::min<size_t>(dimension, kernels::kBoundCheckFloats) * sizeof(float));
  }
};

// Approximate distances from a query to slots' SQ8 codes, on the same scale
// as the float distances.
struct CodeSpace {
  const SlotStorage& storage;
  const DistanceMetric& metric;
  const ScalarQuantizer& quantizer;
  CodeKernel kernel;
  const QueryCode& query;

  float Distance(uint32_t slot) const {
    const float dot = quantizer.InnerProduct(query, storage.CodesOf(slot), kernel);
    return metric.FromCodeDot(dot, query.squared_norm, *storage.CodeNormOf(slot));
  }
  float DistanceBelow(uint32_t slot, float) const { return Distance(slot); }
  void PrefetchStart(uint32_t slot) const { PrefetchRowStart(storage.CodesOf(slot)); }
  void PrefetchAll(uint32_t slot) const {
    PrefetchBytes(storage.CodesOf(slot), storage.layout().code_row_bytes);
  }
};

// Exact squared Euclidean distances from a query on the quantiser's unit
// grid to exact codes, computed in integers.
struct GridSpace {
  const SlotStorage& storage;
  BoundedCodeKernel kernel;
  const int16_t* query;

  float Distance(uint32_t slot) const {
    return static_cast<float>(kernel(storage.CodesOf(slot), query, storage.layout().vector_floats,
                                     std::numeric_limits<int32_t>::max()));
  }
  float DistanceBelow(uint32_t slot, float bound) const {
    // Distances are integers: d < bound exactly when d < ceil(bound).
    const int32_t limit = bound >= 2147483520.0f ? std::numeric_limits<int32_t>::max()
                                                 : static_cast<int32_t>(std::ceil(bound));
    return static_cast<float>(
        kernel(storage.CodesOf(slot), query, storage.layout().vector_floats, limit));
  }
  void PrefetchStart(uint32_t slot) const { PrefetchRowStart(storage.CodesOf(slot)); }
  // Whole rows: integer sums pass the bound late, so a rejected candidate has
  // usually been read nearly whole; fetching block by block, as the float
  // kernels do, would only delay its later lines.
  void PrefetchAll(uint32_t slot) const {
    PrefetchBytes(storage.CodesOf(slot), storage.layout().code_row_bytes);
  }
};

// A sketch's lower bound in front of a space that measures (`Refine`; the
// index uses it with CodeSpace only: on GridSpace, whose bounded kernel
// already stops far candidates early, it measured slower). The walk screens
// each node's unvisited neighbours on their sketch rows (two cache lines;
// LowerBound) and drops those whose lower bound is already >= its bound;
// only the rest pay for their code rows, fetched together (PrefetchRefine).
// Every distance the walk keeps comes from `Refine`, so its order and
// results are the refining space's, except where a bound fails (about 3 %
// of candidates at epsilon 1.9, see binary_sketch.h) and the dropped
// candidate was among the nearest.
template <typename Refine>
struct SketchSpace {
  const Refine& refine;
  const SlotStorage& storage;
  const BinarySketcher& sketcher;
  BitPlaneKernel kernel;
  const SketchQuery& query;
  float epsilon;
  const DistanceMetric& metric;

  // The distance at the top of the inner product's interval.
  float LowerBound(uint32_t slot) const {
    const SketchEstimate e = sketcher.Estimate(query, storage.SketchOf(slot), kernel, epsilon);
    return metric.FromCodeDot(e.inner_product + e.half_width, query.squared_norm, e.squared_norm);
  }
  float Distance(uint32_t slot) const { return refine.Distance(slot); }
  float DistanceBelow(uint32_t slot, float bound) const {
    return refine.DistanceBelow(slot, bound);
  }
  void PrefetchStart(uint32_t slot) const {
    PrefetchBytes(storage.SketchOf(slot), storage.layout().sketch_row_bytes);
  }
  void PrefetchRefine(uint32_t slot) const { refine.PrefetchStart(slot); }
  void PrefetchAll(uint32_t slot) const { refine.PrefetchAll(slot); }
};

}  // namespace vectord::engine
