// disk_vectors_bench: what an index with its vectors on disk
// (VectorPlacement::kDisk) costs in memory and speed, against the same
// index with its vectors in memory.
//
//   disk_vectors_bench --dim 768 --n 200000 --index-file bench/out/disk768.idx
//       --vectors disk --vector-dir bench/out [--cold]
//
// Builds the SQ8 index of an embedding-like set once (2 threads) and keeps
// it in --index-file; every run then loads that file with the placement
// asked for and reports:
// - the resident memory the load added (RSS after minus before, anonymous
//   and file-backed apart), per vector, beside the engine's own count and
//   the budget 1.25 x (code bytes + 8M link bytes + id bytes);
// - recall@10 and single-thread QPS over an ef grid: warm (best of --runs
//   passes), or with --cold one pass per ef right after the page cache is
//   dropped (sync; echo 3 > /proc/sys/vm/drop_caches: needs root), so the
//   re-rank reads the floats from the disk.
// One placement per process, so that each load's memory is its own; the
// script bench/run-disk-vectors.sh runs them in turn.
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/thread_pool.h"
#include "datasets.h"
#include "engine/hnsw_index.h"

namespace vectord::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

struct Resident {
  size_t anon = 0, file = 0;
  size_t total() const { return anon + file; }
};

Resident ResidentNow() {
  malloc_trim(0);
  std::ifstream status("/proc/self/status");
  Resident r;
  for (std::string line; std::getline(status, line);) {
    size_t kib = 0;
    if (std::sscanf(line.c_str(), "RssAnon: %zu kB", &kib) == 1) r.anon = kib << 10;
    if (std::sscanf(line.c_str(), "RssFile: %zu kB", &kib) == 1) r.file = kib << 10;
  }
  return r;
}

class FileSink final : public ByteSink {
 public:
  explicit FileSink(const std::string& path) : file_(std::fopen(path.c_str(), "wb")) {}
  ~FileSink() override {
    if (file_ != nullptr) std::fclose(file_);
  }
  bool ok() const { return file_ != nullptr; }
  Status Write(const void* data, size_t size) override {
    if (std::fwrite(data, 1, size, file_) != size) return Status::IOError("short write");
    return Status::Ok();
  }

 private:
  std::FILE* file_;
};

class FileSource final : public ByteSource {
 public:
  explicit FileSource(const std::string& path) : file_(std::fopen(path.c_str(), "rb")) {}
  ~FileSource() override {
    if (file_ != nullptr) std::fclose(file_);
  }
  bool ok() const { return file_ != nullptr; }
  Status Read(void* data, size_t size) override {
    if (std::fread(data, 1, size, file_) != size) return Status::Corruption("short read");
    position_ += size;
    return Status::Ok();
  }
  uint64_t position() const override { return position_; }

 private:
  std::FILE* file_;
  uint64_t position_ = 0;
};

void DropPageCache() {
  sync();
  std::ofstream drop("/proc/sys/vm/drop_caches");
  drop << "3\n";
  if (!drop.flush()) throw std::runtime_error("cannot drop the page cache (not root?)");
}

void BuildAndSave(const Dataset& data, const std::string& path, size_t m, size_t ef_construction) {
  engine::IndexOptions options;
  options.dimension = static_cast<uint32_t>(data.dim);
  options.metric = data.metric;
  options.m = static_cast<uint32_t>(m);
  options.ef_construction = static_cast<uint32_t>(ef_construction);
  options.quantization = engine::Quantization::kSq8;
  auto index = std::move(engine::HnswIndex::Create(options)).value();
  const size_t n = data.size();
  std::vector<std::string> ids(n);
  std::vector<engine::ItemInput> items(n);
  for (size_t i = 0; i < n; ++i) {
    ids[i] = std::to_string(i);
    items[i] = {ids[i], {data.base.data() + i * data.dim, data.dim}, std::nullopt};
  }
  ThreadPool pool(1);  // + the caller: 2 threads
  const auto started = Clock::now();
  Status s = index->Upsert(items, &pool);
  if (!s.ok()) throw std::runtime_error(s.ToString());
  std::fprintf(stderr, "built %zu items in %.1f s\n", n, Seconds(started));
  FileSink sink(path);
  if (!sink.ok() || !index->Save(sink).ok()) throw std::runtime_error("cannot write " + path);
}

std::vector<size_t> ParseList(const std::string& text) {
  std::vector<size_t> out;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) out.push_back(std::stoul(part));
  return out;
}

}  // namespace
}  // namespace vectord::bench

int main(int argc, char** argv) {
  using namespace vectord;
  using namespace vectord::bench;
  CLI::App app{"vectors on disk against vectors in memory"};
  EmbeddingParams embedding;
  std::string index_file, vectors = "disk", vector_dir = "bench/out", efs_arg = "16,24,32,48,64,96";
  std::string cache_dir = "bench/data";
  size_t m = 16, ef_construction = 200, runs = 3;
  bool cold = false;
  app.add_option("--n", embedding.n, "base size");
  app.add_option("--dim", embedding.dim, "dimension");
  app.add_option("--clusters", embedding.clusters);
  app.add_option("--hardness", embedding.hardness);
  app.add_option("--queries", embedding.queries);
  app.add_option("--index-file", index_file, "built once, then loaded")->required();
  app.add_option("--vectors", vectors, "memory | disk");
  app.add_option("--vector-dir", vector_dir, "where a disk index makes its vector file");
  app.add_option("--ef", efs_arg, "comma-separated ef grid");
  app.add_option("--runs", runs, "warm: passes per ef, the fastest counts");
  app.add_option("--cache-dir", cache_dir, "where ground truth is cached");
  app.add_option("--m", m);
  app.add_option("--ef-construction", ef_construction);
  app.add_flag("--cold", cold, "drop the page cache before each ef's single pass");
  CLI11_PARSE(app, argc, argv);

  Dataset data = MakeEmbeddingLike(embedding);
  const size_t n = data.size(), nq = data.query_count(), k = 10;
  const std::string tag =
      data.name + "-n" + std::to_string(n) + "-c" + std::to_string(embedding.clusters) + "-d" +
      std::to_string(embedding.decay) + "-h" + std::to_string(embedding.hardness);
  const std::vector<uint32_t> truth = GroundTruth(
      data, k, 2,
      cache_dir.empty() ? "" : cache_dir + "/" + tag + "-q" + std::to_string(nq) + ".gt");
  if (access(index_file.c_str(), R_OK) != 0) {
    BuildAndSave(data, index_file, m, ef_construction);
  }
  data.base = std::vector<float>();  // only the queries are needed from here

  engine::VectorStorage storage;
  storage.placement =
      vectors == "disk" ? engine::VectorPlacement::kDisk : engine::VectorPlacement::kMemory;
  storage.directory = vector_dir;
  const Resident before = ResidentNow();
  const auto load_started = Clock::now();
  FileSource source(index_file);
  if (!source.ok()) {
    std::fprintf(stderr, "cannot open %s\n", index_file.c_str());
    return 2;
  }
  auto loaded = engine::HnswIndex::Load(source, nullptr, storage);
  if (!loaded.ok()) {
    std::fprintf(stderr, "load: %s\n", loaded.status().ToString().c_str());
    return 2;
  }
  std::unique_ptr<engine::HnswIndex> index = std::move(loaded).value();
  const double load_seconds = Seconds(load_started);
  const Resident after = ResidentNow();

  const engine::MemoryUsage usage = index->memory_usage();
  double id_bytes = 0;
  for (size_t i = 0; i < n; ++i) id_bytes += static_cast<double>(std::to_string(i).size());
  id_bytes /= static_cast<double>(n);
  const double per = 1.0 / static_cast<double>(n);
  const double rss = static_cast<double>(after.total() - before.total()) * per;
  const double links = 8.0 * static_cast<double>(m);
  const double codes = static_cast<double>(data.dim);
  const engine::SlotLayout layout(static_cast<uint32_t>(data.dim), static_cast<uint32_t>(m), true,
                                  storage.placement == engine::VectorPlacement::kDisk);
  const double sketch = static_cast<double>(layout.sketch_row_bytes);
  std::printf("## %s, n=%zu, M=%zu: vectors %s%s\n\n", data.name.c_str(), n, m, vectors.c_str(),
              cold ? " (page cache dropped before each ef)" : "");
  std::printf(
      "load %.1f s; resident bytes per vector added by the load: %.0f "
      "(anonymous %.0f, file-backed %.0f)\n",
      load_seconds, rss, static_cast<double>(after.anon - before.anon) * per,
      static_cast<double>(after.file - before.file) * per);
  std::printf(
      "engine's count per vector: in memory %.0f (rows %.0f, codes and sketches %.0f, "
      "upper links %.0f, nodes %.0f, ids %.0f, payload slots %.0f); on disk %.0f\n",
      static_cast<double>(usage.total()) * per,
      static_cast<double>(usage.vector_and_link_bytes) * per,
      static_cast<double>(usage.code_bytes) * per,
      static_cast<double>(usage.upper_link_bytes) * per,
      static_cast<double>(usage.node_bytes) * per, static_cast<double>(usage.id_bytes) * per,
      static_cast<double>(usage.payload_bytes) * per,
      static_cast<double>(usage.disk_vector_bytes) * per);
  const double budget = 1.25 * (codes + links + id_bytes);
  const double budget_with_sketch = 1.25 * (codes + sketch + links + id_bytes);
  std::printf(
      "budget 1.25 x (SQ8 codes %.0f + links %.0f + id %.1f) = %.0f: RSS is %.2fx it; "
      "counting the %.0f-byte sketch row as code bytes too: %.0f, %.2fx\n\n",
      codes, links, id_bytes, budget, rss / budget, sketch, budget_with_sketch,
      rss / budget_with_sketch);

  std::printf("| ef | recall@10 | QPS |\n|---:|---:|---:|\n");
  engine::SearchOptions options;
  options.k = k;
  options.with_payload = false;
  for (size_t ef : ParseList(efs_arg)) {
    options.ef = ef;
    double best = 1e300;
    size_t hits = 0;
    for (size_t run = 0; run < (cold ? 1 : runs); ++run) {
      if (cold) DropPageCache();
      hits = 0;
      const auto started = Clock::now();
      for (size_t q = 0; q < nq; ++q) {
        auto results = index->Search({data.queries.data() + q * data.dim, data.dim}, options);
        if (!results.ok()) {
          std::fprintf(stderr, "search: %s\n", results.status().ToString().c_str());
          return 1;
        }
        const uint32_t* t = truth.data() + q * k;
        for (const engine::SearchResult& r : *results) {
          const uint32_t label = static_cast<uint32_t>(std::stoul(r.id));
          hits += std::find(t, t + k, label) != t + k;
        }
      }
      best = std::min(best, Seconds(started));
    }
    std::printf("| %zu | %.4f | %.0f |\n", ef,
                static_cast<double>(hits) / static_cast<double>(nq * k),
                static_cast<double>(nq) / best);
    std::fflush(stdout);
  }
  return 0;
}
