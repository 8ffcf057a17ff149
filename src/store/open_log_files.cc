#include "store/open_log_files.h"

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
  where_.emplace(writer, recency_.begin());
}

void OpenLogFiles::Forget(LogWriter* writer) {
  std::lock_guard lock(mutex_);
  auto it = where_.find(writer);
  if (it == where_.end()) return;
  recency_.erase(it->second);
  where_.erase(it);
}

void OpenLogFiles::Trim(const LogWriter* keep) {
  std::lock_guard lock(mutex_);
  if (where_.size() <= capacity_) return;
  // From the least recently used up; a writer that cannot park now (busy,
  // or holding unsynced records) keeps its place.
  for (auto it = recency_.end(); it != recency_.begin() && where_.size() > capacity_;) {
    --it;
    LogWriter* writer = *it;
    if (writer == keep || !writer->TryPark()) continue;
    where_.erase(writer);
    it = recency_.erase(it);
    ++parked_;
  }
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
