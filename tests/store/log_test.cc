// LogWriter and LogReader (docs/wal-format.md) on the real disk: round trips,
// rotation and segment dropping, group commit, torn tails, corruption, and
// write failures injected through FaultInjectingFileSystem.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fault_injecting_file_system.h"
#include "store/log_format.h"
#include "store/log_reader.h"
#include "store/log_writer.h"
#include "test_files.h"

namespace vectord::store {
namespace {

namespace fs = std::filesystem;
using log_format::RecordType;
using testing::FaultInjectingFileSystem;

constexpr uint32_t kDim = 4;

using vectord::store::testing::ReadFile;
using vectord::store::testing::WriteFile;

void AppendToFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// A payload that differs in content and length from record to record.
std::string Payload(size_t i) {
  return "payload-" + std::to_string(i) + "-" +
         std::string(i % 23, static_cast<char>('a' + i % 26));
}
RecordType TypeOf(size_t i) { return i % 3 == 0 ? RecordType::kDelete : RecordType::kUpsert; }

struct Expected {
  uint64_t sequence;
  RecordType type;
  std::string payload;
};

// Everything a reader says about a log, read to the end or the first error.
struct ReadResult {
  std::vector<LogRecord> records;
  Status status;
  bool torn = false;
  std::string torn_description;
  std::optional<LogWriter::Tail> tail;
  uint64_t last_sequence = 0;
};

ReadResult ReadAll(const std::string& dir, uint32_t dimension = kDim) {
  ReadResult out;
  auto reader = LogReader::Open(PosixFileSystem(), dir, dimension);
  if (!reader.ok()) {
    out.status = reader.status();
    return out;
  }
  for (int guard = 0; guard < 1000000; ++guard) {
    auto next = (*reader)->Next();
    if (!next.ok()) {
      out.status = next.status();
      break;
    }
    if (!next->has_value()) break;
    out.records.push_back(std::move(**next));
  }
  out.torn = (*reader)->torn();
  out.torn_description = (*reader)->torn_description();
  out.tail = (*reader)->tail();
  out.last_sequence = (*reader)->last_sequence();
  return out;
}

void ExpectRecords(const std::vector<LogRecord>& got, const std::vector<Expected>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].sequence, want[i].sequence) << "record " << i;
    EXPECT_EQ(got[i].type, want[i].type) << "record " << i;
    EXPECT_EQ(got[i].payload, want[i].payload) << "record " << i;
  }
}

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/vectord_log_test.XXXXXX";
    char* root = ::mkdtemp(pattern);
    ASSERT_NE(root, nullptr);
    root_ = root;
    dir_ = root_ + "/docs.wal";
  }
  void TearDown() override {
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }

  std::unique_ptr<LogWriter> OpenWriter(FileSystem* fs = PosixFileSystem(),
                                        uint64_t next_sequence = 1,
                                        const LogWriter::Tail* tail = nullptr) {
    auto writer = LogWriter::Open(fs, dir_, kDim, next_sequence, tail);
    EXPECT_TRUE(writer.ok()) << writer.status().ToString();
    return writer.ok() ? std::move(writer).value() : nullptr;
  }

  // Appends record `i` (Payload(i), TypeOf(i)) and remembers it.
  uint64_t Append(LogWriter& writer, size_t i, std::vector<Expected>* expected) {
    auto sequence = writer.Append(TypeOf(i), Payload(i));
    EXPECT_TRUE(sequence.ok()) << sequence.status().ToString();
    if (!sequence.ok()) return 0;
    if (expected != nullptr) expected->push_back({*sequence, TypeOf(i), Payload(i)});
    return *sequence;
  }

  // Segment file names in the log directory, sorted.
  std::vector<std::string> Segments() const {
    std::vector<std::string> names;
    if (!fs::exists(dir_)) return names;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  std::string SegmentPath(uint64_t first) const {
    return dir_ + "/" + LogWriter::SegmentName(first);
  }

  std::string root_;
  std::string dir_;
};

TEST_F(LogTest, SegmentNamesAreTwentyDigits) {
  EXPECT_EQ(LogWriter::SegmentName(1), "00000000000000000001.log");
  EXPECT_EQ(LogWriter::SegmentName(1234567), "00000000000001234567.log");
  EXPECT_EQ(LogWriter::SegmentName(UINT64_MAX), "18446744073709551615.log");
}

TEST_F(LogTest, MissingDirectoryIsAnEmptyLog) {
  ReadResult r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.records.empty());
  EXPECT_FALSE(r.torn);
  EXPECT_FALSE(r.tail.has_value());
  EXPECT_EQ(r.last_sequence, 0u);
}

TEST_F(LogTest, NewLogIsOneSegmentWithOnlyAHeader) {
  auto writer = OpenWriter();
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(Segments(), std::vector<std::string>{LogWriter::SegmentName(1)});
  EXPECT_EQ(fs::file_size(SegmentPath(1)), log_format::kSegmentHeaderSize);
  EXPECT_EQ(writer->current_segment_bytes(), log_format::kSegmentHeaderSize);
  EXPECT_EQ(writer->last_sequence(), 0u);
  EXPECT_EQ(ReadFile(SegmentPath(1)).substr(0, 8), std::string(log_format::kMagic, 8));

  ReadResult r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.records.empty());
  EXPECT_FALSE(r.torn);
  ASSERT_TRUE(r.tail.has_value());
  EXPECT_EQ(r.tail->segment_path, SegmentPath(1));
  EXPECT_EQ(r.tail->valid_bytes, log_format::kSegmentHeaderSize);
}

TEST_F(LogTest, RoundTripAcrossRotations) {
  auto writer = OpenWriter();
  ASSERT_NE(writer, nullptr);
  std::vector<Expected> expected;
  std::set<std::string> names = {LogWriter::SegmentName(1)};
  uint64_t previous = 0;
  for (size_t i = 0; i < 300; ++i) {
    uint64_t sequence = Append(*writer, i, &expected);
    EXPECT_GT(sequence, previous);
    EXPECT_EQ(sequence, i + 1);  // no failures: no gaps
    previous = sequence;
    if (i % 41 == 40) {
      auto first = writer->Rotate();
      ASSERT_TRUE(first.ok()) << first.status().ToString();
      EXPECT_EQ(*first, sequence + 1);
      names.insert(LogWriter::SegmentName(*first));
      EXPECT_EQ(writer->current_segment_bytes(), log_format::kSegmentHeaderSize);
    }
    if (i == 100) {
      // A rotation with nothing written since restarts the same segment.
      auto again = writer->Rotate();
      ASSERT_TRUE(again.ok()) << again.status().ToString();
      auto twice = writer->Rotate();
      ASSERT_TRUE(twice.ok()) << twice.status().ToString();
      EXPECT_EQ(*again, *twice);
      names.insert(LogWriter::SegmentName(*again));
    }
  }
  // One record larger than the reader's 1 MiB read chunk.
  std::string big(3 << 20, '\0');
  for (size_t j = 0; j < big.size(); ++j) big[j] = static_cast<char>(j * 131 % 251);
  auto big_sequence = writer->Append(RecordType::kUpsert, big);
  ASSERT_TRUE(big_sequence.ok()) << big_sequence.status().ToString();
  expected.push_back({*big_sequence, RecordType::kUpsert, big});
  Append(*writer, 300, &expected);
  ASSERT_TRUE(writer->SyncAll().ok());
  EXPECT_EQ(writer->last_sequence(), 302u);

  EXPECT_EQ(Segments(), std::vector<std::string>(names.begin(), names.end()));
  ReadResult r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectRecords(r.records, expected);
  for (size_t i = 1; i < r.records.size(); ++i) {
    EXPECT_GT(r.records[i].sequence, r.records[i - 1].sequence);
  }
  EXPECT_FALSE(r.torn);
  EXPECT_EQ(r.last_sequence, 302u);
  ASSERT_TRUE(r.tail.has_value());
  EXPECT_EQ(r.tail->segment_path, dir_ + "/" + *names.rbegin());
  EXPECT_EQ(r.tail->valid_bytes, fs::file_size(r.tail->segment_path));
  EXPECT_EQ(r.tail->valid_bytes, writer->current_segment_bytes());
}

TEST_F(LogTest, SequencesStartAtNextSequence) {
  auto writer = OpenWriter(PosixFileSystem(), 100);
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(writer->last_sequence(), 99u);
  EXPECT_EQ(Segments(), std::vector<std::string>{LogWriter::SegmentName(100)});
  std::vector<Expected> expected;
  EXPECT_EQ(Append(*writer, 0, &expected), 100u);
  EXPECT_EQ(Append(*writer, 1, &expected), 101u);
  ReadResult r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectRecords(r.records, expected);
}

TEST_F(LogTest, DropSegmentsThroughRemovesOnlyFullyCoveredSegments) {
  auto writer = OpenWriter();
  ASSERT_NE(writer, nullptr);
  std::vector<Expected> expected;
  for (size_t i = 0; i < 35; ++i) {
    Append(*writer, i, &expected);
    if (i == 9 || i == 19 || i == 29) {
      ASSERT_TRUE(writer->Rotate().ok());
    }
  }
  // Segments 1 (1..10), 11 (11..20), 21 (21..30), 31 (31..35, current).
  auto names = [](std::vector<uint64_t> firsts) {
    std::vector<std::string> out;
    for (uint64_t f : firsts) out.push_back(LogWriter::SegmentName(f));
    return out;
  };
  ASSERT_EQ(Segments(), names({1, 11, 21, 31}));

  ASSERT_TRUE(writer->DropSegmentsThrough(0).ok());
  EXPECT_EQ(Segments(), names({1, 11, 21, 31}));
  ASSERT_TRUE(writer->DropSegmentsThrough(9).ok());  // 10 is not covered yet
  EXPECT_EQ(Segments(), names({1, 11, 21, 31}));
  ASSERT_TRUE(writer->DropSegmentsThrough(10).ok());
  EXPECT_EQ(Segments(), names({11, 21, 31}));
  ASSERT_TRUE(writer->DropSegmentsThrough(25).ok());
  EXPECT_EQ(Segments(), names({21, 31}));
  // Far beyond everything: the current segment stays, whatever it covers.
  ASSERT_TRUE(writer->DropSegmentsThrough(1000).ok());
  EXPECT_EQ(Segments(), names({31}));

  ReadResult r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectRecords(r.records, std::vector<Expected>(expected.begin() + 30, expected.end()));

  // An empty current segment also stays; the one before it goes.
  auto first = writer->Rotate();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, 36u);
  ASSERT_TRUE(writer->DropSegmentsThrough(35).ok());
  EXPECT_EQ(Segments(), names({36}));
  r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.records.empty());
  ASSERT_TRUE(r.tail.has_value());
  EXPECT_EQ(r.tail->segment_path, SegmentPath(36));

  // And the log goes on.
  std::vector<Expected> more;
  EXPECT_EQ(Append(*writer, 36, &more), 36u);
  r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectRecords(r.records, more);
}

TEST_F(LogTest, GroupCommitSharesFsyncs) {
  FaultInjectingFileSystem counting;
  // A slow disk, so that writers arrive while an fsync is in flight.
  counting.SetSyncDelay(std::chrono::milliseconds(2));
  auto writer = OpenWriter(&counting);
  ASSERT_NE(writer, nullptr);
  counting.ResetCounters();

  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      uint64_t previous = 0;
      for (int i = 0; i < kPerThread; ++i) {
        std::string payload = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto sequence = writer->Append(RecordType::kUpsert, payload);
        if (!sequence.ok() || *sequence <= previous) {
          ++failures;
          continue;
        }
        previous = *sequence;
        if (!writer->Sync(*sequence).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  constexpr uint64_t kRecords = kThreads * kPerThread;
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(counting.appends(), kRecords);
  EXPECT_GE(counting.syncs(), 1u);
  EXPECT_LE(counting.syncs(), kRecords / 2) << "group commit did not share fsyncs";
  EXPECT_EQ(writer->last_sequence(), kRecords);

  ReadResult r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(r.records.size(), kRecords);
  std::vector<int> next(kThreads, 0);
  for (size_t i = 0; i < r.records.size(); ++i) {
    EXPECT_EQ(r.records[i].sequence, i + 1);
    // Each thread's records are in its own order.
    const std::string& p = r.records[i].payload;
    int t = std::stoi(p.substr(1, p.find('-') - 1));
    ASSERT_GE(t, 0);
    ASSERT_LT(t, kThreads);
    EXPECT_EQ(p, "t" + std::to_string(t) + "-" + std::to_string(next[t]));
    ++next[t];
  }
}

TEST_F(LogTest, TornTailAtEveryOffsetOfTheLastRecord) {
  auto writer = OpenWriter();
  ASSERT_NE(writer, nullptr);
  std::vector<Expected> expected;
  for (size_t i = 0; i < 3; ++i) Append(*writer, i, &expected);
  ASSERT_TRUE(writer->Rotate().ok());
  for (size_t i = 3; i < 6; ++i) Append(*writer, i, &expected);
  const uint64_t last_start = writer->current_segment_bytes();
  Append(*writer, 22, &expected);  // 17-byte header + 33-byte payload
  const uint64_t last_end = writer->current_segment_bytes();
  ASSERT_TRUE(writer->SyncAll().ok());
  writer.reset();
  const std::string path = SegmentPath(4);
  const std::string whole = ReadFile(path);
  ASSERT_EQ(whole.size(), last_end);
  ASSERT_GT(last_end - last_start, log_format::kRecordHeaderSize);
  const std::vector<Expected> earlier(expected.begin(), expected.end() - 1);

  for (uint64_t cut = last_start; cut <= last_end; ++cut) {
    SCOPED_TRACE("cut at byte " + std::to_string(cut));
    WriteFile(path, whole.substr(0, cut));
    ReadResult r = ReadAll(dir_);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    ASSERT_TRUE(r.tail.has_value());
    EXPECT_EQ(r.tail->segment_path, path);
    if (cut == last_end) {
      ExpectRecords(r.records, expected);
      EXPECT_FALSE(r.torn);
      EXPECT_EQ(r.tail->valid_bytes, last_end);
      continue;
    }
    ExpectRecords(r.records, earlier);
    EXPECT_EQ(r.last_sequence, earlier.back().sequence);
    // Cut exactly between records: a clean end, nothing torn.
    EXPECT_EQ(r.torn, cut != last_start);
    EXPECT_EQ(r.tail->valid_bytes, last_start);
    if (cut != last_start) {
      EXPECT_NE(r.torn_description.find(path), std::string::npos) << r.torn_description;
      EXPECT_NE(r.torn_description.find("at byte " + std::to_string(last_start)), std::string::npos)
          << r.torn_description;
    }
  }
}

// ParseSegment (a segment object from the bucket, in memory) reads a segment
// exactly as LogReader reads the last segment of a log: the same whole
// records, the same torn tail, the same corruption message.
TEST_F(LogTest, ParseSegmentAgreesWithTheReaderOnALastSegment) {
  auto writer = OpenWriter(PosixFileSystem(), 7);
  ASSERT_NE(writer, nullptr);
  for (size_t i = 0; i < 4; ++i) Append(*writer, i + 20, nullptr);
  const uint64_t last_start = writer->current_segment_bytes();
  Append(*writer, 22, nullptr);
  ASSERT_TRUE(writer->SyncAll().ok());
  writer.reset();
  const std::string path = SegmentPath(7);
  const std::string whole = ReadFile(path);
  std::vector<std::string> variants;
  for (size_t cut = 0; cut <= whole.size(); ++cut) variants.push_back(whole.substr(0, cut));
  variants.push_back(whole + std::string(100, '\0'));
  variants.push_back(whole.substr(0, last_start + 5) +
                     std::string(whole.size() - last_start, '\0'));
  variants.push_back(whole.substr(0, whole.size() - 3) + std::string(3, '\0'));  // payload zeroed
  for (size_t at : {size_t{3}, size_t{20}, size_t{40}, size_t{60}, size_t{last_start + 2}}) {
    std::string flipped = whole;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x10);
    variants.push_back(flipped);
    variants.push_back(flipped.substr(0, last_start + 4));
  }
  size_t corrupt = 0, torn = 0;
  for (size_t v = 0; v < variants.size(); ++v) {
    SCOPED_TRACE("variant " + std::to_string(v) + ", " + std::to_string(variants[v].size()) +
                 " bytes");
    WriteFile(path, variants[v]);
    ReadResult r = ReadAll(dir_);
    Result<SegmentContents> parsed = ParseSegment(variants[v], path);
    if (!r.status.ok()) {
      ASSERT_FALSE(parsed.ok());
      EXPECT_EQ(parsed.status().code(), StatusCode::kCorruption);
      EXPECT_EQ(parsed.status().message(), r.status.message());
      ++corrupt;
      continue;
    }
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->records, r.records.size());
    EXPECT_EQ(parsed->last_sequence, r.last_sequence);
    EXPECT_EQ(parsed->first_sequence, variants[v].size() >= 32 ? 7u : 0u);
    ASSERT_TRUE(r.tail.has_value());
    EXPECT_EQ(parsed->whole_bytes, r.tail->valid_bytes);
    EXPECT_EQ(parsed->torn.empty(), !r.torn) << parsed->torn << " / " << r.torn_description;
    if (r.torn && variants[v].size() >= 32) {
      EXPECT_NE(r.torn_description.find(parsed->torn), std::string::npos)
          << parsed->torn << " / " << r.torn_description;
    }
    torn += r.torn ? 1 : 0;
  }
  EXPECT_GE(corrupt, 5u);
  EXPECT_GT(torn, whole.size() - 10);
}

TEST_F(LogTest, TornRecordInAnEarlierSegmentIsCorruption) {
  auto writer = OpenWriter();
  ASSERT_NE(writer, nullptr);
  for (size_t i = 0; i < 3; ++i) Append(*writer, i, nullptr);
  ASSERT_TRUE(writer->Rotate().ok());
  for (size_t i = 3; i < 5; ++i) Append(*writer, i, nullptr);
  writer.reset();
  fs::resize_file(SegmentPath(1), fs::file_size(SegmentPath(1)) - 5);
  ReadResult r = ReadAll(dir_);
  EXPECT_EQ(r.status.code(), StatusCode::kCorruption) << r.status.ToString();
  EXPECT_NE(r.status.message().find(SegmentPath(1)), std::string::npos) << r.status.message();
  EXPECT_EQ(r.records.size(), 2u);
  EXPECT_FALSE(r.torn);
}

TEST_F(LogTest, ZeroFilledTailIsTornNotCorruption) {
  auto writer = OpenWriter();
  ASSERT_NE(writer, nullptr);
  std::vector<Expected> expected;
  for (size_t i = 0; i < 5; ++i) Append(*writer, i, &expected);
  writer.reset();
  const std::string path = SegmentPath(1);
  const uint64_t size = fs::file_size(path);
  AppendToFile(path, std::string(4096, '\0'));

  ReadResult r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectRecords(r.records, expected);
  EXPECT_TRUE(r.torn);
  ASSERT_TRUE(r.tail.has_value());
  EXPECT_EQ(r.tail->segment_path, path);
  EXPECT_EQ(r.tail->valid_bytes, size);

  // The writer cuts the zeros off and appends after the last record.
  writer = OpenWriter(PosixFileSystem(), r.last_sequence + 1, &*r.tail);
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(fs::file_size(path), size);
  Append(*writer, 5, &expected);
  ASSERT_TRUE(writer->SyncAll().ok());
  r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectRecords(r.records, expected);
  EXPECT_FALSE(r.torn);
}

// docs/wal-format.md: "a bad record followed by nothing but zero bytes to the
// end of the file (a file extended by the filesystem whose data never reached
// the disk)" is a torn write. Here the file was extended, the last record's
// header and first payload bytes reached the disk, the rest of it and the
// extension are zeros.
//
// Regression test: a last record whose tail was zeroed (an ordinary power
// loss) is torn, not corrupt. Whether the rest of the file is zero must be
// judged after the bad record's header, or the header's own non-zero bytes
// would make it "record checksum mismatch" and the index would not load.
TEST_F(LogTest, LastRecordPartlyZeroedIsTorn) {
  auto writer = OpenWriter();
  ASSERT_NE(writer, nullptr);
  std::vector<Expected> expected;
  for (size_t i = 0; i < 4; ++i) Append(*writer, i, &expected);
  const uint64_t last_start = writer->current_segment_bytes();
  Append(*writer, 20, nullptr);
  writer.reset();
  const std::string path = SegmentPath(1);
  std::string bytes = ReadFile(path);
  std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(last_start) + 20, bytes.end(), '\0');
  bytes += std::string(1000, '\0');
  WriteFile(path, bytes);

  ReadResult r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectRecords(r.records, expected);
  EXPECT_TRUE(r.torn);
  ASSERT_TRUE(r.tail.has_value());
  EXPECT_EQ(r.tail->valid_bytes, last_start);
}

TEST_F(LogTest, ZerosFollowedByDataAreCorruption) {
  auto writer = OpenWriter();
  ASSERT_NE(writer, nullptr);
  for (size_t i = 0; i < 3; ++i) Append(*writer, i, nullptr);
  writer.reset();
  const std::string path = SegmentPath(1);
  const uint64_t size = fs::file_size(path);
  AppendToFile(path, std::string(100, '\0') + "x");
  ReadResult r = ReadAll(dir_);
  EXPECT_EQ(r.status.code(), StatusCode::kCorruption) << r.status.ToString();
  EXPECT_NE(r.status.message().find(path), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("at byte " + std::to_string(size)), std::string::npos)
      << r.status.message();
  EXPECT_EQ(r.records.size(), 3u);
  EXPECT_FALSE(r.torn);
}

TEST_F(LogTest, ZeroFilledTailOfAnEarlierSegmentIsCorruption) {
  auto writer = OpenWriter();
  ASSERT_NE(writer, nullptr);
  for (size_t i = 0; i < 3; ++i) Append(*writer, i, nullptr);
  ASSERT_TRUE(writer->Rotate().ok());
  Append(*writer, 3, nullptr);
  writer.reset();
  AppendToFile(SegmentPath(1), std::string(4096, '\0'));
  ReadResult r = ReadAll(dir_);
  EXPECT_EQ(r.status.code(), StatusCode::kCorruption) << r.status.ToString();
  EXPECT_NE(r.status.message().find(SegmentPath(1)), std::string::npos) << r.status.message();
}

// Ten records in one segment; returns the byte offset where each starts.
std::vector<uint64_t> WriteTen(LogWriter& writer, std::vector<Expected>* expected) {
  std::vector<uint64_t> starts;
  for (size_t i = 0; i < 10; ++i) {
    starts.push_back(writer.current_segment_bytes());
    auto sequence = writer.Append(TypeOf(i), Payload(i));
    EXPECT_TRUE(sequence.ok());
    if (sequence.ok()) expected->push_back({*sequence, TypeOf(i), Payload(i)});
  }
  starts.push_back(writer.current_segment_bytes());
  return starts;
}

TEST_F(LogTest, FlippedByteInAMiddleRecordIsCorruptionNamingFileAndOffset) {
  auto writer = OpenWriter();
  ASSERT_NE(writer, nullptr);
  std::vector<Expected> expected;
  std::vector<uint64_t> starts = WriteTen(*writer, &expected);
  writer.reset();
  const std::string path = SegmentPath(1);
  const std::string whole = ReadFile(path);

  // A payload byte, the CRC, the sequence and the type of record 5 (index 4).
  const uint64_t start = starts[4];
  for (uint64_t at : {start + log_format::kRecordHeaderSize + 3, start, start + 8, start + 16}) {
    SCOPED_TRACE("flipped byte " + std::to_string(at));
    std::string bytes = whole;
    bytes[at] = static_cast<char>(bytes[at] ^ 0x20);
    WriteFile(path, bytes);
    ReadResult r = ReadAll(dir_);
    EXPECT_EQ(r.status.code(), StatusCode::kCorruption) << r.status.ToString();
    EXPECT_NE(r.status.message().find(path), std::string::npos) << r.status.message();
    EXPECT_NE(r.status.message().find("at byte " + std::to_string(start)), std::string::npos)
        << r.status.message();
    // Records before the damage were returned; nothing after it.
    ExpectRecords(r.records, std::vector<Expected>(expected.begin(), expected.begin() + 4));
    EXPECT_FALSE(r.torn);
  }
}

// docs/wal-format.md: "a flipped bit anywhere in a record, its length
// included, is detected", and damage before valid records is corruption
// "rather than silently dropping the records after it".
//
// Regression test: a flipped high bit in the length of a middle record of
// the last segment makes the record seem to run past the end of the file.
// That must be corruption, not a torn tail: as a torn tail the valid records
// after it would be dropped silently (and truncated away by the writer). The
// length is protected only by the record CRC, which cannot be checked before
// the whole claimed length is read, so the reader must look past it.
TEST_F(LogTest, EveryFlippedBitOfAMiddleRecordIsCorruption) {
  auto writer = OpenWriter();
  ASSERT_NE(writer, nullptr);
  std::vector<Expected> expected;
  std::vector<uint64_t> starts = WriteTen(*writer, &expected);
  writer.reset();
  const std::string path = SegmentPath(1);
  const std::string whole = ReadFile(path);

  std::string missed;
  for (uint64_t at = starts[4]; at < starts[5]; ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bytes = whole;
      bytes[at] = static_cast<char>(bytes[at] ^ (1 << bit));
      WriteFile(path, bytes);
      ReadResult r = ReadAll(dir_);
      if (r.status.code() != StatusCode::kCorruption || r.records.size() != 4) {
        missed += " byte " + std::to_string(at - starts[4]) + " bit " + std::to_string(bit) + " (" +
                  (r.status.ok() ? std::string(r.torn ? "torn" : "ok") : r.status.ToString()) +
                  ", " + std::to_string(r.records.size()) + " records);";
      }
    }
  }
  EXPECT_TRUE(missed.empty()) << "record 5 starts at byte " << starts[4]
                              << "; undetected flips:" << missed;
}

TEST_F(LogTest, DamagedSegmentHeaderIsCorruption) {
  auto writer = OpenWriter();
  ASSERT_NE(writer, nullptr);
  for (size_t i = 0; i < 3; ++i) Append(*writer, i, nullptr);
  ASSERT_TRUE(writer->Rotate().ok());
  for (size_t i = 3; i < 5; ++i) Append(*writer, i, nullptr);
  writer.reset();

  // Every header byte of the first and of the last segment.
  for (uint64_t first : {uint64_t{1}, uint64_t{4}}) {
    const std::string path = SegmentPath(first);
    const std::string whole = ReadFile(path);
    for (uint32_t at = 0; at < log_format::kSegmentHeaderSize; ++at) {
      SCOPED_TRACE(path + " header byte " + std::to_string(at));
      std::string bytes = whole;
      bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
      WriteFile(path, bytes);
      ReadResult r = ReadAll(dir_);
      EXPECT_EQ(r.status.code(), StatusCode::kCorruption) << r.status.ToString();
      EXPECT_NE(r.status.message().find(path), std::string::npos) << r.status.message();
      EXPECT_FALSE(r.torn);
      EXPECT_EQ(r.records.size(), first == 1 ? 0u : 3u);
    }
    WriteFile(path, whole);
  }
  ASSERT_TRUE(ReadAll(dir_).status.ok());

  // A log of another dimension.
  ReadResult other = ReadAll(dir_, kDim + 1);
  EXPECT_EQ(other.status.code(), StatusCode::kCorruption) << other.status.ToString();
  EXPECT_NE(other.status.message().find("dimension"), std::string::npos) << other.status.message();

  // A segment whose name disagrees with its header.
  fs::rename(SegmentPath(4), SegmentPath(3));
  ReadResult renamed = ReadAll(dir_);
  EXPECT_EQ(renamed.status.code(), StatusCode::kCorruption) << renamed.status.ToString();
  EXPECT_NE(renamed.status.message().find(SegmentPath(3)), std::string::npos)
      << renamed.status.message();
}

TEST_F(LogTest, ReopenAfterTornTailTruncatesAndAppends) {
  auto writer = OpenWriter();
  ASSERT_NE(writer, nullptr);
  std::vector<Expected> expected;
  for (size_t i = 0; i < 5; ++i) Append(*writer, i, &expected);
  ASSERT_TRUE(writer->SyncAll().ok());
  writer.reset();
  const std::string path = SegmentPath(1);
  fs::resize_file(path, fs::file_size(path) - 7);
  expected.pop_back();

  ReadResult r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectRecords(r.records, expected);
  ASSERT_TRUE(r.torn);
  ASSERT_TRUE(r.tail.has_value());
  EXPECT_EQ(r.last_sequence, 4u);

  writer = OpenWriter(PosixFileSystem(), r.last_sequence + 1, &*r.tail);
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(fs::file_size(path), r.tail->valid_bytes);
  EXPECT_EQ(writer->current_segment_bytes(), r.tail->valid_bytes);
  EXPECT_EQ(writer->last_sequence(), 4u);
  for (size_t i = 10; i < 13; ++i) Append(*writer, i, &expected);
  ASSERT_TRUE(writer->SyncAll().ok());
  EXPECT_EQ(Segments(), std::vector<std::string>{LogWriter::SegmentName(1)});

  ReadResult again = ReadAll(dir_);
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  ExpectRecords(again.records, expected);
  EXPECT_EQ(again.records.back().sequence, 7u);
  EXPECT_FALSE(again.torn);
}

TEST_F(LogTest, IncompleteSegmentHeaderIsTornAndReplaced) {
  auto writer = OpenWriter();
  ASSERT_NE(writer, nullptr);
  std::vector<Expected> expected;
  for (size_t i = 0; i < 3; ++i) Append(*writer, i, &expected);
  ASSERT_TRUE(writer->Rotate().ok());
  writer.reset();
  // A crash while the new segment's header was being written.
  fs::resize_file(SegmentPath(4), 10);

  ReadResult r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectRecords(r.records, expected);
  EXPECT_TRUE(r.torn);
  ASSERT_TRUE(r.tail.has_value());
  EXPECT_EQ(r.tail->segment_path, SegmentPath(4));
  EXPECT_EQ(r.tail->valid_bytes, 0u);

  writer = OpenWriter(PosixFileSystem(), r.last_sequence + 1, &*r.tail);
  ASSERT_NE(writer, nullptr);
  Append(*writer, 3, &expected);
  ASSERT_TRUE(writer->SyncAll().ok());
  ReadResult again = ReadAll(dir_);
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  ExpectRecords(again.records, expected);
  EXPECT_FALSE(again.torn);
}

TEST_F(LogTest, FailedAppendLeavesNoPartialRecord) {
  FaultInjectingFileSystem faulty;
  auto writer = OpenWriter(&faulty);
  ASSERT_NE(writer, nullptr);
  std::vector<Expected> expected;
  for (size_t i = 0; i < 3; ++i) Append(*writer, i, &expected);
  const uint64_t size = writer->current_segment_bytes();

  // Nothing written; a short write; the whole record written but reported failed.
  for (size_t prefix : {size_t{0}, size_t{10}, size_t{1} << 20}) {
    SCOPED_TRACE("prefix " + std::to_string(prefix));
    faulty.FailNextAppend(prefix);
    auto failed = writer->Append(RecordType::kUpsert, "never seen");
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.status().code(), StatusCode::kIOError);
    EXPECT_EQ(writer->current_segment_bytes(), size);
    EXPECT_EQ(fs::file_size(SegmentPath(1)), size);
    EXPECT_EQ(writer->last_sequence(), 3u);
  }
  EXPECT_EQ(faulty.failed_appends(), 3u);

  // The next append works, and the log holds only complete records.
  uint64_t sequence = Append(*writer, 3, &expected);
  EXPECT_GT(sequence, 3u);
  ASSERT_TRUE(writer->Sync(sequence).ok());
  ReadResult r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectRecords(r.records, expected);
  EXPECT_FALSE(r.torn);
}

// A failed fsync leaves its records in the file (some may have been
// acknowledged at the "written" level and must survive a process crash) and
// fails every Sync waiting for them, for good; the service cancels what it
// will not apply. Later writes work.
TEST_F(LogTest, FailedSyncReportsItsRecordsAndLaterWritesWork) {
  FaultInjectingFileSystem faulty;
  auto writer = OpenWriter(&faulty);
  ASSERT_NE(writer, nullptr);
  std::vector<Expected> expected;
  uint64_t first = Append(*writer, 0, &expected);
  ASSERT_TRUE(writer->Sync(first).ok());

  auto unsure = writer->Append(RecordType::kUpsert, "unsure");
  ASSERT_TRUE(unsure.ok());
  expected.push_back({*unsure, RecordType::kUpsert, "unsure"});
  faulty.FailNextSync();
  EXPECT_FALSE(writer->Sync(*unsure).ok());
  EXPECT_EQ(faulty.failed_syncs(), 1u);
  // Asking again does not pretend it became durable.
  EXPECT_FALSE(writer->Sync(*unsure).ok());

  uint64_t next = Append(*writer, 1, &expected);
  EXPECT_GT(next, *unsure);
  ASSERT_TRUE(writer->Sync(next).ok());

  auto a = writer->Append(RecordType::kUpsert, "a");
  auto b = writer->Append(RecordType::kDelete, "b");
  ASSERT_TRUE(a.ok() && b.ok());
  expected.push_back({*a, RecordType::kUpsert, "a"});
  expected.push_back({*b, RecordType::kDelete, "b"});
  faulty.SetFailSync(true);
  EXPECT_FALSE(writer->Sync(*b).ok());
  faulty.SetFailSync(false);
  EXPECT_FALSE(writer->Sync(*a).ok());

  uint64_t last = Append(*writer, 2, &expected);
  ASSERT_TRUE(writer->Sync(last).ok());
  ASSERT_TRUE(writer->SyncAll().ok());
  ReadResult r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectRecords(r.records, expected);
  EXPECT_FALSE(r.torn);
}

TEST_F(LogTest, NoSpaceSurfacesAsNoSpace) {
  FaultInjectingFileSystem faulty;
  auto writer = OpenWriter(&faulty);
  ASSERT_NE(writer, nullptr);
  std::vector<Expected> expected;
  Append(*writer, 0, &expected);
  const uint64_t size = writer->current_segment_bytes();

  faulty.SetNoSpace(true, /*prefix_bytes=*/6);
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto full = writer->Append(RecordType::kUpsert, "does not fit");
    ASSERT_FALSE(full.ok());
    EXPECT_EQ(full.status().code(), StatusCode::kNoSpace) << full.status().ToString();
    EXPECT_EQ(fs::file_size(SegmentPath(1)), size);
  }
  // A rotation cannot start a segment on a full disk either...
  auto rotated = writer->Rotate();
  ASSERT_FALSE(rotated.ok());
  EXPECT_EQ(rotated.status().code(), StatusCode::kNoSpace) << rotated.status().ToString();

  // ...and once space is back, writes work again.
  faulty.SetNoSpace(false);
  uint64_t sequence = Append(*writer, 1, &expected);
  ASSERT_TRUE(writer->Sync(sequence).ok());
  ReadResult r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectRecords(r.records, expected);
  EXPECT_FALSE(r.torn);
}

TEST_F(LogTest, FailedRollBackRefusesWritesUntilReopened) {
  FaultInjectingFileSystem faulty;
  auto writer = OpenWriter(&faulty);
  ASSERT_NE(writer, nullptr);
  std::vector<Expected> expected;
  for (size_t i = 0; i < 2; ++i) Append(*writer, i, &expected);
  ASSERT_TRUE(writer->SyncAll().ok());

  faulty.FailNextAppend(/*prefix_bytes=*/5);
  faulty.SetFailTruncate(true);
  EXPECT_FALSE(writer->Append(RecordType::kUpsert, "partial").ok());
  faulty.ClearFaults();
  auto refused = writer->Append(RecordType::kUpsert, "refused");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("unusable until restart"), std::string::npos)
      << refused.status().ToString();
  writer.reset();

  // Recovery treats the partial record as torn and carries on after it.
  ReadResult r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectRecords(r.records, expected);
  EXPECT_TRUE(r.torn);
  writer = OpenWriter(&faulty, r.last_sequence + 1, &*r.tail);
  ASSERT_NE(writer, nullptr);
  uint64_t sequence = Append(*writer, 2, &expected);
  ASSERT_TRUE(writer->Sync(sequence).ok());
  ReadResult again = ReadAll(dir_);
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  ExpectRecords(again.records, expected);
  EXPECT_FALSE(again.torn);
}

TEST_F(LogTest, RotateMakesPendingRecordsDurable) {
  FaultInjectingFileSystem counting;
  auto writer = OpenWriter(&counting);
  ASSERT_NE(writer, nullptr);
  uint64_t a = Append(*writer, 0, nullptr);
  uint64_t b = Append(*writer, 1, nullptr);
  const uint64_t syncs = counting.syncs();
  ASSERT_TRUE(writer->Rotate().ok());
  EXPECT_GT(counting.syncs(), syncs);
  const uint64_t after_rotate = counting.syncs();
  EXPECT_TRUE(writer->Sync(a).ok());
  EXPECT_TRUE(writer->Sync(b).ok());
  EXPECT_TRUE(writer->SyncAll().ok());
  EXPECT_EQ(counting.syncs(), after_rotate);  // already durable: no more fsyncs
}

// The recovery path of IndexStorage::LoadOne: records lost to a failed fsync,
// then a rotation (a checkpoint), leave a newest segment whose name is above
// the reader's last sequence + 1. The writer is reopened with exactly what
// the reader reported, as LogWriter::Open documents.
//
// Regression test: a writer that continues in the tail segment (named 5)
// must number its next record at least 5, not 4 (one past the last record
// read): a record below its segment's first sequence makes the next read
// fail with "sequence 4 does not follow 3", and the index would not load.
TEST_F(LogTest, ReopenAfterLostRecordsAndRotationKeepsTheLogReadable) {
  FaultInjectingFileSystem faulty;
  auto writer = OpenWriter(&faulty);
  ASSERT_NE(writer, nullptr);
  std::vector<Expected> expected;
  for (size_t i = 0; i < 3; ++i) Append(*writer, i, &expected);
  ASSERT_TRUE(writer->SyncAll().ok());
  auto lost = writer->Append(RecordType::kUpsert, "lost");
  ASSERT_TRUE(lost.ok());
  EXPECT_EQ(*lost, 4u);
  expected.push_back({*lost, RecordType::kUpsert, "lost"});  // stays in the file
  faulty.FailNextSync();
  EXPECT_FALSE(writer->Sync(*lost).ok());
  auto rotated = writer->Rotate();
  ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
  EXPECT_EQ(*rotated, 5u);
  writer.reset();

  ReadResult r = ReadAll(dir_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectRecords(r.records, expected);
  ASSERT_TRUE(r.tail.has_value());
  EXPECT_EQ(r.tail->segment_path, SegmentPath(5));

  writer = OpenWriter(PosixFileSystem(), r.last_sequence + 1, &*r.tail);
  ASSERT_NE(writer, nullptr);
  uint64_t sequence = Append(*writer, 3, &expected);
  ASSERT_TRUE(writer->Sync(sequence).ok());
  writer.reset();

  ReadResult again = ReadAll(dir_);
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  ExpectRecords(again.records, expected);
}

}  // namespace
}  // namespace vectord::store
