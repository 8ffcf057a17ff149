// SearchScratch: the memory one graph walk or insert works in — visited
// marks, candidate and result heaps, link buffers, the prepared query — and
// ScratchPool, which hands it out so that no search allocates.
//
// Thread safety: a SearchScratch belongs to one thread for the life of a
// ScratchPool::Lease; the pool itself is guarded by its own mutex.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/binary_sketch.h"
#include "engine/scalar_quantizer.h"

namespace vectord::engine {

struct Candidate {
  float distance;
  uint32_t slot;
};

struct ByDistance {
  bool operator()(const Candidate& a, const Candidate& b) const { return a.distance < b.distance; }
};
struct ByDistanceReversed {
  bool operator()(const Candidate& a, const Candidate& b) const { return a.distance > b.distance; }
};

struct SearchScratch {
  std::vector<uint16_t> visited;
  uint16_t epoch = 0;
  std::vector<Candidate> candidates;  // min-heap on distance
  std::vector<Candidate> results;     // max-heap on distance, at most ef
  std::vector<Candidate> selection;
  std::vector<Candidate> prune;
  std::vector<std::vector<Candidate>> per_level;  // an insert's chosen neighbours
  std::vector<uint32_t> links;
  std::vector<uint32_t> more_links;
  std::vector<float> query;
  QueryCode query_code;
  SketchQuery sketch_query;
  std::vector<int16_t> grid_query;
  // A re-rank's candidates' vectors, read from a vector file.
  std::vector<uint32_t> row_slots;
  std::vector<float> rows;
  std::vector<Candidate> reranked;

  void BeginVisit(size_t slots) {
    if (visited.size() < slots) {
      visited.assign(std::max(slots, visited.size() * 2), 0);
      epoch = 0;
    }
    if (++epoch == 0) {
      std::fill(visited.begin(), visited.end(), 0);
      epoch = 1;
    }
  }
  // Marks slot visited; false when it already was (or lies beyond the
  // snapshot this search started with, i.e. was inserted meanwhile).
  bool Visit(uint32_t slot) {
    if (slot >= visited.size() || visited[slot] == epoch) return false;
    visited[slot] = epoch;
    return true;
  }
};

class ScratchPool {
 public:
  // link_words: the most links a node has on one level, plus one;
  // query_floats: the padded dimension.
  ScratchPool(size_t link_words, size_t query_floats)
      : link_words_(link_words), query_floats_(query_floats) {}

  // Borrows a scratch for the life of one operation.
  class Lease {
   public:
    explicit Lease(ScratchPool& pool) : pool_(pool), scratch_(pool.Take()) {}
    ~Lease() { pool_.Give(std::move(scratch_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    SearchScratch& operator*() { return *scratch_; }

   private:
    ScratchPool& pool_;
    std::unique_ptr<SearchScratch> scratch_;
  };

 private:
  std::unique_ptr<SearchScratch> Take() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        std::unique_ptr<SearchScratch> s = std::move(free_.back());
        free_.pop_back();
        return s;
      }
    }
    auto s = std::make_unique<SearchScratch>();
    s->links.resize(link_words_);
    s->more_links.resize(link_words_);
    s->query.resize(query_floats_);
    return s;
  }
  void Give(std::unique_ptr<SearchScratch> s) {
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(s));
  }

  const size_t link_words_;
  const size_t query_floats_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<SearchScratch>> free_;
};

}  // namespace vectord::engine
