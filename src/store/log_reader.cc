#include "store/log_reader.h"

#include <cstring>

#include "common/crc32c.h"
#include "common/little_endian.h"

namespace vectord::store {
namespace {

using little_endian::GetU32;
using little_endian::GetU64;

constexpr size_t kReadChunk = 1 << 20;

// The checks of a segment's 32-byte header other than its first sequence;
// what is wrong, or empty. `dimension` 0 is not checked.
std::string SegmentHeaderProblem(const char* h, uint32_t dimension) {
  if (std::memcmp(h, log_format::kMagic, 8) != 0) return "bad segment magic";
  if (!crc32c::StoredMatches(GetU32(h + 28), crc32c::Value(h, 28))) {
    return "segment header checksum mismatch";
  }
  if (GetU32(h + 8) != log_format::kFormatVersion) return "unsupported log version";
  if (dimension != 0 && GetU32(h + 12) != dimension) return "segment is for another dimension";
  return "";
}

// A record's 21-byte header, once its own checksum has matched.
struct RecordHeader {
  uint32_t payload_crc = 0;
  uint32_t length = 0;
  uint64_t sequence = 0;
  uint8_t type = 0;
};

bool RecordHeaderMatches(const char* h) {
  return crc32c::StoredMatches(GetU32(h), crc32c::Value(h + 4, log_format::kRecordHeaderSize - 4));
}

RecordHeader DecodeRecordHeader(const char* h) {
  return RecordHeader{GetU32(h + 4), GetU32(h + 8), GetU64(h + 12), static_cast<uint8_t>(h[20])};
}

bool PayloadMatches(const RecordHeader& header, const char* payload) {
  return crc32c::StoredMatches(header.payload_crc, crc32c::Value(payload, header.length));
}

bool KnownRecordType(uint8_t type) {
  return type == static_cast<uint8_t>(log_format::RecordType::kUpsert) ||
         type == static_cast<uint8_t>(log_format::RecordType::kDelete) ||
         type == static_cast<uint8_t>(log_format::RecordType::kCancel);
}

bool AllZero(std::string_view bytes) {
  return bytes.find_first_not_of('\0') == std::string_view::npos;
}

// Appends up to kReadChunk bytes of `file` to `buffer`; false at the end of
// the file.
Result<bool> AppendChunk(SequentialFile& file, std::string& buffer) {
  const size_t old_size = buffer.size();
  buffer.resize(old_size + kReadChunk);
  auto got = file.Read(buffer.data() + old_size, kReadChunk);
  buffer.resize(old_size + (got.ok() ? *got : 0));
  if (!got.ok()) return got.status();
  return *got > 0;
}

}  // namespace

Result<std::unique_ptr<LogReader>> LogReader::Open(FileSystem* fs, std::string dir,
                                                   uint32_t dimension) {
  std::vector<std::string> segments;
  if (fs->Exists(dir)) {
    VECTORD_ASSIGN_OR_RETURN(const std::vector<std::string> names, fs->ListDirectory(dir));
    for (const std::string& name : names) {
      if (name.size() == 24 && name.substr(20) == ".log" &&
          name.find_first_not_of("0123456789") == 20) {
        segments.push_back(name);
      }
    }
  }
  std::unique_ptr<LogReader> reader(
      new LogReader(fs, std::move(dir), dimension, std::move(segments)));
  if (reader->segments_.empty()) {
    reader->done_ = true;
  } else {
    VECTORD_RETURN_IF_ERROR(reader->OpenSegment(0));
  }
  return reader;
}

Status LogReader::Corruption(const std::string& what) const {
  return CorruptionAt(what, buffer_start_ + offset_);
}

Status LogReader::CorruptionAt(const std::string& what, uint64_t offset) const {
  return Status::Corruption(dir_ + "/" + segments_[segment_index_] + ": " + what + " at byte " +
                            std::to_string(offset));
}

Result<bool> LogReader::Fill(size_t n) {
  while (buffer_.size() - offset_ < n) {
    buffer_.erase(0, offset_);
    buffer_start_ += offset_;
    offset_ = 0;
    VECTORD_ASSIGN_OR_RETURN(const bool more, AppendChunk(*file_, buffer_));
    if (!more) return false;
  }
  return true;
}

Result<bool> LogReader::RestIsZero() {
  for (;;) {
    for (size_t i = offset_; i < buffer_.size(); ++i) {
      if (buffer_[i] != '\0') return false;
    }
    buffer_start_ += buffer_.size();
    buffer_.clear();
    offset_ = 0;
    VECTORD_ASSIGN_OR_RETURN(const bool more, AppendChunk(*file_, buffer_));
    if (!more) return true;
  }
}

Status LogReader::OpenSegment(size_t index) {
  segment_index_ = index;
  VECTORD_ASSIGN_OR_RETURN(file_, fs_->OpenSequential(dir_ + "/" + segments_[index]));
  buffer_.clear();
  offset_ = 0;
  buffer_start_ = 0;
  const bool last = index + 1 == segments_.size();
  VECTORD_ASSIGN_OR_RETURN(const bool full, Fill(log_format::kSegmentHeaderSize));
  if (!full) {
    // Only the newest segment can lack its header: a crash while it was being
    // started. It holds no records.
    if (!last) return Corruption("segment shorter than its header");
    torn_description_ = dir_ + "/" + segments_[index] + ": incomplete segment header";
    tail_ = LogWriter::Tail{dir_ + "/" + segments_[index], 0};
    done_ = true;
    return Status::Ok();
  }
  const char* h = buffer_.data();
  if (std::string problem = SegmentHeaderProblem(h, dimension_); !problem.empty()) {
    return Corruption(problem);
  }
  segment_first_ = GetU64(h + 16);
  if (segment_first_ != std::strtoull(segments_[index].c_str(), nullptr, 10)) {
    return Corruption("segment header does not match its file name");
  }
  if (segment_first_ <= last_sequence_) return Corruption("segment overlaps the previous one");
  offset_ += log_format::kSegmentHeaderSize;
  return Status::Ok();
}

Result<std::optional<LogRecord>> LogReader::Next() {
  while (!done_) {
    const bool last = segment_index_ + 1 == segments_.size();
    const uint64_t record_start = buffer_start_ + offset_;
    auto end_here = [&]() -> Result<std::optional<LogRecord>> {
      if (last) {
        tail_ = LogWriter::Tail{dir_ + "/" + segments_[segment_index_], record_start};
        done_ = true;
        return std::optional<LogRecord>();
      }
      VECTORD_RETURN_IF_ERROR(OpenSegment(segment_index_ + 1));
      return std::optional<LogRecord>(std::nullopt);
    };
    auto torn_here = [&](const std::string& why) -> Result<std::optional<LogRecord>> {
      if (!last) return Corruption(why);
      torn_description_ = dir_ + "/" + segments_[segment_index_] + ": " + why + " at byte " +
                          std::to_string(record_start) + " (torn write, cut off)";
      tail_ = LogWriter::Tail{dir_ + "/" + segments_[segment_index_], record_start};
      done_ = true;
      return std::optional<LogRecord>();
    };

    VECTORD_ASSIGN_OR_RETURN(const bool has_header, Fill(1));
    if (!has_header) {
      auto r = end_here();
      if (!r.ok() || done_) return r;
      continue;
    }
    VECTORD_ASSIGN_OR_RETURN(const bool full_header, Fill(log_format::kRecordHeaderSize));
    if (!full_header) return torn_here("incomplete record header");
    const char* h = buffer_.data() + offset_;
    if (!RecordHeaderMatches(h)) {
      // A header cut short by a crash is followed by nothing but zeros (or
      // the end of the file); anything else after it is damage.
      offset_ += log_format::kRecordHeaderSize;
      VECTORD_ASSIGN_OR_RETURN(const bool zero, RestIsZero());
      if (zero) return torn_here("incomplete record header");
      return CorruptionAt("record header checksum mismatch", record_start);
    }
    const RecordHeader header = DecodeRecordHeader(h);
    const uint32_t length = header.length;
    const uint64_t sequence = header.sequence;
    const uint8_t type = header.type;
    if (length > log_format::kMaxRecordPayload) {
      return Corruption("record length " + std::to_string(length) + " out of range");
    }
    VECTORD_ASSIGN_OR_RETURN(const bool full_record, Fill(log_format::kRecordHeaderSize + length));
    if (!full_record) return torn_here("incomplete record");
    h = buffer_.data() + offset_;
    if (!PayloadMatches(header, h + log_format::kRecordHeaderSize)) {
      // The header reached the disk, the payload not (all of) it: torn when
      // nothing follows the record but zeros.
      offset_ += log_format::kRecordHeaderSize + length;
      VECTORD_ASSIGN_OR_RETURN(const bool zero, RestIsZero());
      if (zero) return torn_here("incomplete record payload");
      return CorruptionAt("record checksum mismatch", record_start);
    }
    if (!KnownRecordType(type)) {
      return Corruption("unknown record type " + std::to_string(type));
    }
    if (sequence <= last_sequence_ || sequence < segment_first_) {
      return Corruption("sequence " + std::to_string(sequence) + " does not follow " +
                        std::to_string(last_sequence_));
    }
    LogRecord record;
    record.sequence = sequence;
    record.type = static_cast<log_format::RecordType>(type);
    record.payload.assign(h + log_format::kRecordHeaderSize, length);
    offset_ += log_format::kRecordHeaderSize + length;
    last_sequence_ = sequence;
    return std::optional<LogRecord>(std::move(record));
  }
  return std::optional<LogRecord>();
}

Result<SegmentContents> ParseSegment(std::string_view bytes, const std::string& name,
                                     std::vector<LogRecord>* records) {
  SegmentContents contents;
  auto corruption = [&](const std::string& what, uint64_t offset) {
    return Status::Corruption(name + ": " + what + " at byte " + std::to_string(offset));
  };
  if (bytes.size() < log_format::kSegmentHeaderSize) {
    contents.torn = "incomplete segment header";
    return contents;
  }
  if (std::string problem = SegmentHeaderProblem(bytes.data(), 0); !problem.empty()) {
    return corruption(problem, 0);
  }
  contents.first_sequence = GetU64(bytes.data() + 16);
  size_t at = log_format::kSegmentHeaderSize;
  contents.whole_bytes = at;
  // The same cases as LogReader::Next for the last segment of a log.
  auto torn_at = [&](const std::string& why) -> Result<SegmentContents> {
    contents.torn = why + " at byte " + std::to_string(at);
    return contents;
  };
  while (at < bytes.size()) {
    const std::string_view rest = bytes.substr(at);
    if (rest.size() < log_format::kRecordHeaderSize) return torn_at("incomplete record header");
    if (!RecordHeaderMatches(rest.data())) {
      if (AllZero(rest.substr(log_format::kRecordHeaderSize))) {
        return torn_at("incomplete record header");
      }
      return corruption("record header checksum mismatch", at);
    }
    const RecordHeader header = DecodeRecordHeader(rest.data());
    if (header.length > log_format::kMaxRecordPayload) {
      return corruption("record length " + std::to_string(header.length) + " out of range", at);
    }
    const size_t size = log_format::kRecordHeaderSize + size_t{header.length};
    if (rest.size() < size) return torn_at("incomplete record");
    if (!PayloadMatches(header, rest.data() + log_format::kRecordHeaderSize)) {
      if (AllZero(rest.substr(size))) return torn_at("incomplete record payload");
      return corruption("record checksum mismatch", at);
    }
    if (!KnownRecordType(header.type)) {
      return corruption("unknown record type " + std::to_string(header.type), at);
    }
    if (header.sequence <= contents.last_sequence || header.sequence < contents.first_sequence) {
      return corruption("sequence " + std::to_string(header.sequence) + " does not follow " +
                            std::to_string(contents.last_sequence),
                        at);
    }
    contents.last_sequence = header.sequence;
    ++contents.records;
    if (records != nullptr) {
      records->push_back({header.sequence, static_cast<log_format::RecordType>(header.type),
                          std::string(rest.substr(log_format::kRecordHeaderSize, header.length))});
    }
    at += size;
    contents.whole_bytes = at;
  }
  return contents;
}

}  // namespace vectord::store
