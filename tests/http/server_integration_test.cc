// End-to-end tests: the real vectord binary on a loopback port, spoken to
// over HTTP. They cover the seed contract of shared/API.md route by route,
// persistence across restarts, a corrupt file at start, auth, limits and
// graceful shutdown.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "server_process.h"

namespace vectord::testing {
namespace {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = ServerProcess::Start({"--data-dir", dir_.path() + "/data"});
    ASSERT_NE(server_, nullptr);
    client_ = std::make_unique<TestClient>(server_->port());
  }

  HttpResult Post(const std::string& path, const std::string& body) {
    return client_->Request("POST", path, body);
  }
  HttpResult Get(const std::string& path) { return client_->Request("GET", path); }

  void CreateDocs(int dimension = 3, const std::string& extra = "") {
    auto r = Post("/vectors/index",
                  "{\"name\":\"docs\",\"dimension\":" + std::to_string(dimension) + extra + "}");
    ASSERT_EQ(r.status, 201) << r.body;
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<TestClient> client_;
};

void ExpectError(const HttpResult& r, int status, const std::string& text) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.body, text + "\n");
  EXPECT_EQ(r.headers.at("content-type"), "text/plain; charset=utf-8");
}

TEST_F(ServerTest, CreateListGetDelete) {
  auto created = Post("/vectors/index", "{\"name\":\"docs\",\"dimension\":3}");
  EXPECT_EQ(created.status, 201);
  EXPECT_EQ(created.headers["content-type"], "application/json");
  EXPECT_EQ(created.body,
            "{\"params\":{\"name\":\"docs\",\"dimension\":3,\"m\":16,\"ef_search\":64,"
            "\"distance\":\"cosine\",\"ef_construction\":200,\"quantization\":\"none\",\"vectors\":"
            "\"memory\"},\"length\":0}\n");
  ExpectError(Post("/vectors/index", "{\"name\":\"docs\",\"dimension\":3}"), 409,
              "index already exists: docs");
  EXPECT_EQ(Post("/vectors/index",
                 "{\"name\":\"alpha\",\"dimension\":2,\"m\":8,\"ef_search\":30,"
                 "\"distance\":\"euclidean\"}")
                .body,
            "{\"params\":{\"name\":\"alpha\",\"dimension\":2,\"m\":8,\"ef_search\":30,"
            "\"distance\":\"euclidean\",\"ef_construction\":200,\"quantization\":\"none\","
            "\"vectors\":\"memory\"},"
            "\"length\":0}\n");
  EXPECT_EQ(Get("/vectors/index").body, "{\"names\":[\"alpha\",\"docs\"],\"count\":2}\n");
  EXPECT_EQ(Get("/vectors/index/docs").status, 200);
  ExpectError(Get("/vectors/index/nope"), 404, "not found");

  auto deleted = client_->Request("DELETE", "/vectors/index/docs");
  EXPECT_EQ(deleted.status, 204);
  EXPECT_EQ(deleted.body, "");
  ExpectError(client_->Request("DELETE", "/vectors/index/docs"), 404, "not found");
  EXPECT_EQ(Get("/vectors/index").body, "{\"names\":[\"alpha\"],\"count\":1}\n");
}

TEST_F(ServerTest, CreateRejectsBadParams) {
  struct Case {
    std::string body;
    std::string prefix;
  };
  std::vector<Case> cases = {
      {"{\"name\":\"x\",\"dimension\":0}", "invalid index params: dimension"},
      {"{\"name\":\"x\",\"dimension\":-4}", "invalid index params: dimension"},
      {"{\"name\":\"x\",\"dimension\":3,\"m\":-1}", "invalid index params: m"},
      {"{\"name\":\"x\",\"dimension\":3,\"ef_search\":-1}", "invalid index params: ef_search"},
      {"{\"name\":\"\",\"dimension\":3}", "invalid index params: empty name"},
      {"{\"name\":\"../etc\",\"dimension\":3}", "invalid index params: name"},
      {"{\"name\":\"a/b\",\"dimension\":3}", "invalid index params: name"},
      {"{\"name\":\"x.hnsw\",\"dimension\":3}", "invalid index params: name"},
      {"{\"name\":\"x\",\"dimension\":3,\"distance\":\"manhattan\"}",
       "unknown distance: manhattan"},
  };
  for (const Case& c : cases) {
    auto r = Post("/vectors/index", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(r.body.rfind(c.prefix, 0), 0u) << c.body << " -> " << r.body;
  }
  EXPECT_EQ(Get("/vectors/index").body, "{\"names\":[],\"count\":0}\n");
}

TEST_F(ServerTest, AddValidatesTheWholeBatchFirst) {
  CreateDocs();
  ExpectError(Post("/vectors/index/nope/add", "not json at all"), 404, "not found");
  ExpectError(Post("/vectors/index/docs/add", "{\"items\":[]}"), 400, "items must be non-empty");
  ExpectError(Post("/vectors/index/docs/add", "{}"), 400, "items must be non-empty");
  ExpectError(
      Post("/vectors/index/docs/add",
           "{\"items\":[{\"id\":\"a\",\"vector\":[1,2,3]},{\"id\":\"\",\"vector\":[1,2,3]}]}"),
      400, "items[1]: empty id");
  ExpectError(
      Post("/vectors/index/docs/add",
           "{\"items\":[{\"id\":\"a\",\"vector\":[1,2,3]},{\"id\":\"b\",\"vector\":[1,2]}]}"),
      400, "items[1]: dim mismatch (index=3, got=2)");
  ExpectError(
      Post("/vectors/index/docs/add",
           "{\"items\":[{\"id\":\"a\",\"vector\":[1,2,3]},{\"id\":\"b\",\"vector\":[0,0,0]}]}"),
      400, "items[1]: zero vector has no direction for cosine distance");
  ExpectError(Post("/vectors/index/docs/add", "{\"items\":[{\"id\":\"a\",\"vector\":[1,2,1e39]}]}"),
              400, "items[0]: vector[2] is infinite");  // beyond float32
  auto too_big =
      Post("/vectors/index/docs/add", "{\"items\":[{\"id\":\"a\",\"vector\":[1,2,1e999]}]}");
  EXPECT_EQ(too_big.status, 400);
  EXPECT_EQ(too_big.body.rfind("decode body: ", 0), 0u) << too_big.body;
  // Nothing of the rejected batches was applied.
  EXPECT_NE(Get("/vectors/index/docs").body.find("\"length\":0,"), std::string::npos);

  auto malformed = Post("/vectors/index/docs/add", "{\"items\":[");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(malformed.body.rfind("decode body: ", 0), 0u) << malformed.body;
}

TEST_F(ServerTest, AddUpsertsAndSearchReturnsMetadata) {
  CreateDocs();
  auto added = Post("/vectors/index/docs/add",
                    "{\"items\":[{\"id\":\"a\",\"vector\":[1,0,0],\"metadata\":{\"z\":1,\"a\":["
                    "\"x\",{\"k\":null}]}},"
                    "{\"id\":\"b\",\"vector\":[0,1,0],\"metadata\":null},"
                    "{\"id\":\"c\",\"vector\":[0,0,1]},"
                    "{\"id\":\"a\",\"vector\":[1,0.01,0],\"metadata\":{\"z\":2}}]}");
  EXPECT_EQ(added.body, "{\"added\":4,\"length\":3,\"durability\":\"fsync\"}\n");
  auto found = Post("/vectors/index/docs/search", "{\"vector\":[1,0,0],\"k\":3}");
  ASSERT_EQ(found.status, 200);
  // Last occurrence of "a" won; explicit null metadata comes back as null;
  // absent metadata is omitted.
  EXPECT_NE(found.body.find("{\"id\":\"a\",\"distance\":"), std::string::npos) << found.body;
  EXPECT_NE(found.body.find("\"metadata\":{\"z\":2}}"), std::string::npos) << found.body;
  EXPECT_NE(found.body.find("\"metadata\":null}"), std::string::npos) << found.body;
  EXPECT_NE(found.body.find("{\"id\":\"c\",\"distance\":1}"), std::string::npos) << found.body;
  EXPECT_EQ(found.body.find("\"id\":\"a\""), found.body.find("\"id\":"));  // nearest first

  // Upsert of an existing id replaces vector and metadata; length unchanged.
  EXPECT_EQ(Post("/vectors/index/docs/add",
                 "{\"items\":[{\"id\":\"c\",\"vector\":[1,0,0],\"metadata\":{\"v\":\"new\"}}]}")
                .body,
            "{\"added\":1,\"length\":3,\"durability\":\"fsync\"}\n");
  auto again = Post("/vectors/index/docs/search", "{\"vector\":[0,0,1],\"k\":1}");
  EXPECT_EQ(again.body.find("\"id\":\"c\""), std::string::npos) << again.body;
}

TEST_F(ServerTest, SearchDefaultsAndErrors) {
  auto empty =
      Post("/vectors/index", "{\"name\":\"e\",\"dimension\":2,\"distance\":\"euclidean\"}");
  ASSERT_EQ(empty.status, 201);
  EXPECT_EQ(Post("/vectors/index/e/search", "{\"vector\":[1,2]}").body, "{\"results\":[]}\n");
  ExpectError(Post("/vectors/index/nope/search", "{\"vector\":[1,2]}"), 404, "not found");
  ExpectError(Post("/vectors/index/e/search", "{\"vector\":[1,2,3]}"), 400,
              "dim mismatch (index=2, got=3)");

  // 1,100 items: k absent gives 10, k beyond 1000 gives 1000.
  std::string body = "{\"items\":[";
  for (int i = 0; i < 1100; ++i) {
    if (i > 0) body += ",";
    body += "{\"id\":\"p" + std::to_string(i) + "\",\"vector\":[" + std::to_string(i % 37) + "," +
            std::to_string(i / 37) + "]}";
  }
  body += "]}";
  ASSERT_EQ(Post("/vectors/index/e/add", body).status, 200);
  auto count = [](const std::string& s) {
    size_t n = 0;
    for (size_t at = s.find("\"id\""); at != std::string::npos; at = s.find("\"id\"", at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count(Post("/vectors/index/e/search", "{\"vector\":[3,3]}").body), 10u);
  EXPECT_EQ(count(Post("/vectors/index/e/search", "{\"vector\":[3,3],\"k\":0}").body), 10u);
  EXPECT_EQ(count(Post("/vectors/index/e/search", "{\"vector\":[3,3],\"k\":-5}").body), 10u);
  EXPECT_EQ(count(Post("/vectors/index/e/search", "{\"vector\":[3,3],\"k\":5000}").body), 1000u);

  auto cosine = Post("/vectors/index", "{\"name\":\"c\",\"dimension\":2}");
  ASSERT_EQ(cosine.status, 201);
  EXPECT_EQ(Post("/vectors/index/c/search", "{\"vector\":[0,0]}").status, 400);
}

TEST_F(ServerTest, UnknownRoutesAndMethods) {
  ExpectError(Get("/nope"), 404, "404 page not found");
  ExpectError(Get("/vectors/index/docs/add/more"), 404, "404 page not found");
  ExpectError(Get("/vectors/index/"), 404, "404 page not found");
  auto wrong = client_->Request("PUT", "/vectors/index");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.body, "");
  EXPECT_EQ(client_->Request("GET", "/vectors/index/x/add").status, 405);
  EXPECT_EQ(client_->Request("GET", "/vectors/index/x/search").status, 405);
  EXPECT_EQ(client_->Request("POST", "/vectors/index/x").status, 405);
}

TEST_F(ServerTest, BodyOverTheCapIsRefusedFromContentLength) {
  CreateDocs();
  // The body is never sent: the 413 must come from the header alone.
  std::string response = RawExchange(
      server_->port(),
      "POST /vectors/index/docs/add HTTP/1.1\r\nHost: x\r\nContent-Length: 67108865\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 413", 0), 0u) << response;
  EXPECT_NE(response.find("body too large\n"), std::string::npos);
  // And the server is fine afterwards.
  EXPECT_EQ(Get("/health").status, 200);
}

TEST_F(ServerTest, ChunkedBodyOverTheCapIsRefusedWhileStreaming) {
  CreateDocs();
  std::string request =
      "POST /vectors/index/docs/add HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string chunk(1 << 20, ' ');
  char size_line[32];
  std::snprintf(size_line, sizeof(size_line), "%zx\r\n", chunk.size());
  for (int i = 0; i < 66; ++i) request += size_line + chunk + "\r\n";
  request += "0\r\n\r\n";
  std::string response = RawExchange(server_->port(), request);
  EXPECT_EQ(response.rfind("HTTP/1.1 413", 0), 0u) << response.substr(0, 200);
}

TEST_F(ServerTest, MalformedRequestsGet400AndAClose) {
  std::string response =
      RawExchange(server_->port(),
                  "POST /vectors/index HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 400", 0), 0u) << response;
  response =
      RawExchange(server_->port(),
                  "POST /vectors/index HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "zz\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 400", 0), 0u) << response;
  EXPECT_EQ(Get("/health").status, 200);
}

TEST_F(ServerTest, IndexesSurviveARestart) {
  CreateDocs(3, ",\"distance\":\"euclidean\"");
  ASSERT_EQ(Post("/vectors/index/docs/add",
                 "{\"items\":[{\"id\":\"a\",\"vector\":[1,2,3],\"metadata\":{\"k\":\"v\"}},"
                 "{\"id\":\"b\",\"vector\":[4,5,6]}]}")
                .status,
            200);
  ASSERT_EQ(Post("/vectors/index", "{\"name\":\"gone\",\"dimension\":2}").status, 201);
  ASSERT_EQ(client_->Request("DELETE", "/vectors/index/gone").status, 204);
  EXPECT_EQ(server_->Terminate(), 0) << server_->Log();
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/data/_vectors/gone.json"));

  server_ = ServerProcess::Start({"--data-dir", dir_.path() + "/data"});
  ASSERT_NE(server_, nullptr);
  client_ = std::make_unique<TestClient>(server_->port());
  EXPECT_EQ(Get("/vectors/index").body, "{\"names\":[\"docs\"],\"count\":1}\n");
  EXPECT_NE(Get("/vectors/index/docs").body.find("\"length\":2,"), std::string::npos);
  auto found = Post("/vectors/index/docs/search", "{\"vector\":[1,2,3],\"k\":1}");
  EXPECT_EQ(found.body,
            "{\"results\":[{\"id\":\"a\",\"distance\":0,\"metadata\":{\"k\":\"v\"}}]}\n");
}

// Start-up reads no index, so damage is found when the index is first read
// (at its first use, or by the loading in the background after /ready): from
// then on it is not served, but shown with its reason (the seed's names and
// count stay as they were).
TEST_F(ServerTest, ACorruptIndexFileIsReportedFailedOnceRead) {
  CreateDocs();
  ASSERT_EQ(Post("/vectors/index", "{\"name\":\"good\",\"dimension\":2}").status, 201);
  ASSERT_EQ(
      Post("/vectors/index/docs/add", "{\"items\":[{\"id\":\"a\",\"vector\":[1,2,3]}]}").status,
      200);
  ASSERT_EQ(Post("/vectors/index/good/add", "{\"items\":[{\"id\":\"g\",\"vector\":[1,2]}]}").status,
            200);
  ASSERT_EQ(server_->Terminate(), 0);
  {
    std::fstream f(dir_.path() + "/data/_vectors/docs.hnsw",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.write("garbage!", 8);
  }
  server_ = ServerProcess::Start({"--data-dir", dir_.path() + "/data"});
  ASSERT_NE(server_, nullptr);
  client_ = std::make_unique<TestClient>(server_->port());
  const HttpResult use = Post("/vectors/index/docs/search", "{\"vector\":[1,2,3]}");
  EXPECT_EQ(use.status, 503);
  EXPECT_EQ(use.body.rfind("index failed to load: ", 0), 0u) << use.body;
  const std::string list = Get("/vectors/index").body;
  EXPECT_EQ(list.rfind(R"({"names":["good"],"count":1,"failed":[{"name":"docs","error":")", 0), 0u)
      << list;
  EXPECT_EQ(Get("/vectors/index/docs").status, 503);
  EXPECT_EQ(Get("/vectors/index/good").status, 200);
  std::string log = server_->Log();
  EXPECT_NE(log.find("event=index_load_failed index=docs"), std::string::npos) << log;
  EXPECT_NE(log.find("corruption"), std::string::npos) << log;
}

TEST_F(ServerTest, CreateIsDurableAtOnceAndShutdownCheckpoints) {
  CreateDocs();
  // The create was acknowledged: its parameters are on disk already.
  EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/data/_vectors/docs.json"));
  auto added = Post("/vectors/index/docs/add", "{\"items\":[{\"id\":\"a\",\"vector\":[1,2,3]}]}");
  EXPECT_EQ(added.body, "{\"added\":1,\"length\":1,\"durability\":\"fsync\"}\n");
  // The write lives in the log until a checkpoint.
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/data/_vectors/docs.hnsw"));
  EXPECT_EQ(server_->Terminate(), 0);
  EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/data/_vectors/docs.hnsw"));
  std::string log = server_->Log();
  EXPECT_NE(log.find("event=checkpoint index=docs"), std::string::npos) << log;
  EXPECT_NE(log.find("event=stopped exit_code=0"), std::string::npos) << log;
}

TEST_F(ServerTest, DurabilityCanBeLoweredPerRequest) {
  CreateDocs();
  auto fast = Post("/vectors/index/docs/add?durability=none",
                   "{\"items\":[{\"id\":\"a\",\"vector\":[1,2,3]}]}");
  EXPECT_EQ(fast.body, "{\"added\":1,\"length\":1,\"durability\":\"written\"}\n");
  auto safe = Post("/vectors/index/docs/add?durability=fsync",
                   "{\"items\":[{\"id\":\"b\",\"vector\":[1,2,3]}]}");
  EXPECT_EQ(safe.body, "{\"added\":1,\"length\":2,\"durability\":\"fsync\"}\n");
  auto bad = Post("/vectors/index/docs/add?durability=maybe",
                  "{\"items\":[{\"id\":\"c\",\"vector\":[1,2,3]}]}");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(Get("/vectors/index/docs").body.find("\"length\":2,"), std::string::npos);
}

// Filters, batch search and scroll on the real server; the metadata index
// and id order are rebuilt at start-up, from the log (after a kill) and from
// the snapshot (after a clean stop), and give the same answers.
TEST_F(ServerTest, FiltersBatchSearchAndScrollSurviveRestarts) {
  CreateDocs(2, ",\"distance\":\"euclidean\"");
  std::string items = "{\"items\":[";
  for (int i = 0; i < 40; ++i) {
    items += (i > 0 ? "," : "") + std::string("{\"id\":\"i") + std::to_string(100 + i) +
             "\",\"vector\":[" + std::to_string(i) +
             ",0],\"metadata\":{\"odd\":" + (i % 2 ? "true" : "false") +
             ",\"shop\":{\"tags\":[\"t" + std::to_string(i % 4) + "\"]}}}";
  }
  ASSERT_EQ(Post("/vectors/index/docs/add", items + "]}").status, 200);
  ASSERT_EQ(Post("/vectors/index/docs/delete", R"({"ids":["i101","i105"]})").status, 200);
  ASSERT_EQ(Post("/vectors/index/docs/add",
                 R"({"items":[{"id":"i103","vector":[3,0],"metadata":{"odd":false}}]})")
                .status,
            200);
  const std::string search =
      R"({"vector":[0,0],"k":40,"include_metadata":false,"filter":{"must":[{"key":"odd","match":{"value":true}}],"must_not":[{"key":"shop.tags","match":{"any":["t3"]}}]}})";
  // odd, not i%4 == 3, minus deleted 101 and 105, minus 103 (now even).
  const std::string expected =
      R"({"results":[{"id":"i109","distance":9},{"id":"i113","distance":13},{"id":"i117","distance":17},{"id":"i121","distance":21},{"id":"i125","distance":25},{"id":"i129","distance":29},{"id":"i133","distance":33},{"id":"i137","distance":37}]})"
      "\n";
  auto check = [&] {
    EXPECT_EQ(Post("/vectors/index/docs/search", search).body, expected);
    EXPECT_EQ(
        Post("/vectors/index/docs/search/batch", "{\"searches\":[" + search + "," + search + "]}")
            .body,
        "{\"results\":[" + expected.substr(11, expected.size() - 13) + "," +
            expected.substr(11, expected.size() - 13) + "]}\n");
    HttpResult page = Get("/vectors/index/docs/items?limit=37");
    EXPECT_EQ(page.status, 200);
    EXPECT_NE(page.body.find("\"next_cursor\":\"69313338\""), std::string::npos) << page.body;
    HttpResult last = Get("/vectors/index/docs/items?limit=37&cursor=69313338");
    EXPECT_EQ(
        last.body,
        R"({"items":[{"id":"i139","metadata":{"odd":true,"shop":{"tags":["t3"]}}}],"next_cursor":null})"
        "\n");
  };
  check();
  server_->Kill();  // from the log alone
  server_ = ServerProcess::Start({"--data-dir", dir_.path() + "/data"});
  ASSERT_NE(server_, nullptr);
  client_ = std::make_unique<TestClient>(server_->port());
  check();
  ASSERT_EQ(server_->Terminate(), 0);  // checkpoints: from the snapshot
  server_ = ServerProcess::Start({"--data-dir", dir_.path() + "/data"});
  ASSERT_NE(server_, nullptr);
  client_ = std::make_unique<TestClient>(server_->port());
  check();
}

TEST_F(ServerTest, ItemsCanBeReadAndDeleted) {
  CreateDocs(3, ",\"distance\":\"euclidean\"");
  ASSERT_EQ(
      Post("/vectors/index/docs/add",
           "{\"items\":[{\"id\":\"a b\",\"vector\":[1.5,-2,3e-7],\"metadata\":{\"k\":[1,\"x\"]}},"
           "{\"id\":\"b\",\"vector\":[4,5,6]},{\"id\":\"c\",\"vector\":[7,8,9]}]}")
          .status,
      200);
  EXPECT_EQ(Get("/vectors/index/docs/items/a%20b").body,
            "{\"id\":\"a b\",\"vector\":[1.5,-2,3e-07],\"metadata\":{\"k\":[1,\"x\"]}}\n");
  EXPECT_EQ(Get("/vectors/index/docs/items/b").body, "{\"id\":\"b\",\"vector\":[4,5,6]}\n");
  ExpectError(Get("/vectors/index/docs/items/zz"), 404, "not found");
  ExpectError(Get("/vectors/index/nope/items/b"), 404, "not found");
  EXPECT_EQ(client_->Request("DELETE", "/vectors/index/docs/items/b").status, 204);
  ExpectError(client_->Request("DELETE", "/vectors/index/docs/items/b"), 404, "not found");
  EXPECT_EQ(Post("/vectors/index/docs/delete", "{\"ids\":[\"c\",\"never\"]}").body,
            "{\"deleted\":1,\"length\":1,\"durability\":\"fsync\"}\n");
  ExpectError(Post("/vectors/index/docs/delete", "{\"ids\":[]}"), 400, "ids must be non-empty");
  // Deletes survive a restart.
  ASSERT_EQ(server_->Terminate(), 0);
  server_ = ServerProcess::Start({"--data-dir", dir_.path() + "/data"});
  ASSERT_NE(server_, nullptr);
  client_ = std::make_unique<TestClient>(server_->port());
  EXPECT_NE(Get("/vectors/index/docs").body.find("\"length\":1,"), std::string::npos);
  EXPECT_EQ(Get("/vectors/index/docs/items/c").status, 404);
  EXPECT_EQ(Get("/vectors/index/docs/items/a%20b").status, 200);
}

TEST_F(ServerTest, MetricsAreExposed) {
  CreateDocs();
  ASSERT_EQ(
      Post("/vectors/index/docs/add", "{\"items\":[{\"id\":\"a\",\"vector\":[1,2,3]}]}").status,
      200);
  auto metrics = Get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("vectord_index_items{index=\"docs\"} 1"), std::string::npos)
      << metrics.body;
  // The checkpoint policy's figures: the default budget, and the estimate.
  EXPECT_NE(metrics.body.find("vectord_index_log_replay_budget_seconds{index=\"docs\"} 10\n"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("vectord_index_log_replay_estimate_seconds{index=\"docs\"} "),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find(
                "vectord_http_requests_total{code=\"201\",route=\"POST /vectors/index\"} 1"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("vectord_http_request_duration_seconds_bucket"), std::string::npos);
}

TEST(ServerAuth, TokenGuardsEverythingButProbes) {
  TempDir dir;
  auto server =
      ServerProcess::Start({"--data-dir", dir.path()}, {{"VECTORD_AUTH_TOKEN", "s3cret"}});
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  EXPECT_EQ(client.Request("GET", "/health").status, 200);
  EXPECT_EQ(client.Request("GET", "/ready").status, 200);
  EXPECT_EQ(client.Request("GET", "/vectors/index").status, 401);
  EXPECT_EQ(client.Request("GET", "/nope").status, 401);  // checked before routing
  EXPECT_EQ(client.Request("GET", "/vectors/index", "", {{"Authorization", "Bearer wrong"}}).status,
            401);
  EXPECT_EQ(client.Request("GET", "/vectors/index", "", {{"Authorization", "s3cret"}}).status, 401);
  EXPECT_EQ(
      client.Request("GET", "/vectors/index", "", {{"Authorization", "Bearer s3cret"}}).status,
      200);
  EXPECT_EQ(client
                .Request("POST", "/vectors/index", "{\"name\":\"x\",\"dimension\":2}",
                         {{"Authorization", "Bearer s3cret"}})
                .status,
            201);
  std::string log = server->Log();
  EXPECT_EQ(log.find("s3cret"), std::string::npos) << "the token leaked into the log";
  EXPECT_NE(log.find("auth_token=***"), std::string::npos);
}

// Scoped tokens from a tokens file named in the environment, over real
// HTTP: each gets its scope, a known token outside it 403, and no token
// reaches the log.
TEST(ServerAuth, ScopedTokensFromATokensFile) {
  TempDir dir;
  const std::string tokens = dir.path() + "/tokens.toml";
  std::ofstream(tokens) << "[[auth.tokens]]\ntoken = \"team-a-reader-5ecret\"\n"
                           "indexes = \"team-a-*\"\naccess = \"read\"\n"
                           "[[auth.tokens]]\ntoken = \"team-a-admin-5ecret\"\n"
                           "indexes = [\"team-a-*\"]\naccess = \"admin\"\n";
  auto server = ServerProcess::Start(
      {"--data-dir", dir.path()},
      {{"VECTORD_AUTH_TOKEN", "full-5ecret"}, {"VECTORD_AUTH_TOKENS_FILE", tokens}});
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  auto as = [](const char* token) {
    return std::map<std::string, std::string>{{"Authorization", std::string("Bearer ") + token}};
  };
  const std::string item = R"({"items":[{"id":"a","vector":[1,2]}]})";
  EXPECT_EQ(client
                .Request("POST", "/vectors/index", R"({"name":"team-b-x","dimension":2})",
                         as("full-5ecret"))
                .status,
            201);
  EXPECT_EQ(client
                .Request("POST", "/vectors/index", R"({"name":"team-a-x","dimension":2})",
                         as("team-a-reader-5ecret"))
                .status,
            403);
  EXPECT_EQ(client
                .Request("POST", "/vectors/index", R"({"name":"team-a-x","dimension":2})",
                         as("team-a-admin-5ecret"))
                .status,
            201);
  EXPECT_EQ(client.Request("POST", "/vectors/index/team-a-x/add", item, as("team-a-reader-5ecret"))
                .status,
            403);
  EXPECT_EQ(
      client.Request("POST", "/vectors/index/team-a-x/add", item, as("team-a-admin-5ecret")).status,
      200);
  EXPECT_EQ(client
                .Request("POST", "/vectors/index/team-a-x/search", R"({"vector":[1,2]})",
                         as("team-a-reader-5ecret"))
                .status,
            200);
  EXPECT_EQ(client
                .Request("POST", "/vectors/index/team-b-x/search", R"({"vector":[1,2]})",
                         as("team-a-admin-5ecret"))
                .status,
            403);
  EXPECT_EQ(client.Request("GET", "/metrics", "", as("team-a-admin-5ecret")).status, 403);
  EXPECT_EQ(client.Request("GET", "/vectors/index", "", as("team-a-reader-5ecret")).body,
            "{\"names\":[\"team-a-x\"],\"count\":1}\n");
  EXPECT_EQ(client.Request("GET", "/vectors/index", "", as("team-a-5ecret")).status, 401);
  const std::string log = server->Log();
  EXPECT_EQ(log.find("5ecret"), std::string::npos) << "a token leaked into the log";
  EXPECT_NE(log.find("auth_tokens=2"), std::string::npos);
}

TEST(ServerConfig, InvalidConfigExitsWithCode2NamingTheKey) {
  TempDir dir;
  std::string log;
  EXPECT_EQ(ServerProcess::RunToExit({"--bind", "nohostport"}, {}, &log), 2);
  EXPECT_NE(log.find("vectord.bind"), std::string::npos) << log;
  std::string toml = dir.path() + "/lakehouse.toml";
  std::ofstream(toml) << "[vectord]\nfsync = \"sometimes\"\n";
  EXPECT_EQ(ServerProcess::RunToExit({"-config", toml}, {}, &log), 2);
  EXPECT_NE(log.find("vectord.fsync"), std::string::npos) << log;
  std::ofstream(toml) << "[vectord]\nbnd = \"127.0.0.1:0\"\n";
  EXPECT_EQ(ServerProcess::RunToExit({"-config", toml}, {}, &log), 2);
  EXPECT_NE(log.find("unknown key [vectord] bnd (did you mean bind?)"), std::string::npos) << log;
  EXPECT_EQ(ServerProcess::RunToExit({"-config", dir.path() + "/missing.toml"}, {}, &log), 2);
  EXPECT_EQ(ServerProcess::RunToExit({"--no-such-flag"}, {}, &log), 2);
  // Cluster mode without the shared bucket names both keys.
  EXPECT_EQ(ServerProcess::RunToExit({"--etcd-endpoints", "http://127.0.0.1:2379", "--node-id",
                                      "n1", "--advertise-url", "http://127.0.0.1:8091"},
                                     {}, &log),
            2);
  EXPECT_NE(log.find("cluster.etcd_endpoints: cluster mode needs vectord.storaged_url"),
            std::string::npos)
      << log;
}

TEST(ServerConfig, TomlFileIsRead) {
  TempDir dir;
  std::string toml = dir.path() + "/lakehouse.toml";
  std::ofstream(toml) << "[vectord]\nbind = \"127.0.0.1:0\"\ndata_dir = \"" << dir.path()
                      << "/d\"\n[auth]\ntoken = \"t0k\"\n";
  auto server = ServerProcess::Start({"-config", toml});
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  EXPECT_EQ(client.Request("GET", "/vectors/index").status, 401);
  EXPECT_EQ(client.Request("GET", "/vectors/index", "", {{"Authorization", "Bearer t0k"}}).status,
            200);
}

TEST(ServerEphemeral, NothingIsWritten) {
  TempDir dir;
  auto server = ServerProcess::Start({"--ephemeral", "--data-dir", dir.path() + "/never"});
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  EXPECT_EQ(client.Request("POST", "/vectors/index", "{\"name\":\"x\",\"dimension\":2}").status,
            201);
  EXPECT_EQ(server->Terminate(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/never"));
}

TEST(ServerLoad, ManyKeepAliveClientsAtOnce) {
  TempDir dir;
  auto server = ServerProcess::Start({"--data-dir", dir.path()});
  ASSERT_NE(server, nullptr);
  {
    TestClient setup(server->port());
    ASSERT_EQ(setup.Request("POST", "/vectors/index", "{\"name\":\"x\",\"dimension\":4}").status,
              201);
  }
  constexpr int kClients = 32;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      TestClient client(server->port());
      for (int i = 0; i < 20; ++i) {
        std::string id = std::to_string(c) + "-" + std::to_string(i);
        auto add = client.Request("POST", "/vectors/index/x/add",
                                  "{\"items\":[{\"id\":\"" + id + "\",\"vector\":[1," +
                                      std::to_string(c) + "," + std::to_string(i) + ",1]}]}");
        auto search = client.Request("POST", "/vectors/index/x/search", "{\"vector\":[1,1,1,1]}");
        if (add.status != 200 || search.status != 200) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  TestClient check(server->port());
  EXPECT_NE(check.Request("GET", "/vectors/index/x").body.find("\"length\":640,"),
            std::string::npos);
}

}  // namespace
}  // namespace vectord::testing
