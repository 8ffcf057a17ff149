// The in-process side of bench/run-import-bench.sh: how fast the service
// layer itself takes Fashion-MNIST (the rate `vectorctl import` is measured
// against), and what the recall self-check costs searches.
//
//   service_insert_bench --fashion-dir /usr/share/datasets/fashion-mnist
//
// Insert: a Registry as vectord builds it (ephemeral, one worker per core,
// default index parameters, euclidean), batches of 1024 items with ids as
// vectorctl gives them (the row number).
// Self-check: searches of the test images on `search_threads` threads for
// `seconds`, alternately without and with a RecallMonitor at the server's
// default budget, three rounds; QPS of each and the monitor's samples.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "common/thread_pool.h"
#include "datasets.h"
#include "service/index_registry.h"
#include "service/recall_monitor.h"

namespace vectord::bench {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

double SearchQps(const service::Index& index, const Dataset& data, int threads, double seconds) {
  std::atomic<uint64_t> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      size_t q = static_cast<size_t>(t) * 997;
      while (!stop.load(std::memory_order_relaxed)) {
        service::SearchSpec spec;
        const float* v = data.queries.data() + (q % data.query_count()) * data.dim;
        spec.vector.assign(v, v + data.dim);
        spec.k = 10;
        if (!index.Search(spec).ok()) std::abort();
        done.fetch_add(1, std::memory_order_relaxed);
        ++q;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (auto& w : workers) w.join();
  return static_cast<double>(done.load()) / Seconds(start);
}

int Run(int argc, char** argv) {
  CLI::App app{"service-layer insert rate and recall self-check overhead"};
  std::string fashion_dir = "/usr/share/datasets/fashion-mnist";
  size_t batch = 1024;
  int search_threads = 2;
  double seconds = 20;
  double budget = 0.05;
  app.add_option("--fashion-dir", fashion_dir);
  app.add_option("--batch", batch);
  app.add_option("--search-threads", search_threads);
  app.add_option("--seconds", seconds, "per search pass");
  app.add_option("--budget", budget, "the monitor's CPU budget");
  CLI11_PARSE(app, argc, argv);

  const Dataset data = LoadFashionMnist(fashion_dir);
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  ThreadPool workers(cores);
  service::Registry registry(&workers);
  registry.SetRecallSampleRate(0.01);
  service::CreateSpec spec;
  spec.name = "fashion";
  spec.dimension = static_cast<int64_t>(data.dim);
  spec.distance = "euclidean";
  auto index = registry.Create(spec);
  if (!index.ok()) return 1;

  const auto start = std::chrono::steady_clock::now();
  for (size_t first = 0; first < data.size(); first += batch) {
    std::vector<service::NewItem> items;
    for (size_t i = first; i < std::min(first + batch, data.size()); ++i) {
      const float* v = data.base.data() + i * data.dim;
      items.push_back({std::to_string(i), std::vector<float>(v, v + data.dim), std::nullopt});
    }
    if (!registry.Add(*index, items).ok()) return 1;
  }
  const double insert_seconds = Seconds(start);
  std::printf(
      "| in-process insert (service layer, %u workers, batches of %zu) | %zu | %.1f | %.0f |\n",
      cores, batch, data.size(), insert_seconds, static_cast<double>(data.size()) / insert_seconds);

  std::printf(
      "\nSearch QPS (%d threads, k 10, default ef) without and with the self-check at "
      "budget %.2f:\n\n| round | off | on | on/off | samples taken while on |\n"
      "|---:|---:|---:|---:|---:|\n",
      search_threads, budget);
  for (int round = 1; round <= 3; ++round) {
    const double off = SearchQps(**index, data, search_threads, seconds);
    const uint64_t before = (*index)->recall().Estimate().total_samples;
    service::RecallMonitorOptions options;
    options.cpu_budget = budget;
    service::RecallMonitor monitor(registry, options);
    monitor.Start();
    const double on = SearchQps(**index, data, search_threads, seconds);
    monitor.Stop();
    const uint64_t after = (*index)->recall().Estimate().total_samples;
    std::printf("| %d | %.0f | %.0f | %.3f | %llu |\n", round, off, on, on / off,
                static_cast<unsigned long long>(after - before));
  }
  const service::RecallEstimate estimate = (*index)->recall().Estimate();
  if (estimate.recall_at_10) {
    std::printf(
        "\nEstimate after the runs: recall@10 %.4f +- %.4f over %zu samples (%zu from "
        "queries)\n",
        *estimate.recall_at_10, estimate.ci95, estimate.samples, estimate.samples_from_queries);
  }
  return 0;
}

}  // namespace
}  // namespace vectord::bench

int main(int argc, char** argv) { return vectord::bench::Run(argc, argv); }
