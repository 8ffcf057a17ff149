// End-to-end tests of vectorctl: the real vectorctl binary, run as a child
// process with its stdout, stderr and exit code captured (and killed after a
// timeout), against a real vectord on a loopback port. What a command did is
// checked on the server (GET /vectors/index/NAME, GET .../items/ID, POST
// .../search), never only by vectorctl's own word. Input files are written
// byte by byte into a fresh temporary directory, removed at the end.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/uri_encoding.h"
#include "http/server_process.h"
#include "support/child_process.h"
#include "vectorctl/byte_building.h"

extern char** environ;

namespace vectord::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

#ifdef VECTORD_SANITIZED
constexpr std::chrono::seconds kRunTimeout{240};
constexpr double kUnreachableSeconds = 30;
#else
constexpr std::chrono::seconds kRunTimeout{60};
constexpr double kUnreachableSeconds = 10;
#endif

// ---------------------------------------------------------------------------
// Running vectorctl

using CtlRun = CapturedRun;

std::string Describe(const CtlRun& run) {
  return "exit code " + std::to_string(run.exit_code) +
         (run.timed_out ? " (timed out, killed)" : "") + run.start_error + "\n--- stdout:\n" +
         run.out + "--- stderr:\n" + run.err + "---";
}

// Runs vectorctl with `args`, the test's environment minus VECTORD_* plus
// `env`, stdin from /dev/null and stdout and stderr captured apart (so
// stderr is not a terminal); killed after `timeout`.
CtlRun RunVectorctl(const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env, const std::string& scratch,
                    std::chrono::milliseconds timeout = kRunTimeout) {
  CaptureOptions options;
  options.env = env;
  options.timeout = timeout;
  return RunCaptured(VECTORCTL_BINARY, args, scratch, options);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The line of an import's summary: "FILE: N items imported, M skipped ...".
std::string SummaryLine(const std::string& err) {
  for (const std::string& line : Lines(err)) {
    if (Contains(line, " items imported, ")) return line;
  }
  return "(no summary line)";
}

// "1,100", as vectorctl prints counts.
std::string Grouped(uint64_t value) {
  const std::string digits = std::to_string(value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// ---------------------------------------------------------------------------
// Data and input files

// Rows as generated; each format stores them in its own element type, and
// what the server must hold is their float32 value.
using Rows = std::vector<std::vector<double>>;

// An item as the server must hold it. `metadata`: JSON text, "" for none.
struct Item {
  std::string id;
  std::vector<float> vector;
  std::string metadata;
};

// Components in [-1, 1) with fractional parts, from a fixed seed.
Rows RandomRows(size_t n, size_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  Rows rows(n, std::vector<double>(d));
  for (auto& row : rows) {
    for (double& x : row) x = uniform(rng);
  }
  return rows;
}

// Whole numbers in [low, high], for bvecs, ivecs and idx.
Rows IntegerRows(size_t n, size_t d, int low, int high, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> uniform(low, high);
  Rows rows(n, std::vector<double>(d));
  for (auto& row : rows) {
    for (double& x : row) x = uniform(rng);
  }
  return rows;
}

std::vector<float> ToFloats(const std::vector<double>& row) {
  std::vector<float> v;
  for (double x : row) v.push_back(static_cast<float>(x));
  return v;
}

// Items of a positional format: ids PREFIX + row number, rows [first, end).
std::vector<Item> Positional(const std::string& prefix, const Rows& rows, size_t first = 0,
                             size_t end = std::numeric_limits<size_t>::max()) {
  std::vector<Item> items;
  for (size_t i = first; i < std::min(end, rows.size()); ++i) {
    items.push_back({prefix + std::to_string(i), ToFloats(rows[i]), ""});
  }
  return items;
}

using vectord::vectorctl::testing::Append;
using vectord::vectorctl::testing::AppendBigEndian32;

// fvecs / bvecs / ivecs: per row an int32 dimension, then the components as T.
template <typename T>
std::string Vecs(const Rows& rows) {
  std::string bytes;
  for (const auto& row : rows) {
    Append<int32_t>(bytes, static_cast<int32_t>(row.size()));
    for (double x : row) Append<T>(bytes, static_cast<T>(x));
  }
  return bytes;
}

// A NumPy 1.0 file of `rows` as "<f4" or "<f8", in C or Fortran order.
std::string Npy(const std::string& descr, const Rows& rows, bool fortran_order = false) {
  const size_t n = rows.size();
  const size_t d = rows.empty() ? 0 : rows[0].size();
  std::string header = "{'descr': '" + descr +
                       "', 'fortran_order': " + (fortran_order ? "True" : "False") +
                       ", 'shape': (" + std::to_string(n) + ", " + std::to_string(d) + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  std::string bytes = "\x93NUMPY";
  bytes.push_back(1);
  bytes.push_back(0);
  Append<uint16_t>(bytes, static_cast<uint16_t>(header.size()));
  bytes += header;
  auto put = [&](double x) {
    if (descr == "<f8") {
      Append<double>(bytes, x);
    } else {
      Append<float>(bytes, static_cast<float>(x));
    }
  };
  if (fortran_order) {
    for (size_t j = 0; j < d; ++j) {
      for (size_t i = 0; i < n; ++i) put(rows[i][j]);
    }
  } else {
    for (const auto& row : rows) {
      for (double x : row) put(x);
    }
  }
  return bytes;
}

// MNIST's idx3-ubyte: big-endian magic and sizes, then unsigned bytes.
std::string Idx(const Rows& rows, uint32_t height, uint32_t width) {
  std::string bytes = {0, 0, 8, 3};
  AppendBigEndian32(bytes, static_cast<uint32_t>(rows.size()));
  AppendBigEndian32(bytes, height);
  AppendBigEndian32(bytes, width);
  for (const auto& row : rows) {
    for (double x : row) bytes.push_back(static_cast<char>(static_cast<uint8_t>(x)));
  }
  return bytes;
}

// Shortest-enough text that reads back as the same float.
std::string FloatText(float x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", static_cast<double>(x));
  return text;
}

std::string VectorJson(const std::vector<float>& v) {
  std::string text = "[";
  for (size_t i = 0; i < v.size(); ++i) text += (i > 0 ? "," : "") + FloatText(v[i]);
  return text + "]";
}

// "0.5,-1.25,..." for --vector.
std::string VectorFlag(const std::vector<float>& v) {
  const std::string json = VectorJson(v);
  return json.substr(1, json.size() - 2);
}

// A JSON string literal of `text` (UTF-8 passed through).
std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
      out += escape;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string ItemJson(const Item& item) {
  std::string text = "{\"id\":" + JsonString(item.id) + ",\"vector\":" + VectorJson(item.vector);
  if (!item.metadata.empty()) text += ",\"metadata\":" + item.metadata;
  return text + "}";
}

std::string Jsonl(const std::vector<Item>& items) {
  std::string text;
  for (const Item& item : items) text += ItemJson(item) + "\n";
  return text;
}

// Items with ids PREFIX + i; every other one has metadata of several kinds.
std::vector<Item> DocItems(const std::string& prefix, size_t n, size_t d, uint32_t seed) {
  const Rows rows = RandomRows(n, d, seed);
  std::vector<Item> items;
  for (size_t i = 0; i < n; ++i) {
    Item item{prefix + std::to_string(i), ToFloats(rows[i]), ""};
    if (i % 2 == 0) {
      item.metadata = "{\"title\":\"Doc " + std::to_string(i) + "\",\"n\":" + std::to_string(i) +
                      ",\"score\":" + std::to_string(i) + ".5,\"tags\":[\"a\",\"b\"]," +
                      "\"nested\":{\"ok\":" + (i % 4 == 0 ? "true" : "false") + "}}";
    }
    items.push_back(std::move(item));
  }
  return items;
}

// Items whose ids and metadata need escaping in JSON and in URLs.
std::vector<Item> OddItems(size_t d) {
  std::vector<Item> items;
  const std::vector<std::string> ids = {
      "slash/inside",   "with space", "quote\"d", "back\\slash", "caf\xC3\xA9-\xE2\x98\x83",
      "percent%20sign", "a?b#c&d"};
  for (size_t i = 0; i < ids.size(); ++i) {
    Item item{ids[i], std::vector<float>(d, 3.0f + static_cast<float>(i)), ""};
    if (i % 2 == 0) {
      item.metadata =
          R"({"text":"line\nbreak \"q\" \\ caf\u00e9 \u2603","id":)" + JsonString(ids[i]) + "}";
    }
    items.push_back(std::move(item));
  }
  return items;
}

// Compact JSON text of `text`, as the server writes it back; "" stays "".
std::string Canonical(const std::string& text) {
  if (text.empty()) return "";
  simdjson::dom::parser parser;
  simdjson::dom::element element;
  if (parser.parse(text).get(element) != simdjson::SUCCESS) return "(not JSON) " + text;
  return simdjson::minify(element);
}

// ---------------------------------------------------------------------------
// The fixture: a vectord on loopback, a directory of input files, and
// helpers that look at the server's state.

class VectorctlTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartServer({"--ephemeral"})); }

  // (Re)starts vectord with `args`; the previous one, if any, is killed.
  void StartServer(std::vector<std::string> args) {
    client_.reset();
    server_.reset();
    server_ = ServerProcess::Start(std::move(args));
    ASSERT_NE(server_, nullptr);
    client_ = std::make_unique<TestClient>(server_->port());
  }

  std::string Address() const { return "127.0.0.1:" + std::to_string(server_->port()); }

  // vectorctl COMMAND... with --server pointing at this test's vectord.
  CtlRun Ctl(std::vector<std::string> args, const std::map<std::string, std::string>& env = {}) {
    args.insert(args.begin(), {"--server", Address()});
    return RunVectorctl(args, env, scratch_.path());
  }

  std::string Path(const std::string& name) const { return files_.path() + "/" + name; }

  // Writes `bytes` to a file of the temporary directory; returns its path.
  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = Path(name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    EXPECT_TRUE(out.good()) << path;
    return path;
  }

  std::string WriteGzip(const std::string& name, const std::string& bytes) {
    const std::string path = Path(name);
    gzFile file = gzopen(path.c_str(), "wb");
    EXPECT_NE(file, nullptr) << path;
    if (file == nullptr) return path;
    EXPECT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    EXPECT_EQ(gzclose(file), Z_OK);
    return path;
  }

  HttpResult Http(const std::string& method, const std::string& target,
                  const std::string& body = "") {
    std::map<std::string, std::string> headers;
    if (!token_.empty()) headers["Authorization"] = "Bearer " + token_;
    return client_->Request(method, target, body, headers);
  }

  void CreateIndex(const std::string& name, size_t dimension,
                   const std::string& distance = "euclidean") {
    const HttpResult r =
        Http("POST", "/vectors/index",
             "{\"name\":\"" + name + "\",\"dimension\":" + std::to_string(dimension) +
                 ",\"distance\":\"" + distance + "\",\"m\":8,\"ef_construction\":64}");
    ASSERT_EQ(r.status, 201) << r.body;
  }

  void AddItems(const std::string& index, const std::vector<Item>& items) {
    for (size_t at = 0; at < items.size(); at += 500) {
      std::string body = "{\"items\":[";
      for (size_t i = at; i < std::min(items.size(), at + 500); ++i) {
        body += (i > at ? "," : "") + ItemJson(items[i]);
      }
      body += "]}";
      const HttpResult r = Http("POST", "/vectors/index/" + index + "/add", body);
      ASSERT_EQ(r.status, 200) << r.body;
    }
  }

  // GET /vectors/index/NAME parsed, or nullopt (with the status in `status`).
  std::optional<std::string> IndexInfo(const std::string& index, int* status = nullptr) {
    const HttpResult r = Http("GET", "/vectors/index/" + index);
    if (status != nullptr) *status = r.status;
    if (r.status != 200) return std::nullopt;
    return r.body;
  }

  // The server's item count of `index`; nullopt when it does not exist.
  std::optional<uint64_t> Length(const std::string& index) {
    const auto info = IndexInfo(index);
    if (!info) return std::nullopt;
    simdjson::dom::parser parser;
    uint64_t length = 0;
    if (parser.parse(*info)["length"].get_uint64().get(length) != simdjson::SUCCESS) {
      ADD_FAILURE() << "no length in " << *info;
      return std::nullopt;
    }
    return length;
  }

  // One string or number of the index's params, as text.
  std::string Param(const std::string& index, const std::string& key) {
    const auto info = IndexInfo(index);
    if (!info) return "(no index " + index + ")";
    simdjson::dom::parser parser;
    simdjson::dom::element value;
    if (parser.parse(*info)["params"][key].get(value) != simdjson::SUCCESS) return "(absent)";
    std::string_view text;
    if (value.get_string().get(text) == simdjson::SUCCESS) return std::string(text);
    return simdjson::minify(value);
  }

  // GET .../items/ID: the item as stored, or nullopt on 404.
  std::optional<Item> GetItem(const std::string& index, const std::string& id) {
    const HttpResult r = Http("GET", "/vectors/index/" + index + "/items/" + UriEncode(id));
    if (r.status == 404) return std::nullopt;
    if (r.status != 200) {
      ADD_FAILURE() << "GET item " << id << ": HTTP " << r.status << " " << r.body;
      return std::nullopt;
    }
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    simdjson::dom::array vector;
    if (parser.parse(r.body).get(root) != simdjson::SUCCESS ||
        root["vector"].get_array().get(vector) != simdjson::SUCCESS) {
      ADD_FAILURE() << "GET item " << id << ": unexpected answer " << r.body;
      return std::nullopt;
    }
    Item item;
    std::string_view stored_id;
    if (root["id"].get_string().get(stored_id) == simdjson::SUCCESS) item.id = stored_id;
    for (simdjson::dom::element x : vector) {
      double value = 0;
      if (x.get_double().get(value) != simdjson::SUCCESS) ADD_FAILURE() << r.body;
      item.vector.push_back(static_cast<float>(value));
    }
    simdjson::dom::element metadata;
    if (root["metadata"].get(metadata) == simdjson::SUCCESS && !metadata.is_null()) {
      item.metadata = simdjson::minify(metadata);
    }
    return item;
  }

  // True when `index` holds exactly `items`: as many, each with its exact
  // vector and metadata. `tolerance` > 0 allows that relative error per
  // component instead (a cosine index keeps the normalised vector and its
  // length, and gives back their product: the last bit may differ).
  ::testing::AssertionResult Holds(const std::string& index, const std::vector<Item>& items,
                                   double tolerance = 0) {
    const auto length = Length(index);
    if (!length) return ::testing::AssertionFailure() << "no index " << index;
    if (*length != items.size()) {
      return ::testing::AssertionFailure()
             << index << " holds " << *length << " items, expected " << items.size();
    }
    for (const Item& expected : items) {
      const auto stored = GetItem(index, expected.id);
      if (!stored) return ::testing::AssertionFailure() << index << " has no item " << expected.id;
      if (stored->id != expected.id) {
        return ::testing::AssertionFailure()
               << "GET item " << expected.id << " says " << stored->id;
      }
      bool same = stored->vector.size() == expected.vector.size();
      for (size_t j = 0; same && j < expected.vector.size(); ++j) {
        const double want = expected.vector[j];
        same = tolerance == 0 ? stored->vector[j] == expected.vector[j]
                              : std::abs(stored->vector[j] - want) <=
                                    tolerance * std::max(1.0, std::abs(want));
      }
      if (!same) {
        return ::testing::AssertionFailure()
               << "item " << expected.id << " of " << index << " has vector "
               << VectorJson(stored->vector) << ", expected " << VectorJson(expected.vector);
      }
      if (stored->metadata != Canonical(expected.metadata)) {
        return ::testing::AssertionFailure()
               << "item " << expected.id << " of " << index << " has metadata '" << stored->metadata
               << "', expected '" << Canonical(expected.metadata) << "'";
      }
    }
    return ::testing::AssertionSuccess();
  }

  // True when none of `ids` is in `index`.
  ::testing::AssertionResult Lacks(const std::string& index, const std::vector<std::string>& ids) {
    for (const std::string& id : ids) {
      if (GetItem(index, id)) return ::testing::AssertionFailure() << index << " holds " << id;
    }
    return ::testing::AssertionSuccess();
  }

  // The ids the server's own search ranks first for `vector` (at ef 300,
  // which in these small indexes visits every item).
  std::vector<std::string> ServerSearch(const std::string& index, const std::vector<float>& vector,
                                        int k) {
    const HttpResult r =
        Http("POST", "/vectors/index/" + index + "/search",
             "{\"vector\":" + VectorJson(vector) + ",\"k\":" + std::to_string(k) + ",\"ef\":300}");
    std::vector<std::string> ids;
    simdjson::dom::parser parser;
    simdjson::dom::array results;
    if (r.status != 200 ||
        parser.parse(r.body)["results"].get_array().get(results) != simdjson::SUCCESS) {
      ADD_FAILURE() << "search: HTTP " << r.status << " " << r.body;
      return ids;
    }
    for (simdjson::dom::element result : results) {
      std::string_view id;
      if (result["id"].get_string().get(id) == simdjson::SUCCESS) ids.emplace_back(id);
    }
    return ids;
  }

  // Imports `file` into a new euclidean index and checks that it then holds
  // exactly `expected`, and that the summary names the count.
  void ImportAndExpect(const std::string& index, size_t dimension, const std::string& file,
                       const std::vector<Item>& expected, std::vector<std::string> extra = {}) {
    ASSERT_NO_FATAL_FAILURE(CreateIndex(index, dimension));
    std::vector<std::string> args = {"import", index, file};
    args.insert(args.end(), extra.begin(), extra.end());
    const CtlRun run = Ctl(args);
    ASSERT_EQ(run.exit_code, 0) << Describe(run);
    EXPECT_TRUE(Contains(SummaryLine(run.err),
                         file + ": " + Grouped(expected.size()) + " items imported, 0 skipped"))
        << run.err;
    EXPECT_TRUE(Holds(index, expected));
  }

  TempDir files_;    // input files
  TempDir scratch_;  // vectorctl's captured output
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<TestClient> client_;
  std::string token_;  // sent by Http() when set
};

// The ids of vectorctl search's table, best first (the header line skipped).
std::vector<std::string> TableIds(const std::string& out) {
  std::vector<std::string> ids;
  const std::vector<std::string> lines = Lines(out);
  for (size_t i = 1; i < lines.size(); ++i) {
    std::istringstream in(lines[i]);
    std::string rank, distance, id;
    in >> rank >> distance >> id;
    ids.push_back(id);
  }
  return ids;
}

// The nearest item to `query` by euclidean distance among `items` that
// pass `keep`.
template <typename Keep>
std::string BruteForceNearest(const std::vector<Item>& items, const std::vector<float>& query,
                              Keep keep) {
  std::string best;
  double best_distance = std::numeric_limits<double>::infinity();
  for (const Item& item : items) {
    if (!keep(item)) continue;
    double sum = 0;
    for (size_t j = 0; j < query.size(); ++j) {
      const double diff = static_cast<double>(item.vector[j]) - query[j];
      sum += diff * diff;
    }
    if (sum < best_distance) {
      best_distance = sum;
      best = item.id;
    }
  }
  return best;
}

std::vector<float> Nudged(const std::vector<float>& v, float by) {
  std::vector<float> out = v;
  for (size_t j = 0; j < out.size(); ++j) out[j] += (j % 2 == 0 ? by : -by);
  return out;
}

// ---------------------------------------------------------------------------
// The commands: create, info, list, drop, search.

TEST_F(VectorctlTest, CreateInfoListDrop) {
  CtlRun run = Ctl({"create", "alpha", "-d", "5", "--distance", "euclidean", "--m", "8",
                    "--ef-construction", "40", "--ef-search", "30", "--quantization", "sq8"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(Contains(run.out, "\"dimension\":5")) << run.out;
  // On the server, with every parameter given.
  EXPECT_EQ(Param("alpha", "dimension"), "5");
  EXPECT_EQ(Param("alpha", "distance"), "euclidean");
  EXPECT_EQ(Param("alpha", "m"), "8");
  EXPECT_EQ(Param("alpha", "ef_construction"), "40");
  EXPECT_EQ(Param("alpha", "ef_search"), "30");
  EXPECT_EQ(Param("alpha", "quantization"), "sq8");
  EXPECT_EQ(Length("alpha"), 0u);

  run = Ctl({"create", "beta", "-d", "3"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_EQ(Param("beta", "distance"), "cosine");  // vectorctl's default
  EXPECT_EQ(Param("beta", "m"), "16");
  EXPECT_EQ(Param("beta", "vectors"), "memory");

  run = Ctl({"create", "gamma", "-d", "3", "--vectors", "disk"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_EQ(Param("gamma", "vectors"), "disk");
  EXPECT_EQ(Param("gamma", "quantization"), "sq8");
  run = Ctl({"drop", "gamma"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);

  run = Ctl({"create", "beta", "-d", "3"});
  EXPECT_EQ(run.exit_code, 1) << Describe(run);
  EXPECT_TRUE(Contains(run.err, "already exists")) << run.err;

  run = Ctl({"info", "alpha"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  for (const char* line : {"params.name: alpha", "params.dimension: 5", "params.m: 8",
                           "params.ef_search: 30", "params.distance: euclidean",
                           "params.ef_construction: 40", "params.quantization: sq8", "length: 0"}) {
    EXPECT_TRUE(Contains("\n" + run.out, std::string("\n") + line + "\n"))
        << "no line '" << line << "' in\n"
        << run.out;
  }
  run = Ctl({"info", "alpha", "--json"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_EQ(Canonical(run.out), Canonical(*IndexInfo("alpha")));

  run = Ctl({"list"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  std::vector<std::string> names = Lines(run.out);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"alpha", "beta"})) << run.out;
  run = Ctl({"list", "--json"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_EQ(Canonical(run.out), Canonical(Http("GET", "/vectors/index").body));

  run = Ctl({"drop", "alpha"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  int status = 0;
  EXPECT_FALSE(IndexInfo("alpha", &status));
  EXPECT_EQ(status, 404);
  EXPECT_TRUE(IndexInfo("beta"));

  run = Ctl({"info", "alpha"});
  EXPECT_EQ(run.exit_code, 1) << Describe(run);
  EXPECT_TRUE(Contains(run.err, "not found")) << run.err;
  EXPECT_TRUE(run.out.empty()) << run.out;
  run = Ctl({"drop", "alpha"});
  EXPECT_EQ(run.exit_code, 1) << Describe(run);
  EXPECT_TRUE(Contains(run.err, "not found")) << run.err;

  run = Ctl({"list"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_EQ(run.out, "beta\n");
}

TEST_F(VectorctlTest, SearchByVectorFileRowAndIdFindsTheNearest) {
  const Rows rows = RandomRows(200, 8, 11);
  std::vector<Item> items = Positional("p-", rows);
  for (size_t i = 0; i < items.size(); ++i) {
    items[i].metadata = "{\"group\":" + std::to_string(i % 2) + "}";
  }
  for (Item& odd : OddItems(8)) items.push_back(std::move(odd));
  ASSERT_NO_FATAL_FAILURE(CreateIndex("points", 8));
  ASSERT_NO_FATAL_FAILURE(AddItems("points", items));
  auto all = [](const Item&) { return true; };
  // Every search below asks for ef 300, more than the items: the answers are exact.

  // --vector: a point just beside p-17.
  const std::vector<float> near17 = Nudged(items[17].vector, 0.001f);
  ASSERT_EQ(BruteForceNearest(items, near17, all), "p-17");
  CtlRun run = Ctl({"search", "points", "--ef", "300", "--vector", VectorFlag(near17), "-k", "3"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  std::vector<std::string> ids = TableIds(run.out);
  ASSERT_EQ(ids.size(), 3u) << run.out;
  EXPECT_EQ(ids[0], "p-17") << run.out;
  EXPECT_EQ(ids, ServerSearch("points", near17, 3));
  EXPECT_TRUE(Contains(run.out, "{\"group\":1}")) << run.out;  // metadata shown

  // --file --row: row 5 of a query file lies beside p-123.
  Rows queries = RandomRows(10, 8, 99);
  for (size_t j = 0; j < 8; ++j) queries[5][j] = Nudged(items[123].vector, 0.002f)[j];
  const std::string query_file = Write("queries.fvecs", Vecs<float>(queries));
  ASSERT_EQ(BruteForceNearest(items, ToFloats(queries[5]), all), "p-123");
  run = Ctl({"search", "points", "--ef", "300", "--file", query_file, "--row", "5", "-k", "1"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  ids = TableIds(run.out);
  ASSERT_EQ(ids.size(), 1u) << run.out;
  EXPECT_EQ(ids[0], "p-123") << run.out;
  // And row 0 is not row 5.
  run = Ctl({"search", "points", "--ef", "300", "--file", query_file, "-k", "1"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_EQ(TableIds(run.out),
            (std::vector<std::string>{BruteForceNearest(items, ToFloats(queries[0]), all)}))
      << run.out;

  // --id: the item itself first, at distance 0.
  run = Ctl({"search", "points", "--ef", "300", "--id", "p-42", "-k", "5"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  ids = TableIds(run.out);
  ASSERT_EQ(ids.size(), 5u) << run.out;
  EXPECT_EQ(ids[0], "p-42") << run.out;
  std::istringstream first(Lines(run.out).at(1));
  std::string rank, distance;
  first >> rank >> distance;
  EXPECT_EQ(distance, "0") << run.out;

  // --filter and --json: the nearest even item to a point beside the odd p-17.
  const std::string expected_even = BruteForceNearest(
      items, near17, [](const Item& item) { return item.metadata == "{\"group\":0}"; });
  run = Ctl({"search", "points", "--ef", "300", "--vector", VectorFlag(near17), "-k", "4",
             "--filter", R"({"must":[{"key":"group","match":{"value":0}}]})", "--json"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  simdjson::dom::parser parser;
  simdjson::dom::array results;
  ASSERT_EQ(parser.parse(run.out)["results"].get_array().get(results), simdjson::SUCCESS)
      << run.out;
  ASSERT_EQ(results.size(), 4u) << run.out;
  std::string_view first_id;
  ASSERT_EQ(results.at(0)["id"].get_string().get(first_id), simdjson::SUCCESS);
  EXPECT_EQ(first_id, expected_even);
  for (simdjson::dom::element result : results) {
    int64_t group = -1;
    EXPECT_EQ(result["metadata"]["group"].get_int64().get(group), simdjson::SUCCESS);
    EXPECT_EQ(group, 0) << run.out;
  }

  // --id with an id that needs escaping in the URL; --vector in brackets.
  for (const std::string id : {"with space", "slash/inside", "quote\"d"}) {
    run = Ctl({"search", "points", "--ef", "300", "--id", id, "-k", "2", "--json"});
    ASSERT_EQ(run.exit_code, 0) << id << ": " << Describe(run);
    ASSERT_EQ(parser.parse(run.out)["results"].get_array().get(results), simdjson::SUCCESS)
        << run.out;
    ASSERT_EQ(results.at(0)["id"].get_string().get(first_id), simdjson::SUCCESS);
    EXPECT_EQ(first_id, id) << run.out;
  }
  run = Ctl(
      {"search", "points", "--ef", "300", "--vector", "[" + VectorFlag(near17) + "]", "-k", "1"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_EQ(TableIds(run.out), std::vector<std::string>{"p-17"}) << run.out;

  // An id that is not there.
  run = Ctl({"search", "points", "--ef", "300", "--id", "p-999"});
  EXPECT_EQ(run.exit_code, 1) << Describe(run);
  EXPECT_TRUE(Contains(run.err, "not found")) << run.err;
}

// ---------------------------------------------------------------------------
// import, one test per input format.

TEST_F(VectorctlTest, ImportFvecs) {
  const Rows rows = RandomRows(150, 6, 1);
  const std::string file = Write("base.fvecs", Vecs<float>(rows));
  ASSERT_NO_FATAL_FAILURE(
      ImportAndExpect("fv", 6, file, Positional("fv-", rows), {"--id-prefix", "fv-"}));
  EXPECT_TRUE(Lacks("fv", {"0", "149"}));  // the prefix is in every id
}

TEST_F(VectorctlTest, ImportBvecs) {
  const Rows rows = IntegerRows(120, 16, 0, 255, 2);
  const std::string file = Write("base.bvecs", Vecs<uint8_t>(rows));
  ASSERT_NO_FATAL_FAILURE(
      ImportAndExpect("bv", 16, file, Positional("bv-", rows), {"--id-prefix", "bv-"}));
}

TEST_F(VectorctlTest, ImportIvecs) {
  const Rows rows = IntegerRows(120, 5, -100000, 100000, 3);
  const std::string file = Write("base.ivecs", Vecs<int32_t>(rows));
  ASSERT_NO_FATAL_FAILURE(
      ImportAndExpect("iv", 5, file, Positional("iv-", rows), {"--id-prefix", "iv-"}));
}

TEST_F(VectorctlTest, ImportNpyFloat32) {
  const Rows rows = RandomRows(130, 7, 4);
  const std::string file = Write("base.npy", Npy("<f4", rows));
  ASSERT_NO_FATAL_FAILURE(
      ImportAndExpect("f4", 7, file, Positional("np-", rows), {"--id-prefix", "np-"}));
}

TEST_F(VectorctlTest, ImportNpyFloat64) {
  // Doubles with more precision than a float: each arrives rounded to float32.
  const Rows rows = RandomRows(130, 7, 5);
  const std::string file = Write("base64.npy", Npy("<f8", rows));
  ASSERT_NO_FATAL_FAILURE(
      ImportAndExpect("f8", 7, file, Positional("d-", rows), {"--id-prefix", "d-"}));
}

TEST_F(VectorctlTest, ImportJsonLinesWithMetadata) {
  std::vector<Item> items = DocItems("doc-", 90, 4, 6);
  for (Item& odd : OddItems(4)) items.push_back(std::move(odd));
  std::string text = Jsonl(items);
  // A null metadata is none, extra keys are ignored, blank lines skipped.
  items.push_back({"doc-null", {0.5f, -0.25f, 1.0f, 2.0f}, ""});
  text += "\n{\"id\":\"doc-null\",\"vector\":[0.5,-0.25,1,2],\"metadata\":null,\"other\":7}\n";
  const std::string file = Write("docs.jsonl", text);
  // --id-prefix is for positional formats: JSON Lines keeps its own ids.
  ASSERT_NO_FATAL_FAILURE(ImportAndExpect("docs", 4, file, items, {"--id-prefix", "x-"}));
}

TEST_F(VectorctlTest, ImportGzippedFiles) {
  const Rows rows = RandomRows(140, 6, 7);
  const std::string fvecs = WriteGzip("base.fvecs.gz", Vecs<float>(rows));
  ASSERT_NO_FATAL_FAILURE(
      ImportAndExpect("gzf", 6, fvecs, Positional("g-", rows), {"--id-prefix", "g-"}));
  const std::vector<Item> docs = DocItems("gd-", 60, 3, 8);
  const std::string jsonl = WriteGzip("docs.jsonl.gz", Jsonl(docs));
  ASSERT_NO_FATAL_FAILURE(ImportAndExpect("gzj", 3, jsonl, docs));
}

TEST_F(VectorctlTest, ImportMnistIdx) {
  const Rows rows = IntegerRows(40, 4 * 5, 0, 255, 9);
  const std::string file = Write("train-images-idx3-ubyte", Idx(rows, 4, 5));
  ASSERT_NO_FATAL_FAILURE(
      ImportAndExpect("mnist", 20, file, Positional("img-", rows), {"--id-prefix", "img-"}));
}

TEST_F(VectorctlTest, SkipAndLimitSelectRowsThatKeepTheirIds) {
  const Rows rows = RandomRows(50, 4, 13);
  // The name does not say the format: --format does.
  const std::string file = Write("rows.bin", Vecs<float>(rows));
  ASSERT_NO_FATAL_FAILURE(CreateIndex("part", 4));
  CtlRun run = Ctl({"import", "part", file, "--format", "fvecs", "--skip", "10", "--limit", "20",
                    "--id-prefix", "s-", "--batch", "6"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(Contains(SummaryLine(run.err), file + ": 20 items imported, 0 skipped")) << run.err;
  EXPECT_TRUE(Contains(run.err, "imported 20 / 20 (100%) items")) << run.err;
  EXPECT_TRUE(Holds("part", Positional("s-", rows, 10, 30)));

  // JSON Lines: --skip counts items, not blank lines.
  const std::vector<Item> items = DocItems("j-", 12, 4, 14);
  const std::string jsonl = Write("items.ndjson", "\n\n" + Jsonl(items));
  ASSERT_NO_FATAL_FAILURE(CreateIndex("jpart", 4));
  run = Ctl({"import", "jpart", jsonl, "--skip", "3", "--limit", "5"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(Holds("jpart", std::vector<Item>(items.begin() + 3, items.begin() + 8)));
}

// ---------------------------------------------------------------------------
// import: connections, batches, progress output.

TEST_F(VectorctlTest, ConnectionsAndBatchSizesGiveTheSameContent) {
  const Rows rows = RandomRows(300, 6, 12);
  const std::string file = Write("three-hundred.fvecs", Vecs<float>(rows));
  const std::vector<Item> expected = Positional("r", rows);
  struct Variant {
    std::string index;
    std::vector<std::string> flags;
  };
  const std::vector<Variant> variants = {
      {"c1b7", {"--connections", "1", "--batch", "7"}},
      {"c4b7", {"--connections", "4", "--batch", "7"}},
      {"c4b3", {"--connections", "4", "--batch", "3"}},
      {"c2", {}},  // the defaults: one batch of 1024
  };
  for (const Variant& variant : variants) {
    SCOPED_TRACE(variant.index);
    ASSERT_NO_FATAL_FAILURE(CreateIndex(variant.index, 6));
    std::vector<std::string> args = {"import", variant.index, file, "--id-prefix", "r"};
    args.insert(args.end(), variant.flags.begin(), variant.flags.end());
    const CtlRun run = Ctl(args);
    ASSERT_EQ(run.exit_code, 0) << Describe(run);
    EXPECT_TRUE(Holds(variant.index, expected));

    // Not a terminal: plain lines, no carriage returns or escape sequences.
    EXPECT_FALSE(Contains(run.err, "\r")) << run.err;
    EXPECT_FALSE(Contains(run.err, "\x1b")) << run.err;
    ASSERT_FALSE(run.err.empty());
    EXPECT_EQ(run.err.back(), '\n') << run.err;
    const std::vector<std::string> lines = Lines(run.err);
    EXPECT_TRUE(lines.back().starts_with(file + ": 300 items imported, 0 skipped")) << run.err;
    EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [](const std::string& line) {
      return line.starts_with("imported 300 / 300 (100%) items");
    })) << run.err;
    EXPECT_TRUE(run.out.empty()) << run.out;
  }

  // -q: the summary only.
  ASSERT_NO_FATAL_FAILURE(CreateIndex("quiet", 6));
  const CtlRun run = Ctl({"-q", "import", "quiet", file, "--id-prefix", "r"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_EQ(Lines(run.err).size(), 1u) << run.err;
  EXPECT_TRUE(Holds("quiet", expected));
}

// ---------------------------------------------------------------------------
// import: malformed files stop at the bad row with exit 4; --resume finishes.

TEST_F(VectorctlTest, TruncatedFvecsRowStopsThereAndResumeFinishes) {
  const Rows rows = RandomRows(80, 4, 21);
  std::string bytes = Vecs<float>(Rows(rows.begin(), rows.begin() + 51));
  bytes.resize(bytes.size() - 8);  // row 50 loses two of its four components
  const std::string file = Write("cut.fvecs", bytes);
  ASSERT_NO_FATAL_FAILURE(CreateIndex("cut", 4));

  CtlRun run = Ctl({"import", "cut", file, "--batch", "7", "--connections", "3"});
  EXPECT_EQ(run.exit_code, 4) << Describe(run);
  EXPECT_TRUE(Contains(run.err, file + ": row 50: file ends inside the row")) << run.err;
  EXPECT_TRUE(Contains(run.err, "import stopped after 50 items")) << run.err;
  EXPECT_TRUE(Holds("cut", Positional("", rows, 0, 50)));

  Write("cut.fvecs", Vecs<float>(rows));  // fixed, and longer
  run = Ctl({"import", "cut", file, "--batch", "7", "--connections", "3", "--resume"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(Contains(SummaryLine(run.err), file + ": 30 items imported, 50 skipped")) << run.err;
  EXPECT_TRUE(Holds("cut", Positional("", rows)));
}

TEST_F(VectorctlTest, BadJsonLinesVectorStopsThereAndResumeFinishes) {
  const std::vector<Item> items = DocItems("doc-", 40, 4, 22);
  // Lines 1-9: items 0-8; line 10 blank; line 11 + k - 9: item k. Item 21 is line 23.
  auto file_text = [&](bool broken) {
    std::string text;
    for (size_t k = 0; k < items.size(); ++k) {
      if (k == 9) text += "\n";
      if (broken && k == 21) {
        text += "{\"id\":\"doc-21\",\"vector\":[0.5,\"x\",0.25,1]}\n";
      } else {
        text += ItemJson(items[k]) + "\n";
      }
    }
    return text;
  };
  const std::string file = Write("docs.jsonl", file_text(true));
  ASSERT_NO_FATAL_FAILURE(CreateIndex("docs", 4));

  CtlRun run = Ctl({"import", "docs", file, "--batch", "4"});
  EXPECT_EQ(run.exit_code, 4) << Describe(run);
  EXPECT_TRUE(Contains(run.err, file + ": line 23: vector[1] is not a number")) << run.err;
  EXPECT_TRUE(Holds("docs", std::vector<Item>(items.begin(), items.begin() + 21)));

  Write("docs.jsonl", file_text(false));
  run = Ctl({"import", "docs", file, "--batch", "4", "--resume"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(Contains(SummaryLine(run.err), file + ": 19 items imported, 21 skipped")) << run.err;
  EXPECT_TRUE(Holds("docs", items));
}

TEST_F(VectorctlTest, DimensionChangeMidFileStopsThereAndResumeFinishes) {
  const Rows rows = RandomRows(60, 4, 23);
  Rows broken = rows;
  broken[40].push_back(0.5);  // row 40 has five components
  const std::string file = Write("change.fvecs", Vecs<float>(broken));
  ASSERT_NO_FATAL_FAILURE(CreateIndex("change", 4));

  CtlRun run = Ctl({"import", "change", file, "--batch", "7", "--id-prefix", "c-"});
  EXPECT_EQ(run.exit_code, 4) << Describe(run);
  EXPECT_TRUE(Contains(run.err, file + ": row 40: dimension 5 differs from 4 in row 0")) << run.err;
  EXPECT_TRUE(Holds("change", Positional("c-", rows, 0, 40)));

  Write("change.fvecs", Vecs<float>(rows));
  run = Ctl({"import", "change", file, "--batch", "7", "--id-prefix", "c-", "--resume"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(Contains(SummaryLine(run.err), file + ": 20 items imported, 40 skipped")) << run.err;
  EXPECT_TRUE(Holds("change", Positional("c-", rows)));

  // The same in JSON Lines: line 13 has three components where line 1 had four.
  const std::vector<Item> items = DocItems("j-", 20, 4, 24);
  std::vector<Item> bad = items;
  bad[12].vector.pop_back();
  const std::string jsonl = Write("change.jsonl", Jsonl(bad));
  ASSERT_NO_FATAL_FAILURE(CreateIndex("jchange", 4));
  run = Ctl({"import", "jchange", jsonl, "--batch", "5"});
  EXPECT_EQ(run.exit_code, 4) << Describe(run);
  EXPECT_TRUE(Contains(run.err, jsonl + ": line 13: dimension 3 differs from 4 in line 1"))
      << run.err;
  EXPECT_TRUE(Holds("jchange", std::vector<Item>(items.begin(), items.begin() + 12)));
  Write("change.jsonl", Jsonl(items));
  run = Ctl({"import", "jchange", jsonl, "--batch", "5", "--resume"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(Contains(SummaryLine(run.err), jsonl + ": 8 items imported, 12 skipped")) << run.err;
  EXPECT_TRUE(Holds("jchange", items));
}

TEST_F(VectorctlTest, FortranOrderNpyIsRefusedAndResumeFinishes) {
  const Rows rows = RandomRows(40, 5, 25);
  const std::string file = Write("fortran.npy", Npy("<f4", rows, /*fortran_order=*/true));
  ASSERT_NO_FATAL_FAILURE(CreateIndex("fortran", 5));

  CtlRun run = Ctl({"import", "fortran", file});
  EXPECT_EQ(run.exit_code, 4) << Describe(run);
  EXPECT_TRUE(Contains(run.err, file + ": Fortran order not supported")) << run.err;
  EXPECT_EQ(Length("fortran"), 0u);

  Write("fortran.npy", Npy("<f4", rows));
  run = Ctl({"import", "fortran", file, "--resume"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(Contains(SummaryLine(run.err), file + ": 40 items imported, 0 skipped")) << run.err;
  EXPECT_TRUE(Holds("fortran", Positional("", rows)));
}

TEST_F(VectorctlTest, NpyShorterThanItsHeaderStopsThereAndResumeFinishes) {
  const Rows rows = RandomRows(60, 3, 26);
  std::string bytes = Npy("<f8", rows);
  bytes.resize(bytes.size() - 15 * 3 * 8);  // rows 45-59 missing
  const std::string file = Write("short.npy", bytes);
  ASSERT_NO_FATAL_FAILURE(CreateIndex("short", 3));

  CtlRun run = Ctl({"import", "short", file, "--batch", "10"});
  EXPECT_EQ(run.exit_code, 4) << Describe(run);
  EXPECT_TRUE(Contains(run.err, file + ": row 45: file ends here, but its header says 60 rows"))
      << run.err;
  EXPECT_TRUE(Holds("short", Positional("", rows, 0, 45)));

  Write("short.npy", Npy("<f8", rows));
  run = Ctl({"import", "short", file, "--batch", "10", "--resume"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(Contains(SummaryLine(run.err), file + ": 15 items imported, 45 skipped")) << run.err;
  EXPECT_TRUE(Holds("short", Positional("", rows)));
}

TEST_F(VectorctlTest, TruncatedGzipStopsWhereItEndsAndResumeFinishes) {
  const Rows rows = RandomRows(400, 8, 27);
  const std::string file = WriteGzip("cut.fvecs.gz", Vecs<float>(rows));
  const std::string whole = ReadFileText(file);
  Write("cut.fvecs.gz", whole.substr(0, whole.size() * 6 / 10));
  ASSERT_NO_FATAL_FAILURE(CreateIndex("gcut", 8));

  CtlRun run = Ctl({"import", "gcut", file, "--batch", "16"});
  EXPECT_EQ(run.exit_code, 4) << Describe(run);
  EXPECT_TRUE(Contains(run.err, file + ": the gzip stream ends early")) << run.err;
  // The rows decompressed before the cut, and nothing else.
  const uint64_t held = Length("gcut").value_or(0);
  EXPECT_GT(held, 0u);
  EXPECT_LT(held, 400u);
  EXPECT_TRUE(Holds("gcut", Positional("", rows, 0, held)));

  Write("cut.fvecs.gz", whole);
  run = Ctl({"import", "gcut", file, "--batch", "16", "--resume"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(Contains(SummaryLine(run.err), file + ": " + std::to_string(400 - held) +
                                                 " items imported, " + std::to_string(held) +
                                                 " skipped"))
      << run.err;
  EXPECT_TRUE(Holds("gcut", Positional("", rows)));
}

// The exit code of a stopped import must not depend on the input file's
// name: a malformed file is exit 4 even when its path contains "attempts"
// or "HTTP ", words vectorctl also looks for in server errors.
TEST_F(VectorctlTest, MalformedFileExitsFourWhateverItsName) {
  const Rows rows = RandomRows(10, 3, 28);
  std::string bytes = Vecs<float>(rows);
  bytes.resize(bytes.size() - 5 * 16 + 6);  // row 5 ends after its dimension and half a float
  int n = 0;
  for (const std::string name : {"retry-attempts.fvecs", "HTTP 1.fvecs", "plain.fvecs"}) {
    SCOPED_TRACE(name);
    const std::string index = "named" + std::to_string(n++);
    const std::string file = Write(name, bytes);
    ASSERT_NO_FATAL_FAILURE(CreateIndex(index, 3));
    const CtlRun run = Ctl({"import", index, file});
    EXPECT_EQ(run.exit_code, 4) << Describe(run);
    EXPECT_TRUE(Contains(run.err, file + ": row 5: file ends inside the row")) << run.err;
    EXPECT_TRUE(Holds(index, Positional("", rows, 0, 5)));
  }
}

// ---------------------------------------------------------------------------
// import: the server refuses a batch.

TEST_F(VectorctlTest, RefusedDimensionExitsOneNamingTheRow) {
  const Rows rows = RandomRows(20, 3, 31);
  const std::string file = Write("three.fvecs", Vecs<float>(rows));
  ASSERT_NO_FATAL_FAILURE(CreateIndex("four", 4));
  const CtlRun run = Ctl({"import", "four", file, "--skip", "10", "--id-prefix", "m-"});
  EXPECT_EQ(run.exit_code, 1) << Describe(run);
  EXPECT_TRUE(Contains(run.err, "items[0]: dim mismatch (index=4, got=3)")) << run.err;
  EXPECT_TRUE(Contains(run.err, "(row 10, id m-10)")) << run.err;
  EXPECT_TRUE(Contains(run.err, file)) << run.err;
  EXPECT_EQ(Length("four"), 0u);
}

TEST_F(VectorctlTest, RefusedItemMidBatchExitsOneNamingItsRowAndResumeFinishes) {
  const std::vector<Item> items = DocItems("doc-", 30, 3, 32);
  // Line 17 (the second item of the fourth batch of 5) has an id the server refuses.
  auto file_text = [&](bool broken) {
    std::string text;
    for (size_t k = 0; k < items.size(); ++k) {
      if (broken && k == 16) {
        text += "{\"id\":\"bad\\u0001id\",\"vector\":" + VectorJson(items[k].vector) + "}\n";
      } else {
        text += ItemJson(items[k]) + "\n";
      }
    }
    return text;
  };
  const std::string file = Write("ids.jsonl", file_text(true));
  ASSERT_NO_FATAL_FAILURE(CreateIndex("ids", 3));
  CtlRun run = Ctl({"import", "ids", file, "--batch", "5", "--connections", "1"});
  EXPECT_EQ(run.exit_code, 1) << Describe(run);
  EXPECT_TRUE(Contains(run.err, "items[1]: id contains a control character")) << run.err;
  EXPECT_TRUE(Contains(run.err, "(line 17, id bad")) << run.err;
  EXPECT_TRUE(Contains(run.err, "import stopped after 15 items")) << run.err;
  // The batches before it, nothing of its own batch.
  EXPECT_TRUE(Holds("ids", std::vector<Item>(items.begin(), items.begin() + 15)));

  Write("ids.jsonl", file_text(false));
  run = Ctl({"import", "ids", file, "--batch", "5", "--connections", "1", "--resume"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(Contains(SummaryLine(run.err), file + ": 15 items imported, 15 skipped")) << run.err;
  EXPECT_TRUE(Holds("ids", items));
}

TEST_F(VectorctlTest, ImportIntoAMissingIndexExitsOne) {
  const std::string file = Write("a.fvecs", Vecs<float>(RandomRows(5, 3, 33)));
  const CtlRun run = Ctl({"import", "nowhere", file});
  EXPECT_EQ(run.exit_code, 1) << Describe(run);
  EXPECT_TRUE(Contains(run.err, "index nowhere not found")) << run.err;
  EXPECT_FALSE(IndexInfo("nowhere"));
}

// ---------------------------------------------------------------------------
// import --create

TEST_F(VectorctlTest, CreateFlagMakesTheIndexWithTheFilesDimension) {
  const Rows rows = RandomRows(25, 6, 41);
  const std::string fvecs = Write("six.fvecs", Vecs<float>(rows));
  CtlRun run = Ctl({"import", "made", fvecs, "--create", "euclidean", "--id-prefix", "c-"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_EQ(Param("made", "dimension"), "6");
  EXPECT_EQ(Param("made", "distance"), "euclidean");
  EXPECT_TRUE(Holds("made", Positional("c-", rows)));

  // A distance the server does not know: refused, nothing created.
  run = Ctl({"import", "odd", fvecs, "--create", "manhattan"});
  EXPECT_EQ(run.exit_code, 1) << Describe(run);
  EXPECT_TRUE(Contains(run.err, "HTTP 400")) << run.err;
  EXPECT_FALSE(IndexInfo("odd"));

  // An existing index is used as it is.
  run = Ctl({"import", "made", fvecs, "--create", "dot", "--id-prefix", "again-"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_EQ(Param("made", "distance"), "euclidean");
  EXPECT_EQ(Length("made"), 50u);

  // JSON Lines: the dimension of the first item.
  const std::vector<Item> items = DocItems("j-", 30, 5, 42);
  const std::string jsonl = Write("five.jsonl", "\n" + Jsonl(items));
  run = Ctl({"import", "jmade", jsonl, "--create", "dot"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_EQ(Param("jmade", "dimension"), "5");
  EXPECT_EQ(Param("jmade", "distance"), "dot");
  EXPECT_TRUE(Holds("jmade", items));

  // npy, gzipped: the dimension from the header.
  const Rows wide = RandomRows(12, 9, 43);
  const std::string npy = WriteGzip("nine.npy.gz", Npy("<f4", wide));
  run = Ctl({"import", "nmade", npy, "--create", "cosine"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_EQ(Param("nmade", "dimension"), "9");
  EXPECT_EQ(Param("nmade", "distance"), "cosine");
  EXPECT_TRUE(Holds("nmade", Positional("", wide), /*tolerance=*/1e-6));
}

// ---------------------------------------------------------------------------
// export

TEST_F(VectorctlTest, ExportWritesJsonLinesThatReimportIdentically) {
  // More than one page of the scroll (1000 items a page).
  std::vector<Item> items = DocItems("e-", 1100, 4, 51);
  for (Item& odd : OddItems(4)) items.push_back(std::move(odd));
  ASSERT_NO_FATAL_FAILURE(CreateIndex("src", 4));
  ASSERT_NO_FATAL_FAILURE(AddItems("src", items));

  const std::string out = Path("export.jsonl");
  CtlRun run = Ctl({"export", "src", "-o", out});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(Contains(run.err, "1,107 items exported")) << run.err;
  EXPECT_TRUE(run.out.empty()) << run.out;
  EXPECT_TRUE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".partial"));
  const std::string exported = ReadFileText(out);
  const std::vector<std::string> lines = Lines(exported);
  ASSERT_EQ(lines.size(), items.size());
  simdjson::dom::parser parser;
  for (const std::string& line : lines) {
    simdjson::dom::element element;
    ASSERT_EQ(parser.parse(line).get(element), simdjson::SUCCESS) << line;
    ASSERT_TRUE(element["id"].is_string()) << line;
    ASSERT_TRUE(element["vector"].is_array()) << line;
  }

  run = Ctl({"import", "copy", out, "--create", "euclidean", "--batch", "300"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(Contains(SummaryLine(run.err), out + ": 1,107 items imported, 0 skipped")) << run.err;
  EXPECT_EQ(Param("copy", "dimension"), "4");
  EXPECT_TRUE(Holds("copy", items));
  EXPECT_TRUE(Holds("src", items));

  // To standard output: the same lines.
  run = Ctl({"export", "src"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(run.out == exported) << "stdout differs from the -o file";
  EXPECT_TRUE(Contains(run.err, "1,107 items exported")) << run.err;
  run = Ctl({"export", "src", "-o", "-"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(run.out == exported) << "-o - differs from the -o file";

  // An empty index exports nothing; a missing one fails and leaves no file.
  ASSERT_NO_FATAL_FAILURE(CreateIndex("empty", 4));
  run = Ctl({"export", "empty"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_EQ(run.out, "");
  EXPECT_TRUE(Contains(run.err, "0 items exported")) << run.err;
  run = Ctl({"export", "absent", "-o", Path("absent.jsonl")});
  EXPECT_EQ(run.exit_code, 1) << Describe(run);
  EXPECT_TRUE(Contains(run.err, "not found")) << run.err;
  EXPECT_FALSE(fs::exists(Path("absent.jsonl")));
  EXPECT_FALSE(fs::exists(Path("absent.jsonl.partial")));
}

// ---------------------------------------------------------------------------
// The token, unreachable servers, usage errors, missing files, durability.

TEST_F(VectorctlTest, TokenFromFlagOrEnvironment) {
  const std::string token = "s3cret-Token";
  ASSERT_NO_FATAL_FAILURE(StartServer({"--ephemeral", "--auth-token", token}));
  token_ = token;
  const Rows rows = RandomRows(30, 3, 61);
  const std::string file = Write("t.fvecs", Vecs<float>(rows));

  // Without it, or with a wrong one: 401, exit 1, nothing done.
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"list"},
                                             {"create", "secure", "-d", "3"},
                                             {"info", "secure"},
                                             {"import", "secure", file, "--create", "euclidean"},
                                             {"export", "secure"},
                                             {"--token", "wrong", "create", "secure", "-d", "3"}}) {
    const CtlRun run = Ctl(args);
    EXPECT_EQ(run.exit_code, 1) << args[0] << ": " << Describe(run);
    EXPECT_TRUE(Contains(run.err, "401")) << run.err;
    EXPECT_TRUE(Contains(run.err, "unauthorized")) << run.err;
  }
  int status = 0;
  EXPECT_FALSE(IndexInfo("secure", &status));
  EXPECT_EQ(status, 404);

  // From the environment.
  const std::map<std::string, std::string> env = {{"VECTORD_TOKEN", token}};
  CtlRun run = Ctl({"create", "secure", "-d", "3", "--distance", "euclidean"}, env);
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_EQ(Param("secure", "dimension"), "3");
  run = Ctl({"import", "secure", file, "--batch", "8"}, env);
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(Holds("secure", Positional("", rows)));
  run = Ctl({"import", "secure", file, "--resume"}, env);
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(Contains(SummaryLine(run.err), "0 items imported, 30 skipped")) << run.err;

  // With --token (also after the command).
  run = Ctl({"--token", token, "list"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_EQ(run.out, "secure\n");
  run = Ctl({"info", "secure", "--token", token});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_TRUE(Contains(run.out, "length: 30")) << run.out;
  run = Ctl({"--token", token, "search", "secure", "--id", "7", "-k", "1"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_EQ(TableIds(run.out), std::vector<std::string>{"7"}) << run.out;
  run = Ctl({"--token", token, "export", "secure"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_EQ(Lines(run.out).size(), 30u);
  run = Ctl({"--token", token, "drop", "secure"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  EXPECT_FALSE(IndexInfo("secure"));
}

TEST_F(VectorctlTest, UnreachableServerExitsThreeQuickly) {
  const uint16_t port = FreeLoopbackPort();
  ASSERT_NE(port, 0);
  const std::string file = Write("u.fvecs", Vecs<float>(RandomRows(10, 3, 71)));
  const std::string jsonl = Write("u.jsonl", Jsonl(DocItems("u-", 3, 3, 72)));
  const std::map<std::string, std::string> env = {{"VECTORD_SERVER", "127.0.0.1:1"}};
  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{{"list"},
                                             {"info", "x"},
                                             {"create", "x", "-d", "3"},
                                             {"drop", "x"},
                                             {"search", "x", "--vector", "1,2,3"},
                                             {"import", "x", file},
                                             {"import", "x", file, "--resume"},
                                             {"import", "x", jsonl, "--create", "cosine"},
                                             {"export", "x", "-o", Path("u-out.jsonl")}}) {
    std::vector<std::string> args = {"--server", "127.0.0.1:" + std::to_string(port), "--attempts",
                                     "2"};
    args.insert(args.end(), command.begin(), command.end());
    const CtlRun run = RunVectorctl(args, {}, scratch_.path());
    EXPECT_EQ(run.exit_code, 3) << command[0] << ": " << Describe(run);
    EXPECT_LT(run.seconds, kUnreachableSeconds) << command[0];
    EXPECT_FALSE(run.err.empty()) << command[0];
  }
  EXPECT_FALSE(fs::exists(Path("u-out.jsonl")));

  // VECTORD_SERVER names the server when --server does not.
  const CtlRun run = RunVectorctl({"--attempts", "2", "list"}, env, scratch_.path());
  EXPECT_EQ(run.exit_code, 3) << Describe(run);
  EXPECT_TRUE(Contains(run.err, "127.0.0.1:1")) << run.err;
  EXPECT_TRUE(Contains(run.err, "after 2 attempts")) << run.err;
}

TEST_F(VectorctlTest, BadUsageExitsTwo) {
  const std::string file = Write("ok.fvecs", Vecs<float>(RandomRows(10, 3, 81)));
  const std::string unknown = Write("vectors.txt", "1 2 3\n");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"frobnicate"},
           {"create"},
           {"create", "x"},
           {"create", "x", "-d", "three"},
           {"info"},
           {"drop"},
           {"list", "--no-such-flag"},
           {"search"},
           {"search", "x"},
           {"search", "x", "--vector", "1,2,3", "--id", "a"},
           {"search", "x", "--vector", "1,zebra,3"},
           {"search", "x", "--vector", "1,2,3", "--filter", "{not json"},
           {"import"},
           {"import", "x"},
           {"import", "x", file, "--batch", "0"},
           {"import", "x", file, "--connections", "0"},
           {"import", "x", file, "--batch", "100001"},
           {"import", "x", file, "--format", "csv"},
           {"import", "x", unknown},
           {"export"}}) {
    const CtlRun run = Ctl(args);
    std::string joined;
    for (const std::string& a : args) joined += a + " ";
    EXPECT_EQ(run.exit_code, 2) << joined << ": " << Describe(run);
    EXPECT_FALSE(run.err.empty()) << joined;
  }
  // A server address vectorctl cannot use.
  for (const std::string& server : {"ftp://" + Address(), Address() + "/path"}) {
    const CtlRun run = RunVectorctl({"--server", server, "list"}, {}, scratch_.path());
    EXPECT_EQ(run.exit_code, 2) << server << ": " << Describe(run);
    EXPECT_TRUE(Contains(run.err, server)) << run.err;
  }
  const CtlRun batch = Ctl({"import", "x", file, "--batch", "0"});
  EXPECT_TRUE(Contains(batch.err, "--batch")) << batch.err;
  // Nothing reached the server.
  EXPECT_EQ(Canonical(Http("GET", "/vectors/index").body), R"({"names":[],"count":0})");
}

TEST_F(VectorctlTest, MissingInputFileExitsFour) {
  ASSERT_NO_FATAL_FAILURE(CreateIndex("x", 3));
  const std::string absent = Path("absent.fvecs");
  CtlRun run = Ctl({"import", "x", absent});
  EXPECT_EQ(run.exit_code, 4) << Describe(run);
  EXPECT_TRUE(Contains(run.err, absent)) << run.err;
  run = Ctl({"import", "y", absent, "--create", "euclidean"});
  EXPECT_EQ(run.exit_code, 4) << Describe(run);
  EXPECT_FALSE(IndexInfo("y"));  // not created for a file it cannot read
  run = Ctl({"search", "x", "--file", absent});
  EXPECT_EQ(run.exit_code, 4) << Describe(run);
  EXPECT_TRUE(Contains(run.err, absent)) << run.err;
  // A file with fewer rows than --row asks for.
  const std::string two = Write("two.fvecs", Vecs<float>(RandomRows(2, 3, 82)));
  run = Ctl({"search", "x", "--file", two, "--row", "5"});
  EXPECT_EQ(run.exit_code, 4) << Describe(run);
  EXPECT_TRUE(Contains(run.err, two)) << run.err;
  EXPECT_EQ(Length("x"), 0u);
}

TEST_F(VectorctlTest, AcknowledgedImportSurvivesAServerKill) {
  const std::vector<std::string> args = {"--data-dir", files_.path() + "/data"};
  ASSERT_NO_FATAL_FAILURE(StartServer(args));
  const Rows rows = RandomRows(120, 5, 91);
  const std::string file = Write("durable.fvecs", Vecs<float>(rows));
  CtlRun run = Ctl({"import", "durable", file, "--create", "euclidean", "--batch", "25"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  // Acknowledged before the fsync: still safe from a crash of the process.
  run = Ctl({"import", "quick", file, "--create", "euclidean", "--batch", "25", "--no-fsync-wait"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);

  server_->Kill();
  ASSERT_NO_FATAL_FAILURE(StartServer(args));
  EXPECT_TRUE(Holds("durable", Positional("", rows)));
  EXPECT_TRUE(Holds("quick", Positional("", rows)));
  run = Ctl({"list"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  std::vector<std::string> names = Lines(run.out);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"durable", "quick"}));
}

}  // namespace
}  // namespace vectord::testing
