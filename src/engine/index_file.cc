// HnswIndex::Save and HnswIndex::Load: the index file format of
// docs/index-file-format.md.
#include "engine/index_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/crc32c.h"
#include "engine/hnsw_index.h"

namespace vectord::engine {
namespace {

using index_file::SectionTag;

// Little-endian field access; x86-64 is little-endian, but the format should
// not depend on the host.
void PutU32(std::byte* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
void PutU64(std::byte* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
uint32_t GetU32(const std::byte* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}
uint64_t GetU64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}
// An exponent of all ones is an infinity or a NaN. No branch per component,
// so the compiler vectorises the loop; kept out of line because GCC 12 left
// it scalar once inlined into Load.
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
              "level-0 rows are written as in memory; a big-endian host needs a byte swap");

// Writes one framed section: tag, length, payload (streamed), masked CRC.
class SectionWriter {
 public:
  SectionWriter(ByteSink& sink, SectionTag tag, uint64_t length) : sink_(sink), length_(length) {
    std::byte head[12];
    PutU32(head, static_cast<uint32_t>(tag));
    PutU64(head + 4, length);
    status_ = sink_.Write(head, sizeof(head));
  }
  void Append(const void* data, size_t size) {
    if (!status_.ok()) return;
    crc_ = crc32c::Extend(crc_, data, size);
    written_ += size;
    status_ = sink_.Write(data, size);
  }
  void AppendU32(uint32_t v) {
    std::byte b[4];
    PutU32(b, v);
    Append(b, 4);
  }
  Status Finish() {
    if (!status_.ok()) return status_;
    if (written_ != length_) {
      return Status::Internal("section length mismatch: declared " + std::to_string(length_) +
                              ", wrote " + std::to_string(written_));
    }
    std::byte b[4];
    PutU32(b, crc32c::Mask(crc_));
    return sink_.Write(b, 4);
  }

 private:
  ByteSink& sink_;
  uint64_t length_;
  uint64_t written_ = 0;
  uint32_t crc_ = 0;
  Status status_;
};

// Reads one framed section, checking tag, declared length and CRC. Reads
// never run past the declared length, so a corrupt length cannot make the
// reader allocate more than the input really holds.
class SectionReader {
 public:
  SectionReader(ByteSource& source, SectionTag tag) : source_(source) {
    start_ = source_.position();
    std::byte head[12];
    status_ = source_.Read(head, sizeof(head));
    if (!status_.ok()) return;
    uint32_t found = GetU32(head);
    if (found != static_cast<uint32_t>(tag)) {
      status_ = Corruption("expected section " + std::to_string(static_cast<uint32_t>(tag)) +
                           ", found tag " + std::to_string(found));
      return;
    }
    remaining_ = GetU64(head + 4);
  }

  const Status& status() const { return status_; }
  uint64_t remaining() const { return remaining_; }

  Status ExpectLength(uint64_t expected) {
    if (status_.ok() && remaining_ != expected) {
      status_ = Corruption("section length " + std::to_string(remaining_) + ", expected " +
                           std::to_string(expected));
    }
    return status_;
  }

  Status Read(void* data, size_t size) {
    if (!status_.ok()) return status_;
    if (size > remaining_) {
      status_ = Corruption("record runs past the end of its section");
      return status_;
    }
    status_ = source_.Read(data, size);
    if (!status_.ok()) return status_;
    crc_ = crc32c::Extend(crc_, data, size);
    remaining_ -= size;
    return status_;
  }

  Status ReadU32(uint32_t* v) {
    std::byte b[4];
    VECTORD_RETURN_IF_ERROR(Read(b, 4));
    *v = GetU32(b);
    return Status::Ok();
  }

  // Reads `size` bytes into `out` in bounded steps, so memory follows the
  // bytes actually present rather than a length field.
  Status ReadString(uint32_t size, std::string* out) {
    if (size > remaining_) {
      status_ = Corruption("string of " + std::to_string(size) + " bytes runs past its section");
      return status_;
    }
    out->clear();
    constexpr size_t kStep = 1 << 20;
    while (out->size() < size) {
      size_t step = std::min<size_t>(kStep, size - out->size());
      size_t old = out->size();
      out->resize(old + step);
      VECTORD_RETURN_IF_ERROR(Read(out->data() + old, step));
    }
    return Status::Ok();
  }

  Status Finish() {
    if (!status_.ok()) return status_;
    if (remaining_ != 0) return Corruption(std::to_string(remaining_) + " unread bytes in section");
    std::byte b[4];
    status_ = source_.Read(b, 4);
    if (!status_.ok()) return status_;
    if (!crc32c::StoredMatches(GetU32(b), crc_)) {
      status_ =
          Corruption("checksum mismatch in section starting at byte " + std::to_string(start_));
    }
    return status_;
  }

  Status Corruption(const std::string& what) const {
    return Status::Corruption(what + " (at byte " + std::to_string(source_.position()) + ")");
  }

 private:
  ByteSource& source_;
  uint64_t start_ = 0;
  uint64_t remaining_ = 0;
  uint32_t crc_ = 0;
  Status status_;
};

}  // namespace

Status HnswIndex::Save(ByteSink& sink, uint64_t log_sequence) const {
  // Phase 1, under the write lock: copy what writes may change in slots that
  // are in use (states, links, counters). Phase 2, with writes running again:
  // stream the file, reading vectors, ids and payloads straight from the
  // slots. Those never change while a slot is in use; only consolidation
  // rewrites a used slot, and snapshot_mutex_ keeps it out until we are done.
  // A write therefore waits for a copy of the links, not for the disk.
  std::unique_lock write(write_mutex_, std::defer_lock);
  std::unique_lock snapshot(snapshot_mutex_, std::defer_lock);
  std::lock(write, snapshot);

  const uint32_t count = slot_count();
  const uint64_t entry = entry_.load(std::memory_order_acquire);
  const bool empty = entry == ~uint64_t{0};
  const uint32_t live_count = static_cast<uint32_t>(size());
  const uint64_t rng_state = rng_state_;
  const size_t link_words = 1 + level0_capacity_;
  const size_t upper_words = upper_capacity_ + 1;

  std::vector<std::byte> node_records(static_cast<size_t>(count) * index_file::kNodeRecordSize);
  std::vector<uint32_t> level0_links(static_cast<size_t>(count) * link_words);
  std::vector<uint32_t> upper_links;
  for (uint32_t slot = 0; slot < count; ++slot) {
    Location loc = Locate(slot);
    const Chunk::Node& node = loc.chunk->nodes[loc.offset];
    std::byte* record =
        node_records.data() + static_cast<size_t>(slot) * index_file::kNodeRecordSize;
    record[0] = static_cast<std::byte>(node.state.load(std::memory_order_acquire));
    record[1] = static_cast<std::byte>(node.level);
    record[2] = static_cast<std::byte>(node.has_payload);
    uint32_t norm_bits;
    std::memcpy(&norm_bits, &node.norm, 4);
    PutU32(record + 4, norm_bits);
    std::memcpy(level0_links.data() + static_cast<size_t>(slot) * link_words, Level0LinksOf(slot),
                link_words * sizeof(uint32_t));
    if (node.level > 0) {
      const uint32_t* upper = loc.chunk->upper_links[loc.offset].get();
      upper_links.insert(upper_links.end(), upper, upper + node.level * upper_words);
    }
  }
  write.unlock();

  auto state_of = [&](uint32_t slot) {
    return static_cast<SlotState>(
        node_records[static_cast<size_t>(slot) * index_file::kNodeRecordSize]);
  };
  auto has_payload = [&](uint32_t slot) {
    return node_records[static_cast<size_t>(slot) * index_file::kNodeRecordSize + 2] !=
           std::byte{0};
  };

  std::byte header[index_file::kHeaderSize] = {};
  std::memcpy(header, index_file::kMagic, 8);
  PutU32(header + 8, index_file::kFormatVersion);
  PutU32(header + 12, index_file::kHeaderSize);
  PutU32(header + 16, options_.dimension);
  header[20] = static_cast<std::byte>(options_.metric);
  header[21] = static_cast<std::byte>(options_.quantization);
  PutU32(header + 24, options_.m);
  PutU32(header + 28, options_.ef_construction);
  PutU32(header + 32, options_.ef_search);
  PutU32(header + 36, static_cast<uint32_t>(row_bytes_));
  PutU64(header + 40, rng_state);
  PutU32(header + 48, count);
  PutU32(header + 52, live_count);
  PutU32(header + 56, empty ? static_cast<uint32_t>(-1) : static_cast<uint32_t>(entry >> 32));
  PutU32(header + 60, empty ? index_file::kNoEntryPoint : static_cast<uint32_t>(entry));
  PutU64(header + 64, log_sequence);
  PutU32(header + index_file::kHeaderCrcOffset,
         crc32c::Mask(crc32c::Value(header, index_file::kHeaderCrcOffset)));
  VECTORD_RETURN_IF_ERROR(sink.Write(header, sizeof(header)));

  {
    SectionWriter section(sink, SectionTag::kNodes, node_records.size());
    section.Append(node_records.data(), node_records.size());
    VECTORD_RETURN_IF_ERROR(section.Finish());
  }
  {
    // Rows go out in blocks: one sink write per block, not per row.
    SectionWriter section(sink, SectionTag::kLevel0, uint64_t{count} * row_bytes_);
    constexpr uint32_t kBlockRows = 64;
    std::vector<std::byte> block(kBlockRows * row_bytes_);
    const size_t vector_bytes = vector_floats_ * sizeof(float);
    for (uint32_t first = 0; first < count; first += kBlockRows) {
      const uint32_t rows = std::min(kBlockRows, count - first);
      std::fill(block.begin(), block.begin() + static_cast<ptrdiff_t>(rows * row_bytes_),
                std::byte{0});
      for (uint32_t i = 0; i < rows; ++i) {
        const uint32_t slot = first + i;
        std::byte* row = block.data() + static_cast<size_t>(i) * row_bytes_;
        // A free slot's row may be in reuse by a write right now: it is
        // written as zeros, which is all a free row holds in the format.
        if (state_of(slot) == SlotState::kFree) continue;
        std::memcpy(row, VectorOf(slot), vector_bytes);
        std::memcpy(row + vector_bytes,
                    level0_links.data() + static_cast<size_t>(slot) * link_words,
                    link_words * sizeof(uint32_t));
      }
      section.Append(block.data(), static_cast<size_t>(rows) * row_bytes_);
    }
    VECTORD_RETURN_IF_ERROR(section.Finish());
  }
  {
    SectionWriter section(sink, SectionTag::kUpperLevels, upper_links.size() * sizeof(uint32_t));
    section.Append(upper_links.data(), upper_links.size() * sizeof(uint32_t));
    VECTORD_RETURN_IF_ERROR(section.Finish());
  }
  {
    uint64_t length = 0;
    for (uint32_t slot = 0; slot < count; ++slot) {
      Location loc = Locate(slot);
      length += 4;
      if (state_of(slot) != SlotState::kFree) length += loc.chunk->ids[loc.offset].size();
    }
    SectionWriter section(sink, SectionTag::kIds, length);
    for (uint32_t slot = 0; slot < count; ++slot) {
      if (state_of(slot) == SlotState::kFree) {
        section.AppendU32(0);
        continue;
      }
      Location loc = Locate(slot);
      const std::string& id = loc.chunk->ids[loc.offset];
      section.AppendU32(static_cast<uint32_t>(id.size()));
      section.Append(id.data(), id.size());
    }
    VECTORD_RETURN_IF_ERROR(section.Finish());
  }
  {
    uint64_t length = 0;
    for (uint32_t slot = 0; slot < count; ++slot) {
      if (!has_payload(slot)) continue;
      Location loc = Locate(slot);
      length += 4 + loc.chunk->payloads[loc.offset].size();
    }
    SectionWriter section(sink, SectionTag::kPayloads, length);
    for (uint32_t slot = 0; slot < count; ++slot) {
      if (!has_payload(slot)) continue;
      Location loc = Locate(slot);
      const std::string& payload = loc.chunk->payloads[loc.offset];
      section.AppendU32(static_cast<uint32_t>(payload.size()));
      section.Append(payload.data(), payload.size());
    }
    VECTORD_RETURN_IF_ERROR(section.Finish());
  }
  SectionWriter end(sink, SectionTag::kEnd, 0);
  return end.Finish();
}

Result<uint64_t> HnswIndex::PeekLogSequence(std::string_view header_bytes) {
  if (header_bytes.size() < index_file::kHeaderSize) {
    return Status::Corruption("index file shorter than its header");
  }
  const auto* header = reinterpret_cast<const std::byte*>(header_bytes.data());
  if (std::memcmp(header, index_file::kMagic, 8) != 0) {
    return Status::Corruption("not an index file (bad magic)");
  }
  if (GetU32(header + 8) != index_file::kFormatVersion) {
    return Status::Corruption("unsupported index format version");
  }
  if (!crc32c::StoredMatches(GetU32(header + index_file::kHeaderCrcOffset),
                             crc32c::Value(header, index_file::kHeaderCrcOffset))) {
    return Status::Corruption("index header checksum mismatch");
  }
  return GetU64(header + 64);
}

Result<std::unique_ptr<HnswIndex>> HnswIndex::Load(ByteSource& source, uint64_t* log_sequence) {
  auto corruption = [&](const std::string& what) {
    return Status::Corruption(what + " (at byte " + std::to_string(source.position()) + ")");
  };

  std::byte header[index_file::kHeaderSize];
  VECTORD_RETURN_IF_ERROR(source.Read(header, sizeof(header)));
  if (std::memcmp(header, index_file::kMagic, 8) != 0)
    return corruption("not an index file (bad magic)");
  uint32_t version = GetU32(header + 8);
  if (version != index_file::kFormatVersion) {
    return corruption("unsupported format version " + std::to_string(version) +
                      " (this build reads " + std::to_string(index_file::kFormatVersion) + ")");
  }
  if (!crc32c::StoredMatches(GetU32(header + index_file::kHeaderCrcOffset),
                             crc32c::Value(header, index_file::kHeaderCrcOffset))) {
    return corruption("header checksum mismatch");
  }
  if (GetU32(header + 12) != index_file::kHeaderSize) return corruption("bad header size");

  IndexOptions options;
  options.dimension = GetU32(header + 16);
  options.metric = static_cast<Metric>(header[20]);
  options.quantization = static_cast<Quantization>(header[21]);
  if (header[22] != std::byte{0} || header[23] != std::byte{0}) {
    return corruption("reserved header bytes are not zero");
  }
  options.m = GetU32(header + 24);
  options.ef_construction = GetU32(header + 28);
  options.ef_search = GetU32(header + 32);
  Status valid = ValidateOptions(options);
  if (!valid.ok()) return corruption("bad header: " + valid.message());

  std::unique_ptr<HnswIndex> index(new HnswIndex(options));
  HnswIndex& ix = *index;
  if (GetU32(header + 36) != ix.row_bytes_) return corruption("row size does not match parameters");
  ix.rng_state_ = GetU64(header + 40);
  const uint32_t count = GetU32(header + 48);
  const uint32_t live_count = GetU32(header + 52);
  const auto max_level = static_cast<int32_t>(GetU32(header + 56));
  const uint32_t entry_slot = GetU32(header + 60);
  if (log_sequence != nullptr) *log_sequence = GetU64(header + 64);
  for (size_t i = 72; i < index_file::kHeaderCrcOffset; ++i) {
    if (header[i] != std::byte{0}) return corruption("reserved header bytes are not zero");
  }
  if (count > kMaxSlots) return corruption("slot count out of range");
  if (live_count > count) return corruption("live count exceeds slot count");
  const bool empty = entry_slot == index_file::kNoEntryPoint;
  if (empty != (max_level == -1) || max_level < -1 || max_level > 30 ||
      (!empty && entry_slot >= count)) {
    return corruption("bad entry point");
  }

  // Section 1: nodes, read chunk by chunk so memory follows the input.
  {
    SectionReader section(source, SectionTag::kNodes);
    VECTORD_RETURN_IF_ERROR(section.ExpectLength(uint64_t{count} * index_file::kNodeRecordSize));
    std::byte record[index_file::kNodeRecordSize];
    for (uint32_t slot = 0; slot < count; ++slot) {
      if (((slot + 64) & (slot + 63)) == 0) {  // first slot of a chunk
        VECTORD_RETURN_IF_ERROR(ix.EnsureCapacity(slot + 1));
      }
      VECTORD_RETURN_IF_ERROR(section.Read(record, sizeof(record)));
      auto state = static_cast<uint8_t>(record[0]);
      auto level = static_cast<uint8_t>(record[1]);
      auto has_payload = static_cast<uint8_t>(record[2]);
      if (state != static_cast<uint8_t>(SlotState::kFree) &&
          state != static_cast<uint8_t>(SlotState::kLive) &&
          state != static_cast<uint8_t>(SlotState::kDeleted)) {
        return section.Corruption("slot " + std::to_string(slot) + " has bad state " +
                                  std::to_string(state));
      }
      if (level > max_level || level > 30 || has_payload > 1 ||
          (state == 0 && (level != 0 || has_payload != 0))) {
        return section.Corruption("slot " + std::to_string(slot) + " has a bad level or flags");
      }
      float norm;
      uint32_t norm_bits = GetU32(record + 4);
      std::memcpy(&norm, &norm_bits, 4);
      if (state != 0 && !(std::isfinite(norm) && norm > 0)) {
        return section.Corruption("slot " + std::to_string(slot) + " has a bad norm");
      }
      Location loc = ix.Locate(slot);
      Chunk::Node& node = loc.chunk->nodes[loc.offset];
      node.state.store(state, std::memory_order_relaxed);
      node.level = level;
      node.has_payload = has_payload;
      node.norm = norm;
    }
    VECTORD_RETURN_IF_ERROR(section.Finish());
  }
  ix.slot_count_.store(count, std::memory_order_release);

  // Every link is checked against its target's level: one byte a slot in a
  // flat array (-1 free) stays in cache where the nodes, reached through
  // their chunks, would not.
  std::vector<int8_t> level_of(count);
  bool has_free_slots = false;
  for (uint32_t slot = 0; slot < count; ++slot) {
    const bool is_free = ix.StateOf(slot) == static_cast<uint8_t>(SlotState::kFree);
    level_of[slot] = is_free ? int8_t{-1} : static_cast<int8_t>(ix.LevelOf(slot));
    has_free_slots = has_free_slots || is_free;
  }
  auto bad_slot = [&](uint32_t slot, const std::string& what) {
    return Status::Corruption("slot " + std::to_string(slot) + ": " + what);
  };
  auto check_links = [&](uint32_t slot, int level, bool is_free) -> Status {
    const uint32_t* links = ix.LinksOf(slot, level);
    const uint32_t capacity = level == 0 ? ix.level0_capacity_ : ix.upper_capacity_;
    if (links[0] > capacity) return bad_slot(slot, "too many links");
    if (is_free && links[0] != 0) return bad_slot(slot, "free slot has links");
    // Every slot has level 0, so only free targets can fail there: without
    // any, the level lookups (a cache miss each on a large index) are skipped.
    if (level == 0 && !has_free_slots) {
      uint32_t highest = 0;
      for (uint32_t i = 0; i < links[0]; ++i) highest = std::max(highest, links[1 + i]);
      if (links[0] != 0 && highest >= count) return bad_slot(slot, "link to an invalid slot");
      return Status::Ok();
    }
    for (uint32_t i = 0; i < links[0]; ++i) {
      const uint32_t target = links[1 + i];
      if (target >= count || level_of[target] < level) {
        return bad_slot(slot, "link to an invalid slot");
      }
    }
    return Status::Ok();
  };

  // Section 2: level-0 rows straight into the chunks. They are read a step
  // at a time and checked (vectors finite, links in range) while the step is
  // still in cache: checking after the whole section would read it all from
  // memory again.
  {
    SectionReader section(source, SectionTag::kLevel0);
    VECTORD_RETURN_IF_ERROR(section.ExpectLength(uint64_t{count} * ix.row_bytes_));
    constexpr size_t kStepBytes = 256 << 10;
    const uint32_t step_rows =
        static_cast<uint32_t>(std::max<size_t>(1, kStepBytes / ix.row_bytes_));
    const size_t vector_bytes = ix.vector_floats_ * sizeof(float);
    const size_t link_bytes = (1 + ix.level0_capacity_) * sizeof(uint32_t);
    uint32_t done = 0;
    for (int c = 0; c < kChunkCount && done < count; ++c) {
      Chunk* chunk = ix.chunks_[c].load(std::memory_order_acquire);
      const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(chunk->slots, count - done));
      for (uint32_t first = 0; first < n; first += step_rows) {
        const uint32_t rows = std::min(step_rows, n - first);
        std::byte* step = chunk->rows + static_cast<size_t>(first) * ix.row_bytes_;
        VECTORD_RETURN_IF_ERROR(section.Read(step, static_cast<size_t>(rows) * ix.row_bytes_));
        for (uint32_t i = 0; i < rows; ++i) {
          const uint32_t slot = done + first + i;
          std::byte* row = step + static_cast<size_t>(i) * ix.row_bytes_;
          if (ix.code_row_bytes_ != 0) {
            std::memcpy(ix.Level0LinksOf(slot), row + vector_bytes, link_bytes);
            std::memset(row + vector_bytes, 0, link_bytes);
          }
          const bool is_free = level_of[slot] < 0;
          VECTORD_RETURN_IF_ERROR(check_links(slot, 0, is_free));
          if (!is_free && !AllFinite(reinterpret_cast<const float*>(row), options.dimension)) {
            return bad_slot(slot, "non-finite vector component");
          }
        }
      }
      done += n;
    }
    VECTORD_RETURN_IF_ERROR(section.Finish());
  }

  // Section 3: upper-level links.
  {
    uint64_t expected = 0;
    for (uint32_t slot = 0; slot < count; ++slot) {
      expected += uint64_t{ix.LevelOf(slot)} * (ix.upper_capacity_ + 1) * 4;
    }
    SectionReader section(source, SectionTag::kUpperLevels);
    VECTORD_RETURN_IF_ERROR(section.ExpectLength(expected));
    for (uint32_t slot = 0; slot < count; ++slot) {
      uint8_t level = ix.LevelOf(slot);
      if (level == 0) continue;
      size_t words = static_cast<size_t>(level) * (ix.upper_capacity_ + 1);
      auto links = std::make_unique<uint32_t[]>(words);
      VECTORD_RETURN_IF_ERROR(section.Read(links.get(), words * 4));
      Location loc = ix.Locate(slot);
      loc.chunk->upper_links[loc.offset] = std::move(links);
    }
    VECTORD_RETURN_IF_ERROR(section.Finish());
  }

  // Section 4: ids.
  {
    SectionReader section(source, SectionTag::kIds);
    VECTORD_RETURN_IF_ERROR(section.status());
    for (uint32_t slot = 0; slot < count; ++slot) {
      uint32_t length;
      VECTORD_RETURN_IF_ERROR(section.ReadU32(&length));
      Location loc = ix.Locate(slot);
      bool is_free = ix.StateOf(slot) == static_cast<uint8_t>(SlotState::kFree);
      if (is_free != (length == 0)) {
        return section.Corruption("slot " + std::to_string(slot) +
                                  (is_free ? " is free but has an id" : " has an empty id"));
      }
      VECTORD_RETURN_IF_ERROR(section.ReadString(length, &loc.chunk->ids[loc.offset]));
    }
    VECTORD_RETURN_IF_ERROR(section.Finish());
  }

  // Section 5: payloads.
  {
    SectionReader section(source, SectionTag::kPayloads);
    VECTORD_RETURN_IF_ERROR(section.status());
    for (uint32_t slot = 0; slot < count; ++slot) {
      Location loc = ix.Locate(slot);
      if (!loc.chunk->nodes[loc.offset].has_payload) continue;
      uint32_t length;
      VECTORD_RETURN_IF_ERROR(section.ReadU32(&length));
      VECTORD_RETURN_IF_ERROR(section.ReadString(length, &loc.chunk->payloads[loc.offset]));
    }
    VECTORD_RETURN_IF_ERROR(section.Finish());
  }
  {
    SectionReader end(source, SectionTag::kEnd);
    VECTORD_RETURN_IF_ERROR(end.ExpectLength(0));
    VECTORD_RETURN_IF_ERROR(end.Finish());
  }

  // Structure: everything the CRCs cannot vouch for (level 0 was checked
  // as it was read).
  ix.slot_by_id_.Reserve(live_count);
  // (hash, slot) of every live id, put in the table after the pass.
  std::vector<std::pair<uint32_t, uint32_t>> pending_ids;
  pending_ids.reserve(live_count);
  size_t live = 0;
  HeapTotals heap;
  for (uint32_t slot = 0; slot < count; ++slot) {
    const uint8_t state = ix.StateOf(slot);
    const int level = ix.LevelOf(slot);
    const bool is_free = state == static_cast<uint8_t>(SlotState::kFree);
    for (int l = 1; l <= level; ++l) VECTORD_RETURN_IF_ERROR(check_links(slot, l, is_free));
    if (is_free) {
      ix.free_slots_.push_back(slot);
      continue;
    }
    // The memory counters, while the slot is in cache (a free slot holds nothing).
    const HeapTotals slot_heap = ix.SlotHeapOf(slot);
    heap.upper_links += slot_heap.upper_links;
    heap.ids += slot_heap.ids;
    heap.payloads += slot_heap.payloads;
    if (state == static_cast<uint8_t>(SlotState::kDeleted)) {
      ix.tombstones_.push_back(slot);
      continue;
    }
    ++live;
    Location loc = ix.Locate(slot);
    pending_ids.push_back({SlotIdTable::HashOf(loc.chunk->ids[loc.offset]), slot});
  }
  if (live != live_count) return Status::Corruption("live count does not match the slots");
  constexpr size_t kPrefetchAhead = 16;
  for (size_t i = 0; i < pending_ids.size(); ++i) {
    if (i + kPrefetchAhead < pending_ids.size()) {
      ix.slot_by_id_.Prefetch(pending_ids[i + kPrefetchAhead].first);
    }
    const auto [hash, slot] = pending_ids[i];
    if (ix.slot_by_id_.Assign(ix.IdAt(slot), hash, slot,
                              [&ix](uint32_t s) { return ix.IdAt(s); })) {
      return bad_slot(slot, "duplicate id");
    }
  }
  if (!empty) {
    if (ix.StateOf(entry_slot) == static_cast<uint8_t>(SlotState::kFree) ||
        ix.LevelOf(entry_slot) != max_level) {
      return Status::Corruption("entry point is not a node of the top level");
    }
    ix.entry_.store((static_cast<uint64_t>(max_level) << 32) | entry_slot,
                    std::memory_order_release);
  } else if (ix.free_slots_.size() != count) {
    return Status::Corruption("graph has nodes but no entry point");
  }
  std::sort(ix.free_slots_.begin(), ix.free_slots_.end(), std::greater<>());
  ix.live_count_.store(live, std::memory_order_release);
  // Codes are not stored: they follow from the vectors, and a range learnt
  // from everything the index now holds is at least as good as the old one.
  if (options.quantization == Quantization::kSq8 && live >= kQuantizerTrainingItems) {
    ix.TrainQuantizer();
  }
  ix.tombstone_count_.store(ix.tombstones_.size(), std::memory_order_release);
  ix.StoreHeapBytes(heap);
  return index;
}

}  // namespace vectord::engine
