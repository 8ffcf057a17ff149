// AnnPeer: one index implementation under benchmark (ours, hnswlib, FAISS),
// behind the same calls so every figure of a run comes from the same data,
// queries and ground truth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/metric.h"

namespace vectord::bench {

struct PeerParams {
  size_t dim = 0;
  // Cosine data sets come normalised (datasets.h): the peers without a
  // cosine space rank them by inner product.
  engine::Metric metric = engine::Metric::kEuclidean;
  size_t m = 16;
  size_t ef_construction = 200;
  // vectord and hnswlib: load the built index from this path (+ ".hnswlib"
  // for hnswlib) if the file exists, else build and save it there. For quick
  // tuning runs of search code only.
  std::string index_cache;
};

class AnnPeer {
 public:
  virtual ~AnnPeer() = default;
  virtual std::string name() const = 0;
  // Adds n row-major vectors labelled 0..n-1, using `threads` threads.
  virtual void Build(const float* data, size_t n, int threads) = 0;
  virtual void SetEf(size_t ef) = 0;
  // Writes the labels of the k nearest neighbours of q, nearest first.
  virtual void Search(const float* q, size_t k, uint32_t* labels) = 0;
  // Bytes the index holds for its vectors and graph, by its own accounting.
  virtual size_t IndexBytes() const = 0;
};

// sketch_epsilon: see HnswIndex::set_sketch_epsilon (0: no sketches).
std::unique_ptr<AnnPeer> MakeVectordPeer(const PeerParams& params,
                                         engine::Quantization quantization, float sketch_epsilon);
std::unique_ptr<AnnPeer> MakeHnswlibPeer(const PeerParams& params, size_t max_elements);
std::unique_ptr<AnnPeer> MakeFaissPeer(const PeerParams& params);

}  // namespace vectord::bench
