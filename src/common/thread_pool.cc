#include "common/thread_pool.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <exception>
#include <memory>

#include "common/log.h"

namespace vectord {

ThreadPool::ThreadPool(size_t threads, int nice) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) {
    workers_.emplace_back([this, nice] {
      // A new thread starts at its creator's nice value. Raising one's own
      // needs no privilege; should it fail, the pool still works, at the
      // creator's priority.
      if (nice > 0) {
        const auto self = static_cast<id_t>(gettid());
        errno = 0;
        const int inherited = getpriority(PRIO_PROCESS, self);
        if (errno == 0) setpriority(PRIO_PROCESS, self, std::min(19, inherited + nice));
      }
      WorkerLoop();
    });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::Submit(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void ThreadPool::WorkerLoop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    // A task that throws (an allocation that failed) must not take the
    // worker, and with it the process, down; its owner answers for it.
    try {
      task();
    } catch (const std::exception& e) {
      LogError("worker_task_failed", {{"error", e.what()}});
    }
  }
}

namespace {

// Shared by the caller and the helper tasks of one ParallelFor. Helpers that
// start after every index is claimed touch only the atomics, never `fn`, so
// the caller may return (and `fn` die) before they run.
struct ParallelForState {
  size_t count = 0;
  const std::function<void(size_t)>* fn = nullptr;
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::mutex mutex;
  std::condition_variable all_done;
  std::exception_ptr first_failure;  // guarded by mutex

  void Work() {
    size_t finished = 0;
    for (;;) {
      size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= count) break;
      // A call that throws still counts as done: the caller waits for every
      // index before it returns (and rethrows), so no helper is left using
      // `fn` after it is gone.
      try {
        (*fn)(i);
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!first_failure) first_failure = std::current_exception();
      }
      ++finished;
    }
    if (finished == 0) return;
    if (done.fetch_add(finished, std::memory_order_acq_rel) + finished == count) {
      std::lock_guard lock(mutex);
      all_done.notify_all();
    }
  }
};

}  // namespace

void ThreadPool::ParallelFor(size_t count, const std::function<void(size_t)>& fn,
                             size_t max_parallelism) {
  if (count == 0) return;
  size_t threads = max_parallelism == 0 ? workers_.size() + 1 : max_parallelism;
  threads = std::min(threads, count);
  if (threads <= 1) {
    for (size_t i = 0; i < count; ++i) fn(i);
    return;
  }
  auto state = std::make_shared<ParallelForState>();
  state->count = count;
  state->fn = &fn;
  for (size_t h = 0; h + 1 < threads; ++h) Submit([state] { state->Work(); });
  state->Work();
  std::unique_lock lock(state->mutex);
  state->all_done.wait(lock, [&] { return state->done.load(std::memory_order_acquire) == count; });
  if (state->first_failure) std::rethrow_exception(state->first_failure);
}

}  // namespace vectord
