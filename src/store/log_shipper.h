// LogShipper: copies one index's write-ahead log records to an object store
// as they are written, so that the bucket holds every acknowledged write.
//
// Records arrive from the LogWriter in sequence order (Enqueue is called
// under the writer's lock). Uploads run on an UploadPool shared by every
// shipper (so threads do not grow with the number of indexes), one at a time
// per shipper, in groups: every record that accumulated while the previous
// upload ran goes into the next object, so concurrent writers share one PUT
// the way they share an fsync.
// An object is a complete log segment in the format of docs/wal-format.md
// (header with its first sequence, then the records, byte for byte as in the
// local file), named
//
//     <prefix><first sequence, 20 digits>-<last sequence, 20 digits>.log
//
// Objects never overlap: a group whose upload failed is retried as the same
// object (same records, same key) until it lands, and later records wait
// behind it. So the bucket's segments always hold a gap-free prefix of the
// log after the last one shipped.
//
// WaitShipped(seq) returns once the record is in the store; while uploads
// are failing it returns Unavailable at once (the service cancels the write,
// waits a little for the cancel record to land with WaitShippedFor, and
// answers 503), and records keep queueing in memory up to a bound, past
// which the writer refuses new records (backlog_full()).
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"
#include "store/object_store.h"
#include "store/upload_pool.h"

namespace vectord::store {

// Running totals over every shipper that shares them (for /metrics).
struct ShippingTotals {
  std::atomic<uint64_t> objects{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> failed_uploads{0};
};

struct LogShipperOptions {
  ShippingTotals* totals = nullptr;  // optional; must outlive the shipper
  // Where the uploads run; null: a pool of one thread of the shipper's own.
  std::shared_ptr<UploadPool> pool = nullptr;
  size_t max_object_bytes = size_t{32} << 20;
  size_t max_backlog_bytes = size_t{512} << 20;
  std::chrono::milliseconds retry_pause{500};
};

struct LogShipperStats {
  uint64_t objects = 0;
  uint64_t bytes = 0;
  uint64_t failed_uploads = 0;
};

class LogShipper {
 public:
  // `prefix` is the object-key directory, e.g. "_vectors/docs.wal/";
  // `shipped_through` the highest sequence already in the store.
  LogShipper(ObjectStore* store, std::string prefix, uint32_t dimension, uint64_t shipped_through,
             LogShipperOptions options = {});
  ~LogShipper();  // Stop()s; records not yet shipped stay only in the local log
  LogShipper(const LogShipper&) = delete;
  LogShipper& operator=(const LogShipper&) = delete;

  // Stops uploading for good: waits for an upload in flight to return, so
  // that nothing reaches the store after this returns (a dropped index's
  // records must not land in the prefix a re-created index of the same name
  // uses). Waiters for records not shipped get `reason`. Idempotent.
  void Stop(Status reason = Status::Unavailable("object store upload stopped (shutting down)"));

  // `record` is the framed record exactly as the local segment holds it.
  void Enqueue(uint64_t sequence, std::string record);
  bool backlog_full() const;
  Status WaitShipped(uint64_t sequence);
  // Waits through failed uploads (which are retried) until the record is in
  // the store or `timeout` passes; then the last failure, or Unavailable.
  Status WaitShippedFor(uint64_t sequence, std::chrono::milliseconds timeout);
  uint64_t shipped_through() const;
  // Records appended but not yet in the store.
  size_t pending_records() const;
  LogShipperStats stats() const;

  static std::string ObjectName(uint64_t first, uint64_t last);
  // Parses a name made by ObjectName; false for anything else.
  static bool ParseObjectName(std::string_view name, uint64_t* first, uint64_t* last);

 private:
  // Everything an upload task touches, shared with the tasks in the pool so
  // that one running late (a retry due after Stop) finds it alive; after
  // Stop such a task returns without touching the store.
  struct State;
  // Uploads one group, then schedules the next (or the retry); runs on the
  // pool, one at a time per shipper.
  static void Upload(const std::shared_ptr<State>& state);

  // Kept alive while the shipper is (the state holds a plain pointer, so
  // that tasks queued in the pool do not keep the pool alive).
  std::shared_ptr<UploadPool> pool_;
  std::shared_ptr<State> state_;
};

}  // namespace vectord::store
