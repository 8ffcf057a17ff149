// UploadPool: a few threads that run the object-store uploads of every
// LogShipper sharing them, so that the threads do not grow with the number
// of indexes. A task may ask to run later (a retry after a failed upload);
// tasks due at the same time run in the order they were scheduled.
//
// Thread safety: every method may be called from any thread, also from a
// task. The destructor runs no task that has not started: it waits for the
// running ones, drops the rest (and whatever they captured) and joins.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace vectord::store {

class UploadPool {
 public:
  using Clock = std::chrono::steady_clock;

  explicit UploadPool(size_t threads);
  ~UploadPool();
  UploadPool(const UploadPool&) = delete;
  UploadPool& operator=(const UploadPool&) = delete;

  void Run(std::function<void()> task) { RunAt(Clock::now(), std::move(task)); }
  void RunAt(Clock::time_point when, std::function<void()> task);

  size_t threads() const { return threads_.size(); }

 private:
  void Work();

  std::mutex mutex_;
  std::condition_variable wake_;
  // By due time, then by order of scheduling.
  std::map<std::pair<Clock::time_point, uint64_t>, std::function<void()>> due_;  // guarded
  uint64_t scheduled_ = 0;                                                       // guarded
  bool stopping_ = false;                                                        // guarded
  std::vector<std::thread> threads_;
};

}  // namespace vectord::store
