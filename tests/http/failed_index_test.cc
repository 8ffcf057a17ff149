// An index whose stored copy is damaged, end to end against the real server:
// it stays visible with its reason, its name cannot be taken by a create
// (which would destroy the damaged files), and a delete moves its files to
// the quarantine folder instead of removing them.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "http/server_process.h"
#include "support/child_process.h"

namespace vectord::testing {
namespace {

namespace fs = std::filesystem;

std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(FailedIndex, IsShownRefusesCreateAndIsQuarantinedOnDelete) {
  TempDir data;
  const std::vector<std::string> args = {"--data-dir", data.path()};
  {
    auto server = ServerProcess::Start(args);
    ASSERT_NE(server, nullptr);
    TestClient client(server->port());
    for (const char* name : {"bad", "good"}) {
      ASSERT_EQ(client
                    .Request("POST", "/vectors/index",
                             std::string(R"({"name":")") + name + R"(","dimension":3})")
                    .status,
                201);
    }
    std::string items = R"({"items":[)";
    for (int i = 0; i < 40; ++i) {
      if (i > 0) items += ',';
      items +=
          R"({"id":"i)" + std::to_string(i) + R"(","vector":[1,)" + std::to_string(i) + R"(,0.5]})";
    }
    items += "]}";
    ASSERT_EQ(client.Request("POST", "/vectors/index/bad/add", items).status, 200);
    ASSERT_EQ(server->Terminate(), 0);  // the shutdown checkpoint writes the snapshot
  }
  const fs::path snapshot = fs::path(data.path()) / "_vectors" / "bad.hnsw";
  std::string bytes = ReadBytes(snapshot);
  ASSERT_GT(bytes.size(), 600u);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x5a);
  WriteBytes(snapshot, bytes);

  auto server = ServerProcess::Start(args);
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  // Start-up reads no index: the loading in the background after /ready
  // finds the damage.
  ASSERT_TRUE(server->WaitForLog("event=index_load_failed index=bad")) << server->Log();

  HttpResult list = client.Request("GET", "/vectors/index");
  ASSERT_EQ(list.status, 200);
  EXPECT_NE(list.body.find(R"("names":["good"],"count":1,"failed":[{"name":"bad","error":")"),
            std::string::npos)
      << list.body;
  EXPECT_NE(list.body.find("bad.hnsw"), std::string::npos) << list.body;

  HttpResult info = client.Request("GET", "/vectors/index/bad");
  EXPECT_EQ(info.status, 503);
  EXPECT_EQ(info.body.rfind("index failed to load: _vectors/bad.hnsw: ", 0), 0u) << info.body;
  EXPECT_EQ(client.Request("POST", "/vectors/index/bad/search", R"({"vector":[1,0,0]})").status,
            503);
  EXPECT_EQ(client.Request("GET", "/vectors/index/nothing").status, 404);

  HttpResult create = client.Request("POST", "/vectors/index", R"({"name":"bad","dimension":3})");
  EXPECT_EQ(create.status, 409);
  EXPECT_EQ(create.body.rfind("index failed to load: ", 0), 0u) << create.body;
  EXPECT_EQ(ReadBytes(snapshot), bytes) << "the refused create touched the damaged snapshot";

  HttpResult metrics = client.Request("GET", "/metrics");
  EXPECT_NE(metrics.body.find(R"(vectord_index_load_failed{index="bad"} 1)"), std::string::npos)
      << metrics.body;

  EXPECT_EQ(client.Request("DELETE", "/vectors/index/bad").status, 204);
  EXPECT_FALSE(fs::exists(snapshot));
  std::vector<fs::path> quarantined;
  for (const auto& entry : fs::directory_iterator(fs::path(data.path()) / "_quarantine")) {
    quarantined.push_back(entry.path());
  }
  ASSERT_EQ(quarantined.size(), 1u);
  EXPECT_EQ(ReadBytes(quarantined[0] / "bad.hnsw"), bytes);
  EXPECT_TRUE(fs::exists(quarantined[0] / "bad.json"));
  EXPECT_TRUE(fs::is_directory(quarantined[0] / "bad.wal"));
  list = client.Request("GET", "/vectors/index");
  EXPECT_EQ(list.body.find("failed"), std::string::npos) << list.body;
  metrics = client.Request("GET", "/metrics");
  EXPECT_EQ(metrics.body.find("vectord_index_load_failed{"), std::string::npos);
  EXPECT_EQ(client.Request("GET", "/vectors/index/bad").status, 404);

  // The name is free again, and the quarantined files stay out of the way.
  ASSERT_EQ(server->Terminate(), 0);
  server = ServerProcess::Start(args);
  ASSERT_NE(server, nullptr);
  TestClient again(server->port());
  EXPECT_EQ(again.Request("POST", "/vectors/index", R"({"name":"bad","dimension":3})").status, 201);
  EXPECT_EQ(ReadBytes(quarantined[0] / "bad.hnsw"), bytes);
}

// A damaged log record in the middle of the log: recover keeps the records
// before it, says so, keeps the damaged segment in quarantine, and the index
// serves and takes writes again, also after a restart.
TEST(FailedIndex, RecoverKeepsTheRecordsBeforeTheDamage) {
  TempDir data;
  const std::vector<std::string> args = {"--data-dir", data.path()};
  {
    auto server = ServerProcess::Start(args);
    ASSERT_NE(server, nullptr);
    TestClient client(server->port());
    ASSERT_EQ(client.Request("POST", "/vectors/index", R"({"name":"docs","dimension":2})").status,
              201);
    for (const char* batch :
         {R"({"items":[{"id":"a","vector":[1,0]},{"id":"b","vector":[0,1]}]})",
          R"({"items":[{"id":"c","vector":[1,1]}]})", R"({"items":[{"id":"d","vector":[1,2]}]})"}) {
      ASSERT_EQ(client.Request("POST", "/vectors/index/docs/add", batch).status, 200);
    }
    server->Kill();  // no shutdown checkpoint: everything is in the log
  }
  const fs::path wal = fs::path(data.path()) / "_vectors" / "docs.wal";
  fs::path segment;
  for (const auto& entry : fs::directory_iterator(wal)) segment = entry.path();
  std::string bytes = ReadBytes(segment);
  // Record 2's payload: its header carries sequence 2 at offset 12 and type
  // upsert (1) at offset 20; the payload follows the 21-byte header.
  size_t second = std::string::npos;
  for (size_t at = 32; at + 21 <= bytes.size(); ++at) {
    if (bytes.compare(at + 12, 8, std::string("\x02\0\0\0\0\0\0\0", 8)) == 0 &&
        bytes[at + 20] == 1) {
      second = at;
      break;
    }
  }
  ASSERT_NE(second, std::string::npos);
  bytes[second + 24] = static_cast<char>(bytes[second + 24] ^ 0x10);
  WriteBytes(segment, bytes);

  auto server = ServerProcess::Start(args);
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  EXPECT_EQ(client.Request("GET", "/vectors/index/docs").status, 503);
  HttpResult recovered = client.Request("POST", "/vectors/index/docs/recover");
  ASSERT_EQ(recovered.status, 200) << recovered.body;
  EXPECT_NE(recovered.body.find(R"("items":2,"summary":"kept: log records 1-1 (2 items); lost: )"),
            std::string::npos)
      << recovered.body;
  EXPECT_NE(recovered.body.find("checksum mismatch"), std::string::npos) << recovered.body;
  EXPECT_EQ(client.Request("POST", "/vectors/index/docs/recover").status, 409);
  HttpResult info = client.Request("GET", "/vectors/index/docs");
  ASSERT_EQ(info.status, 200);
  EXPECT_NE(info.body.find(R"("length":2)"), std::string::npos) << info.body;
  EXPECT_EQ(client.Request("GET", "/vectors/index/docs/items/a").status, 200);
  EXPECT_EQ(client.Request("GET", "/vectors/index/docs/items/c").status, 404);
  ASSERT_EQ(
      client.Request("POST", "/vectors/index/docs/add", R"({"items":[{"id":"e","vector":[2,2]}]})")
          .status,
      200);
  std::vector<fs::path> quarantined;
  for (const auto& entry : fs::directory_iterator(fs::path(data.path()) / "_quarantine")) {
    quarantined.push_back(entry.path());
  }
  ASSERT_EQ(quarantined.size(), 1u);
  EXPECT_EQ(ReadBytes(quarantined[0] / "docs.wal" / segment.filename()), bytes);

  server->Kill();
  server = ServerProcess::Start(args);
  ASSERT_NE(server, nullptr);
  TestClient again(server->port());
  info = again.Request("GET", "/vectors/index/docs");
  ASSERT_EQ(info.status, 200) << info.body;
  EXPECT_NE(info.body.find(R"("length":3)"), std::string::npos) << info.body;
  EXPECT_EQ(again.Request("GET", "/vectors/index/docs/items/e").status, 200);
}

// The offset of the log record with `sequence` in a segment (its header
// carries the sequence at offset 12 and an upsert type, 1, at offset 20).
size_t RecordOffset(const std::string& segment, uint64_t sequence) {
  std::string wanted(8, '\0');
  for (int i = 0; i < 8; ++i) wanted[i] = static_cast<char>((sequence >> (8 * i)) & 0xff);
  for (size_t at = 32; at + 21 <= segment.size(); ++at) {
    if (segment.compare(at + 12, 8, wanted) == 0 && segment[at + 20] == 1) return at;
  }
  return std::string::npos;
}

// kill -9 while a recover runs, at points spread over its duration: after a
// restart the index is served with every record the recover keeps, or is
// still failed and the next recover keeps them all. Rounds: 4, or
// $VECTORD_TEST_RECOVER_KILL_ROUNDS (bench/run-recover-kill.sh runs many).
TEST(FailedIndex, AKillDuringRecoverLosesNothingMore) {
  int rounds = 4;
  if (const char* env = std::getenv("VECTORD_TEST_RECOVER_KILL_ROUNDS")) rounds = std::atoi(env);
#if defined(VECTORD_SANITIZED)
  // Inserts run several times slower: a smaller log keeps the recover (and
  // so the spread of kill points) long enough while the set-up stays short.
  constexpr int kBatchSize = 250;
#else
  constexpr int kBatchSize = 600;
#endif
  constexpr int kBatches = 24, kDimension = 16, kDamaged = 20;
  TempDir pristine;
  // No checkpoint while the batches go in (a slow build may pass the default
  // replay budget): every batch stays a record of the one log segment.
  const std::vector<std::string> pristine_args = {"--data-dir", pristine.path(),
                                                  "--checkpoint-replay-seconds", "86400"};
  {
    auto server = ServerProcess::Start(pristine_args);
    ASSERT_NE(server, nullptr);
    TestClient client(server->port());
    ASSERT_EQ(client
                  .Request("POST", "/vectors/index",
                           R"({"name":"docs","dimension":)" + std::to_string(kDimension) + "}")
                  .status,
              201);
    for (int b = 1; b <= kBatches; ++b) {
      std::string items = R"({"items":[)";
      for (int i = 0; i < kBatchSize; ++i) {
        if (i > 0) items += ',';
        items += R"({"id":"b)" + std::to_string(b) + "-" + std::to_string(i) + R"(","vector":[)";
        for (int d = 0; d < kDimension; ++d) {
          if (d > 0) items += ',';
          items += std::to_string(((b * 7919 + i * 104729 + d * 31) % 1000) / 500.0 - 1.0);
        }
        items += "]}";
      }
      items += "]}";
      ASSERT_EQ(client.Request("POST", "/vectors/index/docs/add", items).status, 200);
    }
    server->Kill();  // every batch is in the log, one record each
  }
  fs::path segment;
  for (const auto& entry :
       fs::directory_iterator(fs::path(pristine.path()) / "_vectors/docs.wal")) {
    segment = entry.path();
  }
  std::string bytes = ReadBytes(segment);
  const size_t damaged = RecordOffset(bytes, kDamaged);
  ASSERT_NE(damaged, std::string::npos);
  bytes[damaged + 40] = static_cast<char>(bytes[damaged + 40] ^ 0x10);
  WriteBytes(segment, bytes);
  const std::string kept_length = R"("length":)" + std::to_string((kDamaged - 1) * kBatchSize);

  // How long an uninterrupted recover takes, end to end.
  std::chrono::milliseconds took{0};
  {
    TempDir data;
    fs::copy(pristine.path(), data.path(), fs::copy_options::recursive);
    auto server = ServerProcess::Start({"--data-dir", data.path()});
    ASSERT_NE(server, nullptr);
    TestClient client(server->port());
    const auto started = std::chrono::steady_clock::now();
    HttpResult recovered = client.Request("POST", "/vectors/index/docs/recover");
    took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 started);
    ASSERT_EQ(recovered.status, 200) << recovered.body;
    EXPECT_NE(recovered.body.find(R"("items":)" + std::to_string((kDamaged - 1) * kBatchSize)),
              std::string::npos)
        << recovered.body;
  }

  int served_at_once = 0;
  for (int round = 0; round < rounds; ++round) {
    const auto delay = took * (round + 1) / (rounds + 1);
    SCOPED_TRACE("round " + std::to_string(round) + ": kill after " +
                 std::to_string(delay.count()) + " ms of a " + std::to_string(took.count()) +
                 " ms recover");
    TempDir data;
    fs::copy(pristine.path(), data.path(), fs::copy_options::recursive);
    const std::vector<std::string> args = {"--data-dir", data.path()};
    auto server = ServerProcess::Start(args);
    ASSERT_NE(server, nullptr);
    std::thread recover([port = server->port()] {
      TestClient client(port);
      (void)client.Request("POST", "/vectors/index/docs/recover");  // cut off by the kill
    });
    std::this_thread::sleep_for(delay);
    server->Kill();
    recover.join();

    server = ServerProcess::Start(args);
    ASSERT_NE(server, nullptr) << "no restart after a kill during recover";
    TestClient client(server->port());
    HttpResult info = client.Request("GET", "/vectors/index/docs");
    if (info.status == 503) {
      HttpResult again = client.Request("POST", "/vectors/index/docs/recover");
      ASSERT_EQ(again.status, 200) << again.body;
      info = client.Request("GET", "/vectors/index/docs");
    } else {
      ++served_at_once;
    }
    ASSERT_EQ(info.status, 200) << info.body;
    EXPECT_NE(info.body.find(kept_length), std::string::npos) << info.body;
    EXPECT_EQ(client.Request("GET", "/vectors/index/docs/items/b19-7").status, 200);
    EXPECT_EQ(client.Request("GET", "/vectors/index/docs/items/b20-7").status, 404);
    server->Kill();
  }
  std::fprintf(stderr, "recover kill rounds: %d (recover took %lld ms), served at once: %d\n",
               rounds, static_cast<long long>(took.count()), served_at_once);
}

}  // namespace
}  // namespace vectord::testing
