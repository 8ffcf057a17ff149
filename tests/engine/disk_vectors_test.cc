// Indexes whose vectors live in a vector file (VectorPlacement::kDisk): they
// must answer exactly like the same index in memory, keep no vector rows in
// memory, save the same bytes and load either way.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <filesystem>
#include <string>

#include "common/byte_stream.h"
#include "common/thread_pool.h"
#include "engine/hnsw_index.h"
#include "test_vectors.h"

namespace vectord::engine {
namespace {

using testing::ClusteredVectors;
using testing::IdOf;
using testing::Inputs;
using testing::VectorSet;

class ScratchDirectory {
 public:
  ScratchDirectory() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "vectord-disk-vectors-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~ScratchDirectory() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  size_t entries() const {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(path_)) ++n;
    return n;
  }

 private:
  std::string path_;
};

IndexOptions Options(uint32_t dim, Metric metric) {
  IndexOptions options;
  options.dimension = dim;
  options.metric = metric;
  options.ef_construction = 100;
  options.quantization = Quantization::kSq8;
  return options;
}

IndexOptions OnDisk(IndexOptions options, const std::string& directory) {
  options.vectors.placement = VectorPlacement::kDisk;
  options.vectors.directory = directory;
  return options;
}

std::unique_ptr<HnswIndex> Make(const IndexOptions& options) {
  auto index = HnswIndex::Create(options);
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  return std::move(index).value();
}

// One item at a time and in order: the graph then depends only on the data
// and the seed, so two indexes built so are the same graph.
void AddInOrder(HnswIndex& index, const VectorSet& set, size_t begin, size_t end) {
  std::vector<std::string> ids;
  const std::vector<ItemInput> items = Inputs(set, begin, end, ids);
  for (const ItemInput& item : items) ASSERT_TRUE(index.Upsert({&item, 1}).ok());
}

void ExpectSameAnswers(const HnswIndex& a, const HnswIndex& b, const VectorSet& queries,
                       const char* when) {
  SCOPED_TRACE(when);
  for (size_t q = 0; q < queries.size(); ++q) {
    SearchOptions options;
    options.k = 10;
    // Past the read ring's depth (64) on every other query: a re-rank in
    // several batches.
    options.ef = q % 2 == 0 ? 0 : 150;
    options.with_vector = true;
    auto ra = a.Search(queries.row(q), options);
    auto rb = b.Search(queries.row(q), options);
    ASSERT_TRUE(ra.ok()) << ra.status().ToString();
    ASSERT_TRUE(rb.ok()) << rb.status().ToString();
    ASSERT_EQ(ra->size(), rb->size()) << "query " << q;
    for (size_t i = 0; i < ra->size(); ++i) {
      EXPECT_EQ((*ra)[i].id, (*rb)[i].id) << "query " << q << " rank " << i;
      EXPECT_EQ((*ra)[i].distance, (*rb)[i].distance) << "query " << q << " rank " << i;
      EXPECT_EQ((*ra)[i].vector, (*rb)[i].vector) << "query " << q << " rank " << i;
    }
  }
}

std::string Saved(const HnswIndex& index) {
  StringSink sink;
  EXPECT_TRUE(index.Save(sink, 7).ok());
  return sink.buffer();
}

TEST(DiskVectors, NeedSq8AndADirectory) {
  ScratchDirectory dir;
  IndexOptions options = OnDisk(Options(8, Metric::kEuclidean), dir.path());
  options.quantization = Quantization::kNone;
  auto plain = HnswIndex::Create(options);
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(plain.status().message().find("sq8"), std::string::npos) << plain.status().message();

  auto nowhere = HnswIndex::Create(OnDisk(Options(8, Metric::kEuclidean), ""));
  ASSERT_FALSE(nowhere.ok());
  EXPECT_EQ(nowhere.status().code(), StatusCode::kInvalidArgument);

  auto missing = HnswIndex::Create(OnDisk(Options(8, Metric::kEuclidean), dir.path() + "/absent"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kIOError);
  EXPECT_NE(missing.status().message().find("absent"), std::string::npos);
}

class DiskVectorsPerMetric : public ::testing::TestWithParam<Metric> {};

// Below and past the quantiser's training size, with replaced, deleted and
// consolidated items: the same answers, distances and vectors as in memory.
TEST_P(DiskVectorsPerMetric, AnswerExactlyAsInMemory) {
  const Metric metric = GetParam();
  const uint32_t dim = 48;
  VectorSet base = ClusteredVectors(2500, dim, 25, 61);
  VectorSet queries = ClusteredVectors(60, dim, 25, 62);
  ScratchDirectory dir;
  auto memory = Make(Options(dim, metric));
  auto disk = Make(OnDisk(Options(dim, metric), dir.path()));

  AddInOrder(*memory, base, 0, 600);
  AddInOrder(*disk, base, 0, 600);
  ExpectSameAnswers(*memory, *disk, queries, "on the floats, through the page cache");

  AddInOrder(*memory, base, 600, 2500);
  AddInOrder(*disk, base, 600, 2500);
  ExpectSameAnswers(*memory, *disk, queries, "on codes, re-ranked from the file");

  // Give some items new vectors, delete others, consolidate (slots
  // reused), then write again into the freed slots.
  const VectorSet replacements = ClusteredVectors(100, dim, 25, 64);
  for (HnswIndex* index : {memory.get(), disk.get()}) {
    std::vector<std::string> ids;
    std::vector<ItemInput> moved = Inputs(base, 0, 100, ids);
    for (size_t i = 0; i < moved.size(); ++i) moved[i].vector = replacements.row(i);
    ASSERT_TRUE(index->Upsert(moved).ok());
    std::vector<std::string_view> gone;
    for (size_t i = 100; i < 400; ++i) gone.push_back(ids[i]);
    index->Remove(gone);
    index->Consolidate();
  }
  AddInOrder(*memory, base, 100, 250);
  AddInOrder(*disk, base, 100, 250);
  ExpectSameAnswers(*memory, *disk, queries, "after replacing, deleting and consolidating");

  // The exact scan (recall checks, filtered searches that scan) reads the
  // floats through the mapping: the same answers.
  for (size_t q = 0; q < 10; ++q) {
    SearchOptions options;
    options.exact = true;
    auto ra = memory->Search(queries.row(q), options);
    auto rb = disk->Search(queries.row(q), options);
    ASSERT_TRUE(ra.ok() && rb.ok());
    ASSERT_EQ(ra->size(), rb->size());
    for (size_t i = 0; i < ra->size(); ++i) EXPECT_EQ((*ra)[i].id, (*rb)[i].id);
  }

  auto got = disk->Get(IdOf(5));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->vector, memory->Get(IdOf(5))->vector);

  // The file is the same index file either way, and it loads either way
  // (a load trains the quantiser afresh, so the loaded pair is compared).
  const std::string from_memory = Saved(*memory);
  EXPECT_EQ(Saved(*disk), from_memory);
  StringSource to_memory(from_memory), to_disk(from_memory);
  uint64_t sequence = 0;
  auto loaded_memory = HnswIndex::Load(to_memory);
  auto loaded_disk =
      HnswIndex::Load(to_disk, &sequence, OnDisk(Options(dim, metric), dir.path()).vectors);
  ASSERT_TRUE(loaded_memory.ok()) << loaded_memory.status().ToString();
  ASSERT_TRUE(loaded_disk.ok()) << loaded_disk.status().ToString();
  EXPECT_EQ(sequence, 7u);
  EXPECT_EQ((*loaded_disk)->options().vectors.placement, VectorPlacement::kDisk);
  ExpectSameAnswers(**loaded_memory, **loaded_disk, queries, "both loaded");
  EXPECT_EQ(Saved(**loaded_disk), from_memory);
}

INSTANTIATE_TEST_SUITE_P(AllMetrics, DiskVectorsPerMetric,
                         ::testing::Values(Metric::kCosine, Metric::kEuclidean, Metric::kDot),
                         [](const auto& info) { return std::string(MetricName(info.param)); });

// A re-rank measures the candidates nearest on the codes and only those
// others whose code error could put them among the k nearest: far fewer
// rows than candidates, and the same k as measuring them all (a search for
// k = ef walks the same graph and measures every candidate).
TEST(DiskVectors, RerankReadsFewRowsAndKeepsTheAnswer) {
  const uint32_t dim = 96;
  VectorSet base = ClusteredVectors(2000, dim, 30, 68);
  VectorSet queries = ClusteredVectors(30, dim, 30, 69);
  // Off the quantiser's range (trained on the first 1000): clamped codes.
  for (size_t i = 1500; i < 1600; ++i) base.data[i * dim] *= 40.0f;
  ScratchDirectory dir;
  for (Metric metric : {Metric::kCosine, Metric::kEuclidean, Metric::kDot}) {
    SCOPED_TRACE(MetricName(metric));
    auto memory = Make(Options(dim, metric));
    auto disk = Make(OnDisk(Options(dim, metric), dir.path()));
    AddInOrder(*memory, base, 0, base.size());
    AddInOrder(*disk, base, 0, base.size());
    const uint64_t before = disk->vector_rows_read();
    for (size_t q = 0; q < queries.size() + 20; ++q) {
      // And 20 queries at clamped items, whose codes are far off.
      const std::span<const float> query =
          q < queries.size() ? queries.row(q) : base.row(1500 + (q - queries.size()) * 5);
      for (HnswIndex* index : {memory.get(), disk.get()}) {
        SearchOptions options;
        options.ef = 128;
        auto lazy = index->Search(query, options);
        options.k = 128;
        auto all = index->Search(query, options);
        ASSERT_TRUE(lazy.ok() && all.ok());
        ASSERT_EQ(lazy->size(), 10u);
        for (size_t i = 0; i < lazy->size(); ++i) {
          EXPECT_EQ((*lazy)[i].id, (*all)[i].id) << "query " << q << " rank " << i;
        }
      }
    }
    // Each query above ran twice on disk: at k 10 and at k 128 (all read).
    const uint64_t read = disk->vector_rows_read() - before;
    const uint64_t searches = queries.size() + 20;
    const uint64_t at_k10 = read - searches * 128;
    EXPECT_LT(at_k10, searches * 128 / 2) << read;
    EXPECT_GE(at_k10, searches * 20);  // the first batch: 2k, at least 16
  }
}

TEST(DiskVectors, MemoryHoldsNoVectorRows) {
  const uint32_t dim = 256;
  VectorSet base = ClusteredVectors(3000, dim, 20, 63);
  ScratchDirectory dir;
  auto memory = Make(Options(dim, Metric::kCosine));
  auto disk = Make(OnDisk(Options(dim, Metric::kCosine), dir.path()));
  ThreadPool pool(2);
  for (HnswIndex* index : {memory.get(), disk.get()}) {
    std::vector<std::string> ids;
    ASSERT_TRUE(index->Upsert(Inputs(base, 0, base.size(), ids), &pool).ok());
  }
  const MemoryUsage in_memory = memory->memory_usage(), on_disk = disk->memory_usage();
  EXPECT_EQ(in_memory.disk_vector_bytes, 0u);
  EXPECT_EQ(on_disk.vector_and_link_bytes, 0u);
  EXPECT_EQ(on_disk.disk_vector_bytes, in_memory.vector_and_link_bytes);
  EXPECT_GE(on_disk.disk_vector_bytes, base.size() * dim * sizeof(float));
  // The same codes, in rows padded to 16 bytes rather than 64.
  EXPECT_LE(on_disk.code_bytes, in_memory.code_bytes);
  EXPECT_GE(on_disk.code_bytes, base.size() * (dim + 8 * 16));
  const MemoryUsage counted = disk->CountMemoryUsage();
  EXPECT_EQ(counted.vector_and_link_bytes, 0u);
  EXPECT_EQ(counted.disk_vector_bytes, on_disk.disk_vector_bytes);
  // The vector file has no name: nothing to find in the directory, nothing
  // left after a crash.
  EXPECT_EQ(dir.entries(), 0u);
}

// A parallel build on disk (not one graph: the threads interleave) finds
// about what a parallel build in memory finds.
TEST(DiskVectors, ParallelBuildKeepsRecall) {
  const uint32_t dim = 64;
  VectorSet base = ClusteredVectors(4000, dim, 30, 65);
  VectorSet queries = ClusteredVectors(100, dim, 30, 66);
  ScratchDirectory dir;
  auto memory = Make(Options(dim, Metric::kEuclidean));
  auto disk = Make(OnDisk(Options(dim, Metric::kEuclidean), dir.path()));
  ThreadPool pool(2);
  auto recall_of = [&](HnswIndex& index) {
    std::vector<std::string> ids;
    EXPECT_TRUE(index.Upsert(Inputs(base, 0, base.size(), ids), &pool).ok());
    double recall = 0;
    for (size_t q = 0; q < queries.size(); ++q) {
      SearchOptions options;
      auto results = index.Search(queries.row(q), options);
      EXPECT_TRUE(results.ok());
      recall += testing::Recall(*results,
                                testing::BruteForce(base, queries.row(q), 10, Metric::kEuclidean));
    }
    return recall / static_cast<double>(queries.size());
  };
  const double in_memory = recall_of(*memory);
  const double on_disk = recall_of(*disk);
  EXPECT_GE(on_disk, in_memory - 0.02);
  EXPECT_GE(on_disk, 0.9);
}

// When the vector file cannot grow, the write that needed it fails with
// NoSpace before anything of it is applied, and the index goes on serving.
// RLIMIT_FSIZE stands in for a full disk (fallocate past it fails EFBIG).
TEST(DiskVectors, AFileThatCannotGrowFailsTheWriteAndChangesNothing) {
  const uint32_t dim = 256;  // 1 KiB rows
  VectorSet base = ClusteredVectors(3000, dim, 10, 67);
  ScratchDirectory dir;
  auto disk = Make(OnDisk(Options(dim, Metric::kEuclidean), dir.path()));
  std::vector<std::string> ids;
  ASSERT_TRUE(disk->Upsert(Inputs(base, 0, 100, ids)).ok());

  struct rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct sigaction ignore = {}, previous = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGXFSZ, &ignore, &previous), 0);
  struct rlimit limited = saved;
  limited.rlim_cur = 1 << 20;  // room for about a thousand rows
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  const Status reserved = disk->Reserve(2900);
  const Status written = disk->Upsert(Inputs(base, 100, 3000, ids));
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &saved), 0);
  ASSERT_EQ(sigaction(SIGXFSZ, &previous, nullptr), 0);

  EXPECT_EQ(reserved.code(), StatusCode::kNoSpace) << reserved.ToString();
  EXPECT_NE(reserved.message().find("vector file"), std::string::npos) << reserved.message();
  EXPECT_EQ(written.code(), StatusCode::kNoSpace) << written.ToString();
  EXPECT_EQ(disk->size(), 100u);
  EXPECT_FALSE(disk->Contains(IdOf(100)));
  SearchOptions options;
  auto results = disk->Search(base.row(7), options);
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(results->at(0).id, IdOf(7));
  // With room again, the same write goes through.
  ASSERT_TRUE(disk->Upsert(Inputs(base, 100, 3000, ids)).ok());
  EXPECT_EQ(disk->size(), 3000u);
}

}  // namespace
}  // namespace vectord::engine
