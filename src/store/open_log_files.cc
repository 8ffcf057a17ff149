#include "store/open_log_files.h"

#include <algorithm>

#include "store/log_writer.h"

namespace vectord::store {

void OpenLogFiles::Touch(LogWriter* writer) {
  std::lock_guard lock(mutex_);
  auto it = where_.find(writer);
  if (it != where_.end()) {
    recency_.splice(recency_.begin(), recency_, it->second);
    return;
  }
  recency_.push_front(writer);
  try {
    where_.emplace(writer, recency_.begin());
  } catch (...) {
    recency_.pop_front();  // never an entry Forget cannot find
    throw;
  }
  open_.store(where_.size(), std::memory_order_relaxed);
}

void OpenLogFiles::Forget(LogWriter* writer) {
  std::lock_guard lock(mutex_);
  auto it = where_.find(writer);
  if (it == where_.end()) return;
  recency_.erase(it->second);
  where_.erase(it);
  open_.store(where_.size(), std::memory_order_relaxed);
}

void OpenLogFiles::Trim(const LogWriter* keep) {
  if (open_.load(std::memory_order_relaxed) <= capacity_) return;
  std::lock_guard lock(mutex_);
  // From the least recently used up; a writer that cannot park now (busy,
  // or holding records not yet synced or shipped) keeps its place. A later
  // write tries again.
  size_t looked_at = 0;
  const size_t look_at_most = 2 * (where_.size() - std::min(where_.size(), capacity_)) + 16;
  for (auto it = recency_.end();
       it != recency_.begin() && where_.size() > capacity_ && looked_at < look_at_most;
       ++looked_at) {
    --it;
    LogWriter* writer = *it;
    if (writer == keep || !writer->TryPark()) continue;
    where_.erase(writer);
    it = recency_.erase(it);
    ++parked_;
  }
  open_.store(where_.size(), std::memory_order_relaxed);
}

size_t OpenLogFiles::open_files() const {
  std::lock_guard lock(mutex_);
  return where_.size();
}

uint64_t OpenLogFiles::parked() const {
  std::lock_guard lock(mutex_);
  return parked_;
}

}  // namespace vectord::store
