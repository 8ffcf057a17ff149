// LogShipper (src/store/log_shipper.h): a real LogWriter on the local disk
// ships its records into a real LocalObjectStore. The only stand-in is
// FlakyStore, a thin wrapper around the LocalObjectStore that can make
// uploads fail or block, and records which keys were attempted.
#include "store/log_shipper.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/local_object_store.h"
#include "store/log_format.h"
#include "store/log_reader.h"
#include "store/log_writer.h"
#include "store/open_log_files.h"
#include "test_files.h"

namespace vectord::store {
namespace {

namespace fs = std::filesystem;
using log_format::RecordType;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kDim = 4;
const std::string kPrefix = "_vectors/docs.wal/";

// Wraps a real store; Create (and so Put) can be made to fail or to block.
class FlakyStore final : public ObjectStore {
 public:
  explicit FlakyStore(ObjectStore* inner) : inner_(inner) {}

  Result<std::unique_ptr<ObjectWriter>> Create(std::string_view key) override {
    std::unique_lock lock(mutex_);
    attempts_.emplace_back(key);
    ++blocked_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !block_; });
    --blocked_;
    if (fail_) {
      failed_.emplace_back(key);
      return Status::IOError("injected failure");
    }
    lock.unlock();
    return inner_->Create(key);
  }
  Result<std::unique_ptr<ObjectReader>> Open(std::string_view key) override {
    return inner_->Open(key);
  }
  Status Delete(std::string_view key) override { return inner_->Delete(key); }
  Result<std::vector<std::string>> List(std::string_view prefix) override {
    return inner_->List(prefix);
  }
  std::string Describe() const override { return "flaky " + inner_->Describe(); }

  void set_fail(bool fail) {
    std::lock_guard lock(mutex_);
    fail_ = fail;
  }
  void set_block(bool block) {
    {
      std::lock_guard lock(mutex_);
      block_ = block;
    }
    changed_.notify_all();
  }
  // Waits until `n` Create calls are held by set_block(true).
  bool WaitBlocked(int n, milliseconds timeout = milliseconds(2000)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return blocked_ >= n; });
  }
  std::vector<std::string> attempts() const {
    std::lock_guard lock(mutex_);
    return attempts_;
  }
  std::vector<std::string> failed() const {
    std::lock_guard lock(mutex_);
    return failed_;
  }

 private:
  ObjectStore* const inner_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool fail_ = false;
  bool block_ = false;
  int blocked_ = 0;
  std::vector<std::string> attempts_;
  std::vector<std::string> failed_;
};

struct Expected {
  uint64_t sequence;
  RecordType type;
  std::string payload;
};

struct ShippedObject {
  uint64_t first = 0;
  uint64_t last = 0;
  std::string bytes;
};

std::string Payload(size_t i) {
  return "record-" + std::to_string(i) + "-" + std::string(i % 19, static_cast<char>('a' + i % 26));
}
RecordType TypeOf(size_t i) { return i % 4 == 3 ? RecordType::kDelete : RecordType::kUpsert; }

// Polls `done` until it holds or `timeout` passes.
template <typename F>
bool Eventually(F done, milliseconds timeout = milliseconds(2000)) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

class LogShipperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/vectord_shipper_test.XXXXXX";
    char* root = ::mkdtemp(pattern);
    ASSERT_NE(root, nullptr);
    root_ = root;
    log_dir_ = root_ + "/log/docs.wal";
    auto store = LocalObjectStore::OpenRoot(root_ + "/bucket", /*sync=*/false);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    local_ = std::move(store).value();
    bucket_ = local_.get();
    flaky_ = std::make_unique<FlakyStore>(bucket_);
  }
  void TearDown() override {
    // The writer owns the shipper: stop it before the stores go away.
    if (flaky_) {
      flaky_->set_fail(false);
      flaky_->set_block(false);
    }
    writer_.reset();
    flaky_.reset();
    local_.reset();
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }

  // A writer in log_dir_ with a shipper into the flaky store attached.
  void OpenWriter(LogShipperOptions options = {}, uint64_t next_sequence = 1) {
    auto writer = LogWriter::Open(PosixFileSystem(), log_dir_, kDim, next_sequence, nullptr);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    writer_ = std::move(writer).value();
    writer_->AttachShipper(
        std::make_unique<LogShipper>(flaky_.get(), kPrefix, kDim, next_sequence - 1, options));
    ASSERT_NE(writer_->shipper(), nullptr);
  }
  LogShipper& shipper() { return *writer_->shipper(); }

  // Appends a record and remembers it; returns its sequence (0 on failure).
  uint64_t Append(RecordType type, std::string payload) {
    auto sequence = writer_->Append(type, payload);
    EXPECT_TRUE(sequence.ok()) << sequence.status().ToString();
    if (!sequence.ok()) return 0;
    expected_.push_back({*sequence, type, std::move(payload)});
    return *sequence;
  }
  uint64_t Append(size_t i) { return Append(TypeOf(i), Payload(i)); }

  // Every object under kPrefix, in key order, with its parsed name.
  std::vector<ShippedObject> Objects() {
    std::vector<ShippedObject> out;
    auto keys = bucket_->List(kPrefix);
    EXPECT_TRUE(keys.ok()) << keys.status().ToString();
    if (!keys.ok()) return out;
    for (const std::string& key : *keys) {
      ShippedObject object;
      EXPECT_TRUE(
          LogShipper::ParseObjectName(key.substr(kPrefix.size()), &object.first, &object.last))
          << key;
      auto bytes = bucket_->Get(key);
      EXPECT_TRUE(bytes.ok()) << key << ": " << bytes.status().ToString();
      if (bytes.ok()) object.bytes = std::move(bytes).value();
      out.push_back(std::move(object));
    }
    return out;
  }

  // The objects must tile [1, last] without gaps or overlaps, each start with
  // its segment header, and read back (as segment files, with LogReader) to
  // exactly the records appended.
  void ExpectBucketHoldsLog(const std::vector<ShippedObject>& objects, uint64_t last) {
    ASSERT_FALSE(objects.empty());
    uint64_t next = 1;
    const std::string restored = root_ + "/restored-" + std::to_string(++restores_);
    ASSERT_TRUE(fs::create_directories(restored));
    for (const ShippedObject& object : objects) {
      EXPECT_EQ(object.first, next) << "objects overlap or leave a gap";
      EXPECT_LE(object.first, object.last);
      next = object.last + 1;
      ASSERT_GE(object.bytes.size(), log_format::kSegmentHeaderSize);
      EXPECT_EQ(object.bytes.substr(0, log_format::kSegmentHeaderSize),
                log_format::EncodeSegmentHeader(kDim, object.first))
          << "object " << object.first;
      testing::WriteFile(restored + "/" + LogWriter::SegmentName(object.first), object.bytes);
    }
    EXPECT_EQ(next, last + 1);

    auto reader = LogReader::Open(PosixFileSystem(), restored, kDim);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    std::vector<LogRecord> records;
    for (;;) {
      auto record = (*reader)->Next();
      ASSERT_TRUE(record.ok()) << record.status().ToString();
      if (!record->has_value()) break;
      records.push_back(std::move(**record));
    }
    EXPECT_FALSE((*reader)->torn()) << (*reader)->torn_description();
    ASSERT_EQ(records.size(), expected_.size());
    for (size_t i = 0; i < records.size(); ++i) {
      EXPECT_EQ(records[i].sequence, expected_[i].sequence) << "record " << i;
      EXPECT_EQ(records[i].type, expected_[i].type) << "record " << i;
      EXPECT_EQ(records[i].payload, expected_[i].payload) << "record " << i;
    }
    // Each record lies in the object whose name covers it.
    size_t at = 0;
    for (const ShippedObject& object : objects) {
      for (; at < records.size() && records[at].sequence <= object.last; ++at) {
        EXPECT_GE(records[at].sequence, object.first);
      }
    }
  }

  std::string root_;
  std::string log_dir_;
  std::unique_ptr<LocalObjectStore> local_;
  ObjectStore* bucket_ = nullptr;  // the real store, through the interface
  std::unique_ptr<FlakyStore> flaky_;
  std::unique_ptr<LogWriter> writer_;
  std::vector<Expected> expected_;
  int restores_ = 0;
};

TEST_F(LogShipperTest, ShipsRecordsInOrderAsSegmentObjects) {
  OpenWriter();
  size_t i = 0;
  for (int round = 0; round < 4; ++round) {
    uint64_t last = 0;
    for (int k = 0; k < 3 + 4 * round; ++k) last = Append(i++);
    if (round == 2) last = Append(RecordType::kCancel, std::string("\1\0\0\0\2\0\0\0\0\0\0\0", 12));
    ASSERT_TRUE(writer_->WaitShipped(last).ok());
  }
  const uint64_t last = writer_->last_sequence();
  ASSERT_EQ(last, expected_.size());
  ASSERT_TRUE(writer_->SyncAll().ok());

  std::vector<ShippedObject> objects = Objects();
  // At least one object per round: each round waited for the previous one.
  EXPECT_GE(objects.size(), 4u);
  ExpectBucketHoldsLog(objects, last);

  // Byte for byte the local segment: the objects' bodies concatenated equal
  // the local file after its header.
  std::string shipped;
  for (const ShippedObject& object : objects) {
    shipped += object.bytes.substr(log_format::kSegmentHeaderSize);
  }
  std::string local = testing::ReadFile(log_dir_ + "/" + LogWriter::SegmentName(1));
  ASSERT_GE(local.size(), log_format::kSegmentHeaderSize);
  EXPECT_EQ(shipped, local.substr(log_format::kSegmentHeaderSize));

  LogShipperStats stats = shipper().stats();
  EXPECT_EQ(stats.objects, objects.size());
  uint64_t bytes = 0;
  for (const ShippedObject& object : objects) bytes += object.bytes.size();
  EXPECT_EQ(stats.bytes, bytes);
  EXPECT_EQ(stats.failed_uploads, 0u);
}

TEST_F(LogShipperTest, ObjectNamesCarryPrefixAndRange) {
  OpenWriter();
  for (size_t i = 0; i < 3; ++i) Append(i);
  ASSERT_TRUE(writer_->WaitShipped(3).ok());
  auto keys = bucket_->List("");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_FALSE(keys->empty());
  for (const std::string& key : *keys) {
    ASSERT_EQ(key.compare(0, kPrefix.size(), kPrefix), 0) << key;
    uint64_t first = 0, last = 0;
    ASSERT_TRUE(LogShipper::ParseObjectName(key.substr(kPrefix.size()), &first, &last)) << key;
    EXPECT_EQ(key, kPrefix + LogShipper::ObjectName(first, last));
  }
  EXPECT_EQ(keys->front().substr(kPrefix.size(), 21), "00000000000000000001-");
}

TEST_F(LogShipperTest, MaxObjectBytesSplitsGroups) {
  LogShipperOptions options;
  options.max_object_bytes = 200;
  OpenWriter(options);
  // Hold the first upload so the rest pile up into one backlog.
  flaky_->set_block(true);
  Append(RecordType::kUpsert, std::string(50, 'x'));
  ASSERT_TRUE(flaky_->WaitBlocked(1));
  for (size_t i = 1; i < 12; ++i) Append(RecordType::kUpsert, std::string(40 + i, 'y'));
  // One record larger than the limit still ships, alone.
  Append(RecordType::kUpsert, std::string(400, 'z'));
  Append(RecordType::kDelete, "after-the-big-one");
  flaky_->set_block(false);
  ASSERT_TRUE(writer_->WaitShipped(14).ok());

  std::vector<ShippedObject> objects = Objects();
  EXPECT_GT(objects.size(), 4u);
  for (const ShippedObject& object : objects) {
    if (object.first != object.last) {
      EXPECT_LE(object.bytes.size(), options.max_object_bytes) << object.first;
    }
  }
  ExpectBucketHoldsLog(objects, 14);
}

TEST_F(LogShipperTest, WaitShippedReturnsOnceTheObjectIsInTheStore) {
  OpenWriter();
  EXPECT_EQ(shipper().shipped_through(), 0u);
  EXPECT_TRUE(shipper().WaitShipped(0).ok());  // nothing to wait for

  // Hold the upload: the waiter must not return before the object lands.
  flaky_->set_block(true);
  const uint64_t first = Append(0);
  ASSERT_TRUE(flaky_->WaitBlocked(1));
  auto waiter = std::async(std::launch::async, [&] {
    Status s = writer_->WaitShipped(first);
    // Checked on the waiter's own thread, right when it returns.
    auto keys = bucket_->List(kPrefix);
    bool present =
        keys.ok() && std::find(keys->begin(), keys->end(),
                               kPrefix + LogShipper::ObjectName(first, first)) != keys->end();
    return std::make_pair(s, present);
  });
  EXPECT_EQ(waiter.wait_for(milliseconds(100)), std::future_status::timeout)
      << "WaitShipped returned while the upload was still held";
  EXPECT_EQ(shipper().shipped_through(), 0u);
  flaky_->set_block(false);
  ASSERT_EQ(waiter.wait_for(milliseconds(2000)), std::future_status::ready);
  auto [status, present] = waiter.get();
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_TRUE(present) << "WaitShipped returned before the object was in the store";
  EXPECT_GE(shipper().shipped_through(), first);

  // shipped_through() only moves forward, and covers what WaitShipped waited for.
  uint64_t previous = shipper().shipped_through();
  for (size_t i = 1; i < 20; ++i) {
    const uint64_t sequence = Append(i);
    ASSERT_TRUE(writer_->WaitShipped(sequence).ok());
    const uint64_t now = shipper().shipped_through();
    EXPECT_GE(now, sequence);
    EXPECT_GE(now, previous);
    previous = now;
    // An already-shipped record answers at once.
    EXPECT_TRUE(writer_->WaitShipped(sequence - 1).ok());
  }
  EXPECT_EQ(shipper().shipped_through(), 20u);
  ExpectBucketHoldsLog(Objects(), 20);
}

TEST_F(LogShipperTest, StartsAfterWhatIsAlreadyShipped) {
  // A log continuing at 101 whose records through 100 are already in the store.
  OpenWriter({}, /*next_sequence=*/101);
  EXPECT_EQ(shipper().shipped_through(), 100u);
  EXPECT_TRUE(shipper().WaitShipped(100).ok());
  EXPECT_TRUE(shipper().WaitShipped(7).ok());
  EXPECT_EQ(Append(0), 101u);
  EXPECT_EQ(Append(1), 102u);
  ASSERT_TRUE(writer_->WaitShipped(102).ok());
  std::vector<ShippedObject> objects = Objects();
  ASSERT_FALSE(objects.empty());
  EXPECT_EQ(objects.front().first, 101u);
  EXPECT_EQ(objects.back().last, 102u);
  EXPECT_EQ(objects.front().bytes.substr(0, log_format::kSegmentHeaderSize),
            log_format::EncodeSegmentHeader(kDim, 101));
}

TEST_F(LogShipperTest, RecordsArrivingDuringAnUploadShareTheNextObject) {
  OpenWriter();
  flaky_->set_block(true);
  Append(0);
  ASSERT_TRUE(flaky_->WaitBlocked(1));
  // Several writers append while the first object is in flight.
  std::vector<std::thread> writers;
  std::mutex appended_mutex;
  for (int t = 0; t < 3; ++t) {
    writers.emplace_back([&, t] {
      for (int k = 0; k < 5; ++k) {
        auto sequence = writer_->Append(RecordType::kUpsert, "writer-" + std::to_string(t));
        ASSERT_TRUE(sequence.ok()) << sequence.status().ToString();
        std::lock_guard lock(appended_mutex);
        expected_.push_back({*sequence, RecordType::kUpsert, "writer-" + std::to_string(t)});
      }
    });
  }
  for (std::thread& w : writers) w.join();
  std::sort(expected_.begin(), expected_.end(),
            [](const Expected& a, const Expected& b) { return a.sequence < b.sequence; });
  ASSERT_EQ(expected_.size(), 16u);
  EXPECT_EQ(flaky_->attempts().size(), 1u);
  flaky_->set_block(false);
  ASSERT_TRUE(writer_->WaitShipped(16).ok());

  std::vector<ShippedObject> objects = Objects();
  ASSERT_EQ(objects.size(), 2u) << "the 15 records queued behind the held upload must go "
                                   "into one object";
  EXPECT_EQ(objects[0].first, 1u);
  EXPECT_EQ(objects[0].last, 1u);
  EXPECT_EQ(objects[1].first, 2u);
  EXPECT_EQ(objects[1].last, 16u);
  EXPECT_EQ(flaky_->attempts().size(), 2u);
  EXPECT_EQ(shipper().stats().objects, 2u);
  ExpectBucketHoldsLog(objects, 16);
}

TEST_F(LogShipperTest, FailedUploadsAreReportedThenRetriedUnderTheSameKey) {
  LogShipperOptions options;
  options.retry_pause = milliseconds(20);
  OpenWriter(options);
  flaky_->set_fail(true);

  const uint64_t first = Append(0);
  auto start = Clock::now();
  Status s = writer_->WaitShipped(first);
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_GT(shipper().stats().failed_uploads, 0u);
  EXPECT_EQ(shipper().shipped_through(), 0u);

  // More records while it keeps failing: their waiters are told at once.
  for (size_t i = 1; i < 6; ++i) Append(i);
  start = Clock::now();
  s = writer_->WaitShipped(6);
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  // Let it retry a few times.
  ASSERT_TRUE(Eventually([&] { return shipper().stats().failed_uploads >= 3; }));
  EXPECT_TRUE(Objects().empty());

  flaky_->set_fail(false);
  ASSERT_TRUE(Eventually([&] { return shipper().shipped_through() >= 6; }));
  EXPECT_TRUE(writer_->WaitShipped(6).ok());
  EXPECT_TRUE(writer_->WaitShipped(1).ok());

  // Every failed attempt, and then the first successful one, is the group
  // that failed first, under its key.
  const std::vector<std::string> failed = flaky_->failed();
  ASSERT_GE(failed.size(), 3u);
  for (const std::string& key : failed) {
    EXPECT_EQ(key, kPrefix + LogShipper::ObjectName(1, 1))
        << "a failed group must be retried as the same object";
  }
  const std::vector<std::string> attempts = flaky_->attempts();
  ASSERT_GT(attempts.size(), failed.size());
  EXPECT_EQ(attempts[failed.size()], kPrefix + LogShipper::ObjectName(1, 1));
  std::vector<ShippedObject> objects = Objects();
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0].last, 1u);
  EXPECT_EQ(objects[1].first, 2u);
  EXPECT_EQ(objects[1].last, 6u);
  ExpectBucketHoldsLog(objects, 6);
  EXPECT_EQ(shipper().stats().objects, 2u);
  EXPECT_EQ(shipper().stats().failed_uploads, failed.size());

  // And later records ship normally again.
  const uint64_t later = Append(6);
  EXPECT_TRUE(writer_->WaitShipped(later).ok());
  ExpectBucketHoldsLog(Objects(), later);
}

// Under a descriptor budget, a log whose records the store has not taken
// keeps its segment open even when synced: if the upload fails, the cancel
// record that follows must not depend on reopening the file.
TEST_F(LogShipperTest, ASegmentWithUnshippedRecordsIsNotClosed) {
  auto budget = std::make_shared<OpenLogFiles>(1);
  auto writer = LogWriter::Open(PosixFileSystem(), log_dir_, kDim, 1, nullptr, budget);
  ASSERT_TRUE(writer.ok());
  writer_ = std::move(writer).value();
  writer_->AttachShipper(std::make_unique<LogShipper>(flaky_.get(), kPrefix, kDim, 0));
  struct Unblock {
    FlakyStore* store;
    ~Unblock() { store->set_block(false); }
  } unblock{flaky_.get()};
  flaky_->set_block(true);
  const uint64_t sequence = Append(RecordType::kUpsert, "held");
  ASSERT_TRUE(writer_->Sync(sequence).ok());
  ASSERT_TRUE(flaky_->WaitBlocked(1));
  // Another log written now would close this one, were it not waiting.
  auto other =
      LogWriter::Open(PosixFileSystem(), root_ + "/log/other.wal", kDim, 1, nullptr, budget);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Append(RecordType::kUpsert, "x").ok());
  EXPECT_FALSE(writer_->parked());
  flaky_->set_block(false);
  ASSERT_TRUE(writer_->WaitShipped(sequence).ok());
  ASSERT_TRUE((*other)->Append(RecordType::kUpsert, "y").ok());
  EXPECT_TRUE(writer_->parked());
  ExpectBucketHoldsLog(Objects(), sequence);
}

TEST_F(LogShipperTest, BacklogLimitRefusesWritesButNotCancels) {
  LogShipperOptions options;
  options.retry_pause = milliseconds(20);
  options.max_backlog_bytes = 1000;
  OpenWriter(options);
  flaky_->set_fail(true);

  const std::string payload(200, 'p');  // 221 bytes framed
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_FALSE(shipper().backlog_full()) << "after " << i << " records";
    Append(RecordType::kUpsert, payload);
  }
  EXPECT_FALSE(shipper().backlog_full()) << "884 bytes pending, limit 1000";
  Append(RecordType::kUpsert, payload);
  EXPECT_TRUE(shipper().backlog_full()) << "1105 bytes pending, limit 1000";
  EXPECT_EQ(writer_->last_sequence(), 5u);
  ASSERT_TRUE(Eventually([&] { return shipper().stats().failed_uploads > 0; }));

  auto refused = writer_->Append(RecordType::kUpsert, payload);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().ToString();
  auto refused_delete = writer_->Append(RecordType::kDelete, "gone");
  ASSERT_FALSE(refused_delete.ok());
  EXPECT_EQ(refused_delete.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(writer_->last_sequence(), 5u) << "a refused record takes no sequence";

  const std::string cancel("\1\0\0\0\5\0\0\0\0\0\0\0", 12);
  EXPECT_EQ(Append(RecordType::kCancel, cancel), 6u);
  EXPECT_TRUE(shipper().backlog_full());

  // Once uploads land the backlog drains and writes are taken again.
  flaky_->set_fail(false);
  ASSERT_TRUE(Eventually([&] { return shipper().shipped_through() >= 6; }));
  EXPECT_FALSE(shipper().backlog_full());
  EXPECT_EQ(Append(RecordType::kUpsert, payload), 7u);
  ASSERT_TRUE(writer_->WaitShipped(7).ok());
  ExpectBucketHoldsLog(Objects(), 7);
}

TEST(LogShipperNameTest, ObjectNameRoundTrips) {
  EXPECT_EQ(LogShipper::ObjectName(1, 2), "00000000000000000001-00000000000000000002.log");
  const std::pair<uint64_t, uint64_t> cases[] = {{1, 1},          {1, 2},
                                                 {12345, 67890},  {99, 100000000000ull},
                                                 {1, UINT64_MAX}, {UINT64_MAX, UINT64_MAX}};
  for (auto [first, last] : cases) {
    const std::string name = LogShipper::ObjectName(first, last);
    EXPECT_EQ(name.size(), 45u) << name;
    uint64_t f = 0, l = 0;
    ASSERT_TRUE(LogShipper::ParseObjectName(name, &f, &l)) << name;
    EXPECT_EQ(f, first) << name;
    EXPECT_EQ(l, last) << name;
  }
  // Names sort in sequence order.
  EXPECT_LT(LogShipper::ObjectName(9, 9), LogShipper::ObjectName(10, 10));
}

TEST(LogShipperNameTest, ParseRefusesMalformedNames) {
  const std::string good = LogShipper::ObjectName(12, 34);
  uint64_t f = 0, l = 0;
  ASSERT_TRUE(LogShipper::ParseObjectName(good, &f, &l));
  const std::string bad[] = {
      "",
      good.substr(1),                                   // 44 characters
      "0" + good,                                       // 46 characters
      good + " ",                                       // trailing junk
      "_vectors/docs.wal/" + good,                      // with a prefix
      "00000000000000000012_00000000000000000034.log",  // no dash
      "00000000000000000012000000000000000000034.log",  // no dash, digits instead
      "0000000000000000001a-00000000000000000034.log",  // non-digit in first
      "00000000000000000012-0000000000000000003x.log",  // non-digit in last
      " 0000000000000000012-00000000000000000034.log",  // space
      "+0000000000000000012-00000000000000000034.log",  // sign
      "-0000000000000000012-00000000000000000034.log",  // minus
      "00000000000000000012--0000000000000000034.log",  // minus in last
      "00000000000000000035-00000000000000000034.log",  // first > last
      "00000000000000000000-00000000000000000034.log",  // first 0
      "00000000000000000000-00000000000000000000.log",  // both 0
      "00000000000000000012-00000000000000000034.LOG",  // suffix case
      "00000000000000000012-00000000000000000034.lag",  // wrong suffix
      "00000000000000000012-00000000000000000034_log",  // no dot
      "00000000000000000012-00000000000000000034.log.tmp",
      "99999999999999999999-99999999999999999999.log",  // past uint64
      "00000000000000000012-000000000000000000034.lo",  // length right, suffix wrong
  };
  for (const std::string& name : bad) {
    EXPECT_FALSE(LogShipper::ParseObjectName(name, &f, &l)) << "'" << name << "'";
  }
}

size_t ThreadsOfThisProcess() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/task")) ++n;
  return n;
}

// Forty shippers on one pool of two threads: no thread per shipper, every
// record of every shipper lands, and a shipper whose uploads fail (waiting
// out a long retry pause) holds no thread the others need.
TEST_F(LogShipperTest, ManyShippersShareOnePool) {
  auto pool = std::make_shared<UploadPool>(2);
  const size_t threads_before = ThreadsOfThisProcess();
  LogShipperOptions options;
  options.pool = pool;
  options.retry_pause = milliseconds(60000);
  FlakyStore failing(bucket_);
  failing.set_fail(true);
  auto stuck = std::make_unique<LogShipper>(&failing, "_vectors/stuck.wal/", kDim, 0, options);
  stuck->Enqueue(1, "never-lands");
  std::vector<std::unique_ptr<LogShipper>> shippers;
  for (int i = 0; i < 40; ++i) {
    shippers.push_back(std::make_unique<LogShipper>(
        bucket_, "_vectors/tenant" + std::to_string(i) + ".wal/", kDim, 0, options));
  }
  EXPECT_EQ(ThreadsOfThisProcess(), threads_before) << "a shipper started a thread of its own";
  ASSERT_TRUE(Eventually([&] { return stuck->stats().failed_uploads > 0; }));
  for (uint64_t sequence = 1; sequence <= 3; ++sequence) {
    for (auto& shipper : shippers) shipper->Enqueue(sequence, "record-" + std::to_string(sequence));
  }
  for (auto& shipper : shippers) {
    Status shipped = shipper->WaitShippedFor(3, milliseconds(10000));
    ASSERT_TRUE(shipped.ok()) << shipped.ToString();
    EXPECT_EQ(shipper->pending_records(), 0u);
  }
  for (int i = 0; i < 40; ++i) {
    auto keys = bucket_->List("_vectors/tenant" + std::to_string(i) + ".wal/");
    ASSERT_TRUE(keys.ok());
    EXPECT_FALSE(keys->empty()) << i;
  }
  EXPECT_EQ(stuck->shipped_through(), 0u);
  EXPECT_EQ(failing.failed().size(), 1u) << "the retry came before its pause";
  // Stopping a shipper whose retry waits in the pool is prompt, and the pool
  // drops the retry.
  const auto start = Clock::now();
  stuck.reset();
  shippers.clear();
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
  EXPECT_EQ(ThreadsOfThisProcess(), threads_before);
}

TEST_F(LogShipperTest, DestructionDuringFailingUploadsIsPrompt) {
  LogShipperOptions options;
  options.retry_pause = milliseconds(10000);  // the destructor must cut the pause short
  auto shipper = std::make_unique<LogShipper>(flaky_.get(), kPrefix, kDim, 0, options);
  flaky_->set_fail(true);
  shipper->Enqueue(1, "not-a-real-record");
  ASSERT_TRUE(Eventually([&] { return shipper->stats().failed_uploads > 0; }));
  // While it fails, a waiter is answered at once.
  Status s = shipper->WaitShipped(1);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();

  const auto start = Clock::now();
  shipper.reset();
  EXPECT_LT(Clock::now() - start, milliseconds(1000)) << "~LogShipper waited out the retry pause";
  EXPECT_TRUE(Objects().empty());
}

TEST_F(LogShipperTest, DestructionReleasesBlockedWaiters) {
  LogShipperOptions options;
  options.retry_pause = milliseconds(10000);
  auto shipper = std::make_unique<LogShipper>(flaky_.get(), kPrefix, kDim, 0, options);
  struct Unblock {  // runs before `shipper` is destroyed, should an assertion return early
    FlakyStore* store;
    ~Unblock() { store->set_block(false); }
  } unblock{flaky_.get()};
  // The first upload is held (and will fail): no failure is known yet, so the
  // waiters block.
  flaky_->set_fail(true);
  flaky_->set_block(true);
  shipper->Enqueue(1, "first");
  shipper->Enqueue(2, "second");
  ASSERT_TRUE(flaky_->WaitBlocked(1));
  LogShipper* raw = shipper.get();
  auto waiter1 = std::async(std::launch::async, [raw] { return raw->WaitShipped(1); });
  auto waiter2 = std::async(std::launch::async, [raw] { return raw->WaitShipped(2); });
  EXPECT_EQ(waiter1.wait_for(milliseconds(100)), std::future_status::timeout);
  EXPECT_EQ(waiter2.wait_for(milliseconds(0)), std::future_status::timeout);

  // Destroy on another thread: ~LogShipper cannot finish while the upload is
  // held (it joins the upload thread), so the waiters are seen to return
  // while the object is still alive.
  const auto start = Clock::now();
  auto destroyer = std::async(std::launch::async, [&] { shipper.reset(); });
  bool released = waiter1.wait_for(milliseconds(1500)) == std::future_status::ready &&
                  waiter2.wait_for(milliseconds(500)) == std::future_status::ready;
  EXPECT_TRUE(released) << "WaitShipped callers stayed blocked while the shipper stopped";
  if (released) {
    Status s1 = waiter1.get();
    Status s2 = waiter2.get();
    EXPECT_EQ(s1.code(), StatusCode::kUnavailable) << s1.ToString();
    EXPECT_EQ(s2.code(), StatusCode::kUnavailable) << s2.ToString();
  }
  EXPECT_EQ(destroyer.wait_for(milliseconds(0)), std::future_status::timeout);

  // Let the held upload fail: the destructor then returns without waiting
  // out the retry pause.
  flaky_->set_block(false);
  EXPECT_EQ(destroyer.wait_for(milliseconds(1000)), std::future_status::ready)
      << "~LogShipper hung after the failed upload";
  destroyer.wait();
  EXPECT_LT(Clock::now() - start, milliseconds(2500));
  EXPECT_EQ(flaky_->attempts().size(), 1u);
  EXPECT_TRUE(Objects().empty());
}

}  // namespace
}  // namespace vectord::store
