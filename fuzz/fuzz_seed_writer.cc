// Writes the binary seed inputs of the fuzz targets with vectord's own
// writers, so the seeds are exactly what the server produces:
//   fuzz_seed_writer OUT_DIR
// creates OUT_DIR/index_file/{small,sq8,empty}.hnsw and OUT_DIR/wal_reader/{one,two}.log
// (the committed corpora under fuzz/corpus/ came from it).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/byte_stream.h"
#include "engine/hnsw_index.h"
#include "service/log_records.h"
#include "store/file_system.h"
#include "store/log_format.h"
#include "store/log_writer.h"

using namespace vectord;

namespace {

void WriteFile(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string Snapshot(engine::Quantization quantization, size_t items) {
  engine::IndexOptions options;
  options.dimension = 4;
  options.metric = engine::Metric::kEuclidean;
  options.m = 4;
  options.quantization = quantization;
  auto index = std::move(engine::HnswIndex::Create(options)).value();
  std::vector<std::string> ids;
  std::vector<std::vector<float>> vectors;
  for (size_t i = 0; i < items; ++i) {
    ids.push_back("item-" + std::to_string(i));
    vectors.push_back({float(i % 7), float(i % 5), float(i % 3), float(i)});
  }
  std::vector<engine::ItemInput> inputs;
  for (size_t i = 0; i < items; ++i) {
    inputs.push_back({ids[i], vectors[i],
                      i % 2 == 0 ? std::optional<std::string_view>("{\"n\":1}") : std::nullopt});
  }
  if (!index->Upsert(inputs).ok()) std::abort();
  std::vector<std::string_view> removed = {"item-3"};
  (void)index->Remove(removed);
  StringSink sink;
  if (!index->Save(sink, 7).ok()) std::abort();
  return sink.buffer();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seed_writer OUT_DIR\n");
    return 2;
  }
  const std::filesystem::path out = argv[1];
  WriteFile(out / "index_file" / "small.hnsw", Snapshot(engine::Quantization::kNone, 12));
  WriteFile(out / "index_file" / "sq8.hnsw", Snapshot(engine::Quantization::kSq8, 12));
  WriteFile(out / "index_file" / "empty.hnsw", Snapshot(engine::Quantization::kNone, 0));

  // A log of each record type, written by LogWriter into a scratch directory.
  const std::filesystem::path scratch = out / "wal-scratch";
  std::filesystem::remove_all(scratch);
  auto writer = store::LogWriter::Open(store::PosixFileSystem(), scratch.string(), 4, 1, nullptr);
  if (!writer.ok()) std::abort();
  std::vector<service::NewItem> items = {{"a", {1, 2, 3, 4}, "{\"k\":\"v\"}"},
                                         {"b", {0, 0, 1, 0}, std::nullopt}};
  std::vector<std::string> ids = {"a"};
  std::vector<uint64_t> cancelled = {1};
  using store::log_format::RecordType;
  if (!(*writer)->Append(RecordType::kUpsert, service::EncodeUpsert(items)).ok() ||
      !(*writer)->Append(RecordType::kDelete, service::EncodeDelete(ids)).ok() ||
      !(*writer)->Append(RecordType::kCancel, service::EncodeCancel(cancelled)).ok() ||
      !(*writer)->SyncAll().ok()) {
    std::abort();
  }
  writer->reset();
  for (const auto& entry : std::filesystem::directory_iterator(scratch)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    WriteFile(out / "wal_reader" / "one.log", bytes);
    // Two segments: the fuzz target splits its input on ff ff ff ff.
    WriteFile(out / "wal_reader" / "two.log", bytes + std::string(4, '\xff') + bytes);
  }
  std::filesystem::remove_all(scratch);
  return 0;
}
