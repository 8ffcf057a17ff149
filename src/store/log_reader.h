// LogReader: replays one index's write-ahead log (docs/wal-format.md),
// segment by segment, streaming (memory holds one record at a time).
//
// A torn record at the end of the last segment ends the log quietly (see
// torn()); any other damage is a Corruption status naming the segment file
// and byte offset, and reading stops there.
//
// Thread safety: none; one reader per log, on one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/file_system.h"
#include "store/log_format.h"
#include "store/log_writer.h"

namespace vectord::store {

struct LogRecord {
  uint64_t sequence = 0;
  log_format::RecordType type = log_format::RecordType::kUpsert;
  std::string payload;
};

// What a log segment held in memory (a segment object from the bucket)
// holds, read by the rules LogReader applies to the last segment of a log
// (docs/wal-format.md, "Reading, torn writes and corruption"): whole records,
// then possibly a torn tail.
struct SegmentContents {
  uint64_t first_sequence = 0;  // from the header; 0 without one
  uint64_t records = 0;         // whole records
  uint64_t last_sequence = 0;   // of the last whole record; 0 without one
  uint64_t whole_bytes = 0;     // the header and the whole records: where a torn tail starts
  std::string torn;             // why the bytes from whole_bytes on are not a record; empty if none
};

// Parses a segment from its bytes. A torn tail (or a segment shorter than
// its header) is reported in `torn`; any other damage is a Corruption status
// naming `name` and the byte offset. The segment's dimension is not checked.
// With `records`, the whole records are appended to it.
Result<SegmentContents> ParseSegment(std::string_view bytes, const std::string& name,
                                     std::vector<LogRecord>* records = nullptr);

class LogReader {
 public:
  // A missing directory is an empty log.
  static Result<std::unique_ptr<LogReader>> Open(FileSystem* fs, std::string dir,
                                                 uint32_t dimension);

  // The next record, or nullopt at the end of the log.
  Result<std::optional<LogRecord>> Next();

  // After Next() returned nullopt: where a writer should continue (nullopt
  // when there is no segment), and what was cut off.
  std::optional<LogWriter::Tail> tail() const { return tail_; }
  bool torn() const { return !torn_description_.empty(); }
  const std::string& torn_description() const { return torn_description_; }
  uint64_t last_sequence() const { return last_sequence_; }

 private:
  LogReader(FileSystem* fs, std::string dir, uint32_t dimension, std::vector<std::string> segments)
      : fs_(fs), dir_(std::move(dir)), dimension_(dimension), segments_(std::move(segments)) {}

  Status OpenSegment(size_t index);
  // Makes `n` bytes available at buffer_[offset_..]; false at end of file.
  Result<bool> Fill(size_t n);
  Result<bool> RestIsZero();
  Status Corruption(const std::string& what) const;  // at the current position
  Status CorruptionAt(const std::string& what, uint64_t offset) const;

  FileSystem* const fs_;
  const std::string dir_;
  const uint32_t dimension_;
  const std::vector<std::string> segments_;

  size_t segment_index_ = 0;
  std::unique_ptr<SequentialFile> file_;
  std::string buffer_;
  size_t offset_ = 0;          // read position within buffer_
  uint64_t buffer_start_ = 0;  // file offset of buffer_[0]
  uint64_t segment_first_ = 0;
  uint64_t last_sequence_ = 0;
  bool done_ = false;
  std::optional<LogWriter::Tail> tail_;
  std::string torn_description_;
};

}  // namespace vectord::store
