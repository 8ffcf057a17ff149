// filter_bench: filtered search through the service layer (the metadata
// index that turns a filter into a set of slots, then the engine's filtered
// search), at the four selectivities of the filters issue, next to
// unfiltered search, on the 768-d embedding-like set. Recall@10 is against
// an exact scan of the items that pass the filter.
//
//   filter_bench [--n 100000] [--queries 1000] [--ef 64]
//
// Prints a Markdown report.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/thread_pool.h"
#include "datasets.h"
#include "engine/distance.h"
#include "service/index_registry.h"

namespace vectord::bench {
namespace {

using Clock = std::chrono::steady_clock;

// A value in 0..999 spread independently of the vector clusters.
uint32_t Bucket(size_t i) { return static_cast<uint32_t>((i * 2654435761u) % 1000); }

struct Case {
  std::string label;
  std::string filter_json;  // for the report
  std::shared_ptr<service::FilterGroup> filter;
  bool (*passes)(size_t i);
};

service::FilterCondition Range(const std::string& key, double lt) {
  service::FilterCondition c;
  c.type = service::FilterCondition::Type::kRange;
  c.key = key;
  c.lt = lt;
  return c;
}

service::FilterCondition MatchString(const std::string& key, const std::string& value) {
  service::FilterCondition c;
  c.type = service::FilterCondition::Type::kMatch;
  c.key = key;
  auto& v = c.values.emplace_back();
  v.kind = service::FilterValue::Kind::kString;
  v.text = value;
  return c;
}

service::FilterCondition MatchNumber(const std::string& key, double value) {
  service::FilterCondition c;
  c.type = service::FilterCondition::Type::kMatch;
  c.key = key;
  auto& v = c.values.emplace_back();
  v.kind = service::FilterValue::Kind::kNumber;
  v.number = value;
  return c;
}

std::shared_ptr<service::FilterGroup> Must(service::FilterCondition c) {
  auto group = std::make_shared<service::FilterGroup>();
  group->must.push_back(std::move(c));
  return group;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace
}  // namespace vectord::bench

int main(int argc, char** argv) {
  using namespace vectord;
  using namespace vectord::bench;
  CLI::App app{"vectord filtered-search benchmark"};
  EmbeddingParams params;
  size_t ef = 64, k = 10;
  app.add_option("--n", params.n);
  app.add_option("--queries", params.queries);
  app.add_option("--ef", ef);
  CLI11_PARSE(app, argc, argv);
  Dataset data = MakeEmbeddingLike(params);
  const size_t n = data.size(), nq = data.query_count(), dim = data.dim;

  ThreadPool pool(std::max(1u, std::thread::hardware_concurrency()) - 1);
  service::Registry registry(&pool);
  service::CreateSpec spec;
  spec.name = "bench";
  spec.dimension = static_cast<int64_t>(dim);
  auto index = std::move(registry.Create(spec)).value();
  auto t0 = Clock::now();
  for (size_t first = 0; first < n; first += 1024) {
    std::vector<service::NewItem> items;
    for (size_t i = first; i < std::min(n, first + 1024); ++i) {
      service::NewItem item;
      item.id = std::to_string(i);
      item.vector.assign(data.base.begin() + static_cast<ptrdiff_t>(i * dim),
                         data.base.begin() + static_cast<ptrdiff_t>((i + 1) * dim));
      item.metadata = "{\"r\":" + std::to_string(Bucket(i)) + ",\"cat\":\"c" +
                      std::to_string(Bucket(i) % 10) + "\",\"doc\":{\"lang\":\"en\"}}";
      items.push_back(std::move(item));
    }
    auto added = index->Add(items, &pool, service::Durability::kDefault);
    if (!added.ok()) {
      std::fprintf(stderr, "%s\n", added.status().ToString().c_str());
      return 1;
    }
  }
  const double build_seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  std::vector<Case> cases = {
      {"none (unfiltered)", "-", nullptr, [](size_t) { return true; }},
      {"50%", R"({"must":[{"key":"r","range":{"lt":500}}]})", Must(Range("r", 500)),
       [](size_t i) { return Bucket(i) < 500; }},
      {"10%", R"({"must":[{"key":"cat","match":{"value":"c3"}}]})", Must(MatchString("cat", "c3")),
       [](size_t i) { return Bucket(i) % 10 == 3; }},
      {"1%", R"({"must":[{"key":"r","range":{"lt":10}}]})", Must(Range("r", 10)),
       [](size_t i) { return Bucket(i) < 10; }},
      {"0.1%", R"({"must":[{"key":"r","match":{"value":7}}]})", Must(MatchNumber("r", 7)),
       [](size_t i) { return Bucket(i) == 7; }},
  };

  std::printf(
      "## filter_bench: %zu x %zu-d cosine (embedding-like), %zu queries, k=%zu, ef %zu\n\n", n,
      dim, nq, k, ef);
  std::printf(
      "Build (service layer, batches of 1024, %u threads): %.1f s. Metadata index: %.1f MB "
      "(%.0f bytes/item, 3 leaves each).\n\n",
      std::max(1u, std::thread::hardware_concurrency()), build_seconds,
      static_cast<double>(index->auxiliary_memory_bytes()) / 1e6,
      static_cast<double>(index->auxiliary_memory_bytes()) / static_cast<double>(n));
  std::printf(
      "| filter | passing | recall@10 | QPS (1 thread) | p50 ms | p99 ms |\n"
      "|---|---:|---:|---:|---:|---:|\n");
  const engine::KernelSet& kernels = engine::ActiveKernels();
  for (const Case& c : cases) {
    std::vector<size_t> passing;
    for (size_t i = 0; i < n; ++i) {
      if (c.passes(i)) passing.push_back(i);
    }
    double recall = 0;
    std::vector<double> latencies;
    for (size_t q = 0; q < nq; ++q) {
      const float* query = data.queries.data() + q * dim;
      service::SearchSpec search;
      search.vector.assign(query, query + dim);
      search.k = static_cast<int64_t>(k);
      search.ef = ef;
      search.include_metadata = false;
      search.filter = c.filter;
      auto q0 = Clock::now();
      auto results = index->Search(search);
      latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - q0).count());
      if (!results.ok()) return 1;
      // Exact filtered neighbours (vectors are normalised: nearest = largest <q, x>).
      std::vector<std::pair<float, size_t>> scored;
      scored.reserve(passing.size());
      for (size_t i : passing) {
        scored.emplace_back(-kernels.inner_product(query, data.base.data() + i * dim, dim), i);
      }
      const size_t top = std::min(k, scored.size());
      std::partial_sort(scored.begin(), scored.begin() + static_cast<ptrdiff_t>(top), scored.end());
      size_t hits = 0;
      for (const auto& r : *results) {
        const size_t label = std::stoul(r.id);
        if (!c.passes(label)) {
          std::fprintf(stderr, "result %zu does not pass filter %s\n", label, c.label.c_str());
          return 1;
        }
        for (size_t j = 0; j < top; ++j) hits += scored[j].second == label;
      }
      recall += top == 0 ? 1.0 : static_cast<double>(hits) / static_cast<double>(top);
    }
    double total_ms = 0;
    for (double ms : latencies) total_ms += ms;
    std::printf("| %s `%s` | %zu | %.4f | %.0f | %.3f | %.3f |\n", c.label.c_str(),
                c.filter_json.c_str(), passing.size(), recall / static_cast<double>(nq),
                1000.0 * static_cast<double>(nq) / total_ms, Percentile(latencies, 0.5),
                Percentile(latencies, 0.99));
    std::fflush(stdout);
  }
  return 0;
}
