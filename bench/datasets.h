// Data sets for the engine benchmark and their exact ground truth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/metric.h"

namespace vectord::bench {

struct Dataset {
  std::string name;
  size_t dim = 0;
  engine::Metric metric = engine::Metric::kEuclidean;  // kCosine: vectors normalised
  std::vector<float> base;                             // n x dim
  std::vector<float> queries;                          // nq x dim
  size_t size() const { return base.size() / dim; }
  size_t query_count() const { return queries.size() / dim; }
};

// Fashion-MNIST from Debian's dataset-fashion-mnist (idx files, gzip):
// 60,000 train images as the base, 10,000 test images as queries, 784 dims.
Dataset LoadFashionMnist(const std::string& dir);

// Any data set from two files in a format `vectorctl import` reads (.fvecs,
// .bvecs, .npy, optionally gzipped), chosen by the file name's ending.
// Cosine data is normalised here (a zero row is an error); the set's name
// says file, dimension and metric.
Dataset LoadVectorFiles(const std::string& base_file, const std::string& query_file,
                        engine::Metric metric);

// "Embedding-like" synthetic set: normalised vectors around many cluster
// centres with a decaying per-dimension spread, so the intrinsic dimension is
// far below `dim` as in real text embeddings. `hardness` scales the noise
// relative to the centres; it was calibrated so that hnswlib (M=16,
// ef_construction=200) needs ef >= 32 for recall@10 0.95 (bench/RESULTS.md).
struct EmbeddingParams {
  size_t n = 100000;
  size_t queries = 1000;
  size_t dim = 768;
  size_t clusters = 1000;
  double decay = 0.5;     // spread of dimension d ~ (1 + d)^-decay
  double hardness = 1.0;  // noise / centre spread
  uint64_t seed = 20261125;
};
Dataset MakeEmbeddingLike(const EmbeddingParams& params);

// Exact k nearest neighbours of every query (labels = base row numbers), on
// `threads` threads; cached under cache_path when it is non-empty.
std::vector<uint32_t> GroundTruth(const Dataset& data, size_t k, int threads,
                                  const std::string& cache_path);

}  // namespace vectord::bench
