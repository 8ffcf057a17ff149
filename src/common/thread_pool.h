// ThreadPool: a fixed set of worker threads for CPU-heavy work (inserts,
// searches, background scans).
//
// Thread safety: every method may be called from any thread, including from
// inside a task. ParallelFor lets the calling thread work too, so it makes
// progress even when every worker is busy, and it returns only when every
// index has been processed. The destructor finishes the queued tasks, then
// joins the workers.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace vectord {

class ThreadPool {
 public:
  // threads == 0 means one per hardware thread. `nice` (0..19) lowers the
  // workers' CPU priority below the creating thread's by that many nice
  // steps (Linux keeps a nice value per thread), so that work queued here
  // yields the cores to the process's other threads when both want more
  // than there is; it never waits otherwise.
  explicit ThreadPool(size_t threads = 0, int nice = 0);
  ~ThreadPool();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return workers_.size(); }

  // Runs task on a worker, some time later. An exception it throws is
  // logged and dropped: the task must report its own failures.
  void Submit(std::function<void()> task);

  // Calls fn(i) for every i in [0, count), spread over the workers and the
  // calling thread; returns when all calls have returned. If any call
  // throws, the others still run and the first exception is rethrown here. `max_parallelism`
  // caps how many threads take part (0 = the pool's size + the caller).
  void ParallelFor(size_t count, const std::function<void(size_t)>& fn, size_t max_parallelism = 0);

 private:
  void WorkerLoop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;  // guarded by mutex_
  bool stopping_ = false;                    // guarded by mutex_
  std::vector<std::thread> workers_;
};

}  // namespace vectord
