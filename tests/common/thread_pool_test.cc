#include "common/thread_pool.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

namespace vectord {
namespace {

int OwnNice() { return getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())); }

int NiceOfATaskOn(ThreadPool& pool) {
  std::promise<int> nice;
  std::future<int> result = nice.get_future();
  pool.Submit([&nice] { nice.set_value(OwnNice()); });
  return result.get();
}

TEST(ThreadPool, WorkersRunTheGivenStepsBelowTheirCreator) {
  const int creator = OwnNice();
  ThreadPool lowered(2, 3);
  ThreadPool plain(1);
  EXPECT_EQ(NiceOfATaskOn(lowered), std::min(19, creator + 3));
  EXPECT_EQ(NiceOfATaskOn(plain), creator);
  EXPECT_EQ(OwnNice(), creator) << "the creating thread keeps its priority";
}

TEST(ThreadPool, ParallelForRunsEveryIndexExactlyOnce) {
  ThreadPool pool(3);
  for (size_t count : {0u, 1u, 2u, 7u, 1000u}) {
    std::vector<std::atomic<int>> hits(count);
    pool.ParallelFor(count, [&](size_t i) { hits[i].fetch_add(1); });
    for (size_t i = 0; i < count; ++i) EXPECT_EQ(hits[i].load(), 1) << "index " << i;
  }
}

// A call that throws (an allocation that failed) does not end the process
// or leave helpers running on a dead `fn`: every other index still runs and
// the caller gets the exception; the pool goes on working.
TEST(ThreadPool, ParallelForRethrowsAfterEveryIndexRan) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> seen(1000);
  EXPECT_THROW(pool.ParallelFor(seen.size(),
                                [&](size_t i) {
                                  seen[i].fetch_add(1);
                                  if (i % 97 == 5) throw std::bad_alloc();
                                }),
               std::bad_alloc);
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i].load(), 1) << i;
  std::atomic<int> ran{0};
  pool.Submit([] { throw std::runtime_error("a task that fails"); });
  pool.ParallelFor(100, [&](size_t) { ran.fetch_add(1); });
  EXPECT_EQ(ran.load(), 100);
}

TEST(ThreadPool, NestedParallelForDoesNotDeadlock) {
  // Every worker busy in an outer loop must not stop the inner loops: the
  // caller of ParallelFor works on its own indices.
  ThreadPool pool(2);
  std::atomic<int> total{0};
  pool.ParallelFor(8, [&](size_t) { pool.ParallelFor(50, [&](size_t) { total.fetch_add(1); }); });
  EXPECT_EQ(total.load(), 400);
}

TEST(ThreadPool, SubmittedTasksRunBeforeDestruction) {
  std::atomic<int> ran{0};
  {
    ThreadPool pool(2);
    for (int i = 0; i < 100; ++i) pool.Submit([&] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 100);
}

TEST(ThreadPool, ParallelismCapIsHonoured) {
  ThreadPool pool(4);
  std::atomic<int> running{0}, peak{0};
  pool.ParallelFor(
      64,
      [&](size_t) {
        int now = running.fetch_add(1) + 1;
        int old = peak.load();
        while (now > old && !peak.compare_exchange_weak(old, now)) {
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        running.fetch_sub(1);
      },
      2);
  EXPECT_LE(peak.load(), 2);
}

}  // namespace
}  // namespace vectord
