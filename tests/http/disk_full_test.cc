// A real full disk: the server's data directory on a 2 MiB tmpfs. Writes
// that do not fit fail with 507 and leave nothing behind in memory, reads go
// on, and once space is freed writes work again — and everything that was
// acknowledged is still there after a restart.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <filesystem>
#include <fstream>

#include "server_process.h"

namespace vectord::testing {
namespace {

class SmallDisk {
 public:
  SmallDisk() {
    path_ = dir_.path() + "/disk";
    std::filesystem::create_directories(path_);
    mounted_ = ::mount("tmpfs", path_.c_str(), "tmpfs", 0, "size=2m") == 0;
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& path() const { return path_; }

 private:
  TempDir dir_;
  std::string path_;
  bool mounted_ = false;
};

std::string Batch(int first, int count) {
  std::string body = "{\"items\":[";
  for (int i = first; i < first + count; ++i) {
    if (i > first) body += ",";
    body += "{\"id\":\"item-" + std::to_string(i) + "\",\"vector\":[";
    for (int d = 0; d < 64; ++d) body += (d > 0 ? "," : "") + std::to_string((i * 31 + d) % 97);
    body += "],\"metadata\":{\"n\":" + std::to_string(i) + "}}";
  }
  return body + "]}";
}

TEST(DiskFull, WritesFailCleanlyAndRecoverWhenSpaceReturns) {
  SmallDisk disk;
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  // A filler file to delete later, standing for whatever else filled the disk.
  std::string filler = disk.path() + "/filler";
  std::ofstream(filler) << std::string(700 * 1024, 'x');

  const std::string data = disk.path() + "/data";
  auto server = ServerProcess::Start({"--data-dir", data, "--checkpoint-bytes", "1073741824"});
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_EQ(client
                .Request("POST", "/vectors/index",
                         "{\"name\":\"docs\",\"dimension\":64,\"distance\":\"euclidean\"}")
                .status,
            201);

  int acked = 0;
  HttpResult full;
  for (int round = 0; round < 200; ++round) {
    HttpResult r = client.Request("POST", "/vectors/index/docs/add", Batch(acked, 50));
    if (r.status != 200) {
      full = r;
      break;
    }
    acked += 50;
  }
  ASSERT_EQ(full.status, 507) << full.body;
  EXPECT_NE(full.body.find("No space"), std::string::npos) << full.body;
  ASSERT_GT(acked, 0);

  // Nothing of the failed batch is in memory; reads keep working.
  HttpResult info = client.Request("GET", "/vectors/index/docs");
  EXPECT_NE(info.body.find("\"length\":" + std::to_string(acked) + ","), std::string::npos)
      << info.body;
  EXPECT_EQ(client.Request("GET", "/vectors/index/docs/items/item-" + std::to_string(acked)).status,
            404);
  EXPECT_EQ(client.Request("GET", "/vectors/index/docs/items/item-0").status, 200);
  std::string query = "{\"vector\":[";
  for (int d = 0; d < 64; ++d) query += (d > 0 ? ",1" : "1");
  EXPECT_EQ(client.Request("POST", "/vectors/index/docs/search", query + "]}").status, 200);

  // Space comes back: writes work again.
  std::filesystem::remove(filler);
  HttpResult again = client.Request("POST", "/vectors/index/docs/add", Batch(acked, 50));
  ASSERT_EQ(again.status, 200) << again.body;
  acked += 50;

  // And every acknowledged write survives a restart (the log is replayed).
  server->Kill();
  server = ServerProcess::Start({"--data-dir", data});
  ASSERT_NE(server, nullptr);
  TestClient after(server->port());
  info = after.Request("GET", "/vectors/index/docs");
  EXPECT_NE(info.body.find("\"length\":" + std::to_string(acked) + ","), std::string::npos)
      << info.body;
  for (int i = 0; i < acked; i += 37) {
    EXPECT_EQ(after.Request("GET", "/vectors/index/docs/items/item-" + std::to_string(i)).status,
              200)
        << i;
  }
}

}  // namespace
}  // namespace vectord::testing
