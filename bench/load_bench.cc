// load_bench: how fast HnswIndex::Load reads an index file, against reading
// the same file's bytes and nothing else — the engine issue asks that
// loading 1M vectors run near disk speed.
//
//   load_bench [--n 1000000] [--dim 128] [--file /var/tmp/vectord-load.hnsw]
//
// Builds the index once (random clustered vectors, a low ef_construction:
// graph quality does not change the load path) and keeps the file for later
// runs. It also times the same reads into fresh memory of the file's size
// (the floor for any loader: new pages are zeroed before they are filled).
// Each timing drops the page cache first (root only; otherwise it says
// the file was cached), so both read from the device.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/thread_pool.h"
#include "engine/hnsw_index.h"
#include "store/local_object_store.h"

namespace {

using Clock = std::chrono::steady_clock;

bool DropPageCache() {
  ::sync();
  std::ofstream drop("/proc/sys/vm/drop_caches");
  if (!drop) return false;
  drop << "3\n";
  return static_cast<bool>(drop);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vectord;
  CLI::App app{"vectord index load speed against raw file reading"};
  size_t n = 1000000, dim = 128;
  std::string file = "/var/tmp/vectord-load.hnsw";
  app.add_option("--n", n);
  app.add_option("--dim", dim);
  app.add_option("--file", file);
  CLI11_PARSE(app, argc, argv);

  if (!std::filesystem::exists(file)) {
    engine::IndexOptions options;
    options.dimension = static_cast<uint32_t>(dim);
    options.metric = engine::Metric::kEuclidean;
    options.ef_construction = 40;
    auto index = std::move(engine::HnswIndex::Create(options)).value();
    ThreadPool pool(std::max(1u, std::thread::hardware_concurrency()) - 1);
    std::mt19937_64 rng(7);
    std::normal_distribution<float> normal(0, 1);
    std::vector<float> centres(256 * dim);
    for (float& c : centres) c = normal(rng) * 4;
    auto t0 = Clock::now();
    for (size_t first = 0; first < n; first += 10000) {
      const size_t count = std::min<size_t>(10000, n - first);
      std::vector<float> data(count * dim);
      std::vector<std::string> ids(count);
      std::vector<engine::ItemInput> items(count);
      for (size_t i = 0; i < count; ++i) {
        const float* centre = centres.data() + (rng() % 256) * dim;
        for (size_t d = 0; d < dim; ++d) data[i * dim + d] = centre[d] + normal(rng);
        ids[i] = "item-" + std::to_string(first + i);
        items[i] = {ids[i], {data.data() + i * dim, dim}, std::nullopt};
      }
      if (!index->Upsert(items, &pool).ok()) return 1;
    }
    std::fprintf(stderr, "built %zu x %zu in %.1f s\n", n, dim,
                 std::chrono::duration<double>(Clock::now() - t0).count());
    StringSink sink;
    if (!index->Save(sink).ok()) return 1;
    std::ofstream(file, std::ios::binary) << sink.buffer();
  }
  const double bytes = static_cast<double>(std::filesystem::file_size(file));

  const bool dropped = DropPageCache();
  auto t0 = Clock::now();
  {
    std::vector<char> buffer(size_t{8} << 20);
    int fd = ::open(file.c_str(), O_RDONLY);
    while (::read(fd, buffer.data(), buffer.size()) > 0) {
    }
    ::close(fd);
  }
  const double read_seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  // The same reads into fresh memory of the file's size, mapped as the
  // index maps its chunks: the kernel zeroes every new page before the read
  // fills it, a cost any loader that keeps the data pays.
  DropPageCache();
  t0 = Clock::now();
  {
    const size_t size = static_cast<size_t>(bytes);
    void* memory =
        ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return 1;
    ::madvise(memory, size, MADV_HUGEPAGE);
    char* at = static_cast<char*>(memory);
    int fd = ::open(file.c_str(), O_RDONLY);
    size_t done = 0;
    ssize_t got;
    while (done < size &&
           (got = ::read(fd, at + done, std::min(size - done, size_t{8} << 20))) > 0) {
      done += static_cast<size_t>(got);
    }
    ::close(fd);
    ::munmap(memory, size);
  }
  const double fresh_read_seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  DropPageCache();
  t0 = Clock::now();
  // Through the store's reader, as the server loads snapshots.
  const std::filesystem::path path(file);
  auto store = store::LocalObjectStore::OpenRoot(path.parent_path().string(), /*sync=*/false);
  if (!store.ok()) return 1;
  auto reader = (*store)->Open(path.filename().string());
  if (!reader.ok()) return 1;
  auto loaded = engine::HnswIndex::Load(**reader);
  const double load_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
    return 1;
  }
  std::printf("## load_bench: %zu x %zu-d, file %.0f MB%s\n\n", (*loaded)->size(), dim, bytes / 1e6,
              dropped ? ", page cache dropped before each timing" : " (page cache NOT dropped)");
  std::printf("| what | seconds | MB/s |\n|---|---:|---:|\n");
  std::printf("| read the file (8 MiB reads, nothing else) | %.2f | %.0f |\n", read_seconds,
              bytes / 1e6 / read_seconds);
  std::printf("| read the file into fresh memory of its size (8 MiB reads) | %.2f | %.0f |\n",
              fresh_read_seconds, bytes / 1e6 / fresh_read_seconds);
  std::printf("| HnswIndex::Load (parse, check every CRC and link) | %.2f | %.0f |\n", load_seconds,
              bytes / 1e6 / load_seconds);
  return 0;
}
