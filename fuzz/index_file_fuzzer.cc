// Fuzz target: the index snapshot loader (docs/index-file-format.md). Any
// input must load or fail with Corruption; never crash, hang or allocate
// without bound. A loaded index must answer a search and save again, and its
// re-saved bytes must load to an index of the same size.
//
// Fuzzing builds accept any stored checksum (common/crc32c.h), so mutations
// of the seed snapshots reach the section parsing behind them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "common/byte_stream.h"
#include "engine/hnsw_index.h"

using namespace vectord;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  StringSource source(std::string_view(reinterpret_cast<const char*>(data), size));
  auto index = engine::HnswIndex::Load(source);
  if (!index.ok()) {
    if (index.status().code() != StatusCode::kCorruption) std::abort();
    return 0;
  }
  engine::HnswIndex& loaded = **index;
  std::vector<float> query(loaded.options().dimension, 0.5f);
  engine::SearchOptions options;
  options.k = 5;
  (void)loaded.Search(query, options);
  StringSink sink;
  if (!loaded.Save(sink).ok()) std::abort();
  StringSource again(sink.buffer());
  auto reloaded = engine::HnswIndex::Load(again);
  if (!reloaded.ok() || (*reloaded)->size() != loaded.size()) std::abort();
  return 0;
}
