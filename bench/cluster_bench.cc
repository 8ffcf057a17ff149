// cluster_bench: vectord in cluster mode (docs/cluster-protocol.md) on one
// machine — a real etcd, a real s3rver as the bucket and three vectord
// processes on loopback ports, started with the end-to-end tests' fixtures
// (tests/http/server_process.h, tests/support/) — measured from outside over
// HTTP:
//
//   1. writes sent to the writer (direct) and to another node that forwards
//      them (forwarded): latency with one client, throughput with several;
//   2. replica lag under steady ingest: from a write's acknowledgement to a
//      replica serving it;
//   3. searches on a replica at consistency=eventual and consistency=strong,
//      idle and during ingest;
//   4. failover: kill -9 of the writer while a client writes through a
//      surviving node, to the first acknowledged write.
//
//   cluster_bench [--quick] [--seconds 10] [--failover-rounds 5] ...   (--help: every flag)
//
// Prints a Markdown report on stdout (progress goes to stderr).
// bench/run-cluster-bench.sh builds it and keeps the report.
#include <signal.h>
#include <simdjson.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "http/server_process.h"
#include "support/child_process.h"
#include "support/etcd_server.h"
#include "support/s3_server.h"

namespace vectord::bench {
namespace {

using testing::EtcdServer;
using testing::HttpResult;
using testing::S3Server;
using testing::ServerProcess;
using testing::TempDir;
using testing::TestClient;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double MsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

void Progress(const std::string& what) {
  std::fprintf(stderr, "[cluster_bench] %s\n", what.c_str());
  std::fflush(stderr);
}

// Nearest-rank percentile (as bench/run-cluster-failover.sh computes them):
// with few samples p99 is simply the largest but one or the largest, never
// an interpolation between samples that did not happen.
double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(values.size()) + 0.999999);
  rank = std::clamp<size_t>(rank, 1, values.size());
  return values[rank - 1];
}

double Max(const std::vector<double>& values) {
  return values.empty() ? 0 : *std::max_element(values.begin(), values.end());
}

std::string Fixed(double value, int decimals = 1) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

// Answers other than 2xx, by status, with the distinct bodies seen for
// each (the first few): an error is a finding, so the report shows what the
// cluster said.
struct Errors {
  static constexpr size_t kBodiesPerStatus = 4;
  std::map<int, int> counts;
  std::map<int, std::map<std::string, int>> bodies;

  void Add(const HttpResult& r) {
    ++counts[r.status];
    std::string body = r.body.substr(0, 240);
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    if (r.status == 0) body = "(no answer: the connection failed)";
    auto& seen = bodies[r.status];
    if (seen.contains(body) || seen.size() < kBodiesPerStatus) ++seen[body];
  }
  void Merge(const Errors& other) {
    for (const auto& [status, count] : other.counts) counts[status] += count;
    for (const auto& [status, seen] : other.bodies) {
      for (const auto& [body, count] : seen) {
        auto& mine = bodies[status];
        if (mine.contains(body) || mine.size() < kBodiesPerStatus) mine[body] += count;
      }
    }
  }
  // "none", or "503:4 0:1" (0: the connection failed).
  std::string Summary() const {
    if (counts.empty()) return "none";
    std::string out;
    for (const auto& [status, count] : counts) {
      out += (out.empty() ? "" : " ") + std::to_string(status) + ":" + std::to_string(count);
    }
    return out;
  }
};

// Every non-2xx answer of the run, by phase, for the notes at the end.
std::vector<std::pair<std::string, Errors>> g_error_log;

void LogErrors(const std::string& phase, const Errors& errors) {
  if (!errors.counts.empty()) g_error_log.emplace_back(phase, errors);
}

bool Ok(int status) { return status / 100 == 2; }

// A small fast generator: the client shares two cores with the whole
// cluster, so making request bodies must cost next to nothing.
struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t Next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
};

// A random vector as JSON, four decimals per component in [-1, 1) — the
// shape of a real embedding's text, never the zero vector cosine refuses.
void AppendVector(std::string& out, int dimension, Rng& rng) {
  out += '[';
  char text[32];
  for (int d = 0; d < dimension; ++d) {
    const int v = static_cast<int>(rng.Next() % 20000) - 10000;
    if (d > 0) out += ',';
    const double value = (v == 0 ? 1 : v) / 10000.0;
    auto [end, error] =
        std::to_chars(text, text + sizeof(text), value, std::chars_format::fixed, 4);
    out.append(text, end);
  }
  out += ']';
}

// {"items":[...]} of `count` items with ids `prefix`0 .. `prefix`(count-1).
std::string AddBody(const std::string& prefix, int count, int dimension, Rng& rng) {
  std::string body;
  body.reserve(static_cast<size_t>(count) * (static_cast<size_t>(dimension) * 8 + 40));
  body += R"({"items":[)";
  for (int i = 0; i < count; ++i) {
    if (i > 0) body += ',';
    body += R"({"id":")" + prefix + std::to_string(i) + R"(","vector":)";
    AppendVector(body, dimension, rng);
    body += '}';
  }
  return body + "]}";
}

std::optional<uint64_t> SequenceOf(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  uint64_t sequence = 0;
  if (parser.parse(body).get(root) || root["sequence"].get_uint64().get(sequence)) {
    return std::nullopt;
  }
  return sequence;
}

struct ClusterView {
  std::string leader;
  int64_t term = 0;
  // Committed sequence of each index.
  std::map<std::string, uint64_t> sequence;
};

std::optional<ClusterView> GetCluster(uint16_t port) {
  TestClient client(port);
  const HttpResult r = client.Request("GET", "/cluster");
  if (r.status != 200) return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(r.body).get(root)) return std::nullopt;
  ClusterView view;
  std::string_view leader;
  if (!root["leader"].get_string().get(leader)) view.leader = std::string(leader);
  if (root["term"].get_int64().get(view.term)) view.term = 0;
  simdjson::dom::array indexes;
  if (!root["indexes"].get_array().get(indexes)) {
    for (simdjson::dom::element index : indexes) {
      std::string_view name;
      uint64_t sequence = 0;
      if (index["name"].get_string().get(name) || index["sequence"].get_uint64().get(sequence)) {
        continue;
      }
      view.sequence[std::string(name)] = sequence;
    }
  }
  return view;
}

struct Options {
  int dimension = 384;
  std::vector<int> batches{16, 256};
  int threads = 8;
  double write_seconds = 10;
  int ingest_threads = 4;
  int ingest_batch = 64;
  double lag_seconds = 20;
  double search_seconds = 15;
  int k = 10;
  int failover_rounds = 5;
  int failover_batch = 16;
  double failover_warmup_seconds = 1;
  int lease_ttl_ms = 2000;
};

// One vectord process. Its port is chosen before it starts, so its
// advertise URL is known, and kept across restarts as a real node's is.
struct Node {
  std::string id;
  uint16_t port = 0;
  std::unique_ptr<TempDir> disk;
  std::unique_ptr<ServerProcess> process;  // null while it is down

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

class Cluster {
 public:
  explicit Cluster(const Options& options) : options_(options) {}
  ~Cluster() {
    // Nodes first: a node that outlives etcd or the bucket only logs retries.
    nodes_.clear();
    etcd_.reset();
    bucket_.reset();
  }

  bool Start(int count) {
    bucket_ = S3Server::Start();
    if (!bucket_) return false;
    etcd_ = EtcdServer::Start();
    if (!etcd_) return false;
    for (int i = 0; i < count; ++i) {
      auto node = std::make_unique<Node>();
      node->id = "n" + std::to_string(i + 1);
      node->port = testing::FreeLoopbackPort();
      node->disk = std::make_unique<TempDir>();
      node->process = Launch(*node);
      if (!node->process) return false;
      nodes_.push_back(std::move(node));
    }
    return true;
  }

  std::unique_ptr<ServerProcess> Launch(const Node& node) {
    return ServerProcess::Start(
        {"--bind", "127.0.0.1:" + std::to_string(node.port), "--data-dir", node.disk->path(),
         "--storaged-url", bucket_->url(), "--etcd-endpoints", etcd_->endpoint(), "--node-id",
         node.id, "--advertise-url", node.url(), "--lease-ttl-ms",
         std::to_string(options_.lease_ttl_ms)},
        {{"AWS_ACCESS_KEY_ID", S3Server::kAccessKey},
         {"AWS_SECRET_ACCESS_KEY", S3Server::kSecretKey}});
  }

  std::vector<Node*> Running() {
    std::vector<Node*> out;
    for (const auto& node : nodes_) {
      if (node->process) out.push_back(node.get());
    }
    return out;
  }

  Node* Find(const std::string& id) {
    for (const auto& node : nodes_) {
      if (node->id == id) return node.get();
    }
    return nullptr;
  }

  // The writer, once a running node names one and that node agrees: just
  // after an election a view may still name the node that lost it.
  Node* Writer(std::chrono::milliseconds timeout = 30s) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      for (Node* node : Running()) {
        const auto view = GetCluster(node->port);
        if (!view || view->leader.empty()) continue;
        Node* named = Find(view->leader);
        if (!named || !named->process) continue;
        const auto own = GetCluster(named->port);
        if (own && own->leader == named->id) return named;
      }
      std::this_thread::sleep_for(50ms);
    }
    return nullptr;
  }

  Node* OtherThan(const Node* node) {
    for (Node* other : Running()) {
      if (other != node) return other;
    }
    return nullptr;
  }

  // Waits until every running node has applied everything committed to
  // `index` (a strong read on each), so that a phase does not start while
  // the replicas still apply the last one's writes on the same cores.
  // The time it took, or -1 if some node did not get there in `timeout`.
  double Settle(const std::string& index, std::chrono::milliseconds timeout = 120s) {
    const auto started = Clock::now();
    const auto deadline = started + timeout;
    for (Node* node : Running()) {
      TestClient client(node->port);
      while (true) {
        const HttpResult r =
            client.Request("GET", "/vectors/index/" + index + "?consistency=strong");
        if (r.status == 200) break;
        if (Clock::now() >= deadline) {
          Progress("settle: " + node->id + " answered " + std::to_string(r.status) + " " + r.body);
          return -1;
        }
        if (r.status != 504) std::this_thread::sleep_for(50ms);
      }
    }
    return MsBetween(started, Clock::now());
  }

  std::vector<std::unique_ptr<Node>>& nodes() { return nodes_; }

 private:
  const Options& options_;
  std::unique_ptr<S3Server> bucket_;
  std::unique_ptr<EtcdServer> etcd_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

// CPU seconds (user + system) a process has used so far; 0 once it is gone.
double ProcessCpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  // Fields after the parenthesised command name; utime and stime are the
  // 14th and 15th of the whole line, in clock ticks.
  std::istringstream rest(text.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Busy CPU seconds of the whole machine so far, every core together: all
// but idle and iowait of /proc/stat's first line.
double MachineBusySeconds() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  unsigned long long value = 0, busy = 0;
  stat >> cpu;
  for (int i = 0; i < 8 && stat >> value; ++i) {
    if (i != 3 && i != 4) busy += value;
  }
  return static_cast<double>(busy) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// This process's children: the vectord nodes, etcd and s3rver.
std::vector<pid_t> ChildPids() {
  std::vector<pid_t> out;
  const pid_t self = ::getpid();
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const size_t paren = text.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(text.substr(paren + 2));
    std::string state;
    long ppid = 0;
    if (rest >> state >> ppid && ppid == self) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

// Cores used over a stretch of the run by the writer, by each other node,
// by etcd and s3rver together, by this client and by the whole machine
// (anything else running on it too): whether a row was bound by the cores
// or by waiting, and who had them.
class CpuMeter {
 public:
  CpuMeter(Cluster& cluster, const Node* writer) : started_(Clock::now()) {
    std::vector<pid_t> node_pids;
    for (Node* node : cluster.Running()) {
      const pid_t pid = node->process->pid();
      node_pids.push_back(pid);
      samples_.push_back({node == writer ? kWriter : kNode, pid, ProcessCpuSeconds(pid)});
    }
    for (pid_t pid : ChildPids()) {
      if (std::find(node_pids.begin(), node_pids.end(), pid) == node_pids.end()) {
        samples_.push_back({kService, pid, ProcessCpuSeconds(pid)});
      }
    }
    samples_.push_back({kClient, ::getpid(), ProcessCpuSeconds(::getpid())});
    machine_ = MachineBusySeconds();
  }
  // "0.95 / 0.40, 0.41 / 0.20 / 0.05 / 1.98": writer / other nodes /
  // etcd+s3rver / client / machine.
  std::string Finish() const {
    const double wall = std::chrono::duration<double>(Clock::now() - started_).count();
    std::string writer = "-", nodes;
    double service = 0, client = 0;
    for (const Sample& sample : samples_) {
      const double used = std::max(0.0, ProcessCpuSeconds(sample.pid) - sample.cpu) / wall;
      switch (sample.kind) {
        case kWriter: writer = Fixed(used, 2); break;
        case kNode: nodes += (nodes.empty() ? "" : ", ") + Fixed(used, 2); break;
        case kService: service += used; break;
        case kClient: client += used; break;
      }
    }
    return writer + " / " + nodes + " / " + Fixed(service, 2) + " / " + Fixed(client, 2) + " / " +
           Fixed((MachineBusySeconds() - machine_) / wall, 2);
  }

  static constexpr const char* kHeader =
      "cores: writer / other nodes / etcd+s3rver / client / machine";

 private:
  enum Kind { kWriter, kNode, kService, kClient };
  struct Sample {
    Kind kind;
    pid_t pid;
    double cpu;
  };
  Clock::time_point started_;
  std::vector<Sample> samples_;
  double machine_ = 0;
};

// Distinct id prefixes for every batch of the run, across threads and phases.
std::string BatchPrefix(const std::string& phase, int thread, uint64_t batch) {
  return phase + "-t" + std::to_string(thread) + "-b" + std::to_string(batch) + "-";
}

struct WriteResult {
  std::vector<double> latency_ms;  // acknowledged batches only
  uint64_t acknowledged = 0;
  double seconds = 0;
  Errors errors;
};

// `threads` clients, each on its own keep-alive connection to `port`, send
// batches back to back for `seconds`. The body is made before the clock
// starts, so only the request is timed.
WriteResult RunWrites(const std::string& phase, uint16_t port, const std::string& index,
                      int threads, int batch, int dimension, double seconds) {
  std::vector<WriteResult> per_thread(static_cast<size_t>(threads));
  const auto started = Clock::now();
  const auto until = started + std::chrono::duration<double>(seconds);
  {
    std::vector<std::jthread> clients;
    for (int t = 0; t < threads; ++t) {
      clients.emplace_back([&, t] {
        TestClient client(port);
        Rng rng(std::hash<std::string>{}(phase) + static_cast<uint64_t>(t));
        WriteResult& mine = per_thread[static_cast<size_t>(t)];
        for (uint64_t b = 0; Clock::now() < until; ++b) {
          const std::string body = AddBody(BatchPrefix(phase, t, b), batch, dimension, rng);
          const auto sent = Clock::now();
          const HttpResult r = client.Request("POST", "/vectors/index/" + index + "/add", body);
          const auto answered = Clock::now();
          if (Ok(r.status)) {
            ++mine.acknowledged;
            mine.latency_ms.push_back(MsBetween(sent, answered));
          } else {
            mine.errors.Add(r);
            std::this_thread::sleep_for(10ms);  // a refused write is retried soon, not spun on
          }
        }
      });
    }
  }
  WriteResult total;
  total.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  for (WriteResult& r : per_thread) {
    total.acknowledged += r.acknowledged;
    total.latency_ms.insert(total.latency_ms.end(), r.latency_ms.begin(), r.latency_ms.end());
    total.errors.Merge(r.errors);
  }
  LogErrors(phase, total.errors);
  return total;
}

// A write's acknowledgement as the replica-lag probe sees it.
struct Ack {
  uint64_t sequence = 0;
  std::string id;  // one item of the batch
  Clock::time_point at;
};

// The latest acknowledgement of the ingest, for the probe to pick up: the
// probe always takes the newest and skips the ones it missed while it was
// busy, so it never measures a write it came to late.
class AckBoard {
 public:
  void Publish(Ack ack) {
    {
      std::lock_guard lock(mutex_);
      if (latest_ && latest_->sequence >= ack.sequence) return;
      latest_ = std::move(ack);
      ++version_;
    }
    changed_.notify_one();
  }
  std::optional<Ack> Next(uint64_t* seen, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return version_ != *seen; })) return std::nullopt;
    *seen = version_;
    return latest_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<Ack> latest_;
  uint64_t version_ = 0;
};

// Background writers to the writer node (`threads` clients, batches of
// `batch`) for as long as it runs: the steady ingest of phases 2 and 3.
class Ingest {
 public:
  Ingest(std::string phase, uint16_t port, std::string index, int threads, int batch, int dimension,
         AckBoard* board)
      : phase_(std::move(phase)), started_(Clock::now()) {
    for (int t = 0; t < threads; ++t) {
      clients_.emplace_back([this, port, index, t, batch, dimension, board](std::stop_token stop) {
        TestClient client(port);
        Rng rng(std::hash<std::string>{}(phase_) + static_cast<uint64_t>(t));
        for (uint64_t b = 0; !stop.stop_requested(); ++b) {
          const std::string prefix = BatchPrefix(phase_, t, b);
          const HttpResult r = client.Request("POST", "/vectors/index/" + index + "/add",
                                              AddBody(prefix, batch, dimension, rng));
          const auto answered = Clock::now();
          if (Ok(r.status)) {
            acknowledged_ += static_cast<uint64_t>(batch);
            if (board) {
              if (const auto sequence = SequenceOf(r.body)) {
                board->Publish({*sequence, prefix + std::to_string(batch - 1), answered});
              }
            }
          } else {
            {
              std::lock_guard lock(mutex_);
              errors_.Add(r);
            }
            std::this_thread::sleep_for(10ms);
          }
        }
      });
    }
  }
  // Stops the writers (once); the vectors acknowledged per second while
  // they ran.
  double Stop() {
    if (!clients_.empty()) {
      for (auto& client : clients_) client.request_stop();
      clients_.clear();  // joins
      rate_ = static_cast<double>(acknowledged_.load()) /
              std::chrono::duration<double>(Clock::now() - started_).count();
      LogErrors(phase_, errors_);
    }
    return rate_;
  }
  ~Ingest() { Stop(); }

 private:
  const std::string phase_;
  const Clock::time_point started_;
  std::atomic<uint64_t> acknowledged_{0};
  std::mutex mutex_;
  Errors errors_;
  double rate_ = 0;
  std::vector<std::jthread> clients_;
};

struct Row {
  std::vector<std::string> cells;
};

void PrintTable(const std::vector<std::string>& header, const std::vector<std::string>& align,
                const std::vector<Row>& rows) {
  std::string line = "|";
  for (const auto& h : header) line += " " + h + " |";
  std::printf("%s\n|", line.c_str());
  for (const auto& a : align) std::printf("%s|", a == "r" ? "---:" : "---");
  std::printf("\n");
  for (const Row& row : rows) {
    line = "|";
    for (const auto& c : row.cells) line += " " + c + " |";
    std::printf("%s\n", line.c_str());
  }
  std::printf("\n");
  std::fflush(stdout);
}

std::string Today() {
  const std::time_t now = std::time(nullptr);
  char text[64];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  return text;
}

std::vector<std::string> g_notes;

void Note(const std::string& note) {
  g_notes.push_back(note);
  Progress(note);
}

// 1. Direct vs forwarded writes.
void WritePhase(Cluster& cluster, const Options& options, const std::string& index) {
  std::printf(
      "## 1. Writes: direct (client → writer) vs forwarded (client → other node → "
      "writer)\n\n");
  std::printf(
      "Each row sends batches of %d-d vectors back to back for %.1f s; one client "
      "gives latency, %d clients throughput (every client on its own keep-alive "
      "connection). Latency is of acknowledged batches; errors are answers other than "
      "2xx (0: the connection failed). Cores: CPU used over the row, in cores, by the "
      "writer, each other node, etcd and s3rver together, this client, and the whole "
      "machine (anything else running on it included).\n\n",
      options.dimension, options.write_seconds, options.threads);
  std::vector<Row> rows;
  for (int batch : options.batches) {
    for (int threads : {1, options.threads}) {
      // Direct and forwarded one after the other, so that the machine's
      // drift and the index's growth touch both alike.
      for (bool forwarded : {false, true}) {
        Node* writer = cluster.Writer();
        if (!writer) {
          Note("write phase: no writer found");
          return;
        }
        Node* target = forwarded ? cluster.OtherThan(writer) : writer;
        const std::string path = forwarded ? "forwarded" : "direct";
        const std::string phase =
            "w" + std::to_string(batch) + "x" + std::to_string(threads) + (forwarded ? "f" : "d");
        Progress("writes: " + path + " batch " + std::to_string(batch) + ", " +
                 std::to_string(threads) + " clients, to " + target->id + " (writer " + writer->id +
                 ")");
        const CpuMeter cpu(cluster, writer);
        const WriteResult r = RunWrites(phase, target->port, index, threads, batch,
                                        options.dimension, options.write_seconds);
        const std::string cores = cpu.Finish();
        const double batches_per_s = static_cast<double>(r.acknowledged) / r.seconds;
        rows.push_back(
            {{path, std::to_string(batch), std::to_string(threads), std::to_string(r.acknowledged),
              Fixed(Percentile(r.latency_ms, 50)), Fixed(Percentile(r.latency_ms, 99)),
              Fixed(Max(r.latency_ms)), Fixed(batches_per_s), Fixed(batches_per_s * batch, 0),
              cores, r.errors.Summary()}});
        const double settled = cluster.Settle(index);
        if (settled < 0 || settled > 1000) {
          Note("after writes " + path + " batch " + std::to_string(batch) + " x" +
               std::to_string(threads) + ": the replicas took " +
               (settled < 0 ? std::string("more than 120 s") : Fixed(settled, 0) + " ms") +
               " to apply what was acknowledged");
        }
      }
    }
  }
  PrintTable({"path", "batch", "clients", "batches", "p50 ms", "p99 ms", "max ms", "batches/s",
              "vectors/s", CpuMeter::kHeader, "errors"},
             {"l", "r", "r", "r", "r", "r", "r", "r", "r", "l", "l"}, rows);
}

// 2. Replica lag under steady ingest.
void LagPhase(Cluster& cluster, const Options& options, const std::string& index) {
  std::printf("## 2. Replica lag under steady ingest\n\n");
  Node* writer = cluster.Writer();
  Node* replica = writer ? cluster.OtherThan(writer) : nullptr;
  if (!replica) {
    Note("lag phase: no writer found");
    return;
  }
  std::printf(
      "%d clients send batches of %d to the writer (%s) for %.1f s. A probe client on "
      "replica %s takes the newest acknowledgement (sequence N, one id of its batch) as "
      "soon as it arrives and sends `GET /vectors/index/%s/items/{id}?min_sequence=N` to "
      "the replica, which holds the read until it has applied N. Lag = from the "
      "acknowledgement (the ingest client's clock) to the replica's 200 (the probe's): "
      "an upper bound, by the pick-up delay and one loopback round trip; pick-up is "
      "from the acknowledgement to the probe sending its request.\n\n",
      options.ingest_threads, options.ingest_batch, writer->id.c_str(), options.lag_seconds,
      replica->id.c_str(), index.c_str());
  Progress("replica lag: ingest to " + writer->id + ", probe on " + replica->id);
  AckBoard board;
  std::vector<double> lag_ms, pickup_ms;
  Errors probe_errors;
  double ingest_rate = 0;
  std::string cores;
  {
    const CpuMeter cpu(cluster, writer);
    Ingest ingest("lag", writer->port, index, options.ingest_threads, options.ingest_batch,
                  options.dimension, &board);
    TestClient probe(replica->port);
    uint64_t seen = 0;
    const auto until = Clock::now() + std::chrono::duration<double>(options.lag_seconds);
    while (Clock::now() < until) {
      const std::optional<Ack> ack = board.Next(&seen, 200ms);
      if (!ack) continue;
      const auto sent = Clock::now();
      const HttpResult r =
          probe.Request("GET", "/vectors/index/" + index + "/items/" + ack->id +
                                   "?min_sequence=" + std::to_string(ack->sequence));
      const auto served = Clock::now();
      if (r.status == 200) {
        lag_ms.push_back(MsBetween(ack->at, served));
        pickup_ms.push_back(MsBetween(ack->at, sent));
      } else {
        probe_errors.Add(r);
      }
    }
    ingest_rate = ingest.Stop();
    cores = cpu.Finish();
  }
  LogErrors("lag probe", probe_errors);
  PrintTable({"ingest vectors/s", "probes", "lag p50 ms", "lag p99 ms", "lag max ms",
              "pick-up p50 ms", "pick-up p99 ms", CpuMeter::kHeader, "probe errors"},
             {"r", "r", "r", "r", "r", "r", "r", "l", "l"},
             {{{Fixed(ingest_rate, 0), std::to_string(lag_ms.size()), Fixed(Percentile(lag_ms, 50)),
                Fixed(Percentile(lag_ms, 99)), Fixed(Max(lag_ms)), Fixed(Percentile(pickup_ms, 50)),
                Fixed(Percentile(pickup_ms, 99)), cores, probe_errors.Summary()}}});
  const double settled = cluster.Settle(index);
  Note("after the lag phase the replicas applied the rest in " +
       (settled < 0 ? std::string("more than 120 s") : Fixed(settled, 0) + " ms"));
}

// 3. Searches on a replica, eventual against strong.
void SearchPhase(Cluster& cluster, const Options& options, const std::string& index) {
  std::printf("## 3. Search on a replica: consistency=eventual vs consistency=strong\n\n");
  Node* writer = cluster.Writer();
  Node* replica = writer ? cluster.OtherThan(writer) : nullptr;
  if (!replica) {
    Note("search phase: no writer found");
    return;
  }
  std::printf(
      "One client sends k=%d searches (random %d-d vectors) to replica %s for %.1f s "
      "per load, alternating eventual and strong request by request so both meet the "
      "same conditions; QPS = 1 / mean latency of that kind (one client, back to back). "
      "During ingest, %d clients send batches of %d to the writer (%s).\n\n",
      options.k, options.dimension, replica->id.c_str(), options.search_seconds,
      options.ingest_threads, options.ingest_batch, writer->id.c_str());
  std::vector<Row> rows;
  for (bool loaded : {false, true}) {
    const std::string load = loaded ? "during ingest" : "idle";
    Progress("searches on " + replica->id + ", " + load);
    const CpuMeter cpu(cluster, writer);
    std::unique_ptr<Ingest> ingest;
    if (loaded) {
      ingest = std::make_unique<Ingest>("search", writer->port, index, options.ingest_threads,
                                        options.ingest_batch, options.dimension, nullptr);
      std::this_thread::sleep_for(500ms);  // the ingest is flowing before the first search
    }
    std::vector<double> latency[2];
    Errors errors[2];
    Rng rng(loaded ? 7 : 3);
    TestClient client(replica->port);
    const auto until = Clock::now() + std::chrono::duration<double>(options.search_seconds);
    for (uint64_t q = 0; Clock::now() < until; ++q) {
      const int strong = static_cast<int>(q % 2);
      std::string body = R"({"vector":)";
      AppendVector(body, options.dimension, rng);
      body += R"(,"k":)" + std::to_string(options.k) + "}";
      const std::string target =
          "/vectors/index/" + index + "/search?consistency=" + (strong ? "strong" : "eventual");
      const auto sent = Clock::now();
      const HttpResult r = client.Request("POST", target, body);
      const auto answered = Clock::now();
      if (r.status == 200) {
        latency[strong].push_back(MsBetween(sent, answered));
      } else {
        errors[strong].Add(r);
      }
    }
    std::string ingest_rate = "-";
    if (ingest) ingest_rate = Fixed(ingest->Stop(), 0);
    const std::string cores = cpu.Finish();
    for (int strong : {0, 1}) {
      LogErrors("search " + load + (strong ? " strong" : " eventual"), errors[strong]);
      double mean = 0;
      for (double v : latency[strong]) mean += v;
      if (!latency[strong].empty()) mean /= static_cast<double>(latency[strong].size());
      rows.push_back(
          {{load, strong ? "strong" : "eventual", ingest_rate,
            std::to_string(latency[strong].size()), Fixed(Percentile(latency[strong], 50), 2),
            Fixed(Percentile(latency[strong], 99), 2), Fixed(Max(latency[strong]), 2),
            Fixed(mean > 0 ? 1000.0 / mean : 0, 0), cores, errors[strong].Summary()}});
    }
    if (loaded) cluster.Settle(index);
  }
  PrintTable({"load", "consistency", "ingest vectors/s", "searches", "p50 ms", "p99 ms", "max ms",
              "QPS", CpuMeter::kHeader, "errors"},
             {"l", "l", "r", "r", "r", "r", "r", "r", "l", "l"}, rows);
}

// Every write of the failover client: when it was sent and answered, how.
struct Attempt {
  Clock::time_point sent, answered;
  int status = 0;
};

class FailoverClient {
 public:
  FailoverClient(uint16_t port, const std::string& index, int batch, int dimension, int round) {
    thread_ = std::jthread([this, port, index, batch, dimension, round](std::stop_token stop) {
      TestClient client(port);
      Rng rng(static_cast<uint64_t>(round) + 100);
      for (uint64_t b = 0; !stop.stop_requested(); ++b) {
        const std::string body =
            AddBody(BatchPrefix("fo" + std::to_string(round), 0, b), batch, dimension, rng);
        const auto sent = Clock::now();
        const HttpResult r = client.Request("POST", "/vectors/index/" + index + "/add", body);
        const auto answered = Clock::now();
        {
          std::lock_guard lock(mutex_);
          attempts_.push_back({sent, answered, r.status});
          if (!Ok(r.status)) errors_.Add(r);
        }
        // A refused write is retried after a short pause, as a client would;
        // 5 ms bounds how late the first successful one can be noticed.
        if (!Ok(r.status)) std::this_thread::sleep_for(5ms);
      }
    });
  }
  void Stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }
  // When the first write sent at or after `since` was acknowledged.
  std::optional<Clock::time_point> FirstAcknowledgedAfter(Clock::time_point since) {
    std::lock_guard lock(mutex_);
    std::optional<Clock::time_point> first;
    for (const Attempt& a : attempts_) {
      if (Ok(a.status) && a.sent >= since && (!first || a.answered < *first)) first = a.answered;
    }
    return first;
  }
  int AcknowledgedSince(Clock::time_point since) {
    std::lock_guard lock(mutex_);
    int count = 0;
    for (const Attempt& a : attempts_) count += Ok(a.status) && a.sent >= since;
    return count;
  }
  // Failed writes answered between `from` and `to`.
  int FailuresBetween(Clock::time_point from, Clock::time_point to) {
    std::lock_guard lock(mutex_);
    int count = 0;
    for (const Attempt& a : attempts_) {
      count += !Ok(a.status) && a.answered >= from && a.answered <= to;
    }
    return count;
  }
  Errors errors() {
    std::lock_guard lock(mutex_);
    return errors_;
  }

 private:
  std::mutex mutex_;
  std::vector<Attempt> attempts_;
  Errors errors_;
  std::jthread thread_;  // last: joined before the rest goes
};

// 4. Failover: kill -9 of the writer, to the first acknowledged write.
void FailoverPhase(Cluster& cluster, const Options& options, const std::string& index) {
  std::printf("## 4. Failover after kill -9 of the writer\n\n");
  std::printf(
      "Index `%s` (new, so that a restarted node rebuilds only its few writes from the "
      "bucket). Each round: a client writes batches of %d through a node that is not "
      "the writer (a refused write is retried after 5 ms) for %.1f s, then the writer "
      "gets SIGKILL; failover = from the kill to the acknowledgement of the first write "
      "sent after it. Then the killed node is restarted on its disk and waited for "
      "(GET /ready), and the next round begins. Lease TTL %d ms.\n\n",
      index.c_str(), options.failover_batch, options.failover_warmup_seconds, options.lease_ttl_ms);
  std::vector<Row> rows;
  std::vector<double> failover_ms, restart_ms;
  Errors all_errors;
  for (int round = 0; round < options.failover_rounds; ++round) {
    Node* writer = cluster.Writer();
    Node* through = writer ? cluster.OtherThan(writer) : nullptr;
    if (!through) {
      Note("failover round " + std::to_string(round) + ": no writer found");
      break;
    }
    Progress("failover round " + std::to_string(round) + ": killing " + writer->id +
             ", writing through " + through->id);
    FailoverClient client(through->port, index, options.failover_batch, options.dimension, round);
    const auto warm = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(options.failover_warmup_seconds));
    for (int i = 0; i < 100 && client.AcknowledgedSince(warm) == 0; ++i) {
      std::this_thread::sleep_for(100ms);
    }
    if (client.AcknowledgedSince(warm) == 0) {
      Note("failover round " + std::to_string(round) + ": no write acknowledged before the kill (" +
           client.errors().Summary() + "); round skipped");
      client.Stop();
      continue;
    }
    const auto killed = Clock::now();
    writer->process->Kill();
    writer->process.reset();
    std::optional<Clock::time_point> resumed;
    const auto give_up = killed + 60s;
    while (!(resumed = client.FirstAcknowledgedAfter(killed)) && Clock::now() < give_up) {
      std::this_thread::sleep_for(5ms);
    }
    std::string failover = "none in 60 s";
    int failures = 0;
    if (resumed) {
      failover_ms.push_back(MsBetween(killed, *resumed));
      failover = Fixed(failover_ms.back(), 0);
      failures = client.FailuresBetween(killed, *resumed);
    }
    client.Stop();
    all_errors.Merge(client.errors());
    Node* successor = cluster.Writer(10s);
    const std::string successor_id = successor ? successor->id : "?";

    Progress("failover round " + std::to_string(round) + ": " + failover + " ms; restarting " +
             writer->id);
    const auto restart = Clock::now();
    writer->process = cluster.Launch(*writer);
    std::string restarted = "did not start";
    if (writer->process) {
      restart_ms.push_back(MsBetween(restart, Clock::now()));
      restarted = Fixed(restart_ms.back(), 0);
    } else {
      Note("failover round " + std::to_string(round) + ": " + writer->id + " did not restart");
    }
    rows.push_back({{std::to_string(round + 1), writer->id, through->id, successor_id, failover,
                     std::to_string(failures), restarted}});
    if (!writer->process) break;
  }
  LogErrors("failover client", all_errors);
  PrintTable({"round", "killed writer", "client through", "new writer", "kill → first ack ms",
              "failed writes meanwhile", "restart → ready ms"},
             {"r", "l", "l", "l", "r", "r", "r"}, rows);
  if (!failover_ms.empty()) {
    std::printf(
        "Failover over %zu rounds: min %s ms, p50 %s ms, max %s ms. Restart to ready: "
        "p50 %s ms, max %s ms. Answers to the failed writes: %s.\n\n",
        failover_ms.size(),
        Fixed(*std::min_element(failover_ms.begin(), failover_ms.end()), 0).c_str(),
        Fixed(Percentile(failover_ms, 50), 0).c_str(), Fixed(Max(failover_ms), 0).c_str(),
        Fixed(Percentile(restart_ms, 50), 0).c_str(), Fixed(Max(restart_ms), 0).c_str(),
        all_errors.Summary().c_str());
  }
}

bool CreateIndex(Cluster& cluster, const std::string& name, int dimension) {
  Node* writer = cluster.Writer();
  if (!writer) return false;
  TestClient client(writer->port);
  const HttpResult r = client.Request("POST", "/vectors/index",
                                      R"({"name":")" + name + R"(","dimension":)" +
                                          std::to_string(dimension) + R"(,"distance":"cosine"})");
  if (r.status != 201) {
    Progress("create " + name + ": " + std::to_string(r.status) + " " + r.body);
    return false;
  }
  return true;
}

std::vector<int> ParseList(const std::string& text) {
  std::vector<int> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string part =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!part.empty()) out.push_back(std::stoi(part));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

int Main(int argc, char** argv) {
  Options options;
  bool quick = false;
  std::string batches = "16,256";
  CLI::App app{"vectord cluster benchmark: 3 nodes, etcd and s3rver on loopback"};
  app.add_flag("--quick", quick,
               "tiny sizes for a smoke run: 1.5 s per write row, 3 s of lag, 2 s of searches, "
               "1 failover round (flags given as well override these)");
  app.add_option("--dimension", options.dimension)->capture_default_str();
  app.add_option("--batches", batches, "write batch sizes, comma-separated")->capture_default_str();
  app.add_option("--threads", options.threads, "client threads of the throughput rows")
      ->capture_default_str();
  app.add_option("--seconds", options.write_seconds, "seconds per write row")
      ->capture_default_str();
  app.add_option("--ingest-threads", options.ingest_threads)->capture_default_str();
  app.add_option("--ingest-batch", options.ingest_batch)->capture_default_str();
  app.add_option("--lag-seconds", options.lag_seconds)->capture_default_str();
  app.add_option("--search-seconds", options.search_seconds, "seconds per load (idle, ingest)")
      ->capture_default_str();
  app.add_option("--k", options.k)->capture_default_str();
  app.add_option("--failover-rounds", options.failover_rounds)->capture_default_str();
  app.add_option("--failover-batch", options.failover_batch)->capture_default_str();
  app.add_option("--failover-warmup-seconds", options.failover_warmup_seconds)
      ->capture_default_str();
  app.add_option("--lease-ttl-ms", options.lease_ttl_ms)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    // Only what was not given explicitly shrinks.
    if (app.count("--seconds") == 0) options.write_seconds = 1.5;
    if (app.count("--lag-seconds") == 0) options.lag_seconds = 3;
    if (app.count("--search-seconds") == 0) options.search_seconds = 2;
    if (app.count("--failover-rounds") == 0) options.failover_rounds = 1;
  }
  options.batches = ParseList(batches);
  // A client whose server died mid-request must get an error, not a signal.
  ::signal(SIGPIPE, SIG_IGN);

  std::string command;
  for (int i = 0; i < argc; ++i) command += (i > 0 ? " " : "") + std::string(argv[i]);
  const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  std::printf("# vectord cluster benchmark\n\n");
  std::printf("`%s`\n\n", command.c_str());
  std::printf("- date: %s\n", Today().c_str());
  std::printf(
      "- cluster: 3 vectord nodes (cluster mode, default durability), one etcd, one "
      "s3rver bucket, all on loopback; lease TTL %d ms; index of %d-d vectors, cosine\n",
      options.lease_ttl_ms, options.dimension);
  std::printf(
      "- machine: %ld cores online. The three nodes, etcd, s3rver and this client all "
      "share them, and every node indexes every vector (each keeps a replica), so "
      "absolute throughput here is not a scaling number: it shows the relative cost of "
      "forwarding, replication and strong reads.\n\n",
      cores);
  std::fflush(stdout);

  const auto run_started = Clock::now();
  Cluster cluster(options);
  Progress("starting s3rver, etcd and 3 nodes");
  if (!cluster.Start(3)) {
    std::fprintf(stderr,
                 "the cluster did not start (etcd and s3rver come from "
                 "scripts/install-deps.sh)\n");
    return 1;
  }
  const std::string index = "bench";
  if (!CreateIndex(cluster, index, options.dimension)) return 1;
  // The first write of an index may pay one-off costs (the first segment
  // object, the replicas' first fetch); keep them out of the first row.
  {
    Node* writer = cluster.Writer();
    if (!writer) return 1;
    RunWrites("warmup", writer->port, index, 1, 16, options.dimension, 0.5);
    cluster.Settle(index);
  }

  WritePhase(cluster, options, index);
  LagPhase(cluster, options, index);
  SearchPhase(cluster, options, index);

  // The failover rounds restart the killed node, which rebuilds every
  // replica from the bucket before it is ready; on the phases' whole index
  // that would make each round mostly a restart.
  if (options.failover_rounds > 0) {
    Node* writer = cluster.Writer();
    if (writer) {
      const HttpResult dropped =
          TestClient(writer->port).Request("DELETE", "/vectors/index/" + index);
      if (dropped.status != 204) {
        Note("drop of " + index + ": " + std::to_string(dropped.status) + " " + dropped.body);
      }
    }
    const std::string failover_index = "failover";
    if (CreateIndex(cluster, failover_index, options.dimension)) {
      FailoverPhase(cluster, options, failover_index);
    } else {
      Note("could not create the failover index");
    }
  }

  std::printf("## Notes\n\n");
  std::printf("- run time: %.0f s\n",
              std::chrono::duration<double>(Clock::now() - run_started).count());
  for (const std::string& note : g_notes) std::printf("- %s\n", note.c_str());
  for (const auto& [phase, errors] : g_error_log) {
    for (const auto& [status, seen] : errors.bodies) {
      std::printf("- %s: %d answers %d:\n", phase.c_str(), errors.counts.at(status), status);
      for (const auto& [body, count] : seen) std::printf("  - %d× `%s`\n", count, body.c_str());
    }
  }
  std::printf("\n");
  return 0;
}

}  // namespace
}  // namespace vectord::bench

int main(int argc, char** argv) { return vectord::bench::Main(argc, argv); }
