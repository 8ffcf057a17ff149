// OpenLogFiles: a bound on how many write-ahead log segments stay open at
// once, across every index of the process.
//
// Each LogWriter keeps its current segment open while it is in use. With
// thousands of indexes a descriptor per index would run the process out of
// descriptors (the common limit is 1,024), so the writers share this
// budget: a writer that uses its file becomes the most recently used, and
// when more than `capacity` files are open the least recently used writers
// close theirs ("park"). A parked writer reopens its segment on its next
// write; nothing about the log changes, and a parked file is always clean
// (everything in it synced), so closing it loses nothing.
//
// Locking: the budget has its own mutex, taken after a writer's mutex
// (Touch, from inside the writer) or before one (Trim). Trim only
// try-locks a writer, skipping any that is busy, so the two orders never
// wait on each other. A writer calls Forget in its destructor, which waits
// for a Trim in progress that might be looking at it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <unordered_map>

namespace vectord::store {

class LogWriter;

class OpenLogFiles {
 public:
  explicit OpenLogFiles(size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}
  OpenLogFiles(const OpenLogFiles&) = delete;
  OpenLogFiles& operator=(const OpenLogFiles&) = delete;

  // `writer` has its file open and just wrote to it (or opened it).
  void Touch(LogWriter* writer);
  // `writer` closed its file (or is going away).
  void Forget(LogWriter* writer);
  // Parks least recently used writers other than `keep` until at most
  // `capacity` files are open, or the oldest ones it looked at are all busy
  // or hold records not yet synced or shipped (it looks at a bounded number,
  // so that a budget full of busy writers does not make every write scan
  // them all). Called by a writer after it lets go of its own lock; costs
  // one atomic load while the budget is not exceeded.
  void Trim(const LogWriter* keep);

  size_t capacity() const { return capacity_; }
  size_t open_files() const;
  // Writers parked so far (their files closed for the budget).
  uint64_t parked() const;

 private:
  const size_t capacity_;
  std::atomic<size_t> open_{0};  // where_.size(), readable without the lock
  mutable std::mutex mutex_;
  std::list<LogWriter*> recency_;  // most recent first; guarded by mutex_
  std::unordered_map<LogWriter*, std::list<LogWriter*>::iterator> where_;  // guarded by mutex_
  uint64_t parked_ = 0;                                                    // guarded by mutex_
};

}  // namespace vectord::store
