#include "store/log_writer.h"

#include <cstdio>
#include <cstring>
#include <new>

#include "common/crc32c.h"
#include "common/little_endian.h"

namespace vectord::store {

using little_endian::PutU32;
using little_endian::PutU64;

std::string log_format::FrameRecord(uint64_t sequence, RecordType type, std::string_view payload) {
  std::string record(kRecordHeaderSize + payload.size(), '\0');
  PutU32(record.data() + 4, crc32c::Mask(crc32c::Value(payload.data(), payload.size())));
  PutU32(record.data() + 8, static_cast<uint32_t>(payload.size()));
  PutU64(record.data() + 12, sequence);
  record[20] = static_cast<char>(type);
  PutU32(record.data(), crc32c::Mask(crc32c::Value(record.data() + 4, kRecordHeaderSize - 4)));
  std::memcpy(record.data() + kRecordHeaderSize, payload.data(), payload.size());
  return record;
}

std::string log_format::EncodeSegmentHeader(uint32_t dimension, uint64_t first_sequence) {
  std::string h(log_format::kSegmentHeaderSize, '\0');
  std::memcpy(h.data(), log_format::kMagic, 8);
  PutU32(h.data() + 8, log_format::kFormatVersion);
  PutU32(h.data() + 12, dimension);
  PutU64(h.data() + 16, first_sequence);
  PutU32(h.data() + 28, crc32c::Mask(crc32c::Value(h.data(), 28)));
  return h;
}

std::string LogWriter::SegmentName(uint64_t first_sequence) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020llu.log", static_cast<unsigned long long>(first_sequence));
  return name;
}

Result<std::unique_ptr<LogWriter>> LogWriter::OpenLocked(FileSystem* fs, std::string dir,
                                                         uint32_t dimension, uint64_t next_sequence,
                                                         const Tail* tail,
                                                         std::shared_ptr<OpenLogFiles> open_files) {
  VECTORD_RETURN_IF_ERROR(fs->CreateDirectories(dir));
  std::unique_ptr<LogWriter> w(new LogWriter(fs, std::move(dir), dimension, std::move(open_files)));
  std::lock_guard lock(w->mutex_);
  w->next_sequence_ = next_sequence;
  w->appended_through_ = next_sequence - 1;
  w->durable_through_ = next_sequence - 1;
  w->lost_through_ = next_sequence - 1;
  if (tail != nullptr && tail->valid_bytes >= log_format::kSegmentHeaderSize) {
    VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                             fs->OpenAppendable(tail->segment_path));
    // Cut a torn record off before appending after it.
    if (file->size() != tail->valid_bytes) {
      VECTORD_RETURN_IF_ERROR(file->Truncate(tail->valid_bytes));
      VECTORD_RETURN_IF_ERROR(file->Sync());
    }
    std::string name = tail->segment_path.substr(tail->segment_path.rfind('/') + 1);
    w->segment_first_ = std::strtoull(name.c_str(), nullptr, 10);
    // A segment is named after the first sequence it may hold, which can lie
    // above the last record read (records cancelled or lost, then a
    // rotation): never number a record below its segment's first.
    if (w->next_sequence_ < w->segment_first_) {
      w->next_sequence_ = w->segment_first_;
      w->appended_through_ = w->durable_through_ = w->lost_through_ = w->segment_first_ - 1;
    }
    w->SetFile(std::move(file));
    w->file_path_ = tail->segment_path;
    w->durable_bytes_ = tail->valid_bytes;
    return w;
  }
  if (tail != nullptr) VECTORD_RETURN_IF_ERROR(fs->RemoveFile(tail->segment_path));
  VECTORD_RETURN_IF_ERROR(w->StartSegment(next_sequence));
  return w;
}

Result<std::unique_ptr<LogWriter>> LogWriter::Open(FileSystem* fs, std::string dir,
                                                   uint32_t dimension, uint64_t next_sequence,
                                                   const Tail* tail,
                                                   std::shared_ptr<OpenLogFiles> open_files) {
  OpenLogFiles* budget = open_files.get();
  VECTORD_ASSIGN_OR_RETURN(
      std::unique_ptr<LogWriter> w,
      OpenLocked(fs, std::move(dir), dimension, next_sequence, tail, std::move(open_files)));
  // A new log makes room for itself, as a write does.
  if (budget != nullptr) budget->Trim(w.get());
  return w;
}

Status LogWriter::StartSegment(uint64_t first_sequence) {
  std::string path = dir_ + "/" + SegmentName(first_sequence);
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, fs_->OpenAppendable(path));
  if (file->size() != 0) VECTORD_RETURN_IF_ERROR(file->Truncate(0));
  Status s = file->Append(log_format::EncodeSegmentHeader(dimension_, first_sequence));
  if (s.ok()) s = file->Sync();
  if (s.ok()) s = fs_->SyncDirectory(dir_);
  if (!s.ok()) {
    file.reset();
    (void)fs_->RemoveFile(path);
    return s;
  }
  SetFile(std::move(file));
  file_path_ = std::move(path);
  segment_first_ = first_sequence;
  durable_bytes_ = log_format::kSegmentHeaderSize;
  return Status::Ok();
}

LogWriter::~LogWriter() {
  // First: a Trim in progress may be looking at this writer.
  if (open_files_ != nullptr) open_files_->Forget(this);
}

void LogWriter::SetFile(std::unique_ptr<WritableFile> file) {
  file_ = std::move(file);
  parked_ = false;
  if (open_files_ == nullptr) return;
  if (file_) {
    open_files_->Touch(this);
  } else {
    open_files_->Forget(this);
  }
}

Status LogWriter::Unpark() {
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, fs_->OpenAppendable(file_path_));
  // Nothing but this writer appends to the segment: a different length
  // means someone else touched it while it was closed.
  if (file->size() != parked_bytes_) {
    return Status::IOError("write-ahead log segment " + file_path_ + " is " +
                           std::to_string(file->size()) + " bytes after reopening, expected " +
                           std::to_string(parked_bytes_));
  }
  SetFile(std::move(file));
  return Status::Ok();
}

void LogWriter::TrimOpenFiles() {
  if (open_files_ != nullptr) open_files_->Trim(this);
}

bool LogWriter::TryPark() {
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return false;
  if (!file_ || sync_in_progress_ || appended_through_ > durable_through_ || !broken_.ok()) {
    return false;
  }
  // A record the object store has not taken may still need a cancel record
  // after it (the service cancels a write whose upload failed); that append
  // must not depend on reopening a file when descriptors are short.
  if (shipper_ && shipper_->pending_records() > 0) return false;
  parked_bytes_ = file_->size();
  // Every record in the file is synced, so a failing close(2) cannot take
  // an acknowledged one with it; the next write reopens and checks the
  // length.
  (void)file_->Close();
  file_.reset();
  parked_ = true;
  return true;
}

bool LogWriter::parked() const {
  std::lock_guard lock(mutex_);
  return parked_;
}

Result<uint64_t> LogWriter::Append(log_format::RecordType type, std::string_view payload) {
  if (payload.size() > log_format::kMaxRecordPayload) {
    return Status::InvalidArgument("log record of " + std::to_string(payload.size()) +
                                   " bytes exceeds the limit");
  }
  std::unique_lock lock(mutex_);
  if (!broken_.ok()) return broken_;
  // A cancel record always goes through: it is what keeps a failed write
  // from being replayed.
  if (shipper_ && type != log_format::RecordType::kCancel && shipper_->backlog_full()) {
    return Status::Unavailable(
        "object store is not keeping up: too many log records wait for upload");
  }
  if (parked_) {
    VECTORD_RETURN_IF_ERROR(Unpark());
  } else if (!file_) {
    // A previous rotation failed to start a segment: try again now.
    VECTORD_RETURN_IF_ERROR(StartSegment(next_sequence_));
  }
  const uint64_t sequence = next_sequence_;
  std::string record = log_format::FrameRecord(sequence, type, payload);
  const uint64_t size_before = file_->size();
  Status s = file_->Append(record);
  if (!s.ok()) {
    // Drop the partial record; earlier records stay.
    Status t = file_->Truncate(size_before);
    if (!t.ok())
      broken_ = Status::IOError("write-ahead log is unusable until restart: " + t.message());
    return s;
  }
  if (shipper_) {
    // Queued for the object store before it counts as appended: when memory
    // runs out queueing it, nothing is queued and the file is cut back.
    try {
      shipper_->Enqueue(sequence, std::move(record));
    } catch (const std::bad_alloc&) {
      Status t = file_->Truncate(size_before);
      if (!t.ok())
        broken_ = Status::IOError("write-ahead log is unusable until restart: " + t.message());
      return Status::NoSpace("out of memory queueing a log record for the object store");
    }
  }
  next_sequence_ = sequence + 1;
  appended_through_ = sequence;
  // The most recently written is the last to be closed (bookkeeping only:
  // if it cannot get memory, the file is merely closed out of turn).
  try {
    if (open_files_ != nullptr) open_files_->Touch(this);
  } catch (const std::bad_alloc&) {
  }
  lock.unlock();
  TrimOpenFiles();
  return sequence;
}

void LogWriter::AttachShipper(std::unique_ptr<LogShipper> shipper) {
  std::lock_guard lock(mutex_);
  shipper_ = std::move(shipper);
}

void LogWriter::Close(Status reason) {
  {
    std::unique_lock lock(mutex_);
    // A leader's fsync runs unlocked on file_: let it finish first.
    synced_.wait(lock, [this] { return !sync_in_progress_; });
    if (broken_.ok()) broken_ = reason;
    SetFile(nullptr);
  }
  synced_.notify_all();
  if (shipper_) shipper_->Stop(std::move(reason));
}

Status LogWriter::WaitShipped(uint64_t sequence) {
  return shipper_ ? shipper_->WaitShipped(sequence) : Status::Ok();
}

Status LogWriter::Sync(uint64_t sequence) {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (sequence <= durable_through_) return Status::Ok();
    if (sequence <= lost_through_) {
      return Status::IOError("write-ahead log: fsync failed; the record's durability is unknown");
    }
    if (!broken_.ok()) return broken_;
    if (!sync_in_progress_) break;
    synced_.wait(lock);
  }
  // A closed or parked segment has nothing unsynced (both are closed only
  // once clean), so there is always a file here; but say so if not.
  if (!file_) return Status::IOError("write-ahead log: no open segment to sync");
  // Lead: sync everything appended so far; the others wait for this one.
  sync_in_progress_ = true;
  const uint64_t target = appended_through_;
  const uint64_t target_bytes = file_->size();
  WritableFile* file = file_.get();
  lock.unlock();
  Status s = file->Sync();
  lock.lock();
  sync_in_progress_ = false;
  if (s.ok()) {
    durable_through_ = std::max(durable_through_, target);
    if (file == file_.get()) durable_bytes_ = std::max(durable_bytes_, target_bytes);
  } else {
    // Whether those bytes reached the disk is now unknown. They stay in the
    // file — some were acknowledged at the "written" level and must survive
    // a process crash — and the callers waiting for them get the error; the
    // service cancels the records it will not apply (RecordType::kCancel).
    lost_through_ = std::max(lost_through_, target);
  }
  synced_.notify_all();
  if (!s.ok()) return s;
  return sequence <= durable_through_ ? Status::Ok()
                                      : Status::IOError("write-ahead log: not durable");
}

Status LogWriter::SyncAll() {
  uint64_t target;
  {
    std::lock_guard lock(mutex_);
    target = appended_through_;
    if (target <= durable_through_) return Status::Ok();
  }
  return Sync(target);
}

Result<uint64_t> LogWriter::Rotate() {
  std::unique_lock lock(mutex_);
  synced_.wait(lock, [this] { return !sync_in_progress_; });
  if (!broken_.ok()) return broken_;
  if (file_) {
    Status s = file_->Sync();
    if (!s.ok()) {
      lost_through_ = std::max(lost_through_, appended_through_);
      synced_.notify_all();
      return s;
    }
    durable_through_ = appended_through_;
  }
  SetFile(nullptr);  // also a parked segment: it is clean, and done with
  const uint64_t first = next_sequence_;
  VECTORD_RETURN_IF_ERROR(StartSegment(first));
  lock.unlock();
  TrimOpenFiles();
  return first;
}

Status LogWriter::DropSegmentsThrough(uint64_t covered) {
  std::string current;
  {
    std::lock_guard lock(mutex_);
    current = file_path_;
  }
  VECTORD_ASSIGN_OR_RETURN(const std::vector<std::string> names, fs_->ListDirectory(dir_));
  std::vector<std::pair<uint64_t, std::string>> segments;
  for (const std::string& name : names) {
    if (name.size() != 24 || name.substr(20) != ".log") continue;
    segments.emplace_back(std::strtoull(name.c_str(), nullptr, 10), name);
  }
  bool removed = false;
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    // Segment i holds sequences below the next segment's first.
    if (segments[i + 1].first > covered + 1) break;
    std::string path = dir_ + "/" + segments[i].second;
    if (path == current) break;
    VECTORD_RETURN_IF_ERROR(fs_->RemoveFile(path));
    removed = true;
  }
  if (removed) return fs_->SyncDirectory(dir_);
  return Status::Ok();
}

uint64_t LogWriter::current_segment_bytes() const {
  std::lock_guard lock(mutex_);
  if (parked_) return parked_bytes_;
  return file_ ? file_->size() : 0;
}

uint64_t LogWriter::last_sequence() const {
  std::lock_guard lock(mutex_);
  return next_sequence_ - 1;
}

}  // namespace vectord::store
