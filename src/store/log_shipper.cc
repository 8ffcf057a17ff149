#include "store/log_shipper.h"

#include <charconv>
#include <cstdio>

#include "store/log_format.h"

namespace vectord::store {

LogShipper::LogShipper(ObjectStore* store, std::string prefix, uint32_t dimension,
                       uint64_t shipped_through, LogShipperOptions options)
    : store_(store),
      prefix_(std::move(prefix)),
      dimension_(dimension),
      options_(options),
      shipped_through_(shipped_through) {
  thread_ = std::thread([this] { Run(); });
}

LogShipper::~LogShipper() { Stop(); }

void LogShipper::Stop(Status reason) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      stopping_ = true;
      stop_reason_ = std::move(reason);
    }
  }
  wake_.notify_all();
  shipped_.notify_all();
  std::lock_guard join(join_mutex_);
  if (thread_.joinable()) thread_.join();
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
  {
    std::lock_guard lock(mutex_);
    pending_bytes_ += record.size();
    pending_.emplace_back(sequence, std::move(record));
  }
  wake_.notify_one();
}

bool LogShipper::backlog_full() const {
  std::lock_guard lock(mutex_);
  return pending_bytes_ >= options_.max_backlog_bytes;
}

Status LogShipper::WaitShipped(uint64_t sequence) {
  std::unique_lock lock(mutex_);
  // While uploads fail, answer at once rather than after another round of
  // retries: the caller turns this into a clear 503.
  if (sequence > shipped_through_ && stopping_) return stop_reason_;
  if (sequence > shipped_through_ && !last_failure_.ok()) return last_failure_;
  const uint64_t failures_seen = failures_;
  shipped_.wait(lock, [&] {
    return sequence <= shipped_through_ || failures_ != failures_seen || stopping_;
  });
  if (sequence <= shipped_through_) return Status::Ok();
  if (stopping_) return stop_reason_;
  return last_failure_;
}

Status LogShipper::WaitShippedFor(uint64_t sequence, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const bool shipped =
      shipped_.wait_for(lock, timeout, [&] { return sequence <= shipped_through_ || stopping_; });
  if (shipped && sequence <= shipped_through_) return Status::Ok();
  if (stopping_) return stop_reason_;
  if (!last_failure_.ok()) return last_failure_;
  return Status::Unavailable("object store upload did not finish within " +
                             std::to_string(timeout.count()) + " ms");
}

uint64_t LogShipper::shipped_through() const {
  std::lock_guard lock(mutex_);
  return shipped_through_;
}

size_t LogShipper::pending_records() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

LogShipperStats LogShipper::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void LogShipper::Run() {
  std::unique_lock lock(mutex_);
  size_t group_records = 0;  // the front records of pending_ that form the object in flight
  std::string body;
  uint64_t first = 0, last = 0;
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
    if (stopping_) return;
    if (group_records == 0) {
      // Records are only removed from pending_ by this thread, so the front
      // group stays put while the lock is released for the upload.
      first = pending_.front().first;
      body = log_format::EncodeSegmentHeader(dimension_, first);
      for (const auto& [sequence, record] : pending_) {
        if (group_records > 0 && body.size() + record.size() > options_.max_object_bytes) break;
        body += record;
        last = sequence;
        ++group_records;
      }
    }
    const std::string key = prefix_ + ObjectName(first, last);
    lock.unlock();
    Status put = store_->Put(key, body);
    lock.lock();
    if (put.ok()) {
      for (size_t i = 0; i < group_records; ++i) {
        pending_bytes_ -= pending_.front().second.size();
        pending_.pop_front();
      }
      group_records = 0;
      shipped_through_ = last;
      last_failure_ = Status::Ok();
      ++stats_.objects;
      stats_.bytes += body.size();
      if (options_.totals != nullptr) {
        options_.totals->objects.fetch_add(1, std::memory_order_relaxed);
        options_.totals->bytes.fetch_add(body.size(), std::memory_order_relaxed);
      }
      shipped_.notify_all();
      continue;
    }
    ++failures_;
    ++stats_.failed_uploads;
    if (options_.totals != nullptr) {
      options_.totals->failed_uploads.fetch_add(1, std::memory_order_relaxed);
    }
    last_failure_ =
        Status::Unavailable("object store upload of " + key + " failed: " + put.message());
    shipped_.notify_all();
    // Pause before retrying the same object; stop promptly on shutdown.
    wake_.wait_for(lock, options_.retry_pause, [&] { return stopping_; });
  }
}

}  // namespace vectord::store
