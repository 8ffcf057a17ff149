// OpenLogFiles: many logs share a bound on open segments. Real files on the
// real disk; the descriptor count is read from /proc/self/fd.
#include "store/open_log_files.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "store/log_reader.h"
#include "store/log_writer.h"

namespace vectord::store {
namespace {

namespace fs = std::filesystem;
using log_format::RecordType;

constexpr uint32_t kDim = 4;

size_t OpenDescriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

std::vector<std::string> ReadPayloads(const std::string& dir) {
  std::vector<std::string> payloads;
  auto reader = LogReader::Open(PosixFileSystem(), dir, kDim);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  if (!reader.ok()) return payloads;
  for (;;) {
    auto next = (*reader)->Next();
    EXPECT_TRUE(next.ok()) << next.status().ToString();
    if (!next.ok() || !next->has_value()) break;
    payloads.push_back((**next).payload);
  }
  return payloads;
}

class OpenLogFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/vectord_open_logs_test.XXXXXX";
    char* root = ::mkdtemp(pattern);
    ASSERT_NE(root, nullptr);
    root_ = root;
  }
  void TearDown() override {
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }
  std::string Dir(size_t i) const { return root_ + "/index" + std::to_string(i) + ".wal"; }

  std::vector<std::unique_ptr<LogWriter>> OpenWriters(size_t count,
                                                      const std::shared_ptr<OpenLogFiles>& budget) {
    std::vector<std::unique_ptr<LogWriter>> writers;
    for (size_t i = 0; i < count; ++i) {
      auto w = LogWriter::Open(PosixFileSystem(), Dir(i), kDim, 1, nullptr, budget);
      EXPECT_TRUE(w.ok()) << w.status().ToString();
      if (w.ok()) writers.push_back(std::move(w).value());
    }
    return writers;
  }

  std::string root_;
};

// 40 logs, a budget of 4: descriptors stay near 4 while every log keeps
// taking writes, and each log reads back whole and in order.
TEST_F(OpenLogFilesTest, ManyLogsStayWithinTheBudgetAndLoseNothing) {
  auto budget = std::make_shared<OpenLogFiles>(4);
  const size_t before = OpenDescriptors();
  auto writers = OpenWriters(40, budget);
  ASSERT_EQ(writers.size(), 40u);
  for (int round = 0; round < 5; ++round) {
    for (size_t i = 0; i < writers.size(); ++i) {
      auto sequence = writers[i]->Append(RecordType::kUpsert,
                                         "r" + std::to_string(round) + "-" + std::to_string(i));
      ASSERT_TRUE(sequence.ok()) << sequence.status().ToString();
      ASSERT_TRUE(writers[i]->Sync(*sequence).ok());
      EXPECT_LE(budget->open_files(), 4u + 1);  // the last writer parks others after its write
    }
  }
  // The writer just used is open; the rest beyond the budget are parked.
  EXPECT_LE(budget->open_files(), 4u);
  EXPECT_LE(OpenDescriptors(), before + 4) << "descriptors grow with the number of logs";
  EXPECT_GT(budget->parked(), 100u);
  EXPECT_TRUE(writers[0]->parked());
  EXPECT_FALSE(writers.back()->parked());
  // A parked writer still reports its segment's size (the checkpoint trigger).
  EXPECT_GT(writers[0]->current_segment_bytes(), log_format::kSegmentHeaderSize);
  // Rotation of a parked log starts a new segment as usual.
  ASSERT_TRUE(writers[1]->Rotate().ok());
  ASSERT_TRUE(writers[1]->Append(RecordType::kUpsert, "after-rotate").ok());
  writers.clear();
  EXPECT_EQ(budget->open_files(), 0u);
  for (size_t i = 0; i < 40; ++i) {
    std::vector<std::string> want;
    for (int round = 0; round < 5; ++round) {
      want.push_back("r" + std::to_string(round) + "-" + std::to_string(i));
    }
    if (i == 1) want.push_back("after-rotate");
    EXPECT_EQ(ReadPayloads(Dir(i)), want) << Dir(i);
  }
}

// The order is that of writes, not of opening: a log written often stays
// open however long ago it was opened.
TEST_F(OpenLogFilesTest, TheMostRecentlyWrittenStayOpen) {
  auto budget = std::make_shared<OpenLogFiles>(2);
  auto writers = OpenWriters(2, budget);  // 0 opened first
  ASSERT_TRUE(writers[0]->Append(RecordType::kUpsert, "a").ok());
  ASSERT_TRUE(writers[0]->SyncAll().ok());
  auto third = LogWriter::Open(PosixFileSystem(), Dir(2), kDim, 1, nullptr, budget);
  ASSERT_TRUE(third.ok());
  // Writer 1, opened after 0 but never written since, goes first.
  EXPECT_TRUE(writers[1]->parked());
  EXPECT_FALSE(writers[0]->parked());
}

// A log with records written but not yet synced (the interval policy) keeps
// its file open: closing it would leave the fsync they wait for to a
// descriptor that never saw the write. Synced, it can be parked.
TEST_F(OpenLogFilesTest, UnsyncedRecordsKeepTheirFileOpen) {
  auto budget = std::make_shared<OpenLogFiles>(1);
  auto writers = OpenWriters(3, budget);
  ASSERT_EQ(writers.size(), 3u);
  auto unsynced = writers[0]->Append(RecordType::kUpsert, "unsynced");
  ASSERT_TRUE(unsynced.ok());
  ASSERT_TRUE(writers[1]->Append(RecordType::kUpsert, "a").ok());
  ASSERT_TRUE(writers[2]->Append(RecordType::kUpsert, "b").ok());
  EXPECT_FALSE(writers[0]->parked());
  budget->Trim(writers[2].get());
  EXPECT_FALSE(writers[0]->parked());
  ASSERT_TRUE(writers[0]->SyncAll().ok());
  budget->Trim(writers[2].get());
  EXPECT_TRUE(writers[0]->parked());
  ASSERT_TRUE(writers[0]->Append(RecordType::kUpsert, "reopened").ok());
  EXPECT_FALSE(writers[0]->parked());
  ASSERT_TRUE(writers[0]->SyncAll().ok());
  writers.clear();
  EXPECT_EQ(ReadPayloads(Dir(0)), (std::vector<std::string>{"unsynced", "reopened"}));
}

// Only the writer appends to its segment: one that changed length while it
// was closed is refused on reopening, and nothing is appended to it.
TEST_F(OpenLogFilesTest, ASegmentChangedWhileParkedIsRefused) {
  auto budget = std::make_shared<OpenLogFiles>(1);
  auto writers = OpenWriters(2, budget);
  ASSERT_TRUE(writers[0]->Append(RecordType::kUpsert, "x").ok());
  ASSERT_TRUE(writers[0]->SyncAll().ok());
  ASSERT_TRUE(writers[1]->Append(RecordType::kUpsert, "y").ok());  // reopens 1, closes 0
  ASSERT_TRUE(writers[0]->parked());
  std::string segment;
  for (const auto& entry : fs::directory_iterator(Dir(0))) segment = entry.path().string();
  const auto size = fs::file_size(segment);
  std::ofstream(segment, std::ios::binary | std::ios::app) << "junk";
  auto refused = writers[0]->Append(RecordType::kUpsert, "y");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kIOError);
  EXPECT_NE(
      refused.status().message().find("bytes after reopening, expected " + std::to_string(size)),
      std::string::npos)
      << refused.status().message();
  EXPECT_EQ(fs::file_size(segment), size + 4);
}

// Writers on many threads, over more logs than the budget: parking and
// reopening race with appends and syncs (run under TSan in CI).
TEST_F(OpenLogFilesTest, ConcurrentWritersOverManyLogs) {
  auto budget = std::make_shared<OpenLogFiles>(3);
  auto writers = OpenWriters(12, budget);
  ASSERT_EQ(writers.size(), 12u);
  constexpr int kThreads = 4, kPerThread = 120;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        LogWriter& w = *writers[static_cast<size_t>(t * 7 + i) % writers.size()];
        auto sequence =
            w.Append(RecordType::kUpsert, "t" + std::to_string(t) + "-" + std::to_string(i));
        if (!sequence.ok() || !w.Sync(*sequence).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(budget->open_files(), 3u + kThreads);
  writers.clear();
  size_t total = 0;
  for (size_t i = 0; i < 12; ++i) total += ReadPayloads(Dir(i)).size();
  EXPECT_EQ(total, static_cast<size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace vectord::store
