// vectord with an object store (a real s3rver on loopback): a host rebuilt
// from the bucket alone, a bucket that is down at start or goes away while
// serving, a torn upload, and disks that are behind or ahead of the bucket.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "server_process.h"
#include "store/s3_object_store.h"
#include "support/s3_server.h"

namespace vectord::testing {
namespace {

class ObjectStoreServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bucket_ = S3Server::Start();
    ASSERT_NE(bucket_, nullptr) << "s3rver is needed (scripts/install-deps.sh)";
    auto store = store::S3ObjectStore::Open(bucket_->Options());
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
  }

  std::unique_ptr<ServerProcess> Start(const std::string& data_dir, bool wait_ready = true,
                                       std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--data-dir", data_dir, "--storaged-url", bucket_->url()};
    args.insert(args.end(), extra.begin(), extra.end());
    return ServerProcess::Start(args, Credentials(), wait_ready);
  }
  static std::map<std::string, std::string> Credentials() {
    return {{"AWS_ACCESS_KEY_ID", S3Server::kAccessKey},
            {"AWS_SECRET_ACCESS_KEY", S3Server::kSecretKey}};
  }

  static std::string Item(const std::string& id, float x, const std::string& metadata) {
    return "{\"id\":\"" + id + "\",\"vector\":[" + std::to_string(x) +
           ",1,0.5],\"metadata\":" + metadata + "}";
  }
  static void Create(TestClient& client, const std::string& name) {
    HttpResult r = client.Request("POST", "/vectors/index",
                                  "{\"name\":\"" + name +
                                      "\",\"dimension\":3,\"distance\":"
                                      "\"euclidean\"}");
    ASSERT_EQ(r.status, 201) << r.body;
  }
  static HttpResult Add(TestClient& client, const std::string& name, const std::string& items,
                        const std::string& query = "") {
    return client.Request("POST", "/vectors/index/" + name + "/add" + query,
                          "{\"items\":[" + items + "]}");
  }
  static std::string Length(TestClient& client, const std::string& name) {
    HttpResult r = client.Request("GET", "/vectors/index/" + name);
    if (r.status != 200) return "status " + std::to_string(r.status);
    size_t at = r.body.find("\"length\":");
    return r.body.substr(at + 9, r.body.find_first_of(",}", at) - at - 9);
  }
  static std::string Length(const ServerProcess& server, const std::string& name) {
    TestClient client(server.port());
    return Length(client, name);
  }

  // Starts vectord on `disk`, creates "docs" and adds one batch per item
  // (so each becomes one segment object), then kills it: no checkpoint.
  void WriteThenKill(const std::string& disk, const std::vector<std::string>& ids) {
    auto server = Start(disk);
    ASSERT_NE(server, nullptr);
    TestClient client(server->port());
    Create(client, "docs");
    for (size_t i = 0; i < ids.size(); ++i) {
      ASSERT_EQ(Add(client, "docs", Item(ids[i], static_cast<float>(i + 1), "{}")).status, 200);
    }
    server->Kill();
  }

  // Kills `server` (no checkpoint) and starts vectord in its place on a new,
  // empty disk, so that what it serves is what the bucket holds.
  void KillAndStartOnANewDisk(std::unique_ptr<ServerProcess>& server) {
    server->Kill();
    new_disks_.push_back(std::make_unique<TempDir>());
    server = Start(new_disks_.back()->path());
    ASSERT_NE(server, nullptr);
  }

  std::unique_ptr<S3Server> bucket_;
  std::unique_ptr<store::S3ObjectStore> store_;
  std::vector<std::unique_ptr<TempDir>> new_disks_;  // outlive each test's servers
};

TEST_F(ObjectStoreServerTest, ANewHostRebuildsEveryIndexFromTheBucket) {
  TempDir first_disk;
  {
    auto server = Start(first_disk.path());
    ASSERT_NE(server, nullptr);
    TestClient client(server->port());
    Create(client, "docs");
    Create(client, "gone");
    HttpResult added =
        Add(client, "docs", Item("a", 1, "{\"k\":\"v\"}") + "," + Item("b", 2, "null"));
    ASSERT_EQ(added.status, 200) << added.body;
    EXPECT_NE(added.body.find("\"durability\":\"object_store\""), std::string::npos) << added.body;
    HttpResult local = Add(client, "docs", Item("c", 3, "[1,2]"), "?durability=fsync");
    ASSERT_EQ(local.status, 200) << local.body;
    EXPECT_NE(local.body.find("\"durability\":\"fsync\""), std::string::npos) << local.body;
    ASSERT_EQ(client.Request("POST", "/vectors/index/docs/delete", "{\"ids\":[\"b\"]}").status,
              200);
    ASSERT_EQ(client.Request("DELETE", "/vectors/index/gone").status, 204);
    const std::string metrics = client.Request("GET", "/metrics").body;
    EXPECT_NE(metrics.find("vectord_object_store_segment_uploads_total 3"), std::string::npos)
        << metrics;  // two adds and a delete, one object each (one client, in turn)
    EXPECT_NE(metrics.find("vectord_object_store_pending_records 0"), std::string::npos);
    // A clean stop checkpoints: the snapshot goes to the bucket.
    EXPECT_EQ(server->Terminate(), 0) << server->Log();
  }
  auto keys = store_->List("_vectors/");
  ASSERT_TRUE(keys.ok());
  for (const auto& key : *keys) {
    EXPECT_EQ(key.find("_vectors/gone"), std::string::npos) << "dropped index left " << key;
  }
  EXPECT_NE(std::find(keys->begin(), keys->end(), "_vectors/docs.hnsw"), keys->end());

  TempDir second_disk;
  auto server = Start(second_disk.path());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  // The download happens after /ready, in the background or at first use.
  EXPECT_EQ(Length(client, "docs"), "2");
  EXPECT_TRUE(server->WaitForLog("event=hydrated_from_bucket"));
  EXPECT_EQ(client.Request("GET", "/vectors/index/gone").status, 404);
  HttpResult a = client.Request("GET", "/vectors/index/docs/items/a");
  ASSERT_EQ(a.status, 200);
  EXPECT_NE(a.body.find("\"vector\":[1,1,0.5]"), std::string::npos) << a.body;
  EXPECT_NE(a.body.find("\"metadata\":{\"k\":\"v\"}"), std::string::npos) << a.body;
  HttpResult c = client.Request("GET", "/vectors/index/docs/items/c");
  EXPECT_NE(c.body.find("\"metadata\":[1,2]"), std::string::npos) << c.body;
  EXPECT_EQ(client.Request("GET", "/vectors/index/docs/items/b").status, 404);
}

// Many indexes under a low descriptor limit, with a bucket (issue #21):
// log segments beyond the limit's quarter are closed while idle and every
// index's records are shipped by the one upload pool. Every create and add
// succeeds; after kill -9, a new host rebuilt from the bucket alone holds
// every acknowledged item.
TEST_F(ObjectStoreServerTest, ManyIndexesUnderALowDescriptorLimit) {
  constexpr int kIndexes = 200;
  TempDir first_disk;
  {
    // The child inherits the soft limit; the test process takes its own back.
    rlimit saved{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
    rlimit low = saved;
    low.rlim_cur = 128;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    auto server = Start(first_disk.path());
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
    ASSERT_NE(server, nullptr);
    TestClient client(server->port());
    for (int i = 0; i < kIndexes; ++i) {
      const std::string name = "tenant-" + std::to_string(i);
      Create(client, name);
      HttpResult added = Add(
          client, name,
          Item("a", static_cast<float>(i), "{}") + "," + Item("b", static_cast<float>(-i), "null"));
      ASSERT_EQ(added.status, 200) << name << ": " << added.body;
      EXPECT_NE(added.body.find("\"durability\":\"object_store\""), std::string::npos);
    }
    // A write to the first index, whose segment was closed long ago.
    ASSERT_EQ(Add(client, "tenant-0", Item("c", 9, "{}")).status, 200);
    const std::string metrics = client.Request("GET", "/metrics").body;
    EXPECT_NE(metrics.find("vectord_wal_open_files 32"), std::string::npos) << metrics;
    EXPECT_EQ(metrics.find("vectord_wal_file_closes_total 0\n"), std::string::npos);
    server->Kill();
  }
  TempDir second_disk;
  auto server = Start(second_disk.path());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  HttpResult list = client.Request("GET", "/vectors/index");
  EXPECT_NE(list.body.find("\"count\":" + std::to_string(kIndexes)), std::string::npos)
      << list.body;
  for (int i = 0; i < kIndexes; ++i) {
    const std::string name = "tenant-" + std::to_string(i);
    EXPECT_EQ(Length(client, name), i == 0 ? "3" : "2") << name;
  }
}

// The must-hold, at CI size (bench/run-many-indexes.sh runs
// 100,000): many small indexes under `ulimit -n 1024` and a memory limit far
// below what they hold, with a bucket. Every create and add succeeds; idle
// indexes are unloaded and the next use loads them and answers correctly;
// a kill -9 during the churn loses no acknowledged write; the restart is
// ready without loading the indexes.
TEST_F(ObjectStoreServerTest, ManyIndexesUnderAMemoryLimitLoseNothingAcrossAKill) {
  const char* count = std::getenv("VECTORD_TEST_MANY_INDEXES");
  const int kIndexes = count != nullptr ? std::atoi(count) : 2000;
  constexpr int kThreads = 4;
  // Room for about half of the indexes (each counts ~5.4 KB): the other
  // half is unloaded as the creates go on.
  const uint64_t kMemoryLimit = std::max<uint64_t>(uint64_t{1} << 20, uint64_t(kIndexes) * 2800);
  TempDir disk;
  auto start = [&] {
    rlimit saved{};
    EXPECT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
    rlimit low = saved;
    low.rlim_cur = 1024;
    EXPECT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    auto server = Start(disk.path(), true, {"--memory-limit", std::to_string(kMemoryLimit)});
    EXPECT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
    return server;
  };
  auto name_of = [](int i) { return "tenant-" + std::to_string(i); };
  // The vector of item k of index i: distinct per item, so that a search
  // for it finds it first.
  auto item = [](int i, int k) {
    return "{\"id\":\"k" + std::to_string(k) + "\",\"vector\":[" + std::to_string(i) + "," +
           std::to_string(k) + ",1]}";
  };
  const auto phase = [began = std::chrono::steady_clock::now()](const char* what) {
    std::printf("%.1f s: %s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count(),
                what);
  };
  auto server = start();
  ASSERT_NE(server, nullptr);
  // Thread t owns the indexes i with i % kThreads == t, and what was
  // acknowledged for them: the highest k of each (items are k0..kN).
  std::vector<int> acknowledged(kIndexes, -1);
  std::atomic<int> failures{0};
  auto run = [&](auto&& body) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        TestClient client(server->port());
        body(client, t);
      });
    }
    for (auto& thread : threads) thread.join();
  };
  run([&](TestClient& client, int t) {
    for (int i = t; i < kIndexes; i += kThreads) {
      HttpResult created = client.Request("POST", "/vectors/index",
                                          "{\"name\":\"" + name_of(i) + "\",\"dimension\":3}");
      HttpResult added = Add(client, name_of(i), item(i, 0) + "," + item(i, 1) + "," + item(i, 2));
      if (created.status != 201 || added.status != 200) {
        ADD_FAILURE() << name_of(i) << ": " << created.body << added.body;
        ++failures;
        return;
      }
      acknowledged[i] = 2;
    }
  });
  ASSERT_EQ(failures.load(), 0);
  phase("created and filled");
  TestClient client(server->port());
  std::string metrics = client.Request("GET", "/metrics").body;
  EXPECT_EQ(metrics.find("vectord_index_evictions_total 0\n"), std::string::npos) << metrics;
  // Idle indexes were unloaded: the first one is, and says so.
  const std::string first = client.Request("GET", "/vectors/index/" + name_of(0)).body;
  EXPECT_NE(first.find("\"loaded\":false"), std::string::npos) << first << metrics;

  // The churn: each thread searches and writes its own indexes at random,
  // loading them as it goes, until the kill.
  std::atomic<int> operations{0};
  std::atomic<bool> killed{false};
  std::thread killer([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (operations.load() < 4 * kIndexes / 10 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    killed = true;
    server->Kill();
  });
  run([&](TestClient& client, int t) {
    std::mt19937 rng(t);
    while (!killed) {
      const int i =
          t + kThreads * static_cast<int>(rng() % ((kIndexes - t + kThreads - 1) / kThreads));
      const int k = static_cast<int>(rng() % (acknowledged[i] + 1));
      HttpResult found = client.Request(
          "POST", "/vectors/index/" + name_of(i) + "/search",
          "{\"vector\":[" + std::to_string(i) + "," + std::to_string(k) + ",1],\"k\":1}");
      if (found.status == 0 || killed) break;
      if (found.status != 200 ||
          found.body.find("\"id\":\"k" + std::to_string(k) + "\"") == std::string::npos) {
        ADD_FAILURE() << name_of(i) << " k" << k << ": " << found.status << " " << found.body;
        ++failures;
        break;
      }
      HttpResult added = Add(client, name_of(i), item(i, acknowledged[i] + 1));
      if (added.status == 200) {
        ++acknowledged[i];
      } else if (added.status != 0 && !killed) {
        ADD_FAILURE() << name_of(i) << ": " << added.status << " " << added.body;
        ++failures;
        break;
      }
      ++operations;
    }
  });
  killer.join();
  phase("killed during the churn");
  ASSERT_EQ(failures.load(), 0);

  const auto restart_began = std::chrono::steady_clock::now();
  server = start();
  ASSERT_NE(server, nullptr);
  const double restart_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - restart_began).count();
  std::printf("%d indexes: restart to /ready in %.2f s after %d churn operations\n", kIndexes,
              restart_seconds, operations.load());
#if !defined(VECTORD_SANITIZED)
  EXPECT_LT(restart_seconds, 5.0);
#endif
  TestClient after(server->port());
  HttpResult list = after.Request("GET", "/vectors/index");
  EXPECT_NE(list.body.find("\"count\":" + std::to_string(kIndexes) + "}"), std::string::npos);
  run([&](TestClient& client, int t) {
    for (int i = t; i < kIndexes; i += kThreads) {
      for (int k = 0; k <= acknowledged[i]; ++k) {
        HttpResult got =
            client.Request("GET", "/vectors/index/" + name_of(i) + "/items/k" + std::to_string(k));
        if (got.status != 200) {
          ADD_FAILURE() << name_of(i) << " lost acknowledged k" << k << ": " << got.status;
          ++failures;
        }
      }
    }
  });
  phase("every acknowledged write checked");
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(ObjectStoreServerTest, WritesAfterAKillAreRebuiltFromShippedSegments) {
  TempDir first_disk;
  {
    auto server = Start(first_disk.path());
    ASSERT_NE(server, nullptr);
    TestClient client(server->port());
    Create(client, "docs");
    for (int i = 0; i < 20; ++i) {
      ASSERT_EQ(
          Add(client, "docs", Item("i" + std::to_string(i), static_cast<float>(i), "{}")).status,
          200);
    }
    server->Kill();  // no checkpoint: only the shipped log segments hold the items
  }
  TempDir second_disk;
  auto server = Start(second_disk.path());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  EXPECT_EQ(Length(client, "docs"), "20");
  // And the new host goes on writing where the old one stopped.
  ASSERT_EQ(Add(client, "docs", Item("i20", 20, "{}")).status, 200);
  ASSERT_NO_FATAL_FAILURE(KillAndStartOnANewDisk(server));
  EXPECT_EQ(Length(*server, "docs"), "21");
}

TEST_F(ObjectStoreServerTest, NotReadyWhileTheBucketIsDownAtStartThenServes) {
  TempDir disk;
  {
    auto server = Start(disk.path());
    ASSERT_NE(server, nullptr);
    TestClient client(server->port());
    Create(client, "docs");
    ASSERT_EQ(Add(client, "docs", Item("a", 1, "{}")).status, 200);
    EXPECT_EQ(server->Terminate(), 0);
  }
  bucket_->Stop();
  auto server = Start(disk.path(), /*wait_ready=*/false);
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (server->Log().find("event=object_store_unreachable") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(server->Log().find("event=object_store_unreachable"), std::string::npos)
      << server->Log();
  EXPECT_EQ(client.Request("GET", "/ready").status, 503);
  EXPECT_EQ(client.Request("GET", "/health").status, 200);
  ASSERT_TRUE(bucket_->Restart());
  int ready = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    ready = client.Request("GET", "/ready").status;
    if (ready == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(ready, 200) << server->Log();
  EXPECT_EQ(Length(client, "docs"), "1");
  EXPECT_FALSE(server->WaitExit(std::chrono::milliseconds(0)).has_value()) << "must not crash";
}

TEST_F(ObjectStoreServerTest, AnOutageFailsWritesWith503AndKeepsReads) {
  TempDir disk;
  auto server = Start(disk.path());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  Create(client, "docs");
  ASSERT_EQ(Add(client, "docs", Item("before", 1, "{}")).status, 200);

  bucket_->Stop();
  HttpResult failed = Add(client, "docs", Item("during", 2, "{}"));
  EXPECT_EQ(failed.status, 503) << failed.body;
  EXPECT_NE(failed.body.find("object store"), std::string::npos) << failed.body;
  EXPECT_EQ(client.Request("GET", "/vectors/index/docs/items/during").status, 404)
      << "a failed write must not be visible";
  HttpResult search =
      client.Request("POST", "/vectors/index/docs/search", "{\"vector\":[1,1,0.5],\"k\":3}");
  EXPECT_EQ(search.status, 200) << search.body;
  EXPECT_NE(search.body.find("\"before\""), std::string::npos);
  EXPECT_EQ(client.Request("POST", "/vectors/index", "{\"name\":\"new\",\"dimension\":3}").status,
            503);

  ASSERT_TRUE(bucket_->Restart());
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    status = Add(client, "docs", Item("after", 3, "{}")).status;
    if (status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(status, 200) << "writes resume once the bucket is back";
  server->Kill();

  TempDir other;
  auto rebuilt = Start(other.path());
  ASSERT_NE(rebuilt, nullptr);
  TestClient check(rebuilt->port());
  EXPECT_EQ(check.Request("GET", "/vectors/index/docs/items/before").status, 200);
  EXPECT_EQ(check.Request("GET", "/vectors/index/docs/items/after").status, 200);
  EXPECT_EQ(check.Request("GET", "/vectors/index/docs/items/during").status, 404)
      << "the write that failed came back";
  EXPECT_EQ(check.Request("GET", "/vectors/index/new").status, 404);
}

TEST_F(ObjectStoreServerTest, AnEmptyLastSegmentIsATornUploadAndIsSkipped) {
  TempDir disk;
  ASSERT_NO_FATAL_FAILURE(WriteThenKill(disk.path(), {"a"}));
  // What s3rver leaves when it dies during a PUT: the next segment, empty.
  ASSERT_TRUE(
      store_->Put("_vectors/docs.wal/00000000000000000002-00000000000000000002.log", "").ok());
  TempDir other;
  auto server = Start(other.path());
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(server->WaitForLog("event=bucket_torn_segment")) << server->Log();
  TestClient client(server->port());
  EXPECT_EQ(Length(client, "docs"), "1");
  // The torn object is gone, so the next record's object cannot overlap it.
  EXPECT_EQ(store_->Stat("_vectors/docs.wal/00000000000000000002-00000000000000000002.log")
                .status()
                .code(),
            StatusCode::kNotFound);
  ASSERT_EQ(Add(client, "docs", Item("b", 2, "{}")).status, 200);
  ASSERT_NO_FATAL_FAILURE(KillAndStartOnANewDisk(server));
  EXPECT_EQ(Length(*server, "docs"), "2");
}

TEST_F(ObjectStoreServerTest, ANameWhoseBucketCopyDidNotLoadCannotBeCreatedOver) {
  TempDir disk;
  ASSERT_NO_FATAL_FAILURE(WriteThenKill(disk.path(), {"a", "b"}));
  // Damage a segment that is not the last: the index must not load...
  ASSERT_TRUE(
      store_->Put("_vectors/docs.wal/00000000000000000001-00000000000000000001.log", "xx").ok());
  TempDir other;
  auto server = Start(other.path());
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(server->WaitForLog("event=hydrate_failed")) << server->Log();
  TestClient client(server->port());
  // ...it is shown as failed, with the reason...
  HttpResult info = client.Request("GET", "/vectors/index/docs");
  EXPECT_EQ(info.status, 503);
  EXPECT_EQ(info.body.rfind("index failed to load: ", 0), 0u) << info.body;
  // ...and creating the name again must not wipe what the bucket holds.
  HttpResult created =
      client.Request("POST", "/vectors/index", "{\"name\":\"docs\",\"dimension\":3}");
  EXPECT_EQ(created.status, 409) << created.body;
  EXPECT_TRUE(store_->Stat("_vectors/docs.json").ok());
  EXPECT_TRUE(store_->Stat("_vectors/docs.wal/00000000000000000002-00000000000000000002.log").ok());
}

TEST_F(ObjectStoreServerTest, ADiskBehindTheBucketTakesTheBucketsCopy) {
  TempDir old_disk, new_disk;
  ASSERT_NO_FATAL_FAILURE(WriteThenKill(old_disk.path(), {"a"}));
  {
    // Another host carries on from the bucket.
    auto server = Start(new_disk.path());
    ASSERT_NE(server, nullptr);
    TestClient client(server->port());
    ASSERT_EQ(Add(client, "docs", Item("b", 2, "{}")).status, 200);
    server->Kill();
  }
  auto server = Start(old_disk.path());
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(server->WaitForLog("event=bucket_ahead_of_disk")) << server->Log();
  TestClient client(server->port());
  EXPECT_EQ(Length(client, "docs"), "2");
}

TEST_F(ObjectStoreServerTest, AnIndexOnlyOnDiskIsUploadedWhenTheBucketIsConfigured) {
  TempDir disk;
  {
    auto local_only = ServerProcess::Start({"--data-dir", disk.path()});
    ASSERT_NE(local_only, nullptr);
    TestClient client(local_only->port());
    Create(client, "docs");
    ASSERT_EQ(Add(client, "docs", Item("a", 1, "{\"x\":1}")).status, 200);
    local_only->Kill();
  }
  {
    auto server = Start(disk.path());
    ASSERT_NE(server, nullptr);
    // The background loading after /ready uploads it.
    EXPECT_TRUE(server->WaitForLog("event=bucket_behind_disk")) << server->Log();
    EXPECT_TRUE(server->WaitForLog("event=background_loading_done")) << server->Log();
    server->Kill();
  }
  TempDir empty;
  auto server = Start(empty.path());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  EXPECT_EQ(Length(client, "docs"), "1");
  HttpResult a = client.Request("GET", "/vectors/index/docs/items/a");
  EXPECT_NE(a.body.find("\"metadata\":{\"x\":1}"), std::string::npos) << a.body;
}

TEST_F(ObjectStoreServerTest, ALargeSnapshotGoesUpInPartsAndComesBack) {
  constexpr int kDimension = 2048, kItems = 800;  // a snapshot of ~7 MB
  TempDir disk;
  std::string first_vector;
  {
    auto server = Start(disk.path(), true, {"--s3-multipart-bytes", "5242880"});
    ASSERT_NE(server, nullptr);
    TestClient client(server->port());
    ASSERT_EQ(client
                  .Request("POST", "/vectors/index",
                           "{\"name\":\"big\",\"dimension\":" + std::to_string(kDimension) +
                               ",\"distance\":\"euclidean\"}")
                  .status,
              201);
    std::mt19937 rng(3);
    std::uniform_int_distribution<int> value(-1000, 1000);
    for (int first = 0; first < kItems; first += 200) {
      std::string items;
      for (int i = first; i < first + 200; ++i) {
        std::string vector;
        for (int d = 0; d < kDimension; ++d) {
          vector += (d > 0 ? "," : "") + std::to_string(value(rng));
        }
        if (i == 0) first_vector = vector;
        items += (i > first ? "," : "") + std::string("{\"id\":\"") + std::to_string(i) +
                 "\",\"vector\":[" + vector + "]}";
      }
      ASSERT_EQ(Add(client, "big", items).status, 200);
    }
    EXPECT_EQ(server->Terminate(), 0) << server->Log();
    EXPECT_NE(server->Log().find("event=object_store_multipart_upload key=_vectors/big.hnsw"),
              std::string::npos)
        << server->Log();
  }
  auto info = store_->Stat("_vectors/big.hnsw");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_GT(info->size, uint64_t{6} << 20);

  TempDir empty;
  auto server = Start(empty.path());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  EXPECT_EQ(Length(client, "big"), std::to_string(kItems));
  HttpResult item = client.Request("GET", "/vectors/index/big/items/0");
  EXPECT_NE(item.body.find("[" + first_vector + "]"), std::string::npos);
}

// The local log's record `sequence` gets one byte flipped in its payload.
void DamageLocalRecord(const std::string& disk, uint64_t sequence) {
  namespace fs = std::filesystem;
  fs::path segment;
  for (const auto& entry : fs::directory_iterator(fs::path(disk) / "_vectors/docs.wal")) {
    segment = entry.path();  // one segment: nothing was checkpointed
  }
  std::ifstream in(segment, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  std::string wanted(8, '\0');
  for (int i = 0; i < 8; ++i) wanted[i] = static_cast<char>((sequence >> (8 * i)) & 0xff);
  size_t at = 32;
  while (at + 21 <= bytes.size() && bytes.compare(at + 12, 8, wanted) != 0) ++at;
  ASSERT_LT(at + 30, bytes.size()) << "record " << sequence << " not found";
  bytes[at + 30] = static_cast<char>(bytes[at + 30] ^ 0x20);
  std::ofstream(segment, std::ios::binary | std::ios::trunc) << bytes;
}

TEST_F(ObjectStoreServerTest, ADamagedLocalCopyIsReplacedFromTheBucketAtStartUp) {
  TempDir disk;
  ASSERT_NO_FATAL_FAILURE(WriteThenKill(disk.path(), {"a", "b", "c"}));
  ASSERT_NO_FATAL_FAILURE(DamageLocalRecord(disk.path(), 1));
  auto server = Start(disk.path());
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(server->WaitForLog("event=local_copy_replaced_from_bucket")) << server->Log();
  TestClient client(server->port());
  EXPECT_EQ(Length(client, "docs"), "3");
  EXPECT_TRUE(std::filesystem::exists(disk.path() + "/_quarantine"));
  ASSERT_EQ(Add(client, "docs", Item("d", 4, "{}")).status, 200);
  ASSERT_NO_FATAL_FAILURE(KillAndStartOnANewDisk(server));
  EXPECT_EQ(Length(*server, "docs"), "4");
}

TEST_F(ObjectStoreServerTest, RecoverWithBothCopiesDamagedRebuildsAndReplacesTheBucketCopy) {
  TempDir disk;
  ASSERT_NO_FATAL_FAILURE(WriteThenKill(disk.path(), {"a", "b", "c"}));
  ASSERT_NO_FATAL_FAILURE(DamageLocalRecord(disk.path(), 2));
  ASSERT_TRUE(
      store_->Put("_vectors/docs.wal/00000000000000000001-00000000000000000001.log", "xx").ok());
  auto server = Start(disk.path());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  HttpResult info = client.Request("GET", "/vectors/index/docs");
  EXPECT_EQ(info.status, 503) << info.body;
  EXPECT_NE(info.body.find("object store's copy did not load either"), std::string::npos)
      << info.body;
  HttpResult recovered = client.Request("POST", "/vectors/index/docs/recover");
  ASSERT_EQ(recovered.status, 200) << recovered.body;
  EXPECT_NE(recovered.body.find("kept: log records 1-1 (1 items)"), std::string::npos)
      << recovered.body;
  EXPECT_NE(recovered.body.find("did not load either"), std::string::npos) << recovered.body;
  auto keys = store_->List("_quarantine/");
  ASSERT_TRUE(keys.ok());
  EXPECT_FALSE(keys->empty());
  ASSERT_EQ(Add(client, "docs", Item("e", 5, "{}")).status, 200);
  ASSERT_NO_FATAL_FAILURE(KillAndStartOnANewDisk(server));
  TestClient again(server->port());
  EXPECT_EQ(Length(again, "docs"), "2");
  EXPECT_EQ(again.Request("GET", "/vectors/index/docs/items/a").status, 200);
  EXPECT_EQ(again.Request("GET", "/vectors/index/docs/items/e").status, 200);
}

}  // namespace
}  // namespace vectord::testing
