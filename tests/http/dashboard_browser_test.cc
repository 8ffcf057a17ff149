// GET /dashboard in a real browser: the test starts vectord with a token,
// fills an index and measures its recall, then runs Debian's headless
// chromium on the page. --dump-dom prints the DOM once the page's script has
// polled the API for 8 s of virtual time (virtual time stands still while a
// request is in flight, so the answers are there); --screenshot leaves a PNG
// in the build tree for a person to look at. With a wrong token the page
// must ask for one and show no data.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "http/server_process.h"
#include "support/child_process.h"

extern char** environ;

namespace vectord::testing {
namespace {

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kToken = "dashboard-s3cret";
constexpr const char* kIndex = "products";
constexpr int kItems = 300;
constexpr int kDimension = 16;
// Generous: chromium is not slowed by sanitizers, but the machine may be busy.
constexpr auto kBrowserTimeout = std::chrono::seconds(90);

using Clock = std::chrono::steady_clock;

std::string ItemId(int i) {
  char id[16];
  std::snprintf(id, sizeof id, "item-%03d", i);
  return id;
}

struct BrowserRun {
  int exit_code = -1;  // -1: could not start or timed out
  bool timed_out = false;
  std::string dom;  // what --dump-dom printed
  std::string log;  // chromium's stderr (noisy)
};

// Runs chromium headless on `url` with `args`, its own profile in `scratch`.
// It runs in a process group of its own, so on timeout the whole browser
// (renderer, GPU and utility processes) is killed, not only the launcher.
BrowserRun RunChromium(const std::string& scratch, const std::vector<std::string>& args,
                       const std::string& url) {
  std::vector<std::string> arguments = {"--headless",
                                        "--no-sandbox",
                                        "--disable-gpu",
                                        "--disable-dev-shm-usage",
                                        "--no-first-run",
                                        "--no-default-browser-check",
                                        "--disable-extensions",
                                        "--user-data-dir=" + scratch + "/profile",
                                        "--virtual-time-budget=8000"};
  arguments.insert(arguments.end(), args.begin(), args.end());
  arguments.push_back(url);
  CaptureOptions options;
  options.timeout = kBrowserTimeout;
  options.own_process_group = true;
  CapturedRun captured = RunCaptured(kChromium, arguments, scratch, options);
  BrowserRun run;
  run.exit_code = captured.exit_code;
  run.timed_out = captured.timed_out;
  run.dom = std::move(captured.out);
  run.log = captured.start_error.empty() ? std::move(captured.err) : captured.start_error;
  return run;
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::string Tail(const std::string& text, size_t n = 3000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

// The element that starts at the first match of `open_tag` in `dom`, up to
// its closing tag (no nesting of the same tag inside, as for <tr> and <svg>).
std::string Element(const std::string& dom, const std::string& open_tag, const std::string& tag) {
  const size_t start = dom.find(open_tag);
  if (start == std::string::npos) return "";
  const size_t end = dom.find("</" + tag + ">", start);
  return end == std::string::npos ? "" : dom.substr(start, end + tag.size() + 3 - start);
}

class DashboardBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kChromium))
        << kChromium << " is missing: run scripts/install-deps.sh (it installs Debian's chromium)";
    server_ =
        ServerProcess::Start({"--ephemeral", "--auth-token", kToken, "--recall-cpu-budget", "0.5"});
    ASSERT_NE(server_, nullptr);
    client_ = std::make_unique<TestClient>(server_->port());
  }

  HttpResult Call(const std::string& method, const std::string& target,
                  const std::string& body = "") {
    return client_->Request(method, target, body,
                            {{"Authorization", std::string("Bearer ") + kToken}});
  }

  // kItems random items with metadata whose label is markup, to show that
  // the page prints server text as text.
  void CreateIndex() {
    ASSERT_EQ(Call("POST", "/vectors/index",
                   std::string(R"({"name":")") + kIndex + R"(","dimension":)" +
                       std::to_string(kDimension) + R"(,"distance":"euclidean"})")
                  .status,
              201);
    std::mt19937 random(42);
    std::uniform_real_distribution<float> uniform(-1, 1);
    std::string body = R"({"items":[)";
    for (int i = 0; i < kItems; ++i) {
      if (i > 0) body += ',';
      body += R"({"id":")" + ItemId(i) + R"(","vector":[)";
      for (int d = 0; d < kDimension; ++d) {
        if (d > 0) body += ',';
        body += std::to_string(uniform(random));
      }
      body += R"(],"metadata":{"group":)" + std::to_string(i % 5) + R"(,"label":"<b>item )" +
              std::to_string(i) + R"(</b>"}})";
    }
    body += "]}";
    HttpResult r = Call("POST", std::string("/vectors/index/") + kIndex + "/add", body);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // One explicit recall check, then waits until the self-check has samples
  // and a curve (it runs in the background, within its CPU budget).
  void MeasureRecall() {
    HttpResult check = Call("POST", std::string("/vectors/index/") + kIndex + "/recall-check",
                            R"({"ef":[10,16,32,64,128],"queries":50})");
    ASSERT_EQ(check.status, 200) << check.body;
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    std::string last;
    while (Clock::now() < deadline) {
      HttpResult r = Call("GET", std::string("/vectors/index/") + kIndex);
      ASSERT_EQ(r.status, 200) << r.body;
      last = r.body;
      simdjson::dom::parser parser;
      simdjson::dom::element root;
      uint64_t samples = 0;
      simdjson::dom::array curve;
      if (!parser.parse(r.body).get(root) &&
          !root["recall_estimate"]["samples"].get_uint64().get(samples) &&
          !root["recall_estimate"]["curve"].get_array().get(curve) && samples > 0 &&
          curve.size() > 0) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "the recall self-check took no sample in 30 s: " << last;
  }

  std::string DashboardUrl(const std::string& fragment) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/dashboard#" + fragment;
  }

  // The DOM of the page after its script ran, or a test failure.
  std::string DumpDom(const std::string& fragment) {
    BrowserRun run = RunChromium(scratch_.path(), {"--dump-dom"}, DashboardUrl(fragment));
    EXPECT_FALSE(run.timed_out) << "chromium did not finish in " << kBrowserTimeout.count()
                                << " s; its log:\n"
                                << Tail(run.log);
    EXPECT_EQ(run.exit_code, 0) << Tail(run.log);
    EXPECT_NE(run.dom.find("</html>"), std::string::npos) << Tail(run.log);
    return run.dom;
  }

  TempDir scratch_;  // chromium's profile and output, removed afterwards
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<TestClient> client_;
};

TEST_F(DashboardBrowserTest, ShowsTheIndexItsRecallChartAndASearch) {
  ASSERT_NO_FATAL_FAILURE(CreateIndex());
  ASSERT_NO_FATAL_FAILURE(MeasureRecall());
  // A second index, with its vectors on disk: its row says so.
  ASSERT_EQ(Call("POST", "/vectors/index",
                 R"({"name":"ondisk","dimension":2,"distance":"euclidean","vectors":"disk"})")
                .status,
            201);
  ASSERT_EQ(
      Call("POST", "/vectors/index/ondisk/add", R"({"items":[{"id":"a","vector":[1,2]}]})").status,
      200);
  const std::string dom =
      DumpDom(std::string("token=") + kToken + "&index=" + kIndex + "&id=" + ItemId(7));
  ASSERT_FALSE(dom.empty());
  const std::string excerpt = dom.substr(0, 4000);

  EXPECT_EQ(dom.find("id=\"token-form\""), std::string::npos) << excerpt;
  EXPECT_TRUE(std::regex_search(dom, std::regex(R"re(<span id="status"[^>]*>Updated )re")))
      << Element(dom, "<span id=\"status\"", "span");

  // The table row: size and the recall estimate with its sample count.
  const std::string row = Element(dom, std::string("<tr data-index=\"") + kIndex + "\"", "tr");
  ASSERT_FALSE(row.empty()) << excerpt;
  EXPECT_TRUE(std::regex_search(row, std::regex(R"re(data-field="items"[^>]*>300<)re"))) << row;
  EXPECT_TRUE(std::regex_search(row, std::regex(R"re(data-field="dimension"[^>]*>16<)re"))) << row;
  EXPECT_TRUE(std::regex_search(row, std::regex(R"re(data-field="distance"[^>]*>euclidean<)re")))
      << row;
  EXPECT_TRUE(std::regex_search(
      row, std::regex(R"re(data-field="recall"[^>]*>[01]\.\d{3} ± \d\.\d{3} \(\d+ samples\)<)re")))
      << row;
  EXPECT_TRUE(
      std::regex_search(row, std::regex(R"re(data-field="memory"[^>]*>[\d.]+ (KiB|MiB)<)re")))
      << row;
  const std::string disk_row = Element(dom, "<tr data-index=\"ondisk\"", "tr");
  EXPECT_TRUE(std::regex_search(
      disk_row, std::regex(R"re(data-field="distance"[^>]*>euclidean · sq8 · vectors on disk<)re")))
      << disk_row;
  EXPECT_TRUE(std::regex_search(
      disk_row,
      std::regex(
          R"re(data-field="memory"[^>]*>[\d.]+ (B|KiB|MiB) \+ [\d.]+ (B|KiB|MiB) on disk<)re")))
      << disk_row;

  // The chart: the self-check curve, drawn, and the explicit check.
  const std::string chart =
      Element(dom, std::string("<svg data-chart=\"recall\" data-index=\"") + kIndex + "\"", "svg");
  ASSERT_FALSE(chart.empty()) << excerpt;
  std::smatch estimate;
  ASSERT_TRUE(std::regex_search(
      chart, estimate, std::regex(R"re(<path[^>]*data-series="estimate"[^>]* d="([^"]*)")re")))
      << chart;
  EXPECT_TRUE(
      std::regex_match(estimate[1].str(), std::regex(R"re(M[\d.]+ [\d.]+( L[\d.]+ [\d.]+)*)re")))
      << estimate[1];
  std::smatch check;
  ASSERT_TRUE(std::regex_search(
      chart, check, std::regex(R"re(<path[^>]*data-series="check"[^>]* d="([^"]*)")re")))
      << chart;
  EXPECT_EQ(std::count(check[1].first, check[1].second, 'L'), 4) << check[1];  // five ef
  EXPECT_NE(chart.find(">ef (log scale)<"), std::string::npos);
  EXPECT_NE(chart.find(">recall@10<"), std::string::npos);

  // The search the link asked for: the item itself first, at distance 0,
  // its metadata printed as text (the markup in it escaped, not parsed).
  const std::string results = Element(dom, "<table id=\"pg-results\"", "table");
  ASSERT_FALSE(results.empty()) << excerpt;
  EXPECT_EQ(results.find("hidden"), std::string::npos) << results;
  EXPECT_TRUE(std::regex_search(
      results,
      std::regex(
          R"re(<tbody><tr><td class="num">1</td><td>item-007</td><td class="num">0\.0000</td>)re")))
      << results;
  EXPECT_EQ(Count(results, "<tr>"), 1u + 10) << results;  // the head and ten results
  EXPECT_TRUE(std::regex_search(
      results,
      std::regex(R"re(<code[^>]*>\{"group":2,"label":"&lt;b&gt;item 7&lt;/b&gt;"\}</code>)re")))
      << results;
  // The first ids to pick from.
  EXPECT_NE(dom.find(">item-000</button>"), std::string::npos);
  EXPECT_NE(dom.find(">item-019</button>"), std::string::npos);
  EXPECT_EQ(dom.find(">item-020</button>"), std::string::npos);
}

TEST_F(DashboardBrowserTest, ScreenshotIsAPng) {
  ASSERT_NO_FATAL_FAILURE(CreateIndex());
  ASSERT_NO_FATAL_FAILURE(MeasureRecall());
  const std::string directory = VECTORD_TEST_ARTIFACTS_DIR;
  std::filesystem::create_directories(directory);
  const std::string path = directory + "/dashboard.png";
  std::filesystem::remove(path);
  BrowserRun run = RunChromium(
      scratch_.path(), {"--screenshot=" + path, "--window-size=1280,1000"},
      DashboardUrl(std::string("token=") + kToken + "&index=" + kIndex + "&id=" + ItemId(7)));
  ASSERT_FALSE(run.timed_out) << Tail(run.log);
  EXPECT_EQ(run.exit_code, 0) << Tail(run.log);
  const std::string png = ReadFileText(path);
  ASSERT_GE(png.size(), 8u) << "no screenshot at " << path << "\n" << Tail(run.log);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_GT(png.size(), 20u * 1024) << "a blank page? " << path;
  std::printf("screenshot: %s (%zu bytes)\n", path.c_str(), png.size());
}

TEST_F(DashboardBrowserTest, AWrongTokenShowsTheTokenFormAndNoData) {
  ASSERT_NO_FATAL_FAILURE(CreateIndex());
  const std::string dom = DumpDom("token=wrong-token");
  ASSERT_FALSE(dom.empty());
  EXPECT_NE(dom.find("<form id=\"token-form\""), std::string::npos) << dom.substr(0, 4000);
  EXPECT_NE(dom.find("<div id=\"content\" hidden=\"\">"), std::string::npos) << dom.substr(0, 4000);
  EXPECT_EQ(dom.find("data-index="), std::string::npos) << dom.substr(0, 4000);
  EXPECT_EQ(dom.find(kIndex), std::string::npos);
  EXPECT_TRUE(std::regex_search(dom, std::regex(R"re(<span id="status"[^>]*>Unauthorized)re")))
      << Element(dom, "<span id=\"status\"", "span");
}

// An index whose stored copy failed to load is listed in red with its reason.
TEST_F(DashboardBrowserTest, AFailedIndexIsShownWithItsReason) {
  TempDir data;
  const std::vector<std::string> args = {"--data-dir", data.path(), "--auth-token", kToken};
  ASSERT_EQ(server_->Terminate(), 0);
  server_ = ServerProcess::Start(args);
  ASSERT_NE(server_, nullptr);
  client_ = std::make_unique<TestClient>(server_->port());
  ASSERT_NO_FATAL_FAILURE(CreateIndex());
  ASSERT_EQ(server_->Terminate(), 0);  // its shutdown checkpoint writes the snapshot
  const std::string snapshot = data.path() + "/_vectors/" + kIndex + ".hnsw";
  {
    std::fstream f(snapshot, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekp(4000);
    f.write("garbage!", 8);
  }
  server_ = ServerProcess::Start(args);
  ASSERT_NE(server_, nullptr);
  client_ = std::make_unique<TestClient>(server_->port());
  const std::string dom = DumpDom(std::string("token=") + kToken);
  ASSERT_FALSE(dom.empty());
  const std::string failed = Element(dom, "<div id=\"failed-indexes\"", "div");
  EXPECT_EQ(failed.find("hidden"), std::string::npos) << failed;
  EXPECT_NE(
      failed.find(std::string("<li data-index=\"") + kIndex + "\"><span class=\"failed-name\">" +
                  kIndex + "</span>_vectors/" + kIndex + ".hnsw: "),
      std::string::npos)
      << failed;
  // It is not drawn as a healthy row of the table.
  EXPECT_EQ(Element(dom, "<table id=\"index-table\"", "table").find(kIndex), std::string::npos);
}

}  // namespace
}  // namespace vectord::testing
