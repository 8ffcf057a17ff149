// hnswlib 0.6.2 (Debian libhnswlib-dev) as a benchmark peer. This file alone
// is compiled with -march=native so the peer runs at its best on the machine.
#include <hnswlib/hnswlib.h>

#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

#include "ann_peer.h"

namespace vectord::bench {
namespace {

class HnswlibPeer final : public AnnPeer {
 public:
  HnswlibPeer(const PeerParams& p, size_t max_elements) : params_(p) {
    if (p.metric != engine::Metric::kEuclidean) {
      // Cosine data sets are normalised: their inner product ranks as cosine.
      space_ = std::make_unique<hnswlib::InnerProductSpace>(p.dim);
    } else {
      space_ = std::make_unique<hnswlib::L2Space>(p.dim);
    }
    index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), max_elements, p.m,
                                                               p.ef_construction);
  }
  std::string name() const override { return "hnswlib"; }

  void Build(const float* data, size_t n, int threads) override {
    n_ = n;
    if (!params_.index_cache.empty()) {
      std::string path = params_.index_cache + ".hnswlib";
      if (std::ifstream(path).good()) {
        index_->loadIndex(path, space_.get(), n);
        std::fprintf(stderr, "hnswlib: loaded the index from %s\n", path.c_str());
        return;
      }
      BuildNow(data, n, threads);
      index_->saveIndex(path);
      return;
    }
    BuildNow(data, n, threads);
  }

  void BuildNow(const float* data, size_t n, int threads) {
    if (threads <= 1) {
      for (size_t i = 0; i < n; ++i) index_->addPoint(data + i * params_.dim, i);
      return;
    }
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (size_t i; (i = next.fetch_add(1)) < n;) index_->addPoint(data + i * params_.dim, i);
      });
    }
    for (auto& t : pool) t.join();
  }
  void SetEf(size_t ef) override { index_->setEf(ef); }
  void Search(const float* q, size_t k, uint32_t* labels) override {
    auto top = index_->searchKnn(q, k);
    for (size_t i = top.size(); i-- > 0;) {
      labels[i] = static_cast<uint32_t>(top.top().second);
      top.pop();
    }
  }
  size_t IndexBytes() const override {
    size_t bytes = n_ * index_->size_data_per_element_;
    for (size_t i = 0; i < n_; ++i) {
      bytes += index_->element_levels_[i] * index_->size_links_per_element_;
    }
    return bytes;
  }

 private:
  PeerParams params_;
  size_t n_ = 0;
  std::unique_ptr<hnswlib::SpaceInterface<float>> space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index_;
};

}  // namespace

std::unique_ptr<AnnPeer> MakeHnswlibPeer(const PeerParams& params, size_t max_elements) {
  return std::make_unique<HnswlibPeer>(params, max_elements);
}

}  // namespace vectord::bench
