#include "store/log_shipper.h"

#include <charconv>
#include <cstdio>

#include "store/log_format.h"

namespace vectord::store {

struct LogShipper::State {
  State(ObjectStore* store, std::string prefix, uint32_t dimension, uint64_t shipped_through,
        LogShipperOptions options, UploadPool* pool)
      : store(store),
        prefix(std::move(prefix)),
        dimension(dimension),
        options(std::move(options)),
        pool(pool),
        shipped_through(shipped_through) {}

  ObjectStore* const store;
  const std::string prefix;
  const uint32_t dimension;
  const LogShipperOptions options;
  UploadPool* const pool;  // the shipper's pool_: alive while the shipper is

  mutable std::mutex mutex;
  std::condition_variable shipped;                       // progress, failure or stop
  std::deque<std::pair<uint64_t, std::string>> pending;  // guarded by mutex
  size_t pending_bytes = 0;                              // guarded by mutex
  uint64_t shipped_through;                              // guarded by mutex
  uint64_t failures = 0;                                 // guarded by mutex
  Status last_failure;    // guarded by mutex; ok once an upload lands
  bool stopping = false;  // guarded by mutex
  Status stop_reason;     // guarded by mutex; what waiters get once stopping
  LogShipperStats stats;  // guarded by mutex
  // An upload task is queued in the pool or running: at most one at a time.
  bool scheduled = false;  // guarded by mutex
  bool uploading = false;  // guarded by mutex; the store is being called
  // The object being shipped (retried as the same object until it lands):
  // the first `group_records` of pending, from `first` to `last`. Written
  // only by the upload task, which the scheduled flag keeps to one at a time.
  size_t group_records = 0;
  uint64_t first = 0, last = 0;
  std::string body;
};

LogShipper::LogShipper(ObjectStore* store, std::string prefix, uint32_t dimension,
                       uint64_t shipped_through, LogShipperOptions options) {
  pool_ = options.pool != nullptr ? std::move(options.pool) : std::make_shared<UploadPool>(1);
  options.pool = nullptr;
  state_ = std::make_shared<State>(store, std::move(prefix), dimension, shipped_through,
                                   std::move(options), pool_.get());
}

LogShipper::~LogShipper() { Stop(); }

void LogShipper::Stop(Status reason) {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  if (!s.stopping) {
    s.stopping = true;
    s.stop_reason = std::move(reason);
  }
  s.shipped.notify_all();
  // An upload in flight finishes first: nothing reaches the store after
  // this returns. A task still queued returns as soon as it runs.
  s.shipped.wait(lock, [&] { return !s.uploading; });
  // Never shipped now: free them rather than leave them to a retry that
  // may wait in the pool for its pause.
  s.pending.clear();
  s.pending_bytes = 0;
  s.group_records = 0;
}

std::string LogShipper::ObjectName(uint64_t first, uint64_t last) {
  char name[64];
  std::snprintf(name, sizeof(name), "%020llu-%020llu.log", static_cast<unsigned long long>(first),
                static_cast<unsigned long long>(last));
  return name;
}

bool LogShipper::ParseObjectName(std::string_view name, uint64_t* first, uint64_t* last) {
  if (name.size() != 45 || name[20] != '-' || name.substr(41) != ".log") return false;
  auto parse = [](std::string_view digits, uint64_t* out) {
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), *out);
    return error == std::errc() && end == digits.data() + digits.size();
  };
  return parse(name.substr(0, 20), first) && parse(name.substr(21, 20), last) && *first <= *last &&
         *first > 0;
}

void LogShipper::Enqueue(uint64_t sequence, std::string record) {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  const size_t bytes = record.size();
  s.pending.emplace_back(sequence, std::move(record));
  s.pending_bytes += bytes;
  if (s.scheduled || s.stopping) return;
  // Out of memory, nothing stays queued: the writer takes the record back.
  try {
    s.pool->Run([state = state_] { Upload(state); });
  } catch (...) {
    s.pending.pop_back();
    s.pending_bytes -= bytes;
    throw;
  }
  s.scheduled = true;
}

bool LogShipper::backlog_full() const {
  std::lock_guard lock(state_->mutex);
  return state_->pending_bytes >= state_->options.max_backlog_bytes;
}

Status LogShipper::WaitShipped(uint64_t sequence) {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  // While uploads fail, answer at once rather than after another round of
  // retries: the caller turns this into a clear 503.
  if (sequence > s.shipped_through && s.stopping) return s.stop_reason;
  if (sequence > s.shipped_through && !s.last_failure.ok()) return s.last_failure;
  const uint64_t failures_seen = s.failures;
  s.shipped.wait(lock, [&] {
    return sequence <= s.shipped_through || s.failures != failures_seen || s.stopping;
  });
  if (sequence <= s.shipped_through) return Status::Ok();
  if (s.stopping) return s.stop_reason;
  return s.last_failure;
}

Status LogShipper::WaitShippedFor(uint64_t sequence, std::chrono::milliseconds timeout) {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  const bool shipped = s.shipped.wait_for(
      lock, timeout, [&] { return sequence <= s.shipped_through || s.stopping; });
  if (shipped && sequence <= s.shipped_through) return Status::Ok();
  if (s.stopping) return s.stop_reason;
  if (!s.last_failure.ok()) return s.last_failure;
  return Status::Unavailable("object store upload did not finish within " +
                             std::to_string(timeout.count()) + " ms");
}

uint64_t LogShipper::shipped_through() const {
  std::lock_guard lock(state_->mutex);
  return state_->shipped_through;
}

size_t LogShipper::pending_records() const {
  std::lock_guard lock(state_->mutex);
  return state_->pending.size();
}

LogShipperStats LogShipper::stats() const {
  std::lock_guard lock(state_->mutex);
  return state_->stats;
}

void LogShipper::Upload(const std::shared_ptr<State>& state) {
  State& s = *state;
  std::unique_lock lock(s.mutex);
  if (s.stopping || s.pending.empty()) {
    s.scheduled = false;
    return;
  }
  // Memory that runs out here (building the object, or in the store's
  // client) fails this attempt like an upload that failed: retried after a
  // pause, never leaving the shipper stuck as "uploading".
  Status put;
  std::string key;
  try {
    if (s.group_records == 0) {
      // Records are only removed from pending by this task (one at a time
      // per shipper), so the front group stays put while the lock is
      // released.
      s.first = s.pending.front().first;
      s.body = log_format::EncodeSegmentHeader(s.dimension, s.first);
      for (const auto& [sequence, record] : s.pending) {
        if (s.group_records > 0 && s.body.size() + record.size() > s.options.max_object_bytes) {
          break;
        }
        s.body += record;
        s.last = sequence;
        ++s.group_records;
      }
    }
    key = s.prefix + ObjectName(s.first, s.last);
    s.uploading = true;
    lock.unlock();
    try {
      put = s.store->Put(key, s.body);
    } catch (const std::exception& e) {
      put = Status::Unavailable(e.what());
    }
    lock.lock();
  } catch (const std::exception& e) {
    if (!lock.owns_lock()) lock.lock();
    s.group_records = 0;  // the group is built again next time
    s.body.clear();
    put = Status::Unavailable(std::string("building the upload: ") + e.what());
  }
  if (put.ok()) {
    for (size_t i = 0; i < s.group_records; ++i) {
      s.pending_bytes -= s.pending.front().second.size();
      s.pending.pop_front();
    }
    s.group_records = 0;
    s.shipped_through = s.last;
    s.last_failure = Status::Ok();
    ++s.stats.objects;
    s.stats.bytes += s.body.size();
    if (s.options.totals != nullptr) {
      s.options.totals->objects.fetch_add(1, std::memory_order_relaxed);
      s.options.totals->bytes.fetch_add(s.body.size(), std::memory_order_relaxed);
    }
  } else {
    ++s.failures;
    ++s.stats.failed_uploads;
    if (s.options.totals != nullptr) {
      s.options.totals->failed_uploads.fetch_add(1, std::memory_order_relaxed);
    }
    s.last_failure =
        Status::Unavailable("object store upload of " + key + " failed: " + put.message());
  }
  s.uploading = false;
  s.shipped.notify_all();
  if (s.stopping || s.pending.empty()) {
    s.scheduled = false;
    return;
  }
  // The next group at once; the same object again after a pause. Other
  // shippers' uploads use the pool's threads meanwhile.
  const auto when =
      put.ok() ? UploadPool::Clock::now() : UploadPool::Clock::now() + s.options.retry_pause;
  try {
    s.pool->RunAt(when, [state] { Upload(state); });
  } catch (const std::exception&) {
    s.scheduled = false;  // the next record appended schedules it again
  }
}

}  // namespace vectord::store
