#include "store/upload_pool.h"

#include <algorithm>
#include <exception>

#include "common/log.h"

namespace vectord::store {

UploadPool::UploadPool(size_t threads) {
  const size_t count = std::max<size_t>(threads, 1);
  threads_.reserve(count);
  for (size_t i = 0; i < count; ++i) threads_.emplace_back([this] { Work(); });
}

UploadPool::~UploadPool() {
  std::map<std::pair<Clock::time_point, uint64_t>, std::function<void()>> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(due_);
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
  // `dropped` goes here, outside the lock: its captures may be the last
  // owners of shippers' state.
}

void UploadPool::RunAt(Clock::time_point when, std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    due_.emplace(std::pair{when, scheduled_++}, std::move(task));
  }
  wake_.notify_one();
}

void UploadPool::Work() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (due_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const Clock::time_point when = due_.begin()->first.first;
    if (when > Clock::now()) {
      wake_.wait_until(lock, when);
      continue;
    }
    std::function<void()> task = std::move(due_.begin()->second);
    due_.erase(due_.begin());
    lock.unlock();
    // An upload that throws (memory ran out) must not end the process: its
    // record stays unshipped, and WaitShipped's callers time out and say so.
    try {
      task();
    } catch (const std::exception& e) {
      LogError("upload_task_failed", {{"error", e.what()}});
    }
    task = nullptr;  // its captures go before the lock is taken again
    lock.lock();
  }
}

}  // namespace vectord::store
