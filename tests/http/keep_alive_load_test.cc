// 256 keep-alive clients at once (wrk, Debian's HTTP load generator) against
// the real server for a few seconds: no connection may fail or time out,
// every answer must be a 200, and the slowest request must stay far below a
// second (the average is ~12 ms) — a client whose connection the server
// starved would show up as a timeout or as that maximum.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <string>

#include "server_process.h"

namespace vectord::testing {
namespace {

constexpr const char* kWrk = "/usr/bin/wrk";

// Under a sanitizer the server runs 5-15x slower and the sanitizer's own
// locking adds long pauses, so a request may legitimately wait seconds: there
// the test checks that every request is answered (a generous timeout), and
// the fairness bound is left to the optimised build, where it means something.
#if defined(VECTORD_SANITIZED)
constexpr bool kTimingMeaningful = false;
#else
constexpr bool kTimingMeaningful = true;
#endif

// "Latency   1.23ms  ..." -> milliseconds of the given column of wrk's
// thread-stats table (0 avg, 2 max).
double LatencyMs(const std::string& report, int column) {
  std::smatch m;
  static const std::regex kLine(
      R"(Latency\s+([0-9.]+)(us|ms|s)\s+([0-9.]+)(us|ms|s)\s+([0-9.]+)(us|ms|s))");
  if (!std::regex_search(report, m, kLine)) return -1;
  const double value = std::stod(m[1 + column * 2].str());
  const std::string unit = m[2 + column * 2].str();
  return unit == "us" ? value / 1000 : unit == "s" ? value * 1000 : value;
}

long Count(const std::string& report, const std::string& pattern) {
  std::smatch m;
  if (!std::regex_search(report, m, std::regex(pattern))) return -1;
  return std::stol(m[1].str());
}

TEST(KeepAliveLoad, TwoHundredFiftySixClientsGetNoErrorsAndNoneStarves) {
  ASSERT_TRUE(std::ifstream(kWrk).good())
      << kWrk << " is missing: scripts/install-deps.sh installs Debian's wrk";
  TempDir dir;
  auto server = ServerProcess::Start({"--data-dir", dir.path() + "/data"});
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_EQ(client.Request("POST", "/vectors/index", R"({"name":"docs","dimension":8})").status,
            201);
  std::string items = R"({"items":[)";
  for (int i = 0; i < 500; ++i) {
    items += (i > 0 ? "," : "") + std::string("{\"id\":\"") + std::to_string(i) +
             "\",\"vector\":[" + std::to_string(i % 7 + 1) + ",2,3,4,5,6,7," + std::to_string(i) +
             "]}";
  }
  items += "]}";
  ASSERT_EQ(client.Request("POST", "/vectors/index/docs/add", items).status, 200);

  // Each connection searches; wrk's Lua hooks set the method and body.
  const std::string script = dir.path() + "/search.lua";
  std::ofstream(script) << "wrk.method = \"POST\"\n"
                        << "wrk.body = '{\"vector\":[1,2,3,4,5,6,7,8],\"k\":5}'\n"
                        << "wrk.headers[\"Content-Type\"] = \"application/json\"\n";
  // One wrk run of 4 s; false once it has failed an expectation.
  auto run_wrk = [&](double* max_ms) {
    std::string report;
    const int code = RunProgram(
        kWrk,
        {"-t2", "-c256", "-d4s", "--timeout", kTimingMeaningful ? "2s" : "30s", "--latency", "-s",
         script,
         "http://127.0.0.1:" + std::to_string(server->port()) + "/vectors/index/docs/search"},
        {}, std::chrono::seconds(60), &report);
    EXPECT_EQ(code, 0) << report;
    SCOPED_TRACE(report);
    EXPECT_EQ(report.find("Socket errors"), std::string::npos);  // connect/read/write/timeout
    EXPECT_EQ(report.find("Non-2xx"), std::string::npos);
    const long requests = Count(report, R"(([0-9]+) requests in)");
    EXPECT_GT(requests, 256 * (kTimingMeaningful ? 10 : 1)) << "too few requests per connection";
    *max_ms = LatencyMs(report, 2);
    EXPECT_GE(*max_ms, 0);
    if (kTimingMeaningful && *max_ms >= 1000)
      std::fprintf(stderr, "slow run:\n%s\n", report.c_str());
    return !::testing::Test::HasFailure();
  };
  double max_ms = -1;
  ASSERT_TRUE(run_wrk(&max_ms));
  if (kTimingMeaningful && max_ms >= 1000) {
    // Measured: average 12 ms, max 31 ms on 2 cores. A starved connection
    // waits round after round of the others, in every run; a shared CI VM
    // stalls now and then for everyone (once: p50 6 ms, p90 0.5 s, max
    // 1.02 s), so one slow run earns a second before the bound applies.
    ASSERT_TRUE(run_wrk(&max_ms));
    EXPECT_LT(max_ms, 1000) << "some request waited for a second or more, in two runs";
  }
  // The server is still well afterwards.
  EXPECT_EQ(TestClient(server->port()).Request("GET", "/health").status, 200);
  EXPECT_EQ(server->Terminate(), 0);
}

}  // namespace
}  // namespace vectord::testing
