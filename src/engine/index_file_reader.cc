// HnswIndex::Load and PeekLogSequence: read docs/index-file-format.md.
//
// Versions: Load reads the header, then hands the rest of the file to the
// reader of the header's version. Version 1 is the only one so far; a new
// version gets its own Read method here, and the old one stays, tested by
// loading the committed files in tests/engine/testdata/.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/little_endian.h"
#include "engine/hnsw_index.h"
#include "engine/index_file.h"
#include "engine/index_file_sections.h"

namespace vectord::engine {

using index_file::SectionReader;
using index_file::SectionTag;

namespace {

// An exponent of all ones is an infinity or a NaN. No branch per component,
// so the compiler vectorises the loop; kept out of line because GCC 12 left
// it scalar once inlined into its caller.
__attribute__((noinline)) bool AllFinite(const float* v, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, v + i, sizeof bits);
    bad |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}
static_assert(std::endian::native == std::endian::little,
              "level-0 rows are read as in memory; a big-endian host needs a byte swap");

Status BadSlot(uint32_t slot, const std::string& what) {
  return Status::Corruption("slot " + std::to_string(slot) + ": " + what);
}

}  // namespace

// Reads one version-1 file body into a new index. Every check the format
// promises beyond the CRCs is made here (docs/index-file-format.md, "What a
// reader checks").
class IndexFileReader {
 public:
  IndexFileReader(ByteSource& source, const VectorStorage& vectors)
      : source_(source), vectors_(vectors) {}

  Result<std::unique_ptr<HnswIndex>> Read(uint64_t* log_sequence) {
    std::byte bytes[index_file::kHeaderSize];
    VECTORD_RETURN_IF_ERROR(source_.Read(bytes, sizeof bytes));
    Result<index_file::Header> header = index_file::DecodeHeader(bytes);
    if (!header.ok()) return AtHere(header.status().message());
    switch (header->format_version) {
      case 1: return ReadVersion1(*header, log_sequence);
      default:
        return AtHere("unsupported format version " + std::to_string(header->format_version) +
                      " (this build reads 1 to " + std::to_string(index_file::kFormatVersion) +
                      ")");
    }
  }

 private:
  Status AtHere(const std::string& what) const {
    return Status::Corruption(what + " (at byte " + std::to_string(source_.position()) + ")");
  }

  Result<std::unique_ptr<HnswIndex>> ReadVersion1(const index_file::Header& h,
                                                  uint64_t* log_sequence) {
    VECTORD_RETURN_IF_ERROR(CheckHeaderV1(h));
    if (log_sequence != nullptr) *log_sequence = h.log_sequence;
    VECTORD_RETURN_IF_ERROR(ReadNodes());
    storage_->set_slot_count(count_);
    FillLevelTable();
    VECTORD_RETURN_IF_ERROR(ReadLevel0());
    VECTORD_RETURN_IF_ERROR(ReadUpperLevels());
    VECTORD_RETURN_IF_ERROR(ReadIds());
    VECTORD_RETURN_IF_ERROR(ReadPayloads());
    SectionReader end(source_, SectionTag::kEnd);
    VECTORD_RETURN_IF_ERROR(end.ExpectLength(0));
    VECTORD_RETURN_IF_ERROR(end.Finish());
    VECTORD_RETURN_IF_ERROR(CheckStructure());
    VECTORD_RETURN_IF_ERROR(FillIdTable());
    VECTORD_RETURN_IF_ERROR(SetEntryPoint());
    Finish();
    return std::move(index_);
  }

  Status CheckHeaderV1(const index_file::Header& h) {
    IndexOptions options = index_file::OptionsOf(h);
    Status valid = ValidateOptions(options);
    if (!valid.ok()) return AtHere("bad header: " + valid.message());
    // Where the vectors go is the caller's choice, not the file's: checked
    // as an argument, not as corruption.
    options.vectors = vectors_;
    VECTORD_RETURN_IF_ERROR(ValidateOptions(options));
    VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<VectorFile> file, HnswIndex::MakeVectorFile(options));
    index_.reset(new HnswIndex(options, std::move(file)));
    storage_ = &index_->storage_;
    if (h.row_bytes != storage_->layout().file_row_bytes) {
      return AtHere("row size does not match parameters");
    }
    index_->graph_.set_rng_state(h.rng_state);
    count_ = h.slot_count;
    live_count_ = h.live_count;
    max_level_ = h.max_level;
    entry_slot_ = h.entry_point;
    if (count_ > SlotStorage::kMaxSlots) return AtHere("slot count out of range");
    if (live_count_ > count_) return AtHere("live count exceeds slot count");
    empty_ = entry_slot_ == index_file::kNoEntryPoint;
    if (empty_ != (max_level_ == -1) || max_level_ < -1 || max_level_ > kMaxLevel ||
        (!empty_ && entry_slot_ >= count_)) {
      return AtHere("bad entry point");
    }
    return Status::Ok();
  }

  // Section 1, read chunk by chunk so that memory follows the input.
  Status ReadNodes() {
    SectionReader section(source_, SectionTag::kNodes);
    VECTORD_RETURN_IF_ERROR(section.ExpectLength(uint64_t{count_} * index_file::kNodeRecordSize));
    std::byte record[index_file::kNodeRecordSize];
    for (uint32_t slot = 0; slot < count_; ++slot) {
      if (((slot + 64) & (slot + 63)) == 0) {  // first slot of a chunk
        VECTORD_RETURN_IF_ERROR(storage_->EnsureCapacity(slot + 1));
      }
      VECTORD_RETURN_IF_ERROR(section.Read(record, sizeof(record)));
      const auto state = static_cast<uint8_t>(record[0]);
      const auto level = static_cast<uint8_t>(record[1]);
      const auto has_payload = static_cast<uint8_t>(record[2]);
      const auto free = static_cast<uint8_t>(SlotState::kFree);
      if (state != free && state != static_cast<uint8_t>(SlotState::kLive) &&
          state != static_cast<uint8_t>(SlotState::kDeleted)) {
        return section.Corruption("slot " + std::to_string(slot) + " has bad state " +
                                  std::to_string(state));
      }
      if (level > max_level_ || level > kMaxLevel || has_payload > 1 ||
          (state == free && (level != 0 || has_payload != 0))) {
        return section.Corruption("slot " + std::to_string(slot) + " has a bad level or flags");
      }
      float norm;
      const uint32_t norm_bits = little_endian::GetU32(record + 4);
      std::memcpy(&norm, &norm_bits, 4);
      if (state != free && !(std::isfinite(norm) && norm > 0)) {
        return section.Corruption("slot " + std::to_string(slot) + " has a bad norm");
      }
      SlotStorage::Node& node = storage_->NodeOf(slot);
      node.state.store(state, std::memory_order_relaxed);
      node.level = level;
      node.has_payload = has_payload;
      node.norm = norm;
    }
    return section.Finish();
  }

  // Every link is checked against its target's level: one byte a slot in a
  // flat array (-1 free) stays in cache where the nodes, reached through
  // their chunks, would not.
  void FillLevelTable() {
    level_of_.resize(count_);
    for (uint32_t slot = 0; slot < count_; ++slot) {
      const bool is_free = storage_->Is(slot, SlotState::kFree);
      level_of_[slot] = is_free ? int8_t{-1} : static_cast<int8_t>(storage_->LevelOf(slot));
      has_free_slots_ = has_free_slots_ || is_free;
    }
  }

  Status CheckLinks(uint32_t slot, int level, bool is_free) const {
    const uint32_t* links = storage_->LinksOf(slot, level);
    const uint32_t capacity =
        level == 0 ? storage_->layout().level0_capacity : storage_->layout().upper_capacity;
    if (links[0] > capacity) return BadSlot(slot, "too many links");
    if (is_free && links[0] != 0) return BadSlot(slot, "free slot has links");
    // Every slot has level 0, so only free targets can fail there: without
    // any, the level lookups (a cache miss each on a large index) are skipped.
    if (level == 0 && !has_free_slots_) {
      uint32_t highest = 0;
      for (uint32_t i = 0; i < links[0]; ++i) highest = std::max(highest, links[1 + i]);
      if (links[0] != 0 && highest >= count_) return BadSlot(slot, "link to an invalid slot");
      return Status::Ok();
    }
    for (uint32_t i = 0; i < links[0]; ++i) {
      const uint32_t target = links[1 + i];
      if (target >= count_ || level_of_[target] < level) {
        return BadSlot(slot, "link to an invalid slot");
      }
    }
    return Status::Ok();
  }

  // Section 2: level-0 rows. Where the index keeps them as the file does
  // (a float index), straight into the chunks; otherwise (SQ8: the links
  // live beside the codes) through a buffer, each row's vector to its float
  // row and its links to its code row. Either way a step at a time, checked
  // (vectors finite, links in range) while the step is still in cache:
  // checking after the whole section would read it all from memory again.
  Status ReadLevel0() {
    const SlotLayout& layout = storage_->layout();
    const size_t file_row = layout.file_row_bytes;
    SectionReader section(source_, SectionTag::kLevel0);
    VECTORD_RETURN_IF_ERROR(section.ExpectLength(uint64_t{count_} * file_row));
    constexpr size_t kStepBytes = 256 << 10;
    const uint32_t step_rows = static_cast<uint32_t>(std::max<size_t>(1, kStepBytes / file_row));
    const bool in_place = layout.row_bytes == file_row;
    std::vector<std::byte> buffer(in_place ? 0 : static_cast<size_t>(step_rows) * file_row);
    uint32_t done = 0;
    for (int c = 0; c < SlotStorage::kChunkCount && done < count_; ++c) {
      SlotStorage::Chunk* chunk = storage_->chunk(c);
      const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(chunk->slots, count_ - done));
      for (uint32_t first = 0; first < n; first += step_rows) {
        const uint32_t rows = std::min(step_rows, n - first);
        std::byte* step =
            in_place ? chunk->rows + static_cast<size_t>(first) * file_row : buffer.data();
        VECTORD_RETURN_IF_ERROR(section.Read(step, static_cast<size_t>(rows) * file_row));
        VECTORD_RETURN_IF_ERROR(CheckLevel0Rows(step, done + first, rows));
      }
      done += n;
    }
    return section.Finish();
  }

  Status CheckLevel0Rows(const std::byte* step, uint32_t first_slot, uint32_t rows) {
    const SlotLayout& layout = storage_->layout();
    const size_t vector_bytes = layout.vector_floats * sizeof(float);
    const size_t link_bytes = (1 + layout.level0_capacity) * sizeof(uint32_t);
    const bool in_place = layout.row_bytes == layout.file_row_bytes;
    for (uint32_t i = 0; i < rows; ++i) {
      const uint32_t slot = first_slot + i;
      const std::byte* row = step + static_cast<size_t>(i) * layout.file_row_bytes;
      if (!in_place) {
        std::memcpy(storage_->VectorOf(slot), row, vector_bytes);
        std::memcpy(storage_->Level0LinksOf(slot), row + vector_bytes, link_bytes);
      }
      const bool is_free = level_of_[slot] < 0;
      VECTORD_RETURN_IF_ERROR(CheckLinks(slot, 0, is_free));
      if (!is_free && !AllFinite(reinterpret_cast<const float*>(row), index_->options_.dimension)) {
        return BadSlot(slot, "non-finite vector component");
      }
    }
    return Status::Ok();
  }

  // Section 3: upper-level links.
  Status ReadUpperLevels() {
    const uint32_t words_per_level = storage_->layout().upper_capacity + 1;
    uint64_t expected = 0;
    for (uint32_t slot = 0; slot < count_; ++slot) {
      expected += uint64_t{storage_->LevelOf(slot)} * words_per_level * 4;
    }
    SectionReader section(source_, SectionTag::kUpperLevels);
    VECTORD_RETURN_IF_ERROR(section.ExpectLength(expected));
    for (uint32_t slot = 0; slot < count_; ++slot) {
      const uint8_t level = storage_->LevelOf(slot);
      if (level == 0) continue;
      const size_t words = static_cast<size_t>(level) * words_per_level;
      auto links = std::make_unique<uint32_t[]>(words);
      VECTORD_RETURN_IF_ERROR(section.Read(links.get(), words * 4));
      storage_->UpperLinksOf(slot) = std::move(links);
    }
    return section.Finish();
  }

  // Section 4: ids.
  Status ReadIds() {
    SectionReader section(source_, SectionTag::kIds);
    VECTORD_RETURN_IF_ERROR(section.status());
    std::string id;
    for (uint32_t slot = 0; slot < count_; ++slot) {
      uint32_t length;
      VECTORD_RETURN_IF_ERROR(section.ReadU32(&length));
      const bool is_free = storage_->Is(slot, SlotState::kFree);
      if (is_free != (length == 0)) {
        return section.Corruption("slot " + std::to_string(slot) +
                                  (is_free ? " is free but has an id" : " has an empty id"));
      }
      VECTORD_RETURN_IF_ERROR(section.ReadString(length, &id));
      storage_->SetId(slot, id);
    }
    return section.Finish();
  }

  // Section 5: payloads.
  Status ReadPayloads() {
    SectionReader section(source_, SectionTag::kPayloads);
    VECTORD_RETURN_IF_ERROR(section.status());
    for (uint32_t slot = 0; slot < count_; ++slot) {
      if (!storage_->NodeOf(slot).has_payload) continue;
      uint32_t length;
      VECTORD_RETURN_IF_ERROR(section.ReadU32(&length));
      VECTORD_RETURN_IF_ERROR(section.ReadString(length, &storage_->MakePayload(slot)));
    }
    return section.Finish();
  }

  // Everything the CRCs cannot vouch for (level 0 was checked as it was
  // read); sorts the slots into free, tombstones and live, and sums the
  // memory counters while each slot is in cache.
  Status CheckStructure() {
    pending_ids_.reserve(live_count_);
    SlotStorage::HeapBytes heap;
    for (uint32_t slot = 0; slot < count_; ++slot) {
      const bool is_free = storage_->Is(slot, SlotState::kFree);
      const int level = storage_->LevelOf(slot);
      for (int l = 1; l <= level; ++l) VECTORD_RETURN_IF_ERROR(CheckLinks(slot, l, is_free));
      if (is_free) {
        index_->free_slots_.push_back(slot);
        continue;
      }
      heap.Add(storage_->HeapBytesOf(slot));
      if (storage_->Is(slot, SlotState::kDeleted)) {
        index_->tombstones_.push_back(slot);
        continue;
      }
      pending_ids_.push_back({SlotIdTable::HashOf(storage_->IdOf(slot)), slot});
    }
    if (pending_ids_.size() != live_count_) {
      return Status::Corruption("live count does not match the slots");
    }
    storage_->SetHeapBytes(heap);
    return Status::Ok();
  }

  // The id table, filled after the pass with its buckets fetched ahead.
  Status FillIdTable() {
    SlotIdTable& table = index_->slot_by_id_;
    table.Reserve(live_count_);
    auto id_of = [this](uint32_t s) { return std::string_view(storage_->IdOf(s)); };
    constexpr size_t kPrefetchAhead = 16;
    for (size_t i = 0; i < pending_ids_.size(); ++i) {
      if (i + kPrefetchAhead < pending_ids_.size()) {
        table.Prefetch(pending_ids_[i + kPrefetchAhead].first);
      }
      const auto [hash, slot] = pending_ids_[i];
      if (table.Assign(id_of(slot), hash, slot, id_of)) return BadSlot(slot, "duplicate id");
    }
    return Status::Ok();
  }

  Status SetEntryPoint() {
    if (empty_) {
      if (index_->free_slots_.size() != count_) {
        return Status::Corruption("graph has nodes but no entry point");
      }
      return Status::Ok();
    }
    if (storage_->Is(entry_slot_, SlotState::kFree) ||
        storage_->LevelOf(entry_slot_) != max_level_) {
      return Status::Corruption("entry point is not a node of the top level");
    }
    index_->graph_.set_entry(HnswGraph::PackEntry(max_level_, entry_slot_));
    return Status::Ok();
  }

  void Finish() {
    HnswIndex& ix = *index_;
    std::sort(ix.free_slots_.begin(), ix.free_slots_.end(), std::greater<>());
    ix.live_count_.store(pending_ids_.size(), std::memory_order_release);
    // Codes are not stored: they follow from the vectors, and a range learnt
    // from everything the index now holds is at least as good as the old one.
    if (ix.options_.quantization == Quantization::kSq8 &&
        pending_ids_.size() >= kQuantizerTrainingItems) {
      ix.TrainQuantizer();
    }
    // The load wrote every vector through the mapping: hand those pages to
    // the page cache, so that memory holds only what the index keeps there.
    storage_->ReleaseResidentRows();
    ix.tombstone_count_.store(ix.tombstones_.size(), std::memory_order_release);
  }

  ByteSource& source_;
  const VectorStorage& vectors_;
  std::unique_ptr<HnswIndex> index_;
  SlotStorage* storage_ = nullptr;
  uint32_t count_ = 0;
  uint32_t live_count_ = 0;
  int32_t max_level_ = -1;
  uint32_t entry_slot_ = index_file::kNoEntryPoint;
  bool empty_ = true;
  std::vector<int8_t> level_of_;
  bool has_free_slots_ = false;
  // (hash, slot) of every live id, put in the id table after the pass.
  std::vector<std::pair<uint32_t, uint32_t>> pending_ids_;
};

Result<std::unique_ptr<HnswIndex>> HnswIndex::Load(ByteSource& source, uint64_t* log_sequence,
                                                   const VectorStorage& vectors) {
  return IndexFileReader(source, vectors).Read(log_sequence);
}

Result<uint64_t> HnswIndex::PeekLogSequence(std::string_view header_bytes) {
  if (header_bytes.size() < index_file::kHeaderSize) {
    return Status::Corruption("index file shorter than its header");
  }
  VECTORD_ASSIGN_OR_RETURN(
      const index_file::Header header,
      index_file::DecodeHeader(reinterpret_cast<const std::byte*>(header_bytes.data())));
  if (header.format_version < 1 || header.format_version > index_file::kFormatVersion) {
    return Status::Corruption("unsupported index format version " +
                              std::to_string(header.format_version));
  }
  return header.log_sequence;
}

}  // namespace vectord::engine
