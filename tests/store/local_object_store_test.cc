#include "store/local_object_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fault_injecting_file_system.h"

namespace vectord::store {
namespace {

namespace fs = std::filesystem;

// Every regular file under `root`, as paths relative to it, sorted.
std::vector<std::string> FilesUnder(const std::string& root) {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) files.push_back(fs::relative(entry.path(), root).string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool AnyTempFile(const std::string& root) {
  for (const std::string& f : FilesUnder(root)) {
    if (f.size() >= 4 && f.compare(f.size() - 4, 4, ".tmp") == 0) return true;
  }
  return false;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class LocalObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/vectord_store_test.XXXXXX";
    char* dir = ::mkdtemp(pattern);
    ASSERT_NE(dir, nullptr);
    dir_ = dir;
    auto store = LocalObjectStore::OpenRoot(dir_, /*sync=*/false);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    owned_ = std::move(store).value();
    store_ = owned_.get();
  }
  void TearDown() override {
    store_ = nullptr;
    owned_.reset();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  void Put(std::string_view key, std::string_view bytes) {
    Status s = store_->Put(key, bytes);
    ASSERT_TRUE(s.ok()) << key << ": " << s.ToString();
  }
  std::vector<std::string> List(std::string_view prefix) {
    auto keys = store_->List(prefix);
    EXPECT_TRUE(keys.ok()) << keys.status().ToString();
    return keys.ok() ? *keys : std::vector<std::string>{};
  }

  std::string dir_;
  std::unique_ptr<LocalObjectStore> owned_;
  // Used through the interface: on LocalObjectStore itself, Open("literal")
  // is ambiguous with the static Open(std::string root, bool sync).
  ObjectStore* store_ = nullptr;
};

TEST_F(LocalObjectStoreTest, OpenStripsTrailingSlashesAndDescribesItself) {
  auto store = LocalObjectStore::OpenRoot(dir_ + "//", false);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->root(), dir_);
  EXPECT_EQ((*store)->Describe(), "local:" + dir_);
}

TEST_F(LocalObjectStoreTest, OpenCreatesMissingRootDirectories) {
  std::string root = dir_ + "/deep/er/root";
  auto store = LocalObjectStore::OpenRoot(root, false);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE(fs::is_directory(root));
  ASSERT_TRUE((*store)->Put("k", "v").ok());
  EXPECT_EQ(ReadFile(root + "/k"), "v");
}

TEST_F(LocalObjectStoreTest, OpenRejectsEmptyRoot) {
  EXPECT_EQ(LocalObjectStore::OpenRoot("", false).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(LocalObjectStoreTest, OpenFailsWhenRootIsAFile) {
  std::string file = dir_ + "/plain";
  std::ofstream(file) << "x";
  EXPECT_FALSE(LocalObjectStore::OpenRoot(file + "/sub", false).ok());
}

TEST_F(LocalObjectStoreTest, PutGetRoundTrip) {
  Put("hello", "world");
  auto got = store_->Get("hello");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "world");
  // The key is the file <root>/<key>.
  EXPECT_EQ(ReadFile(dir_ + "/hello"), "world");
}

TEST_F(LocalObjectStoreTest, PutGetRoundTripBinaryAndEmpty) {
  std::string binary;
  for (int i = 0; i < 300000; ++i) binary.push_back(static_cast<char>(i * 7 % 256));
  binary[17] = '\0';
  Put("bin", binary);
  Put("empty", "");
  auto got = store_->Get("bin");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), binary.size());
  EXPECT_TRUE(*got == binary);
  auto empty = store_->Get("empty");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(*empty, "");
}

TEST_F(LocalObjectStoreTest, ReaderReportsSizeAndPosition) {
  Put("k", "0123456789");
  auto reader = store_->Open("k");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->size(), 10u);
  EXPECT_EQ((*reader)->position(), 0u);
  char buf[4];
  ASSERT_TRUE((*reader)->Read(buf, 4).ok());
  EXPECT_EQ(std::string(buf, 4), "0123");
  EXPECT_EQ((*reader)->position(), 4u);
  ASSERT_TRUE((*reader)->Read(buf, 4).ok());
  EXPECT_EQ(std::string(buf, 4), "4567");
  EXPECT_EQ((*reader)->position(), 8u);
}

// The reader buffers small reads and passes large ones through: mixed sizes
// across the buffer's boundaries must give back the bytes in order, and the
// end of the object must be a Corruption naming the offset, wherever it falls.
TEST_F(LocalObjectStoreTest, ReaderReturnsTheBytesInOrderForAnyMixOfSizes) {
  std::string data;
  for (int i = 0; i < 3 * (1 << 20) + 12345; ++i) data.push_back(static_cast<char>(i * 131 % 251));
  Put("big", data);
  auto reader = store_->Open("big");
  ASSERT_TRUE(reader.ok());
  const size_t sizes[] = {1, 4, 7, 4096, (1 << 20) - 3, 1, (1 << 20) + 5, 13, 0, 65536};
  std::string back;
  for (size_t i = 0; back.size() < data.size(); ++i) {
    size_t want = std::min(sizes[i % std::size(sizes)], data.size() - back.size());
    std::string piece(want, '\0');
    ASSERT_TRUE((*reader)->Read(piece.data(), want).ok()) << "at " << back.size();
    back += piece;
    EXPECT_EQ((*reader)->position(), back.size());
  }
  EXPECT_TRUE(back == data);
  char extra;
  Status end = (*reader)->Read(&extra, 1);
  EXPECT_EQ(end.code(), StatusCode::kCorruption);
  EXPECT_NE(end.message().find(std::to_string(data.size())), std::string::npos) << end.message();

  auto again = store_->Open("big");
  ASSERT_TRUE(again.ok());
  std::string head(10, '\0');
  ASSERT_TRUE((*again)->Read(head.data(), 10).ok());
  std::string too_much(data.size(), '\0');  // 10 bytes more than are left
  EXPECT_EQ((*again)->Read(too_much.data(), too_much.size()).code(), StatusCode::kCorruption);
}

TEST_F(LocalObjectStoreTest, CommitPublishesAtomically) {
  auto writer = store_->Create("_vectors/docs.hnsw");
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  ASSERT_TRUE((*writer)->Write("abc", 3).ok());
  ASSERT_TRUE((*writer)->Write("def", 3).ok());

  // Before Commit the object does not exist for readers or List.
  EXPECT_EQ(store_->Open("_vectors/docs.hnsw").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Get("_vectors/docs.hnsw").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(List("").empty());
  EXPECT_TRUE(List("_vectors/").empty());
  EXPECT_FALSE(fs::exists(dir_ + "/_vectors/docs.hnsw"));
  EXPECT_TRUE(AnyTempFile(dir_));  // the bytes are staged somewhere

  ASSERT_TRUE((*writer)->Commit().ok());
  auto got = store_->Get("_vectors/docs.hnsw");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "abcdef");
  EXPECT_EQ(List(""), std::vector<std::string>{"_vectors/docs.hnsw"});
  EXPECT_FALSE(AnyTempFile(dir_));
  EXPECT_EQ(FilesUnder(dir_), std::vector<std::string>{"_vectors/docs.hnsw"});

  writer->reset();  // destroying a committed writer keeps the object
  EXPECT_TRUE(store_->Get("_vectors/docs.hnsw").ok());
  EXPECT_FALSE(AnyTempFile(dir_));
}

TEST_F(LocalObjectStoreTest, UncommittedWriterLeavesNothing) {
  {
    auto writer = store_->Create("a/b/c");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write("partial", 7).ok());
  }
  EXPECT_EQ(store_->Open("a/b/c").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(List("").empty());
  EXPECT_TRUE(FilesUnder(dir_).empty());
  EXPECT_FALSE(AnyTempFile(dir_));
}

TEST_F(LocalObjectStoreTest, UncommittedWriterKeepsOldObject) {
  Put("key", "old");
  {
    auto writer = store_->Create("key");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write("new bytes", 9).ok());
    EXPECT_EQ(*store_->Get("key"), "old");
  }
  EXPECT_EQ(*store_->Get("key"), "old");
  EXPECT_EQ(FilesUnder(dir_), std::vector<std::string>{"key"});
}

TEST_F(LocalObjectStoreTest, OverwriteReplacesContent) {
  Put("_vectors/docs.json", "a much longer first version of the object");
  Put("_vectors/docs.json", "short");
  auto got = store_->Get("_vectors/docs.json");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "short");
  EXPECT_EQ(List("_vectors/"), std::vector<std::string>{"_vectors/docs.json"});
  EXPECT_FALSE(AnyTempFile(dir_));
}

TEST_F(LocalObjectStoreTest, OpenReaderKeepsSeeingOldBytesAcrossOverwrite) {
  Put("k", "old-old-old");
  auto reader = store_->Open("k");
  ASSERT_TRUE(reader.ok());
  Put("k", "NEW-NEW-NEW");
  std::string buf(11, '\0');
  ASSERT_TRUE((*reader)->Read(buf.data(), buf.size()).ok());
  EXPECT_EQ(buf, "old-old-old");  // never a mix
  EXPECT_EQ(*store_->Get("k"), "NEW-NEW-NEW");
}

TEST_F(LocalObjectStoreTest, TwoWritersOfOneKeyLastCommitWins) {
  auto first = store_->Create("k");
  auto second = store_->Create("k");
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE((*first)->Write("first", 5).ok());
  ASSERT_TRUE((*second)->Write("second!", 7).ok());
  ASSERT_TRUE((*second)->Commit().ok());
  EXPECT_EQ(*store_->Get("k"), "second!");
  ASSERT_TRUE((*first)->Commit().ok());
  EXPECT_EQ(*store_->Get("k"), "first");
  EXPECT_FALSE(AnyTempFile(dir_));
}

TEST_F(LocalObjectStoreTest, NestedKeys) {
  Put("_vectors/a/b.json", "{}");
  Put("_vectors/a/c/d.hnsw", "deep");
  EXPECT_TRUE(fs::is_regular_file(dir_ + "/_vectors/a/b.json"));
  EXPECT_EQ(*store_->Get("_vectors/a/b.json"), "{}");
  EXPECT_EQ(*store_->Get("_vectors/a/c/d.hnsw"), "deep");
  EXPECT_EQ(List(""), (std::vector<std::string>{"_vectors/a/b.json", "_vectors/a/c/d.hnsw"}));
  EXPECT_EQ(List("_vectors/a/c"), std::vector<std::string>{"_vectors/a/c/d.hnsw"});
  EXPECT_EQ(List("_vectors/a/"),
            (std::vector<std::string>{"_vectors/a/b.json", "_vectors/a/c/d.hnsw"}));
}

TEST_F(LocalObjectStoreTest, ListByPrefixIsSortedAndFiltered) {
  // Inserted out of order.
  for (const char* key :
       {"_vectors/zeta.json", "_vectors/docs.json", "_vectors/alpha.hnsw", "_vectors/docs.hnsw",
        "_vectors/dog.json", "other/docs.json", "_vectorsX", "top", "_vectors/sub/docs.json"}) {
    Put(key, key);
  }
  EXPECT_EQ(List("_vectors/"),
            (std::vector<std::string>{"_vectors/alpha.hnsw", "_vectors/docs.hnsw",
                                      "_vectors/docs.json", "_vectors/dog.json",
                                      "_vectors/sub/docs.json", "_vectors/zeta.json"}));
  // A prefix that ends in the middle of a name.
  EXPECT_EQ(
      List("_vectors/do"),
      (std::vector<std::string>{"_vectors/docs.hnsw", "_vectors/docs.json", "_vectors/dog.json"}));
  EXPECT_EQ(List("_vectors/docs."),
            (std::vector<std::string>{"_vectors/docs.hnsw", "_vectors/docs.json"}));
  EXPECT_EQ(List("_vectors/docs.json"), std::vector<std::string>{"_vectors/docs.json"});
  // A prefix that ends in the middle of a directory name.
  EXPECT_EQ(List("_vec"),
            (std::vector<std::string>{
                "_vectors/alpha.hnsw", "_vectors/docs.hnsw", "_vectors/docs.json",
                "_vectors/dog.json", "_vectors/sub/docs.json", "_vectors/zeta.json", "_vectorsX"}));
  EXPECT_EQ(List("_vectors/s"), std::vector<std::string>{"_vectors/sub/docs.json"});
  EXPECT_EQ(List("o"), std::vector<std::string>{"other/docs.json"});
  EXPECT_TRUE(List("nothing").empty());
  EXPECT_TRUE(List("_vectors/q").empty());
  EXPECT_TRUE(List("missing/dir/").empty());
  EXPECT_TRUE(List("top/").empty());  // "top" is a file, not a directory

  std::vector<std::string> all = List("");
  EXPECT_EQ(all.size(), 9u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
}

TEST_F(LocalObjectStoreTest, ListOfEmptyStoreIsEmpty) { EXPECT_TRUE(List("").empty()); }

TEST_F(LocalObjectStoreTest, ListSkipsTemporaryFiles) {
  Put("_vectors/a.json", "x");
  auto writer = store_->Create("_vectors/b.json");
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write("y", 1).ok());
  EXPECT_EQ(List("_vectors/"), std::vector<std::string>{"_vectors/a.json"});
  EXPECT_EQ(List("_vectors/b"), std::vector<std::string>{});
}

TEST_F(LocalObjectStoreTest, DeletePresentAndAbsent) {
  Put("_vectors/a.json", "x");
  Put("_vectors/b.json", "y");
  ASSERT_TRUE(store_->Delete("_vectors/a.json").ok());
  EXPECT_EQ(store_->Open("_vectors/a.json").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(List(""), std::vector<std::string>{"_vectors/b.json"});
  EXPECT_EQ(*store_->Get("_vectors/b.json"), "y");
  // Absent keys, including ones in a directory that does not exist.
  EXPECT_TRUE(store_->Delete("_vectors/a.json").ok());
  EXPECT_TRUE(store_->Delete("never").ok());
  EXPECT_TRUE(store_->Delete("no/such/dir/key").ok());
  EXPECT_EQ(store_->Delete("/abs").code(), StatusCode::kInvalidArgument);
}

TEST_F(LocalObjectStoreTest, DeleteWithSyncWorks) {
  auto store = LocalObjectStore::OpenRoot(dir_, /*sync=*/true);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Put("s/k", "v").ok());
  EXPECT_EQ(*(*store)->Get("s/k"), "v");
  EXPECT_TRUE((*store)->Delete("s/k").ok());
  EXPECT_TRUE((*store)->Delete("s/k").ok());
  ObjectStore& synced = **store;
  EXPECT_EQ(synced.Open("s/k").status().code(), StatusCode::kNotFound);
}

TEST_F(LocalObjectStoreTest, OpenOfMissingKeyIsNotFound) {
  auto reader = store_->Open("nope");
  EXPECT_EQ(reader.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Get("no/such/dir").status().code(), StatusCode::kNotFound);
}

// Regression: Open() of a key naming a directory (here "_vectors", which
// exists only because "_vectors/docs.json" does) used to succeed, since
// open(2) accepts directories. By the ObjectStore contract it is NotFound,
// as on S3.
TEST_F(LocalObjectStoreTest, OpenOfDirectoryIsNotFound) {
  Put("_vectors/docs.json", "{}");
  EXPECT_EQ(store_->Open("_vectors").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Get("_vectors").status().code(), StatusCode::kNotFound);
}

TEST_F(LocalObjectStoreTest, ReadPastEndIsCorruption) {
  Put("k", "12345");
  auto reader = store_->Open("k");
  ASSERT_TRUE(reader.ok());
  char buf[16];
  Status s = (*reader)->Read(buf, 6);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();

  auto again = store_->Open("k");
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->Read(buf, 5).ok());
  EXPECT_EQ((*again)->position(), 5u);
  s = (*again)->Read(buf, 1);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("end of file"), std::string::npos) << s.message();
}

TEST_F(LocalObjectStoreTest, InvalidKeysAreRejectedByEveryOperation) {
  for (std::string_view key : {"", "/abs", "a//b", "a/../b"}) {
    EXPECT_EQ(store_->Create(key).status().code(), StatusCode::kInvalidArgument) << key;
    EXPECT_EQ(store_->Open(key).status().code(), StatusCode::kInvalidArgument) << key;
    EXPECT_EQ(store_->Delete(key).code(), StatusCode::kInvalidArgument) << key;
    EXPECT_EQ(store_->Put(key, "x").code(), StatusCode::kInvalidArgument) << key;
  }
  // Nothing escaped the root.
  EXPECT_TRUE(FilesUnder(dir_).empty());
  EXPECT_FALSE(fs::exists("/abs"));
}

TEST(ValidateKey, AcceptsOrdinaryKeys) {
  for (std::string_view key : {"a", "_vectors/docs.hnsw", "_vectors/a/b.json", "a.b", "a..b", "...",
                               ".hidden", "a/.x", "x-y_z/0.tmp"}) {
    Status s = ValidateKey(key);
    EXPECT_TRUE(s.ok()) << key << ": " << s.ToString();
  }
}

TEST(ValidateKey, RejectsBadKeys) {
  const std::string with_nul("a\0b", 3);
  for (std::string_view key :
       {std::string_view(""), std::string_view("/abs"), std::string_view("/"),
        std::string_view("a//b"), std::string_view("a/../b"), std::string_view("./a"),
        std::string_view(".."), std::string_view("."), std::string_view("a/."),
        std::string_view("a/"), std::string_view("../a"), std::string_view("a\nb"),
        std::string_view("a\tb"), std::string_view("a\x01"), std::string_view("a\x1f"),
        std::string_view("a\x7f"), std::string_view(with_nul)}) {
    Status s = ValidateKey(key);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << "key of size " << key.size();
  }
}

// --- The publish protocol, step by step ---------------------------------
// A LocalObjectStore with fsyncs on, over a FaultInjectingFileSystem that
// records each call and fails the one a test aims at.
class LocalObjectStorePublishTest : public LocalObjectStoreTest {
 protected:
  void SetUp() override {
    LocalObjectStoreTest::SetUp();
    auto store = LocalObjectStore::OpenRoot(dir_, /*sync=*/true, &faulty_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    synced_ = std::move(store).value();
    store_ = synced_.get();
  }
  void TearDown() override {
    synced_.reset();
    LocalObjectStoreTest::TearDown();
  }

  // Publishes `before`, then tries to publish `after` over it with the fault
  // that `arm` sets; returns what Put said.
  template <typename Arm>
  Status OverwriteWithFault(const std::string& before, const std::string& after, Arm arm) {
    Put("_vectors/docs.hnsw", before);
    arm();
    Status s = store_->Put("_vectors/docs.hnsw", after);
    faulty_.ClearFaults();
    return s;
  }
  std::string Object() {
    auto got = store_->Get("_vectors/docs.hnsw");
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : "";
  }

  testing::FaultInjectingFileSystem faulty_;
  std::unique_ptr<LocalObjectStore> synced_;
};

TEST_F(LocalObjectStorePublishTest, PublishIsWriteSyncCloseRenameThenDirectorySync) {
  faulty_.StartRecording();
  Put("_vectors/docs.hnsw", "snapshot bytes");
  const std::vector<std::string> events = faulty_.events();
  ASSERT_EQ(events.size(), 6u) << ::testing::PrintToString(events);
  const std::string target = dir_ + "/_vectors/docs.hnsw";
  // The temporary file sits beside the target, under a name List skips.
  ASSERT_EQ(events[0].rfind("create " + target + ".", 0), 0u) << events[0];
  const std::string temp = events[0].substr(7);
  EXPECT_EQ(temp.substr(temp.size() - 4), ".tmp");
  EXPECT_EQ(events, (std::vector<std::string>{
                        "create " + temp, "append " + temp,
                        "sync " + temp,  // the bytes are durable before they get the name
                        "close " + temp, "rename " + temp + " " + target,
                        "syncdir " + dir_ + "/_vectors",  // and the name before Commit returns
                    }));
  EXPECT_EQ(Object(), "snapshot bytes");
}

// Snapshot loads ask for rows in large steps: those must go from the file
// straight into the caller's memory, small ones through one buffered read.
TEST_F(LocalObjectStorePublishTest, LargeReadsSkipTheReadersBuffer) {
  Put("big", std::string(4 << 20, 'x'));
  auto reader = store_->Open("big");
  ASSERT_TRUE(reader.ok());
  faulty_.StartRecording();
  std::string out(1 << 20, '\0');
  ASSERT_TRUE((*reader)->Read(out.data(), 64 << 10).ok());   // the threshold: direct
  ASSERT_TRUE((*reader)->Read(out.data(), 300 << 10).ok());  // direct
  ASSERT_TRUE((*reader)->Read(out.data(), 10).ok());         // fills the 1 MiB buffer
  ASSERT_TRUE((*reader)->Read(out.data(), 4000).ok());       // from the buffer
  const std::string path = dir_ + "/big";
  EXPECT_EQ(faulty_.events(),
            (std::vector<std::string>{"read " + path + " 65536", "read " + path + " 307200",
                                      "read " + path + " 1048576"}));
  EXPECT_EQ((*reader)->position(), (64u << 10) + (300u << 10) + 10 + 4000);
}

TEST_F(LocalObjectStorePublishTest, DeleteSyncsTheDirectoryOnlyWhenItRemovedSomething) {
  Put("a/b", "x");
  faulty_.StartRecording();
  ASSERT_TRUE(store_->Delete("a/b").ok());
  ASSERT_TRUE(store_->Delete("a/b").ok());  // absent: nothing to make durable
  EXPECT_EQ(faulty_.events(),
            (std::vector<std::string>{"remove " + dir_ + "/a/b", "syncdir " + dir_ + "/a"}));
}

TEST_F(LocalObjectStorePublishTest, WithoutSyncNothingIsFsynced) {
  auto store = LocalObjectStore::OpenRoot(dir_, /*sync=*/false, &faulty_);
  ASSERT_TRUE(store.ok());
  faulty_.StartRecording();
  ASSERT_TRUE((*store)->Put("k", "v").ok());
  ASSERT_TRUE((*store)->Delete("k").ok());
  for (const std::string& event : faulty_.events()) {
    EXPECT_NE(event.rfind("sync", 0), 0u) << event;
  }
  EXPECT_EQ(faulty_.syncs(), 0u);
  EXPECT_EQ(faulty_.directory_syncs(), 0u);
}

TEST_F(LocalObjectStorePublishTest, FailedFsyncKeepsTheOldObjectAndNoTemporaryFile) {
  Status s = OverwriteWithFault("old", "new", [&] { faulty_.FailNextSync(); });
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
  EXPECT_EQ(Object(), "old");
  EXPECT_FALSE(AnyTempFile(dir_));
}

TEST_F(LocalObjectStorePublishTest, FailedRenameKeepsTheOldObjectAndNoTemporaryFile) {
  Status s = OverwriteWithFault("old", "new", [&] { faulty_.FailNextRename(); });
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
  EXPECT_EQ(Object(), "old");
  EXPECT_FALSE(AnyTempFile(dir_));
  EXPECT_EQ(List(""), std::vector<std::string>{"_vectors/docs.hnsw"});
}

TEST_F(LocalObjectStorePublishTest, NoSpaceMidWriteIsNoSpaceAndKeepsTheOldObject) {
  const std::string big(1 << 20, 'n');
  Status s = OverwriteWithFault("old", big, [&] { faulty_.SetNoSpace(true, 4096); });
  EXPECT_EQ(s.code(), StatusCode::kNoSpace) << s.ToString();
  EXPECT_EQ(Object(), "old");
  EXPECT_FALSE(AnyTempFile(dir_));
}

// The rename happened, but nothing says it survives a power loss: the caller
// must hear of it, so that it does not act as if the object were durable.
TEST_F(LocalObjectStorePublishTest, FailedDirectoryFsyncIsReported) {
  Status s = OverwriteWithFault("old", "new", [&] { faulty_.FailNextSyncDirectory(); });
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
  EXPECT_EQ(Object(), "new");
  EXPECT_FALSE(AnyTempFile(dir_));
}

TEST_F(LocalObjectStorePublishTest, FaultFilterAimsAtOnePath) {
  faulty_.SetFaultFilter(
      [](const std::string& path) { return path.find("/b.") != std::string::npos; });
  faulty_.FailNextSync();
  Put("a", "1");  // not aimed at: the one-shot fault stays armed
  EXPECT_EQ(store_->Put("b", "2").code(), StatusCode::kIOError);
  Put("b", "3");  // fired once
  faulty_.ClearFaults();
  EXPECT_EQ(*store_->Get("a"), "1");
  EXPECT_EQ(*store_->Get("b"), "3");
}

}  // namespace
}  // namespace vectord::store
