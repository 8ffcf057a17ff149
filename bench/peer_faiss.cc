// FAISS IndexHNSWFlat (Debian libfaiss-dev) as a benchmark peer, one query
// per call as a service would issue them.
#include <faiss/IndexHNSW.h>
#include <omp.h>

#include <vector>

#include "ann_peer.h"

namespace vectord::bench {
namespace {

class FaissPeer final : public AnnPeer {
 public:
  explicit FaissPeer(const PeerParams& p)
      : params_(p),
        index_(p.dim, p.m,
               p.metric == engine::Metric::kEuclidean ? faiss::METRIC_L2
                                                      : faiss::METRIC_INNER_PRODUCT) {
    index_.hnsw.efConstruction = p.ef_construction;
  }
  std::string name() const override { return "faiss"; }
  void Build(const float* data, size_t n, int threads) override {
    omp_set_num_threads(threads);
    index_.add(static_cast<faiss::Index::idx_t>(n), data);
    omp_set_num_threads(1);
  }
  void SetEf(size_t ef) override { index_.hnsw.efSearch = static_cast<int>(ef); }
  void Search(const float* q, size_t k, uint32_t* labels) override {
    // Per thread: --search-threads calls this from several at once.
    thread_local std::vector<float> distances;
    thread_local std::vector<faiss::Index::idx_t> ids;
    distances.resize(k);
    ids.resize(k);
    index_.search(1, q, static_cast<faiss::Index::idx_t>(k), distances.data(), ids.data());
    for (size_t i = 0; i < k; ++i) labels[i] = static_cast<uint32_t>(ids[i]);
  }
  size_t IndexBytes() const override {
    size_t n = static_cast<size_t>(index_.ntotal);
    return n * params_.dim * sizeof(float) +
           index_.hnsw.neighbors.size() * sizeof(faiss::HNSW::storage_idx_t) +
           index_.hnsw.offsets.size() * sizeof(size_t) + index_.hnsw.levels.size() * sizeof(int);
  }

 private:
  PeerParams params_;
  faiss::IndexHNSWFlat index_;
};

}  // namespace

std::unique_ptr<AnnPeer> MakeFaissPeer(const PeerParams& params) {
  return std::make_unique<FaissPeer>(params);
}

}  // namespace vectord::bench
