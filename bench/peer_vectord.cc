// vectord's own engine as a benchmark peer: the same HnswIndex the server
// runs, through its public API (string ids, per-query ef).
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "ann_peer.h"
#include "common/thread_pool.h"
#include "engine/hnsw_index.h"

namespace vectord::bench {
namespace {

class VectordPeer final : public AnnPeer {
 public:
  VectordPeer(const PeerParams& p, engine::Quantization quantization, float sketch_epsilon)
      : params_(p), sketch_epsilon_(sketch_epsilon) {
    engine::IndexOptions options;
    options.dimension = static_cast<uint32_t>(p.dim);
    options.metric = p.metric;
    options.m = static_cast<uint32_t>(p.m);
    options.ef_construction = static_cast<uint32_t>(p.ef_construction);
    options.quantization = quantization;
    if (quantization != engine::Quantization::kNone && !params_.index_cache.empty()) {
      params_.index_cache.append("-").append(engine::QuantizationName(quantization));
    }
    index_ = std::move(engine::HnswIndex::Create(options)).value();
  }
  std::string name() const override {
    std::string name = "vectord";
    if (index_->options().quantization != engine::Quantization::kNone) {
      name.append("-").append(engine::QuantizationName(index_->options().quantization));
      if (sketch_epsilon_ <= 0) name.append("-nosketch");
    }
    return name;
  }

  void Build(const float* data, size_t n, int threads) override {
    if (!params_.index_cache.empty() && LoadCached(n)) return;
    std::vector<std::string> ids(n);
    std::vector<engine::ItemInput> items(n);
    for (size_t i = 0; i < n; ++i) {
      ids[i] = std::to_string(i);
      items[i] = {ids[i], {data + i * params_.dim, params_.dim}, std::nullopt};
    }
    std::unique_ptr<ThreadPool> pool;
    if (threads > 1) pool = std::make_unique<ThreadPool>(threads - 1);  // + the caller
    Status s = index_->Upsert(items, pool.get());
    if (!s.ok()) throw std::runtime_error(s.ToString());
    MapLabels(n);
    if (!params_.index_cache.empty()) {
      StringSink sink;
      if (index_->Save(sink).ok()) {
        std::ofstream(params_.index_cache, std::ios::binary) << sink.buffer();
      }
    }
  }
  void SetEf(size_t ef) override {
    ef_ = ef;
    index_->set_sketch_epsilon(sketch_epsilon_);
  }

  void MapLabels(size_t n) {
    label_of_slot_.assign(index_->slot_count(), 0);
    for (size_t i = 0; i < n; ++i) {
      label_of_slot_[*index_->SlotOf(std::to_string(i))] = static_cast<uint32_t>(i);
    }
  }

  bool LoadCached(size_t n) {
    std::ifstream in(params_.index_cache, std::ios::binary);
    if (!in) return false;
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    StringSource source(bytes);
    auto loaded = engine::HnswIndex::Load(source);
    if (!loaded.ok() || (*loaded)->size() != n) return false;
    index_ = std::move(loaded).value();
    MapLabels(n);
    std::fprintf(stderr, "vectord: loaded the index from %s\n", params_.index_cache.c_str());
    return true;
  }
  void Search(const float* q, size_t k, uint32_t* labels) override {
    engine::SearchOptions options;
    options.k = k;
    options.ef = ef_;
    options.with_payload = false;
    auto results = index_->Search({q, params_.dim}, options);
    const auto& r = *results;
    for (size_t i = 0; i < r.size(); ++i) labels[i] = label_of_slot_[r[i].slot];
  }
  size_t IndexBytes() const override {
    engine::MemoryUsage usage = index_->memory_usage();
    return usage.total() - usage.id_bytes;
  }

 private:
  PeerParams params_;
  float sketch_epsilon_;
  size_t ef_ = 10;
  std::unique_ptr<engine::HnswIndex> index_;
  std::vector<uint32_t> label_of_slot_;
};

}  // namespace

std::unique_ptr<AnnPeer> MakeVectordPeer(const PeerParams& params,
                                         engine::Quantization quantization, float sketch_epsilon) {
  return std::make_unique<VectordPeer>(params, quantization, sketch_epsilon);
}

}  // namespace vectord::bench
