// HnswIndex::Save: writes the current version of docs/index-file-format.md.
#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "common/little_endian.h"
#include "engine/hnsw_index.h"
#include "engine/index_file.h"
#include "engine/index_file_sections.h"

namespace vectord::engine {

using index_file::SectionTag;
using index_file::SectionWriter;

// Streams one index out. Phase 1, under the write lock: copy what writes
// may change in slots that are in use (states, links, counters). Phase 2,
// with writes running again: stream the file, reading vectors, ids and
// payloads straight from the slots. Those never change while a slot is in
// use; only consolidation rewrites a used slot, and snapshot_mutex_ keeps it
// out until we are done. A write therefore waits for a copy of the links,
// not for the disk.
class IndexFileWriter {
 public:
  IndexFileWriter(const HnswIndex& index, ByteSink& sink)
      : index_(index),
        storage_(index.storage_),
        layout_(storage_.layout()),
        sink_(sink),
        link_words_(1 + layout_.level0_capacity) {}

  Status Write(uint64_t log_sequence) {
    std::unique_lock write(index_.write_mutex_, std::defer_lock);
    std::unique_lock snapshot(index_.snapshot_mutex_, std::defer_lock);
    std::lock(write, snapshot);
    index_file::Header header = CopyGraphState(log_sequence);
    write.unlock();

    const index_file::HeaderBytes bytes = index_file::EncodeHeader(header);
    VECTORD_RETURN_IF_ERROR(sink_.Write(bytes.data(), bytes.size()));
    VECTORD_RETURN_IF_ERROR(
        WriteBlob(SectionTag::kNodes, node_records_.data(), node_records_.size()));
    VECTORD_RETURN_IF_ERROR(WriteLevel0());
    VECTORD_RETURN_IF_ERROR(WriteBlob(SectionTag::kUpperLevels, upper_links_.data(),
                                      upper_links_.size() * sizeof(uint32_t)));
    VECTORD_RETURN_IF_ERROR(WriteIds());
    VECTORD_RETURN_IF_ERROR(WritePayloads());
    SectionWriter end(sink_, SectionTag::kEnd, 0);
    return end.Finish();
  }

 private:
  index_file::Header CopyGraphState(uint64_t log_sequence) {
    count_ = storage_.slot_count();
    const uint64_t entry = index_.graph_.entry();
    const bool empty = entry == HnswGraph::kNoEntry;
    const size_t upper_words = layout_.upper_capacity + 1;
    node_records_.assign(static_cast<size_t>(count_) * index_file::kNodeRecordSize, std::byte{0});
    level0_links_.resize(static_cast<size_t>(count_) * link_words_);
    for (uint32_t slot = 0; slot < count_; ++slot) {
      const SlotStorage::Node& node = storage_.NodeOf(slot);
      std::byte* record =
          node_records_.data() + static_cast<size_t>(slot) * index_file::kNodeRecordSize;
      record[0] = static_cast<std::byte>(node.state.load(std::memory_order_acquire));
      record[1] = static_cast<std::byte>(node.level);
      record[2] = static_cast<std::byte>(node.has_payload);
      uint32_t norm_bits;
      std::memcpy(&norm_bits, &node.norm, 4);
      little_endian::PutU32(record + 4, norm_bits);
      std::memcpy(level0_links_.data() + static_cast<size_t>(slot) * link_words_,
                  storage_.Level0LinksOf(slot), link_words_ * sizeof(uint32_t));
      if (node.level > 0) {
        const uint32_t* upper = storage_.UpperLinksOf(slot).get();
        upper_links_.insert(upper_links_.end(), upper, upper + node.level * upper_words);
      }
    }
    index_file::Header h;
    index_file::SetOptions(index_.options_, &h);
    h.row_bytes = static_cast<uint32_t>(layout_.file_row_bytes);
    h.rng_state = index_.graph_.rng_state();
    h.slot_count = count_;
    h.live_count = static_cast<uint32_t>(index_.size());
    h.max_level = empty ? -1 : HnswGraph::EntryLevel(entry);
    h.entry_point = empty ? index_file::kNoEntryPoint : HnswGraph::EntrySlot(entry);
    h.log_sequence = log_sequence;
    return h;
  }

  SlotState StateAt(uint32_t slot) const {
    return static_cast<SlotState>(
        node_records_[static_cast<size_t>(slot) * index_file::kNodeRecordSize]);
  }
  bool HasPayload(uint32_t slot) const {
    return node_records_[static_cast<size_t>(slot) * index_file::kNodeRecordSize + 2] !=
           std::byte{0};
  }

  Status WriteBlob(SectionTag tag, const void* data, size_t size) {
    SectionWriter section(sink_, tag, size);
    section.Append(data, size);
    return section.Finish();
  }

  Status WriteLevel0() {
    // Rows go out in blocks: one sink write per block, not per row. An SQ8
    // index keeps its links beside the codes; the file row has them after
    // the vector either way.
    const size_t row_bytes = layout_.file_row_bytes;
    SectionWriter section(sink_, SectionTag::kLevel0, uint64_t{count_} * row_bytes);
    constexpr uint32_t kBlockRows = 64;
    std::vector<std::byte> block(kBlockRows * row_bytes);
    const size_t vector_bytes = layout_.vector_floats * sizeof(float);
    for (uint32_t first = 0; first < count_; first += kBlockRows) {
      const uint32_t rows = std::min(kBlockRows, count_ - first);
      std::fill(block.begin(), block.begin() + static_cast<ptrdiff_t>(rows * row_bytes),
                std::byte{0});
      for (uint32_t i = 0; i < rows; ++i) {
        const uint32_t slot = first + i;
        std::byte* row = block.data() + static_cast<size_t>(i) * row_bytes;
        // A free slot's row may be in reuse by a write right now: it is
        // written as zeros, which is all a free row holds in the format.
        if (StateAt(slot) == SlotState::kFree) continue;
        std::memcpy(row, storage_.VectorOf(slot), vector_bytes);
        std::memcpy(row + vector_bytes,
                    level0_links_.data() + static_cast<size_t>(slot) * link_words_,
                    link_words_ * sizeof(uint32_t));
      }
      section.Append(block.data(), static_cast<size_t>(rows) * row_bytes);
    }
    return section.Finish();
  }

  Status WriteIds() {
    uint64_t length = 0;
    for (uint32_t slot = 0; slot < count_; ++slot) {
      length += 4;
      if (StateAt(slot) != SlotState::kFree) length += storage_.IdOf(slot).size();
    }
    SectionWriter section(sink_, SectionTag::kIds, length);
    for (uint32_t slot = 0; slot < count_; ++slot) {
      if (StateAt(slot) == SlotState::kFree) {
        section.AppendU32(0);
        continue;
      }
      const std::string_view id = storage_.IdOf(slot);
      section.AppendU32(static_cast<uint32_t>(id.size()));
      section.Append(id.data(), id.size());
    }
    return section.Finish();
  }

  Status WritePayloads() {
    uint64_t length = 0;
    for (uint32_t slot = 0; slot < count_; ++slot) {
      if (HasPayload(slot)) length += 4 + storage_.PayloadOf(slot).size();
    }
    SectionWriter section(sink_, SectionTag::kPayloads, length);
    for (uint32_t slot = 0; slot < count_; ++slot) {
      if (!HasPayload(slot)) continue;
      const std::string& payload = storage_.PayloadOf(slot);
      section.AppendU32(static_cast<uint32_t>(payload.size()));
      section.Append(payload.data(), payload.size());
    }
    return section.Finish();
  }

  const HnswIndex& index_;
  const SlotStorage& storage_;
  const SlotLayout& layout_;
  ByteSink& sink_;
  const size_t link_words_;
  uint32_t count_ = 0;
  std::vector<std::byte> node_records_;
  std::vector<uint32_t> level0_links_;
  std::vector<uint32_t> upper_links_;
};

Status HnswIndex::Save(ByteSink& sink, uint64_t log_sequence) const {
  Status written = IndexFileWriter(*this, sink).Write(log_sequence);
  // The writer read every vector through the mapping of a vector file.
  storage_.ReleaseResidentRows();
  return written;
}

}  // namespace vectord::engine
