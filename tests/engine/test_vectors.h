// Data and ground truth for engine tests: clustered random vectors (uniform
// noise in many dimensions makes every index look bad and every test slow),
// exact k-NN by brute force, and recall.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/hnsw_index.h"

namespace vectord::engine::testing {

struct VectorSet {
  size_t dim = 0;
  std::vector<float> data;  // row-major, size() * dim
  size_t size() const { return dim == 0 ? 0 : data.size() / dim; }
  std::span<const float> row(size_t i) const { return {data.data() + i * dim, dim}; }
};

// n points around `clusters` Gaussian centres; never an all-zero vector.
inline VectorSet ClusteredVectors(size_t n, size_t dim, size_t clusters, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> centres(clusters * dim);
  for (float& c : centres) c = normal(rng) * 3.0f;
  VectorSet set{dim, std::vector<float>(n * dim)};
  std::uniform_int_distribution<size_t> pick(0, clusters - 1);
  for (size_t i = 0; i < n; ++i) {
    size_t c = pick(rng);
    for (size_t d = 0; d < dim; ++d) set.data[i * dim + d] = centres[c * dim + d] + normal(rng);
  }
  return set;
}

// Clustered vectors of integers 0..255, as pixels are: an SQ8 index codes
// them losslessly.
inline VectorSet IntegerVectors(size_t n, size_t dim, size_t clusters, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> centre(20.0f, 235.0f);
  std::normal_distribution<float> noise(0.0f, 25.0f);
  std::vector<float> centres(clusters * dim);
  for (float& c : centres) c = centre(rng);
  VectorSet set{dim, std::vector<float>(n * dim)};
  std::uniform_int_distribution<size_t> pick(0, clusters - 1);
  for (size_t i = 0; i < n; ++i) {
    size_t c = pick(rng);
    for (size_t d = 0; d < dim; ++d) {
      set.data[i * dim + d] =
          std::clamp(std::round(centres[c * dim + d] + noise(rng)), 0.0f, 255.0f);
    }
  }
  return set;
}

// <a, b> in double precision.
inline double Dot(std::span<const float> a, std::span<const float> b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += double{a[i]} * b[i];
  return sum;
}

inline double ExactDistance(std::span<const float> a, std::span<const float> b, Metric metric) {
  double dot = 0, aa = 0, bb = 0, l2 = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double{a[i]} * b[i];
    aa += double{a[i]} * a[i];
    bb += double{b[i]} * b[i];
    l2 += (double{a[i]} - b[i]) * (double{a[i]} - b[i]);
  }
  switch (metric) {
    case Metric::kCosine: return 1.0 - dot / std::sqrt(aa * bb);
    case Metric::kEuclidean: return std::sqrt(l2);
    case Metric::kDot: return -dot;
  }
  return 0;
}

// Indices of the k nearest base rows to `query` among those `allowed` says.
template <typename Allowed>
std::vector<size_t> BruteForce(const VectorSet& base, std::span<const float> query, size_t k,
                               Metric metric, Allowed allowed) {
  std::vector<std::pair<double, size_t>> all;
  for (size_t i = 0; i < base.size(); ++i) {
    if (allowed(i)) all.emplace_back(ExactDistance(base.row(i), query, metric), i);
  }
  size_t n = std::min(k, all.size());
  std::partial_sort(all.begin(), all.begin() + n, all.end());
  std::vector<size_t> out;
  for (size_t i = 0; i < n; ++i) out.push_back(all[i].second);
  return out;
}

inline std::vector<size_t> BruteForce(const VectorSet& base, std::span<const float> query, size_t k,
                                      Metric metric) {
  return BruteForce(base, query, k, metric, [](size_t) { return true; });
}

inline std::string IdOf(size_t i) { return "item-" + std::to_string(i); }
inline size_t IndexOfId(const std::string& id) { return std::stoul(id.substr(5)); }

inline std::vector<ItemInput> Inputs(const VectorSet& set, size_t begin, size_t end,
                                     std::vector<std::string>& id_storage) {
  id_storage.resize(set.size());
  std::vector<ItemInput> items;
  for (size_t i = begin; i < end; ++i) {
    id_storage[i] = IdOf(i);
    items.push_back({id_storage[i], set.row(i), std::nullopt});
  }
  return items;
}

// Fraction of the true k nearest (truth) found in `results`.
inline double Recall(const std::vector<SearchResult>& results, const std::vector<size_t>& truth) {
  if (truth.empty()) return 1.0;
  size_t hits = 0;
  for (const SearchResult& r : results) {
    size_t i = IndexOfId(r.id);
    hits += std::find(truth.begin(), truth.end(), i) != truth.end();
  }
  return static_cast<double>(hits) / static_cast<double>(truth.size());
}

}  // namespace vectord::engine::testing
