#include "engine/index_file.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/crc32c.h"
#include "engine/hnsw_index.h"
#include "test_vectors.h"

namespace vectord::engine {
namespace {

using testing::ClusteredVectors;
using testing::IdOf;
using testing::VectorSet;

// An index with every slot state in it: live items with and without
// payloads, tombstones, and free (consolidated) slots.
std::unique_ptr<HnswIndex> BuildMixedIndex(const VectorSet& base, Metric metric,
                                           Quantization quantization = Quantization::kNone) {
  IndexOptions options;
  options.dimension = static_cast<uint32_t>(base.dim);
  options.metric = metric;
  options.m = 8;
  options.ef_construction = 40;
  options.ef_search = 33;
  options.quantization = quantization;
  auto index = std::move(HnswIndex::Create(options)).value();
  std::vector<std::string> ids(base.size()), payloads(base.size());
  std::vector<ItemInput> items;
  for (size_t i = 0; i < base.size(); ++i) {
    ids[i] = IdOf(i);
    payloads[i] = "{\"n\":" + std::to_string(i) + "}";
    std::optional<std::string_view> payload;
    if (i % 3 != 0) payload = payloads[i];
    items.push_back({ids[i], base.row(i), payload});
  }
  EXPECT_TRUE(index->Upsert(items).ok());
  std::vector<std::string_view> first(ids.begin(), ids.begin() + 10);
  index->Remove(first);
  index->Consolidate();
  std::vector<std::string_view> second(ids.begin() + 10, ids.begin() + 15);
  index->Remove(second);
  return index;
}

std::string Serialize(const HnswIndex& index) {
  StringSink sink;
  EXPECT_TRUE(index.Save(sink).ok());
  return sink.buffer();
}

Result<std::unique_ptr<HnswIndex>> LoadBytes(std::string_view bytes) {
  StringSource source(bytes);
  return HnswIndex::Load(source);
}

TEST(IndexFile, RoundTripKeepsEverything) {
  for (Metric metric : {Metric::kCosine, Metric::kEuclidean, Metric::kDot}) {
    VectorSet base = ClusteredVectors(300, 12, 5, 31);
    auto index = BuildMixedIndex(base, metric);
    std::string bytes = Serialize(*index);
    auto loaded = LoadBytes(bytes);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    HnswIndex& copy = **loaded;
    EXPECT_EQ(copy.size(), index->size());
    EXPECT_EQ(copy.slot_count(), index->slot_count());
    EXPECT_EQ(copy.tombstone_count(), index->tombstone_count());
    EXPECT_EQ(copy.options().ef_search, 33u);
    EXPECT_EQ(copy.options().metric, metric);
    for (size_t i = 0; i < base.size(); ++i) {
      auto a = index->Get(IdOf(i));
      auto b = copy.Get(IdOf(i));
      ASSERT_EQ(a.has_value(), b.has_value()) << i;
      if (!a) continue;
      EXPECT_EQ(a->vector, b->vector);
      EXPECT_EQ(a->payload, b->payload);
    }
    for (size_t q = 0; q < 20; ++q) {
      SearchOptions options;
      options.k = 7;
      auto ra = index->Search(base.row(q * 11), options);
      auto rb = copy.Search(base.row(q * 11), options);
      ASSERT_TRUE(ra.ok() && rb.ok());
      ASSERT_EQ(ra->size(), rb->size());
      for (size_t i = 0; i < ra->size(); ++i) {
        EXPECT_EQ((*ra)[i].id, (*rb)[i].id);
        EXPECT_EQ((*ra)[i].distance, (*rb)[i].distance);
      }
    }
    // Saving the loaded copy gives the same bytes: nothing was lost or invented.
    EXPECT_EQ(Serialize(copy), bytes);
    // And it keeps working as an index: free slots are reused.
    std::vector<float> v(12, 0.5f);
    ASSERT_TRUE(copy.Upsert(std::vector<ItemInput>{{"new", v, std::nullopt}}).ok());
    EXPECT_EQ(copy.slot_count(), index->slot_count());
  }
}

TEST(IndexFile, Sq8IndexReloadsWithItsCodesRebuilt) {
  VectorSet base = ClusteredVectors(kQuantizerTrainingItems + 300, 24, 8, 32);
  auto index = BuildMixedIndex(base, Metric::kEuclidean, Quantization::kSq8);
  std::string bytes = Serialize(*index);
  auto loaded = LoadBytes(bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  HnswIndex& copy = **loaded;
  EXPECT_EQ(copy.options().quantization, Quantization::kSq8);
  EXPECT_GT(copy.memory_usage().code_bytes, 0u);
  EXPECT_EQ(Serialize(copy), bytes);
  // The codes were learnt afresh, so a walk may differ in a rare tie; the
  // re-ranked answers must still agree on nearly every item.
  size_t same = 0, total = 0;
  for (size_t q = 0; q < 50; ++q) {
    SearchOptions options;
    options.k = 10;
    auto ra = index->Search(base.row(q * 17 + 20), options);
    auto rb = copy.Search(base.row(q * 17 + 20), options);
    ASSERT_TRUE(ra.ok() && rb.ok());
    ASSERT_EQ(ra->size(), rb->size());
    for (size_t i = 0; i < ra->size(); ++i) {
      ++total;
      for (const SearchResult& r : *rb) same += r.id == (*ra)[i].id;
    }
  }
  EXPECT_GE(static_cast<double>(same) / static_cast<double>(total), 0.98);
}

// Exactness of the codes is not stored: Load learns the codes afresh and
// finds it again, or not when one item lies off the grid.
TEST(IndexFile, Sq8ExactCodesAreFoundAgainOnLoad) {
  VectorSet base = testing::IntegerVectors(kQuantizerTrainingItems + 300, 24, 8, 34);
  auto exact = BuildMixedIndex(base, Metric::kEuclidean, Quantization::kSq8);
  ASSERT_TRUE(exact->codes_exact());
  std::string bytes = Serialize(*exact);
  auto loaded = LoadBytes(bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE((*loaded)->codes_exact());

  std::vector<float> odd(base.row(500).begin(), base.row(500).end());
  odd[3] += 0.5f;
  ASSERT_TRUE(exact->Upsert(std::vector<ItemInput>{{"odd", odd, std::nullopt}}).ok());
  EXPECT_FALSE(exact->codes_exact());
  std::string odd_bytes = Serialize(*exact);
  auto odd_loaded = LoadBytes(odd_bytes);
  ASSERT_TRUE(odd_loaded.ok()) << odd_loaded.status().ToString();
  EXPECT_FALSE((*odd_loaded)->codes_exact());
  SearchOptions options;
  options.k = 1;
  auto nearest = (*odd_loaded)->Search(odd, options);
  ASSERT_TRUE(nearest.ok() && nearest->size() == 1u);
  EXPECT_EQ((*nearest)[0].id, "odd");
  EXPECT_NEAR((*nearest)[0].distance, 0.0, 1e-6);
}

TEST(IndexFile, UnknownQuantizationIsRefused) {
  VectorSet base = ClusteredVectors(20, 4, 2, 33);
  std::string bytes = Serialize(*BuildMixedIndex(base, Metric::kCosine));
  bytes[21] = 7;
  // Re-seal the header so only the quantization byte is wrong.
  uint32_t crc = crc32c::Mask(crc32c::Value(reinterpret_cast<const std::byte*>(bytes.data()), 124));
  for (int i = 0; i < 4; ++i) bytes[124 + i] = static_cast<char>(crc >> (8 * i));
  auto loaded = LoadBytes(bytes);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("quantization"), std::string::npos)
      << loaded.status().ToString();
}

TEST(IndexFile, EmptyIndexRoundTrips) {
  IndexOptions options;
  options.dimension = 5;
  auto index = std::move(HnswIndex::Create(options)).value();
  std::string bytes = Serialize(*index);
  auto loaded = LoadBytes(bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->size(), 0u);
}

TEST(IndexFile, EveryTruncationIsAnError) {
  VectorSet base = ClusteredVectors(40, 4, 3, 32);
  std::string bytes = Serialize(*BuildMixedIndex(base, Metric::kEuclidean));
  for (size_t length = 0; length < bytes.size(); ++length) {
    auto loaded = LoadBytes(std::string_view(bytes).substr(0, length));
    ASSERT_FALSE(loaded.ok()) << "accepted a file cut at " << length;
    EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption);
  }
}

TEST(IndexFile, EveryFlippedByteIsAnError) {
  VectorSet base = ClusteredVectors(40, 4, 3, 33);
  std::string bytes = Serialize(*BuildMixedIndex(base, Metric::kCosine));
  for (size_t pos = 0; pos < bytes.size(); ++pos) {
    std::string damaged = bytes;
    damaged[pos] = static_cast<char>(damaged[pos] ^ 0x5a);
    auto loaded = LoadBytes(damaged);
    ASSERT_FALSE(loaded.ok()) << "accepted a flipped byte at " << pos;
    EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption);
  }
}

TEST(IndexFile, TrailingBytesAreRefusedOrIgnoredExplicitly) {
  // Load reads exactly one index; what follows belongs to the caller (the
  // store checks that the file ends there). Reading stops at the end marker.
  VectorSet base = ClusteredVectors(20, 4, 2, 34);
  std::string bytes = Serialize(*BuildMixedIndex(base, Metric::kEuclidean));
  std::string longer = bytes + "extra";
  StringSource source(longer);
  ASSERT_TRUE(HnswIndex::Load(source).ok());
  EXPECT_EQ(source.position(), bytes.size());
}

// Damages one 4-byte word of a slot's level-0 row in a serialized index of
// `slots` slots at dimension 4, then recomputes the section's CRC, so that
// only Load's structural checks can catch it. `word` counts from the row's
// start: 16 floats (dimension 4 padded to a cache line), the link count, the
// links.
std::string DamageLevel0Row(std::string bytes, size_t slots, size_t slot, size_t word,
                            uint32_t value) {
  const size_t section1 = 12 + slots * index_file::kNodeRecordSize + 4;
  const size_t level0_payload = index_file::kHeaderSize + section1 + 12;
  const size_t row_bytes = ((16 * 4 + (1 + 16) * 4) + 63) / 64 * 64;
  std::memcpy(bytes.data() + level0_payload + slot * row_bytes + word * 4, &value, 4);
  const size_t level0_length = slots * row_bytes;
  uint32_t crc = crc32c::Mask(crc32c::Value(bytes.data() + level0_payload, level0_length));
  std::memcpy(bytes.data() + level0_payload + level0_length, &crc, 4);
  return bytes;
}

std::string LoadError(const std::string& bytes) {
  auto loaded = LoadBytes(bytes);
  if (loaded.ok()) return "loaded";
  EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption);
  return loaded.status().message();
}

// A file whose checksums are right but whose graph is not (as a buggy writer
// or a crafted file could produce) is refused by the structural checks.
TEST(IndexFile, ValidChecksumsDoNotExcuseABadGraph) {
  VectorSet base = ClusteredVectors(30, 4, 2, 35);
  // Slots 0-9 are free (removed, then consolidated); 20 is live.
  const std::string bytes = Serialize(*BuildMixedIndex(base, Metric::kEuclidean));
  const size_t first_link = 16 + 1;
  EXPECT_NE(LoadError(DamageLevel0Row(bytes, 30, 20, first_link, 1000000))
                .find("link to an invalid slot"),
            std::string::npos);
  EXPECT_NE(
      LoadError(DamageLevel0Row(bytes, 30, 20, first_link, 3)).find("link to an invalid slot"),
      std::string::npos)
      << "a link to a free slot";
  EXPECT_NE(LoadError(DamageLevel0Row(bytes, 30, 20, 16, 17)).find("too many links"),
            std::string::npos);
  EXPECT_NE(LoadError(DamageLevel0Row(bytes, 30, 3, 16, 1)).find("free slot has links"),
            std::string::npos);
  EXPECT_NE(LoadError(DamageLevel0Row(bytes, 30, 20, 2, 0x7fc00000u)).find("non-finite"),
            std::string::npos)
      << "a NaN component";
  EXPECT_NE(LoadError(DamageLevel0Row(bytes, 30, 25, 0, 0xff800000u)).find("non-finite"),
            std::string::npos)
      << "minus infinity";
  // A free slot's vector is not read: its content does not matter.
  EXPECT_EQ(LoadError(DamageLevel0Row(bytes, 30, 3, 0, 0x7fc00000u)), "loaded");
}

// Without free slots Load checks level-0 links by range alone.
TEST(IndexFile, ValidChecksumsDoNotExcuseALinkOutOfRangeInAFullIndex) {
  VectorSet base = ClusteredVectors(30, 4, 2, 36);
  IndexOptions options;
  options.dimension = 4;
  options.m = 8;
  options.ef_construction = 40;
  auto index = std::move(HnswIndex::Create(options)).value();
  std::vector<std::string> ids(base.size());
  std::vector<ItemInput> items;
  for (size_t i = 0; i < base.size(); ++i) {
    ids[i] = IdOf(i);
    items.push_back({ids[i], base.row(i), std::nullopt});
  }
  ASSERT_TRUE(index->Upsert(items).ok());
  const std::string bytes = Serialize(*index);
  ASSERT_EQ(LoadError(bytes), "loaded");
  for (uint32_t target : {30u, 31u, 0xffffffffu}) {
    for (size_t slot : {size_t{0}, size_t{29}}) {
      EXPECT_NE(LoadError(DamageLevel0Row(bytes, 30, slot, 16 + 2, target))
                    .find("link to an invalid slot"),
                std::string::npos)
          << "slot " << slot << " linked to " << target;
    }
  }
}

// ---------------------------------------------------------------------------
// Files written by earlier format versions load in this build. Each
// committed file in tests/engine/testdata/ was written by the writer of its
// version (DISABLED_WriteVersion1Files, run at 3f45bac, the last commit
// before the engine was split); the test rebuilds the same index with
// today's code and checks that the old file holds the same items and
// answers searches as well.

struct CommittedFile {
  const char* name;
  Metric metric;
  Quantization quantization;
  bool integers;  // IntegerVectors instead of ClusteredVectors
  size_t count;
  size_t dim;
  uint64_t seed;
};

constexpr CommittedFile kVersion1Files[] = {
    {"v1-cosine-mixed.hnsw", Metric::kCosine, Quantization::kNone, false, 120, 12, 41},
    {"v1-dot-mixed.hnsw", Metric::kDot, Quantization::kNone, false, 90, 7, 43},
    {"v1-euclidean-sq8-integers.hnsw", Metric::kEuclidean, Quantization::kSq8, true, 1040, 4, 42},
};

VectorSet VectorsOf(const CommittedFile& file) {
  return file.integers ? testing::IntegerVectors(file.count, file.dim, 6, file.seed)
                       : ClusteredVectors(file.count, file.dim, 5, file.seed);
}

std::string TestdataPath(const char* name) {
  return std::string(VECTORD_SOURCE_DIR) + "/tests/engine/testdata/" + name;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// Writes the committed files. Run by hand, with the writer of the version
// the files are for: engine_tests --gtest_also_run_disabled_tests
//   --gtest_filter='*WriteVersion1Files' (VECTORD_TESTDATA_OUT=dir).
TEST(IndexFileVersions, DISABLED_WriteVersion1Files) {
  const char* out = std::getenv("VECTORD_TESTDATA_OUT");
  ASSERT_NE(out, nullptr) << "set VECTORD_TESTDATA_OUT to the directory to write";
  for (const CommittedFile& file : kVersion1Files) {
    auto index = BuildMixedIndex(VectorsOf(file), file.metric, file.quantization);
    std::ofstream(std::string(out) + "/" + file.name, std::ios::binary) << Serialize(*index);
  }
  IndexOptions options;
  options.dimension = 5;
  auto empty = std::move(HnswIndex::Create(options)).value();
  std::ofstream(std::string(out) + "/v1-empty.hnsw", std::ios::binary) << Serialize(*empty);
}

TEST(IndexFileVersions, Version1FilesLoadWithEveryItem) {
  for (const CommittedFile& file : kVersion1Files) {
    SCOPED_TRACE(file.name);
    const std::string bytes = ReadWholeFile(TestdataPath(file.name));
    ASSERT_GT(bytes.size(), index_file::kHeaderSize);
    auto loaded = LoadBytes(bytes);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    HnswIndex& old = **loaded;
    const VectorSet base = VectorsOf(file);
    auto today = BuildMixedIndex(base, file.metric, file.quantization);
    EXPECT_EQ(old.size(), today->size());
    EXPECT_EQ(old.tombstone_count(), today->tombstone_count());
    EXPECT_EQ(old.options().metric, file.metric);
    EXPECT_EQ(old.options().quantization, file.quantization);
    EXPECT_EQ(old.options().ef_search, 33u);
    for (size_t i = 0; i < base.size(); ++i) {
      auto a = today->Get(IdOf(i));
      auto b = old.Get(IdOf(i));
      ASSERT_EQ(a.has_value(), b.has_value()) << IdOf(i);
      if (!a) continue;
      EXPECT_EQ(a->vector, b->vector) << IdOf(i);
      EXPECT_EQ(a->payload, b->payload) << IdOf(i);
    }
    // Searches on the old file find what an exact scan finds.
    size_t found = 0, wanted = 0;
    for (size_t q = 20; q < base.size(); q += 37) {
      SearchOptions options;
      options.k = 5;
      auto approximate = old.Search(base.row(q), options);
      options.exact = true;
      auto exact = old.Search(base.row(q), options);
      ASSERT_TRUE(approximate.ok() && exact.ok());
      for (const SearchResult& e : *exact) {
        ++wanted;
        for (const SearchResult& r : *approximate) found += r.id == e.id;
      }
    }
    EXPECT_GE(static_cast<double>(found), 0.9 * static_cast<double>(wanted));
    // While version 1 is the version written, saving gives the file back.
    if (index_file::kFormatVersion == 1) {
      EXPECT_EQ(Serialize(old), bytes);
    }
  }
  auto empty = LoadBytes(ReadWholeFile(TestdataPath("v1-empty.hnsw")));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ((*empty)->size(), 0u);
  EXPECT_EQ((*empty)->options().dimension, 5u);
}

TEST(IndexFileVersions, AFutureVersionIsRefusedNamingBoth) {
  std::string bytes = ReadWholeFile(TestdataPath("v1-empty.hnsw"));
  ASSERT_EQ(bytes.size() > index_file::kHeaderSize, true);
  auto* header = reinterpret_cast<std::byte*>(bytes.data());
  index_file::Header decoded = std::move(index_file::DecodeHeader(header)).value();
  decoded.format_version = index_file::kFormatVersion + 1;
  const index_file::HeaderBytes resealed = index_file::EncodeHeader(decoded);
  std::memcpy(bytes.data(), resealed.data(), resealed.size());
  const std::string error = LoadError(bytes);
  EXPECT_NE(
      error.find("unsupported format version " + std::to_string(index_file::kFormatVersion + 1)),
      std::string::npos)
      << error;
  EXPECT_NE(error.find("this build reads 1 to " + std::to_string(index_file::kFormatVersion)),
            std::string::npos)
      << error;
  EXPECT_FALSE(HnswIndex::PeekLogSequence(bytes).ok());
}

TEST(IndexFileVersions, HeaderFieldsSitWhereTheSpecSays) {
  index_file::Header h;
  h.dimension = 0x01020304;
  h.m = 16;
  h.slot_count = 7;
  h.max_level = -1;
  h.log_sequence = 0x1122334455667788ull;
  const index_file::HeaderBytes bytes = index_file::EncodeHeader(h);
  auto u32_at = [&](size_t at) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(bytes[at + i]) << (8 * i);
    return v;
  };
  // Offsets as literals, from docs/index-file-format.md, not the constants.
  EXPECT_EQ(std::memcmp(bytes.data(), "VDHNSW\0\1", 8), 0);
  EXPECT_EQ(u32_at(8), 1u);
  EXPECT_EQ(u32_at(12), 128u);
  EXPECT_EQ(u32_at(16), 0x01020304u);
  EXPECT_EQ(u32_at(24), 16u);
  EXPECT_EQ(u32_at(48), 7u);
  EXPECT_EQ(u32_at(56), 0xffffffffu);
  EXPECT_EQ(u32_at(64), 0x55667788u);
  EXPECT_EQ(u32_at(68), 0x11223344u);
  auto decoded = index_file::DecodeHeader(bytes.data());
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->dimension, h.dimension);
  EXPECT_EQ(decoded->max_level, -1);
  EXPECT_EQ(decoded->log_sequence, h.log_sequence);
}

}  // namespace
}  // namespace vectord::engine
