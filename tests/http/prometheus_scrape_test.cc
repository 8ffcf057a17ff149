// GET /metrics as a real Prometheus sees it: the test starts vectord and
// Debian's prometheus on loopback, lets Prometheus scrape vectord every
// 500 ms, and reads the stored series back through Prometheus's query API.
// A format slip that a hand-written check would let through (a bad label,
// a histogram without its +Inf bucket, a type clash) fails the scrape here.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "common/uri_encoding.h"
#include "server_process.h"

namespace vectord::testing {
namespace {

constexpr const char* kPrometheus = "/usr/bin/prometheus";

class PrometheusScrapeTest : public ::testing::Test {
 protected:
  // The value of the single series `query` selects, once Prometheus has it;
  // nullopt after `timeout`.
  std::optional<double> QueryValue(uint16_t port, const std::string& query,
                                   std::chrono::seconds timeout = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      TestClient client(port);
      HttpResult r = client.Request("GET", "/api/v1/query?query=" + UriEncode(query));
      if (r.status == 200) {
        simdjson::dom::parser parser;
        simdjson::dom::element root;
        simdjson::dom::array result;
        if (!parser.parse(r.body).get(root) && !root["data"]["result"].get_array().get(result) &&
            result.size() == 1) {
          std::string_view value;
          if (!result.at(0)["value"].at(1).get_string().get(value)) {
            return std::stod(std::string(value));
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return std::nullopt;
  }

  TempDir dir_;
};

TEST_F(PrometheusScrapeTest, ARealPrometheusStoresTheSeries) {
  ASSERT_TRUE(std::ifstream(kPrometheus).good())
      << kPrometheus << " is missing: scripts/install-deps.sh installs Debian's prometheus";
  auto server = ServerProcess::Start({"--data-dir", dir_.path() + "/data"});
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_EQ(client.Request("POST", "/vectors/index", R"({"name":"docs","dimension":2})").status,
            201);
  ASSERT_EQ(client
                .Request("POST", "/vectors/index/docs/add",
                         R"({"items":[{"id":"a","vector":[1,0]},{"id":"b","vector":[0,1]},
                                      {"id":"c","vector":[1,1]}]})")
                .status,
            200);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(client.Request("POST", "/vectors/index/docs/search", R"({"vector":[1,0]})").status,
              200);
  }
  ASSERT_EQ(client.Request("GET", "/nope").status, 404);

  const uint16_t port = FreeLoopbackPort();
  ASSERT_NE(port, 0);
  const std::string config = dir_.path() + "/prometheus.yml";
  std::ofstream(config) << "global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\n"
                        << "scrape_configs:\n  - job_name: vectord\n    static_configs:\n"
                        << "      - targets: ['127.0.0.1:" << server->port() << "']\n";
  auto prometheus = ChildProcess::Start(
      kPrometheus, {"--config.file=" + config, "--storage.tsdb.path=" + dir_.path() + "/tsdb",
                    "--web.listen-address=127.0.0.1:" + std::to_string(port)});
  ASSERT_NE(prometheus, nullptr);

  // up == 1 means the scrape parsed: any exposition error makes it 0.
  auto up = QueryValue(port, "up{job=\"vectord\"} == 1");
  ASSERT_TRUE(up.has_value()) << "Prometheus never scraped vectord successfully:\n"
                              << prometheus->Output();
  EXPECT_EQ(*up, 1);
  EXPECT_EQ(QueryValue(port, "vectord_indexes"), 1);
  EXPECT_EQ(QueryValue(port, "vectord_index_items{index=\"docs\"}"), 3);
  EXPECT_EQ(QueryValue(port,
                       "vectord_http_requests_total{route=\"POST /vectors/index/{name}/search\","
                       "code=\"200\"}"),
            3);
  EXPECT_EQ(QueryValue(port, "vectord_http_requests_total{route=\"unmatched\",code=\"404\"}"), 1);
  EXPECT_EQ(QueryValue(port,
                       "vectord_http_request_duration_seconds_count{route=\"POST "
                       "/vectors/index/{name}/add\"}"),
            1);
  EXPECT_EQ(QueryValue(port,
                       "vectord_http_request_duration_seconds_bucket{route=\"POST "
                       "/vectors/index/{name}/add\",le=\"+Inf\"}"),
            1);
  EXPECT_EQ(QueryValue(port, "vectord_checkpoint_failures_total"), 0);
}

}  // namespace
}  // namespace vectord::testing
