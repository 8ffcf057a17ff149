// LogWriter: appends records to one index's write-ahead log
// (docs/wal-format.md) and makes them durable with group commit.
//
// Append() writes a record and returns its sequence number; Sync(seq)
// returns once that record is on disk. Concurrent Sync calls share fsyncs:
// one caller (the leader) syncs everything appended so far while the others
// wait for it, so N writers arriving together cost one fsync, not N.
//
// A failed write truncates the partial record away (its sequence number is
// not used). A failed fsync leaves the records in the file — some may have
// been acknowledged at the weaker "written" level — and fails every Sync
// waiting for them; the caller decides (the service appends a cancel
// record). Sequences rise but may have gaps (docs/wal-format.md, "Gaps in
// the sequence"); a number is given out again only when its record never
// reached the log (a failed write, or a torn tail cut off at start-up). If a
// truncation fails the log refuses writes until reopened.
//
// With an OpenLogFiles budget, the current segment is closed while the
// writer is idle and clean if too many logs are open, and reopened by the
// next write (open_log_files.h).
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"
#include "store/file_system.h"
#include "store/log_format.h"
#include "store/log_shipper.h"
#include "store/open_log_files.h"

namespace vectord::store {

class LogWriter {
 public:
  // Opens the log in `dir` for appending. `next_sequence` is one past the
  // highest sequence recovery saw (or 1). `tail` names the last segment and
  // its valid length when recovery found one to continue; otherwise a new
  // segment starts.
  struct Tail {
    std::string segment_path;
    uint64_t valid_bytes = 0;
  };
  // `open_files` (optional) bounds the descriptors of every writer sharing
  // it.
  static Result<std::unique_ptr<LogWriter>> Open(
      FileSystem* fs, std::string dir, uint32_t dimension, uint64_t next_sequence, const Tail* tail,
      std::shared_ptr<OpenLogFiles> open_files = nullptr);
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Appends one record; returns its sequence. On failure nothing of it stays.
  Result<uint64_t> Append(log_format::RecordType type, std::string_view payload);
  // Waits until the record `sequence` is durable (or known lost).
  Status Sync(uint64_t sequence);
  // Syncs everything appended so far (the interval policy's timer calls this).
  Status SyncAll();
  // Closes the current segment and starts a new one; returns the sequence
  // the new one starts at. Records up to the returned value minus one are in
  // older segments.
  Result<uint64_t> Rotate();
  // Deletes the segments whose records all have sequence <= covered.
  Status DropSegmentsThrough(uint64_t covered);
  // Bytes in the current segment: the checkpoint trigger.
  uint64_t current_segment_bytes() const;
  uint64_t last_sequence() const;

  static std::string SegmentName(uint64_t first_sequence);

  // Whether the current segment is closed for the budget (for tests).
  bool parked() const;

  // Refuses every later Append, Sync of an unsynced record and Rotate with
  // `reason`, and stops the shipper (waiting for an upload in flight): after
  // it returns the log neither writes a file nor puts an object. For a
  // dropped index, whose directory and bucket prefix a re-created index of
  // the same name will use.
  void Close(Status reason);

  // Copies every record appended from now on to an object store (see
  // LogShipper); called once, before the log takes writes.
  void AttachShipper(std::unique_ptr<LogShipper> shipper);
  LogShipper* shipper() const { return shipper_.get(); }
  // Waits until record `sequence` is in the object store; Ok at once when no
  // shipper is attached.
  Status WaitShipped(uint64_t sequence);

 private:
  friend class OpenLogFiles;  // TryPark

  // For OpenLogFiles::Trim: closes the current segment if the writer is not
  // in use (its lock is free), has synced every record, has none waiting
  // for the object store (a cancel record may still have to follow them)
  // and is not broken; false otherwise. The next write reopens it.
  bool TryPark();
  LogWriter(FileSystem* fs, std::string dir, uint32_t dimension,
            std::shared_ptr<OpenLogFiles> open_files)
      : fs_(fs), dir_(std::move(dir)), dimension_(dimension), open_files_(std::move(open_files)) {}
  // Open's work, under the new writer's lock.
  static Result<std::unique_ptr<LogWriter>> OpenLocked(FileSystem* fs, std::string dir,
                                                       uint32_t dimension, uint64_t next_sequence,
                                                       const Tail* tail,
                                                       std::shared_ptr<OpenLogFiles> open_files);
  Status StartSegment(uint64_t first_sequence);
  // Sets file_ (which may be null) and tells the budget; mutex_ held.
  void SetFile(std::unique_ptr<WritableFile> file);
  // Reopens a parked segment; mutex_ held.
  Status Unpark();
  // Lets the budget close other writers' files; mutex_ not held.
  void TrimOpenFiles();

  FileSystem* const fs_;
  const std::string dir_;
  const uint32_t dimension_;
  const std::shared_ptr<OpenLogFiles> open_files_;  // may be null

  mutable std::mutex mutex_;
  std::condition_variable synced_;
  std::unique_ptr<WritableFile> file_;  // guarded by mutex_
  std::string file_path_;               // guarded by mutex_
  uint64_t segment_first_ = 0;          // guarded by mutex_
  uint64_t next_sequence_ = 1;          // guarded by mutex_
  uint64_t appended_through_ = 0;       // highest sequence written
  uint64_t durable_through_ = 0;        // highest sequence known durable
  uint64_t durable_bytes_ = 0;          // segment length covering durable records
  uint64_t lost_through_ = 0;           // not durable at or below this: an fsync failed
  bool sync_in_progress_ = false;
  bool parked_ = false;                  // file_ closed for the budget; file_path_ is the segment
  uint64_t parked_bytes_ = 0;            // its length when closed
  Status broken_;                        // set when a roll-back failed
  std::unique_ptr<LogShipper> shipper_;  // set before writes; its own locking
};

}  // namespace vectord::store
