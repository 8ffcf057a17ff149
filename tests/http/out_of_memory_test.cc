// Real memory exhaustion: while the server runs, its address space is capped
// (prlimit RLIMIT_AS) a few MiB above what it uses, so that allocations fail
// wherever they happen — reading a body, decoding it, growing the index,
// applying a logged write, writing a checkpoint. Every write that does not
// fit answers 507 and changes nothing, the server goes on answering, and
// once memory is back every acknowledged write is there, also after kill -9.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <fstream>
#include <map>
#include <set>
#include <string>

#include "server_process.h"

namespace vectord::testing {
namespace {

constexpr int kDimension = 32;

std::string Vector(int seed) {
  std::string v = "[";
  for (int d = 0; d < kDimension; ++d) {
    v += (d > 0 ? "," : "") + std::to_string(((seed * 37 + d * 11) % 101) - 50);
  }
  return v + "]";
}

// Items `prefix`-first .. with metadata of `metadata_bytes` each: large
// bodies, so that memory runs out in the request path as well as in the
// index.
std::string Batch(const std::string& prefix, int first, int count, size_t metadata_bytes) {
  const std::string filler(metadata_bytes, 'm');
  std::string body = "{\"items\":[";
  for (int i = first; i < first + count; ++i) {
    if (i > first) body += ",";
    body += "{\"id\":\"" + prefix + std::to_string(i) + "\",\"vector\":" + Vector(i) +
            ",\"metadata\":{\"n\":" + std::to_string(i) + ",\"text\":\"" + filler + "\"}}";
  }
  return body + "]}";
}

// VmSize of `pid` in bytes, or 0.
uint64_t AddressSpaceBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmSize:", 0) == 0) return std::stoull(line.substr(7)) * 1024;
  }
  return 0;
}

bool CapAddressSpace(pid_t pid, rlim_t bytes) {
  rlimit limit{};
  if (prlimit(pid, RLIMIT_AS, nullptr, &limit) != 0) return false;
  limit.rlim_cur = bytes;
  return prlimit(pid, RLIMIT_AS, &limit, nullptr) == 0;
}

size_t CountOf(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

TEST(OutOfMemory, WritesThatDoNotFitAnswer507ChangeNothingAndTheServerGoesOn) {
#if defined(VECTORD_SANITIZED)
  GTEST_SKIP() << "sanitizers reserve terabytes of address space, which RLIMIT_AS cannot cap";
#endif
  TempDir dir;
  const std::string data = dir.path() + "/data";
  // One malloc arena: the heap then grows by brk and mmap, which the cap
  // counts, rather than into per-thread arenas reserved (and counted) up
  // front.
  const std::map<std::string, std::string> env = {{"GLIBC_TUNABLES", "glibc.malloc.arena_max=1"}};
  auto server = ServerProcess::Start({"--data-dir", data}, env);
  ASSERT_NE(server, nullptr);
  auto client = std::make_unique<TestClient>(server->port());
  for (const char* name : {"docs", "other"}) {
    ASSERT_EQ(client
                  ->Request("POST", "/vectors/index",
                            std::string("{\"name\":\"") + name + "\",\"dimension\":" +
                                std::to_string(kDimension) + ",\"distance\":\"euclidean\"}")
                  .status,
              201);
  }
  ASSERT_EQ(client->Request("POST", "/vectors/index/other/add", Batch("o-", 0, 200, 16)).status,
            200);
  // o-7 and o-108 share a vector (Vector repeats every 101 seeds): k = 2.
  const std::string other_query = "{\"vector\":" + Vector(7) + ",\"k\":2}";

  std::set<std::string> acked, refused;  // batch prefixes
  int out_of_memory = 0;
  int dropped = 0;                      // connections the server closed: outcome unknown
  std::map<std::string, int> refusals;  // by message: where memory ran out
  // Different headroom each round, so that memory runs out at different
  // places on the way of a write.
  const int headroom_mib[] = {4, 8, 12, 16, 24, 32, 48};
  int batch = 0;
  for (int headroom : headroom_mib) {
    const uint64_t used = AddressSpaceBytes(server->pid());
    ASSERT_GT(used, 0u);
    ASSERT_TRUE(CapAddressSpace(server->pid(), used + (static_cast<uint64_t>(headroom) << 20)));
    // Big batches until one does not fit, then ever smaller ones at the
    // same cap: those get past the body's decoding and run out further on.
    size_t metadata_bytes = size_t{4} << 10 << (batch % 4);
    for (int attempt = 0; attempt < 40 && metadata_bytes >= 64; ++attempt) {
      const std::string prefix = "b" + std::to_string(++batch) + "-";
      HttpResult r =
          client->Request("POST", "/vectors/index/docs/add", Batch(prefix, 0, 40, metadata_bytes));
      if (r.status == 0) {
        // The connection was dropped (memory ran out in the HTTP layer
        // itself, maybe after the write): its outcome is not known, but the
        // server must still be there.
        client = std::make_unique<TestClient>(server->port());
        ASSERT_EQ(client->Request("GET", "/health").status, 200)
            << "the server stopped answering at headroom " << headroom << " MiB\n"
            << server->Log();
        ++dropped;
        metadata_bytes /= 4;
        continue;
      }
      if (r.status == 200) {
        acked.insert(prefix);
      } else {
        ASSERT_EQ(r.status, 507) << r.body;
        EXPECT_NE(r.body.find("out of memory"), std::string::npos) << r.body;
        refused.insert(prefix);
        ++refusals[r.body];
        ++out_of_memory;
        metadata_bytes /= 4;
      }
      // Reads of another index keep being answered (or refused for memory).
      HttpResult search = client->Request("POST", "/vectors/index/other/search", other_query);
      if (search.status == 0) {
        client = std::make_unique<TestClient>(server->port());
        ++dropped;
        continue;
      }
      ASSERT_TRUE(search.status == 200 || search.status == 507)
          << search.status << " " << search.body;
    }
    ASSERT_TRUE(CapAddressSpace(server->pid(), RLIM_INFINITY));
  }
  EXPECT_GE(out_of_memory, 3) << "memory never ran out: the caps are too loose";
  EXPECT_FALSE(acked.empty());
  const std::string log = server->Log();
  std::cout << "[          ] " << acked.size() << " batches acknowledged, " << refused.size()
            << " refused, " << dropped << " connections dropped; writes that failed after the log: "
            << CountOf(log, "index_reloading_after_failed_write") << "\n";
  for (const auto& [message, count] : refusals) {
    std::cout << "[          ] " << count << " x " << message;
  }

  auto check = [&](TestClient& c, const char* when) {
    for (const std::string& prefix : acked) {
      for (int i : {0, 39}) {
        EXPECT_EQ(
            c.Request("GET", "/vectors/index/docs/items/" + prefix + std::to_string(i)).status, 200)
            << when << ": acknowledged " << prefix << i << " is missing";
      }
    }
    for (const std::string& prefix : refused) {
      for (int i : {0, 20, 39}) {
        EXPECT_EQ(
            c.Request("GET", "/vectors/index/docs/items/" + prefix + std::to_string(i)).status, 404)
            << when << ": refused " << prefix << i << " is there";
      }
    }
    // Whole batches only: the acknowledged ones, and perhaps some of those
    // whose connection dropped.
    HttpResult info = c.Request("GET", "/vectors/index/docs");
    const size_t at = info.body.find("\"length\":");
    ASSERT_NE(at, std::string::npos) << when << ": " << info.body;
    const size_t length = std::stoul(info.body.substr(at + 9));
    EXPECT_EQ(length % 40, 0u) << when << ": " << info.body;
    EXPECT_GE(length, acked.size() * 40) << when << ": " << info.body;
    EXPECT_LE(length, (acked.size() + dropped) * 40) << when << ": " << info.body;
    HttpResult search = c.Request("POST", "/vectors/index/other/search", other_query);
    EXPECT_EQ(search.status, 200) << when << ": " << search.body;
    EXPECT_NE(search.body.find("\"o-7\""), std::string::npos) << when << ": " << search.body;
  };
  check(*client, "with memory back");
  // Writes work again.
  HttpResult again = client->Request("POST", "/vectors/index/docs/add", Batch("again-", 0, 40, 64));
  ASSERT_EQ(again.status, 200) << again.body;
  acked.insert("again-");

  server->Kill();
  server = ServerProcess::Start({"--data-dir", data}, env);
  ASSERT_NE(server, nullptr);
  TestClient after(server->port());
  check(after, "after kill -9");
}

}  // namespace
}  // namespace vectord::testing
