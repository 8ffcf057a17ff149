// engine_bench: recall@10 and single-thread QPS over a grid of ef, build time
// with 1 and 2 threads, and bytes per vector, for vectord's engine, hnswlib
// and FAISS side by side on the same data, queries and exact ground truth.
//
//   engine_bench --dataset fashion-mnist
//   engine_bench --dataset embedding-768 [--n 100000] [--hardness 1.0]
//   engine_bench --base-file base.fvecs --query-file queries.fvecs --metric euclidean
//
// Files in any format `vectorctl import` reads (.fvecs, .bvecs, .npy, gzip);
// the exact ground truth of any data set is computed here and cached under
// --cache-dir.
//
// Prints a Markdown report (paste into bench/RESULTS.md with the command; the
// run it replaces moves to bench/HISTORY.md).
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ann_peer.h"
#include "datasets.h"
#include "engine/distance.h"
#include "engine/hnsw_index.h"

namespace vectord::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

size_t ResidentBytes() {
  malloc_trim(0);
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * 4096;
}

std::string CpuModel() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

std::unique_ptr<AnnPeer> MakePeer(const std::string& name, const PeerParams& params, size_t n) {
  if (name == "vectord") return MakeVectordPeer(params, engine::Quantization::kNone, 0.0f);
  if (name == "vectord-sq8") {
    // VECTORD_BENCH_SKETCH_EPSILON: to try other sketch intervals.
    const char* epsilon = std::getenv("VECTORD_BENCH_SKETCH_EPSILON");
    return MakeVectordPeer(
        params, engine::Quantization::kSq8,
        epsilon != nullptr ? std::stof(epsilon) : engine::HnswIndex::kDefaultSketchEpsilon);
  }
  if (name == "vectord-sq8-nosketch") {
    return MakeVectordPeer(params, engine::Quantization::kSq8, 0.0f);
  }
  if (name == "hnswlib") return MakeHnswlibPeer(params, n);
  if (name == "faiss") return MakeFaissPeer(params);
  throw std::runtime_error("unknown peer " + name);
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) out.push_back(part);
  return out;
}

}  // namespace
}  // namespace vectord::bench

int main(int argc, char** argv) {
  using namespace vectord::bench;
  CLI::App app{"vectord engine benchmark against hnswlib and FAISS"};
  std::string dataset = "fashion-mnist";
  std::string fashion_dir = "/usr/share/datasets/fashion-mnist";
  std::string cache_dir = "bench/data";
  std::string peers_arg = "vectord,vectord-sq8,hnswlib,faiss";
  std::string efs_arg = "10,16,24,32,48,64,96,128,192,256";
  std::string build_threads_arg = "1,2";
  size_t m = 16, ef_construction = 200, k = 10, max_queries = 0, runs = 3;
  EmbeddingParams embedding;
  std::string base_file, query_file, metric_name = "euclidean";
  app.add_option("--dataset", dataset, "fashion-mnist | embedding-768");
  app.add_option("--fashion-dir", fashion_dir);
  app.add_option("--base-file", base_file,
                 "base vectors, any vectorctl import format (replaces --dataset)");
  app.add_option("--query-file", query_file, "query vectors, same formats");
  app.add_option("--metric", metric_name, "with --base-file: cosine | euclidean | dot")
      ->check(CLI::IsMember({"cosine", "euclidean", "dot"}));
  app.add_option("--cache-dir", cache_dir, "where ground truth is cached");
  app.add_option("--peers", peers_arg);
  app.add_option("--ef", efs_arg, "comma-separated ef grid");
  app.add_option("--build-threads", build_threads_arg, "thread counts to time the build with");
  size_t search_threads = 1;
  app.add_option("--search-threads", search_threads,
                 "also time each pass with this many threads searching at once (a second "
                 "table; 1: no)");
  std::string index_cache;
  app.add_option("--index-cache", index_cache,
                 "load the vectord and hnswlib indexes from this path, or build and save them "
                 "there (tuning only: "
                 "the build time reported is then the load time)");
  app.add_option("--runs", runs, "passes over the queries per ef; the fastest counts");
  app.add_option("--m", m);
  app.add_option("--ef-construction", ef_construction);
  app.add_option("--queries", max_queries, "use only the first N queries (0: all)");
  app.add_option("--n", embedding.n, "embedding-768: base size");
  app.add_option("--clusters", embedding.clusters, "embedding-768: cluster count");
  app.add_option("--decay", embedding.decay, "embedding-768: spectrum decay");
  app.add_option("--hardness", embedding.hardness, "embedding-768: noise / centre spread");
  CLI11_PARSE(app, argc, argv);

  if (base_file.empty() != query_file.empty()) {
    std::fprintf(stderr, "--base-file and --query-file go together\n");
    return 2;
  }
  Dataset data;
  if (!base_file.empty()) {
    const vectord::engine::Metric metric =
        *vectord::engine::ParseMetric(metric_name);  // CLI11 checked it
    try {
      data = LoadVectorFiles(base_file, query_file, metric);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 2;
    }
  } else if (dataset == "fashion-mnist") {
    data = LoadFashionMnist(fashion_dir);
  } else if (dataset == "embedding-768") {
    data = MakeEmbeddingLike(embedding);
  } else {
    std::fprintf(stderr, "unknown dataset %s\n", dataset.c_str());
    return 2;
  }
  if (max_queries != 0 && max_queries < data.query_count())
    data.queries.resize(max_queries * data.dim);
  const size_t n = data.size(), nq = data.query_count();

  std::string cache;
  if (!cache_dir.empty()) {
    std::string tag = !base_file.empty()           ? data.name + "-n" + std::to_string(n)
                      : dataset == "fashion-mnist" ? data.name
                                                   : data.name + "-n" + std::to_string(n) + "-c" +
                                                         std::to_string(embedding.clusters) + "-d" +
                                                         std::to_string(embedding.decay) + "-h" +
                                                         std::to_string(embedding.hardness);
    cache = cache_dir + "/" + tag + "-q" + std::to_string(nq) + ".gt";
  }
  auto t0 = Clock::now();
  std::vector<uint32_t> truth = GroundTruth(data, k, 2, cache);
  std::fprintf(stderr, "ground truth: %.1f s\n", Seconds(t0));

  PeerParams params;
  params.dim = data.dim;
  params.metric = data.metric;
  params.m = m;
  params.ef_construction = ef_construction;
  params.index_cache = index_cache;

  std::printf("## %s: n=%zu, queries=%zu, dim=%zu, M=%zu, ef_construction=%zu\n\n",
              data.name.c_str(), n, nq, data.dim, m, ef_construction);
  std::printf("CPU: %s (%u threads); vectord kernels: %s\n\n", CpuModel().c_str(),
              std::thread::hardware_concurrency(),
              std::string(vectord::engine::ActiveKernels().name).c_str());

  std::vector<size_t> efs;
  for (const auto& e : Split(efs_arg)) efs.push_back(std::stoul(e));
  std::vector<int> build_threads;
  for (const auto& t : Split(build_threads_arg)) build_threads.push_back(std::stoi(t));

  std::ostringstream search_table, build_table;
  auto threads_label = [&](size_t b) {
    if (b >= build_threads.size()) return std::string("-");
    return std::to_string(build_threads[b]) + (build_threads[b] == 1 ? " thread" : " threads");
  };
  build_table << "| peer | build " << threads_label(0) << " (s) | build " << threads_label(1)
              << " (s) | bytes/vector (own count) | "
                 "bytes/vector (RSS) |\n"
              << "|---|---:|---:|---:|---:|\n";
  // Build every peer (timing each thread count; the first build is kept for
  // searching), then search round-robin: for each ef, every peer in turn,
  // `runs` rounds, best pass kept. This machine is shared and its speed
  // drifts; interleaving puts every peer under the same conditions.
  std::vector<std::string> peer_names = Split(peers_arg);
  std::vector<std::unique_ptr<AnnPeer>> peers;
  for (const std::string& peer_name : peer_names) {
    std::vector<double> build_seconds;
    size_t own_bytes = 0, rss_bytes = 0;
    for (size_t b = 0; b < build_threads.size(); ++b) {
      size_t rss_before = ResidentBytes();
      auto peer = MakePeer(peer_name, params, n);
      auto start = Clock::now();
      peer->Build(data.base.data(), n, build_threads[b]);
      build_seconds.push_back(Seconds(start));
      std::fprintf(stderr, "%s: built with %d threads in %.1f s\n", peer_name.c_str(),
                   build_threads[b], build_seconds.back());
      if (b == 0) {
        rss_bytes = ResidentBytes() - rss_before;
        own_bytes = peer->IndexBytes();
        peers.push_back(std::move(peer));
      }
    }
    char row[300];
    std::snprintf(
        row, sizeof(row), "| %s | %.1f | %s | %.0f | %.0f |\n", peer_name.c_str(), build_seconds[0],
        build_seconds.size() > 1 ? std::to_string(build_seconds[1]).substr(0, 5).c_str() : "-",
        static_cast<double>(own_bytes) / static_cast<double>(n),
        static_cast<double>(rss_bytes) / static_cast<double>(n));
    build_table << row;
  }

  search_table << "| ef |";
  for (const auto& name : peer_names)
    search_table << " " << name << " recall@10 | " << name << " QPS |";
  search_table << "\n|---:|";
  for (size_t p = 0; p < peer_names.size(); ++p) search_table << "---:|---:|";
  search_table << "\n";
  // Thread t searches queries t, t + threads, ...; returns the hits.
  auto search_slice = [&](AnnPeer& peer, size_t first, size_t stride) {
    std::vector<uint32_t> labels(k);
    size_t found = 0;
    for (size_t q = first; q < nq; q += stride) {
      peer.Search(data.queries.data() + q * data.dim, k, labels.data());
      const uint32_t* t = truth.data() + q * k;
      for (size_t i = 0; i < k; ++i) found += std::find(t, t + k, labels[i]) != t + k;
    }
    return found;
  };
  std::ostringstream threads_table;
  threads_table << "| ef |";
  for (const auto& name : peer_names) {
    threads_table << " " << name << " QPS 1 thread | " << name << " QPS " << search_threads
                  << " threads | speed-up |";
  }
  threads_table << "\n|---:|";
  for (size_t p = 0; p < peer_names.size(); ++p) threads_table << "---:|---:|---:|";
  threads_table << "\n";
  for (size_t ef : efs) {
    std::vector<double> best(peers.size(), 1e300), best_parallel(peers.size(), 1e300);
    std::vector<size_t> hits(peers.size(), 0);
    for (size_t run = 0; run < runs; ++run) {
      for (size_t p = 0; p < peers.size(); ++p) {
        peers[p]->SetEf(ef);
        auto search_start = Clock::now();
        hits[p] = search_slice(*peers[p], 0, 1);
        best[p] = std::min(best[p], Seconds(search_start));
        if (search_threads > 1) {
          std::vector<std::thread> threads;
          auto parallel_start = Clock::now();
          for (size_t t = 0; t < search_threads; ++t) {
            threads.emplace_back([&, t] { search_slice(*peers[p], t, search_threads); });
          }
          for (auto& thread : threads) thread.join();
          best_parallel[p] = std::min(best_parallel[p], Seconds(parallel_start));
        }
      }
    }
    if (search_threads > 1) {
      char cell[120];
      threads_table << "| " << ef << " |";
      for (size_t p = 0; p < peers.size(); ++p) {
        std::snprintf(cell, sizeof(cell), " %.0f | %.0f | %.2fx |",
                      static_cast<double>(nq) / best[p], static_cast<double>(nq) / best_parallel[p],
                      best[p] / best_parallel[p]);
        threads_table << cell;
      }
      threads_table << "\n";
    }
    char cell[100];
    search_table << "| " << ef << " |";
    for (size_t p = 0; p < peers.size(); ++p) {
      std::snprintf(cell, sizeof(cell), " %.4f | %.0f |",
                    static_cast<double>(hits[p]) / static_cast<double>(nq * k),
                    static_cast<double>(nq) / best[p]);
      search_table << cell;
    }
    search_table << "\n";
    std::fprintf(stderr, "ef %zu done\n", ef);
  }
  std::printf(
      "Search, single thread, best of %zu interleaved passes:\n\n%s\nBuild and memory:\n\n%s\n",
      runs, search_table.str().c_str(), build_table.str().c_str());
  if (search_threads > 1) {
    std::printf("\nSearch, %zu threads at once against 1, best of %zu passes each:\n\n%s",
                search_threads, runs, threads_table.str().c_str());
  }
  std::printf("Memory budget of the engine issue: 1.1 x (4*dim + 8*M) = %.0f bytes/vector.\n",
              1.1 * (4.0 * static_cast<double>(data.dim) + 8.0 * static_cast<double>(m)));
  return 0;
}
