// vectord in cluster mode, end to end: real vectord processes sharing one
// bucket (s3rver) and one etcd on loopback ports (docs/cluster-protocol.md).
// A write sent to any node is taken by the one writer, and a read on any node
// sees it at the consistency it asks for. The failure tests kill -9 the
// writer during a stream of writes, pause it past its lease, take etcd away,
// add a node on an empty disk, and drop and re-create a name; afterwards no
// acknowledged write may be missing anywhere, no batch may be half applied,
// and no node may serve a dropped incarnation.
//
// Each node's port is chosen before it starts, so its advertise URL is known,
// and is kept across restarts as a real node's address is.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "common/uri_encoding.h"
#include "server_process.h"
#include "store/s3_object_store.h"
#include "support/child_process.h"
#include "support/etcd_server.h"
#include "support/s3_server.h"

namespace vectord::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Short, so that elections happen within the tests' bounds; etcd leases are
// in whole seconds, so this is 2 s exactly.
constexpr int kLeaseTtlMs = 2000;

template <typename Fn>
bool Eventually(Fn done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds every = 50ms) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(every);
  }
  return done();
}

long long MillisBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

// What GET /cluster answers.
struct ClusterView {
  struct Node {
    std::string id, url;
    bool healthy = false;
  };
  struct Replica {
    std::string node;
    uint64_t applied_sequence = 0;
  };
  struct Index {
    std::string name, writer;
    uint64_t sequence = 0;
    std::vector<Replica> replicas;
  };
  std::string leader;  // empty while there is none (null or absent)
  uint64_t term = 0;
  std::vector<Node> nodes;
  std::vector<Index> indexes;

  const Node* FindNode(const std::string& id) const {
    for (const Node& node : nodes) {
      if (node.id == id) return &node;
    }
    return nullptr;
  }
  const Index* FindIndex(const std::string& name) const {
    for (const Index& index : indexes) {
      if (index.name == name) return &index;
    }
    return nullptr;
  }
};

// A string field, or "" when it is absent, null or not a string (a leader or
// writer not known yet).
std::string StringField(simdjson::dom::element object, const char* key) {
  std::string_view value;
  if (object[key].get_string().get(value)) return "";
  return std::string(value);
}

uint64_t NumberField(simdjson::dom::element object, const char* key) {
  uint64_t value = 0;
  if (object[key].get_uint64().get(value)) return 0;
  return value;
}

std::optional<ClusterView> ParseCluster(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body).get(root)) return std::nullopt;
  ClusterView view;
  view.leader = StringField(root, "leader");
  view.term = NumberField(root, "term");
  simdjson::dom::array nodes, indexes;
  if (root["nodes"].get_array().get(nodes) || root["indexes"].get_array().get(indexes)) {
    return std::nullopt;
  }
  for (simdjson::dom::element node : nodes) {
    bool healthy = false;
    if (node["healthy"].get_bool().get(healthy)) healthy = false;
    view.nodes.push_back({StringField(node, "id"), StringField(node, "url"), healthy});
  }
  for (simdjson::dom::element index : indexes) {
    ClusterView::Index entry{StringField(index, "name"),
                             StringField(index, "writer"),
                             NumberField(index, "sequence"),
                             {}};
    simdjson::dom::array replicas;
    if (!index["replicas"].get_array().get(replicas)) {
      for (simdjson::dom::element replica : replicas) {
        entry.replicas.push_back(
            {StringField(replica, "node"), NumberField(replica, "applied_sequence")});
      }
    }
    view.indexes.push_back(std::move(entry));
  }
  return view;
}

// The "sequence" of an add or delete answer.
std::optional<uint64_t> SequenceOf(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  uint64_t sequence = 0;
  if (parser.parse(body).get(root) || root["sequence"].get_uint64().get(sequence)) {
    return std::nullopt;
  }
  return sequence;
}

// The ids of a search answer, nearest first.
std::vector<std::string> ResultIds(const std::string& body) {
  std::vector<std::string> ids;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array results;
  if (parser.parse(body).get(root) || root["results"].get_array().get(results)) return ids;
  for (simdjson::dom::element hit : results) ids.push_back(StringField(hit, "id"));
  return ids;
}

// A vector that depends only on the id, so any node can check a search by
// asking for an item's own vector.
std::string VectorOf(const std::string& id, int dimension) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : id) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  std::string out = "[";
  for (int d = 0; d < dimension; ++d) {
    h = h * 6364136223846793005ull + 1442695040888963407ull;
    out += (d > 0 ? "," : "") + std::to_string(static_cast<int>((h >> 33) % 2001) - 1000);
  }
  return out + "]";
}

// {"items":[...]} with `count` ids `prefix`0, `prefix`1, ...: a batch whose
// ids share the prefix, so a reader can tell whether it was applied whole.
std::string BatchBody(const std::string& prefix, int count, int dimension) {
  std::string body = R"({"items":[)";
  for (int i = 0; i < count; ++i) {
    const std::string id = prefix + std::to_string(i);
    body += (i > 0 ? "," : "") + std::string(R"({"id":")") + id + R"(","vector":)" +
            VectorOf(id, dimension) + "}";
  }
  return body + "]}";
}

// The batch prefix of an id made by BatchBody: everything up to its last '-'.
std::string PrefixOf(const std::string& id) { return id.substr(0, id.rfind('-') + 1); }

std::string CreateBody(const std::string& name, int dimension,
                       const std::string& vectors = "memory") {
  return R"({"name":")" + name + R"(","dimension":)" + std::to_string(dimension) +
         R"(,"distance":"euclidean","vectors":")" + vectors + R"("})";
}

// Every id of index `name` on the node at `port`, scrolled with `query`
// ("&consistency=strong", ...); nullopt, with the failed answer in `error`,
// when a page fails.
std::optional<std::set<std::string>> ScrollIds(uint16_t port, const std::string& name,
                                               const std::string& query,
                                               std::string* error = nullptr) {
  TestClient client(port);
  std::set<std::string> ids;
  std::string cursor;
  while (true) {
    std::string target = "/vectors/index/" + name + "/items?limit=10000" + query;
    if (!cursor.empty()) target += "&cursor=" + UriEncode(cursor);
    const HttpResult page = client.Request("GET", target);
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    simdjson::dom::array items;
    if (page.status != 200 || parser.parse(page.body).get(root) ||
        root["items"].get_array().get(items)) {
      if (error) *error = std::to_string(page.status) + " " + page.body;
      return std::nullopt;
    }
    for (simdjson::dom::element item : items) ids.insert(StringField(item, "id"));
    cursor = StringField(root, "next_cursor");
    if (cursor.empty()) return ids;
  }
}

// Where each acknowledged or attempted batch stands on one node's copy:
// acknowledged batches missing an id, and batches applied in part.
struct BatchCheck {
  std::vector<std::string> missing;  // "<id> (acknowledged)"
  std::vector<std::string> partial;  // "<prefix>: k of n"
};

BatchCheck CheckBatches(const std::set<std::string>& ids,
                        const std::vector<std::string>& acknowledged_prefixes,
                        const std::vector<std::string>& attempted_prefixes, int batch_size) {
  std::map<std::string, int> present;
  for (const std::string& id : ids) ++present[PrefixOf(id)];
  BatchCheck check;
  for (const std::string& prefix : acknowledged_prefixes) {
    for (int i = 0; i < batch_size; ++i) {
      if (!ids.contains(prefix + std::to_string(i))) {
        check.missing.push_back(prefix + std::to_string(i));
      }
    }
  }
  for (const std::string& prefix : attempted_prefixes) {
    const auto it = present.find(prefix);
    const int count = it == present.end() ? 0 : it->second;
    if (count != 0 && count != batch_size) {
      check.partial.push_back(prefix + ": " + std::to_string(count) + " of " +
                              std::to_string(batch_size));
    }
  }
  return check;
}

// The first few entries of a list, for a failure message.
std::string FirstFew(const std::vector<std::string>& list, size_t few = 20) {
  std::string out;
  for (size_t i = 0; i < list.size() && i < few; ++i) out += (i > 0 ? ", " : "") + list[i];
  if (list.size() > few) out += ", ... (" + std::to_string(list.size()) + " in all)";
  return out;
}

// A write is acknowledged when it is answered 2xx; anything else (an error,
// a cut connection) leaves its outcome open.
bool Acknowledged(int status) { return status / 100 == 2; }

// Every write batch a test sent, answered or not, under a mutex because the
// client threads fill it while the test body reads it.
struct WriteLedger {
  struct Batch {
    std::string prefix;
    Clock::time_point sent, answered;
    int status = 0;
  };

  void Record(Batch batch) {
    std::lock_guard lock(mutex);
    batches.push_back(std::move(batch));
  }
  // When the first batch sent at or after `since` was acknowledged; nullopt
  // while none has been.
  std::optional<Clock::time_point> FirstAcknowledgedAfter(Clock::time_point since) {
    std::lock_guard lock(mutex);
    std::optional<Clock::time_point> first;
    for (const Batch& batch : batches) {
      if (Acknowledged(batch.status) && batch.sent >= since &&
          (!first || batch.answered < *first)) {
        first = batch.answered;
      }
    }
    return first;
  }
  std::vector<std::string> Prefixes(bool acknowledged_only) {
    std::lock_guard lock(mutex);
    std::vector<std::string> out;
    for (const Batch& batch : batches) {
      if (!acknowledged_only || Acknowledged(batch.status)) out.push_back(batch.prefix);
    }
    return out;
  }
  std::map<int, int> StatusCounts() {
    std::lock_guard lock(mutex);
    std::map<int, int> counts;
    for (const Batch& batch : batches) ++counts[batch.status];
    return counts;
  }

  std::mutex mutex;
  std::vector<Batch> batches;
};

// Sends one batch to `client` and records it in `ledger`.
HttpResult SendBatch(TestClient& client, WriteLedger& ledger, const std::string& index,
                     const std::string& prefix, int count, int dimension) {
  const Clock::time_point sent = Clock::now();
  HttpResult r = client.Request("POST", "/vectors/index/" + index + "/add",
                                BatchBody(prefix, count, dimension));
  ledger.Record({prefix, sent, Clock::now(), r.status});
  return r;
}

std::string Describe(const std::map<int, int>& counts) {
  std::string out;
  for (const auto& [status, count] : counts) {
    out += (out.empty() ? "" : " ") + std::to_string(status) + ":" + std::to_string(count);
  }
  return out;
}

// One vectord process of the cluster.
struct Node {
  std::string id;
  uint16_t port = 0;
  std::unique_ptr<TempDir> disk;
  std::unique_ptr<ServerProcess> process;  // null while it is down

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

class Cluster : public ::testing::Test {
 protected:
  void SetUp() override {
    bucket_ = S3Server::Start();
    ASSERT_NE(bucket_, nullptr) << "s3rver is needed (scripts/install-deps.sh)";
    etcd_ = EtcdServer::Start();
    ASSERT_NE(etcd_, nullptr) << "etcd is needed (scripts/install-deps.sh)";
  }

  // A failed test shows how each node saw it end.
  void TearDown() override {
    if (!HasFailure()) return;
    for (const auto& node : nodes_) {
      if (!node->process) continue;
      std::string log = node->process->Log();
      if (log.size() > 6000) log = "...\n" + log.substr(log.size() - 6000);
      std::fprintf(stderr, "---- %s (port %u) log tail ----\n%s\n", node->id.c_str(), node->port,
                   log.c_str());
    }
  }

  static std::map<std::string, std::string> Credentials() {
    return {{"AWS_ACCESS_KEY_ID", S3Server::kAccessKey},
            {"AWS_SECRET_ACCESS_KEY", S3Server::kSecretKey}};
  }

  // Starts `node` on its port and disk; waits until it is ready (joined and
  // caught up). nullptr, with its log printed, if it never is.
  std::unique_ptr<ServerProcess> Launch(const Node& node) {
    std::vector<std::string> args = {"--bind",
                                     "127.0.0.1:" + std::to_string(node.port),
                                     "--data-dir",
                                     node.disk->path(),
                                     "--storaged-url",
                                     bucket_->url(),
                                     "--etcd-endpoints",
                                     etcd_->endpoint(),
                                     "--node-id",
                                     node.id,
                                     "--advertise-url",
                                     node.url(),
                                     "--lease-ttl-ms",
                                     std::to_string(kLeaseTtlMs),
                                     "--checkpoint-bytes",
                                     std::to_string(snapshot_bytes_)};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    return ServerProcess::Start(std::move(args), Credentials());
  }

  // A new node "n<k>" on a new empty disk, started; its process is null if
  // it did not come up.
  Node& AddNode() {
    auto node = std::make_unique<Node>();
    node->id = "n" + std::to_string(nodes_.size() + 1);
    node->port = FreeLoopbackPort();
    node->disk = std::make_unique<TempDir>();
    node->process = Launch(*node);
    nodes_.push_back(std::move(node));
    return *nodes_.back();
  }

  // Starts `count` nodes, one after the other (each joins a running cluster).
  void StartNodes(int count) {
    for (int i = 0; i < count; ++i) {
      ASSERT_NE(AddNode().process, nullptr) << "node n" << nodes_.size() << " did not start";
    }
  }

  // Starts a node that was killed again, at the same address, on its disk or
  // on a new empty one.
  void Restart(Node& node, bool empty_disk) {
    if (node.process) node.process->Kill();
    node.process.reset();
    if (empty_disk) node.disk = std::make_unique<TempDir>();
    node.process = Launch(node);
    ASSERT_NE(node.process, nullptr) << node.id << " did not come back";
  }

  Node* Find(const std::string& id) {
    for (const auto& node : nodes_) {
      if (node->id == id) return node.get();
    }
    return nullptr;
  }

  // The nodes whose process is up.
  std::vector<Node*> Running() {
    std::vector<Node*> out;
    for (const auto& node : nodes_) {
      if (node->process) out.push_back(node.get());
    }
    return out;
  }

  static std::optional<ClusterView> GetCluster(const Node& node) {
    TestClient client(node.port);
    const HttpResult r = client.Request("GET", "/cluster");
    if (r.status != 200) return std::nullopt;
    return ParseCluster(r.body);
  }

  // The writer of `index` as the nodes in `ask` see it, once one of them
  // names a writer among `ask` and that node agrees it is the writer: a view
  // from just after an election may still name the node that lost it. Empty
  // after `timeout`. `ask` must not hold a paused node (it would not answer).
  std::string WriterOf(const std::string& index, const std::vector<Node*>& ask,
                       std::chrono::milliseconds timeout = 30s) {
    std::string writer;
    Eventually(
        [&] {
          for (Node* node : ask) {
            const auto view = GetCluster(*node);
            if (!view) continue;
            const ClusterView::Index* entry = view->FindIndex(index);
            const std::string named =
                entry && !entry->writer.empty() ? entry->writer : view->leader;
            const auto it =
                std::find_if(ask.begin(), ask.end(), [&](const Node* n) { return n->id == named; });
            if (it == ask.end()) continue;
            const auto own = GetCluster(**it);
            const ClusterView::Index* own_entry = own ? own->FindIndex(index) : nullptr;
            if (own && (own_entry ? own_entry->writer : own->leader) == named) {
              writer = named;
              return true;
            }
          }
          return false;
        },
        timeout, 100ms);
    return writer;
  }

  // Strong scrolls of `index` on every node in `on`, once they all answer
  // and agree; the first node's ids (empty, with a failure, if they never
  // agree within `timeout`).
  std::set<std::string> AgreedIds(const std::string& index, const std::vector<Node*>& on,
                                  std::chrono::milliseconds timeout = 30s) {
    std::vector<std::optional<std::set<std::string>>> copies;
    std::string error;
    const bool agreed = Eventually(
        [&] {
          copies.clear();
          for (Node* node : on) {
            copies.push_back(ScrollIds(node->port, index, "&consistency=strong", &error));
            if (!copies.back()) return false;
          }
          for (const auto& copy : copies) {
            if (*copy != *copies[0]) return false;
          }
          return true;
        },
        timeout, 250ms);
    if (!agreed) {
      std::string sizes;
      for (size_t i = 0; i < copies.size(); ++i) {
        sizes += " " + on[i]->id + "=" +
                 (copies[i] ? std::to_string(copies[i]->size()) : "failed (" + error + ")");
      }
      ADD_FAILURE() << "the nodes' strong scrolls of " << index << " never agreed:" << sizes;
      return {};
    }
    return *copies[0];
  }

  std::unique_ptr<S3Server> bucket_;
  std::unique_ptr<EtcdServer> etcd_;
  std::vector<std::unique_ptr<Node>> nodes_;  // stopped before etcd and the bucket
  // checkpoint_bytes: how many bytes of commits the writer lets pass before
  // it uploads a snapshot of an index.
  uint64_t snapshot_bytes_ = uint64_t{64} << 20;
  // More arguments for every node (e.g. an auth token).
  std::vector<std::string> extra_args_;
};

// SIGCONT for a process this test paused, on every way out of the test, so
// that a thread blocked on it can be joined.
class ResumeOnExit {
 public:
  explicit ResumeOnExit(pid_t pid) : pid_(pid) {}
  ~ResumeOnExit() { Resume(); }
  void Resume() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

TEST_F(Cluster, ThreeNodesServeOneIndexFromAnyNode) {
  ASSERT_NO_FATAL_FAILURE(StartNodes(3));
  Node& n1 = *nodes_[0];
  Node& n2 = *nodes_[1];
  Node& n3 = *nodes_[2];
  TestClient c1(n1.port), c2(n2.port), c3(n3.port);

  HttpResult created = c1.Request("POST", "/vectors/index", CreateBody("docs", 4));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(c2.Request("POST", "/vectors/index", CreateBody("docs", 4)).status, 409)
      << "a second create of the name, through another node";

  HttpResult added = c2.Request("POST", "/vectors/index/docs/add", BatchBody("a-", 4, 4));
  ASSERT_EQ(added.status, 200) << added.body;
  const std::optional<uint64_t> sequence = SequenceOf(added.body);
  ASSERT_TRUE(sequence.has_value()) << added.body;
  EXPECT_GE(*sequence, 1u);

  // A strong read on a third node sees the write acknowledged by the second.
  HttpResult search = c3.Request("POST", "/vectors/index/docs/search?consistency=strong",
                                 R"({"vector":)" + VectorOf("a-2", 4) + R"(,"k":4})");
  ASSERT_EQ(search.status, 200) << search.body;
  const std::vector<std::string> hits = ResultIds(search.body);
  ASSERT_FALSE(hits.empty()) << search.body;
  EXPECT_EQ(hits[0], "a-2") << search.body;
  EXPECT_EQ(hits.size(), 4u) << search.body;
  HttpResult item = c3.Request("GET", "/vectors/index/docs/items/a-1?consistency=strong");
  ASSERT_EQ(item.status, 200) << item.body;
  EXPECT_NE(item.body.find(R"("vector":)" + VectorOf("a-1", 4)), std::string::npos) << item.body;
  HttpResult info = c3.Request("GET", "/vectors/index/docs?consistency=strong");
  ASSERT_EQ(info.status, 200) << info.body;
  EXPECT_NE(info.body.find(R"("length":4)"), std::string::npos) << info.body;
  HttpResult batch = c3.Request("POST", "/vectors/index/docs/search/batch?consistency=strong",
                                R"({"searches":[{"vector":)" + VectorOf("a-0", 4) +
                                    R"(,"k":1},{"vector":)" + VectorOf("a-3", 4) + R"(,"k":1}]})");
  ASSERT_EQ(batch.status, 200) << batch.body;
  EXPECT_NE(batch.body.find(R"("a-0")"), std::string::npos) << batch.body;
  EXPECT_NE(batch.body.find(R"("a-3")"), std::string::npos) << batch.body;
  EXPECT_EQ(ScrollIds(n3.port, "docs", "&consistency=strong"),
            (std::set<std::string>{"a-0", "a-1", "a-2", "a-3"}));

  // Read-your-writes with the sequence the write returned.
  const std::string at = "?min_sequence=" + std::to_string(*sequence);
  EXPECT_EQ(c3.Request("GET", "/vectors/index/docs/items/a-3" + at).status, 200);
  EXPECT_EQ(c1.Request("POST", "/vectors/index/docs/search" + at,
                       R"({"vector":)" + VectorOf("a-0", 4) + R"(,"k":1})")
                .status,
            200);
  // A sequence nobody will reach answers 504 after the bound (about 5 s).
  const auto asked = Clock::now();
  HttpResult never = c3.Request(
      "GET", "/vectors/index/docs/items/a-0?min_sequence=" + std::to_string(*sequence + 1000));
  EXPECT_EQ(never.status, 504) << never.body;
  EXPECT_LT(MillisBetween(asked, Clock::now()), 15000);

  // Deletes, both forms, through nodes other than the one that added.
  HttpResult deleted = c1.Request("POST", "/vectors/index/docs/delete", R"({"ids":["a-3"]})");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  const std::optional<uint64_t> delete_sequence = SequenceOf(deleted.body);
  ASSERT_TRUE(delete_sequence.has_value()) << deleted.body;
  EXPECT_GT(*delete_sequence, *sequence);
  EXPECT_EQ(c2.Request("GET", "/vectors/index/docs/items/a-3?min_sequence=" +
                                  std::to_string(*delete_sequence))
                .status,
            404);
  EXPECT_EQ(c3.Request("DELETE", "/vectors/index/docs/items/a-2").status, 204);
  EXPECT_EQ(c1.Request("GET", "/vectors/index/docs/items/a-2?consistency=strong").status, 404);

  // GET /cluster: three healthy nodes at their addresses, one writer, and
  // the index at its committed sequence, which every replica reaches.
  std::optional<ClusterView> view;
  ASSERT_TRUE(Eventually(
      [&] {
        view = GetCluster(n2);
        const ClusterView::Index* index = view ? view->FindIndex("docs") : nullptr;
        if (!index || index->sequence < *delete_sequence) return false;
        for (const Node* node : {&n1, &n2, &n3}) {
          const auto replica =
              std::find_if(index->replicas.begin(), index->replicas.end(),
                           [&](const ClusterView::Replica& r) { return r.node == node->id; });
          if (replica == index->replicas.end() || replica->applied_sequence != index->sequence) {
            return false;
          }
        }
        return true;
      },
      10s, 200ms))
      << "GET /cluster never showed every replica at the committed sequence: "
      << TestClient(n2.port).Request("GET", "/cluster").body;
  ASSERT_EQ(view->nodes.size(), 3u);
  for (const Node* node : {&n1, &n2, &n3}) {
    const ClusterView::Node* listed = view->FindNode(node->id);
    ASSERT_NE(listed, nullptr) << node->id;
    EXPECT_TRUE(listed->healthy) << node->id;
    EXPECT_EQ(listed->url, node->url());
  }
  EXPECT_NE(Find(view->leader), nullptr) << "leader: '" << view->leader << "'";
  EXPECT_GT(view->term, 0u);
  ASSERT_EQ(view->indexes.size(), 1u);
  // /metrics: every replica caught up (no lag), and the writer's term on the
  // writer alone.
  for (const Node* node : {&n1, &n2, &n3}) {
    const std::string metrics = TestClient(node->port).Request("GET", "/metrics").body;
    EXPECT_NE(metrics.find("vectord_cluster_replica_lag_records{index=\"docs\"} 0"),
              std::string::npos)
        << node->id;
    const bool writes = node->id == view->leader;
    EXPECT_EQ(metrics.find("vectord_cluster_writer_term 0\n") == std::string::npos, writes)
        << node->id;
  }
  EXPECT_EQ(view->indexes[0].writer, view->leader) << "one writer for every index";
  for (Node* node : {&n1, &n3}) {
    EXPECT_TRUE(Eventually(
        [&] {
          const auto other = GetCluster(*node);
          return other && other->leader == view->leader;
        },
        5s))
        << node->id << " names another leader than " << view->leader;
  }

  // A drop through the third node: gone for strong reads at once, and from
  // every node's own copy within a bound.
  ASSERT_EQ(c3.Request("DELETE", "/vectors/index/docs").status, 204);
  EXPECT_EQ(c1.Request("GET", "/vectors/index/docs?consistency=strong").status, 404);
  EXPECT_EQ(c2.Request("GET", "/vectors/index/docs/items/a-0?consistency=strong").status, 404);
  for (Node* node : {&n1, &n2, &n3}) {
    EXPECT_TRUE(Eventually(
        [&] { return TestClient(node->port).Request("GET", "/vectors/index/docs").status == 404; },
        10s))
        << node->id << " still serves the dropped index";
  }
  EXPECT_TRUE(Eventually(
      [&] {
        const auto after = GetCluster(n1);
        return after && after->FindIndex("docs") == nullptr;
      },
      10s));
}

// One client thread per node writes batches of unique ids all along while,
// each round, the writer is killed with SIGKILL and restarted (on an
// empty disk every other round). Rounds: 2, or $VECTORD_TEST_FAILOVER_ROUNDS
// (bench/run-cluster-failover.sh runs many and summarises the
// "failover_ms" lines: from the kill to the first acknowledgement of a write
// sent after it).
TEST_F(Cluster, FailoverLosesNoAcknowledgedWrite) {
  int rounds = 2;
  if (const char* env = std::getenv("VECTORD_TEST_FAILOVER_ROUNDS")) rounds = std::atoi(env);
  constexpr int kBatch = 8, kDimension = 8;
  ASSERT_NO_FATAL_FAILURE(StartNodes(3));
  ASSERT_EQ(TestClient(nodes_[0]->port)
                .Request("POST", "/vectors/index", CreateBody("docs", kDimension))
                .status,
            201);

  WriteLedger ledger;
  std::vector<std::jthread> clients;
  for (const auto& node : nodes_) {
    clients.emplace_back([&ledger, id = node->id, port = node->port](std::stop_token stop) {
      TestClient client(port);
      for (int b = 0; !stop.stop_requested(); ++b) {
        const HttpResult r = SendBatch(client, ledger, "docs", id + "-b" + std::to_string(b) + "-",
                                       kBatch, kDimension);
        // A refused or failed write is retried soon, as a client would; a
        // short pause keeps the data set (and the final check) small.
        std::this_thread::sleep_for(Acknowledged(r.status) ? 5ms : 20ms);
      }
    });
  }

  std::vector<long long> failover_ms;
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::this_thread::sleep_for(1s);  // writes flow through the writer before it dies
    const std::string writer = WriterOf("docs", Running());
    ASSERT_FALSE(writer.empty()) << "no writer: "
                                 << TestClient(nodes_[0]->port).Request("GET", "/cluster").body;
    Node& victim = *Find(writer);
    const Clock::time_point killed = Clock::now();
    victim.process->Kill();
    victim.process.reset();
    std::optional<Clock::time_point> resumed;
    Eventually([&] { return (resumed = ledger.FirstAcknowledgedAfter(killed)).has_value(); }, 60s,
               10ms);
    ASSERT_TRUE(resumed.has_value()) << "no write acknowledged within 60 s of killing " << writer
                                     << "; answers so far: " << Describe(ledger.StatusCounts());
    failover_ms.push_back(MillisBetween(killed, *resumed));
    std::printf("failover_ms round=%d writer=%s ms=%lld\n", round, writer.c_str(),
                failover_ms.back());
    std::fflush(stdout);
    ASSERT_NO_FATAL_FAILURE(Restart(victim, /*empty_disk=*/round % 2 == 1));
  }
  std::this_thread::sleep_for(1s);
  for (auto& client : clients) client.request_stop();
  clients.clear();  // joins

  const std::vector<std::string> acknowledged = ledger.Prefixes(/*acknowledged_only=*/true);
  const std::vector<std::string> attempted = ledger.Prefixes(/*acknowledged_only=*/false);
  std::printf("failover_ms summary rounds=%d batches=%zu acknowledged=%zu answers=%s\n", rounds,
              attempted.size(), acknowledged.size(), Describe(ledger.StatusCounts()).c_str());
  std::fflush(stdout);
  ASSERT_FALSE(acknowledged.empty());

  std::optional<std::set<std::string>> first;
  for (const auto& node : nodes_) {
    SCOPED_TRACE(node->id);
    std::string error;
    const auto ids = ScrollIds(node->port, "docs", "&consistency=strong", &error);
    ASSERT_TRUE(ids.has_value()) << error;
    const BatchCheck check = CheckBatches(*ids, acknowledged, attempted, kBatch);
    EXPECT_TRUE(check.missing.empty())
        << check.missing.size() << " acknowledged ids missing: " << FirstFew(check.missing);
    EXPECT_TRUE(check.partial.empty()) << "batches applied in part: " << FirstFew(check.partial);
    if (!first) {
      first = *ids;
    } else {
      EXPECT_EQ(ids->size(), first->size()) << "the nodes' copies differ";
      EXPECT_TRUE(*ids == *first) << "the nodes' copies differ";
    }
  }
}

// The writer is paused (SIGSTOP) for 2.5 leases while a write waits on it and
// the other nodes elect a new writer and take writes; then it resumes. What
// it answers then must hold everywhere, and all nodes converge.
TEST_F(Cluster, PausedWriterGetsNothingAcknowledged) {
  constexpr int kBatch = 8, kDimension = 4;
  ASSERT_NO_FATAL_FAILURE(StartNodes(3));
  TestClient first(nodes_[0]->port);
  ASSERT_EQ(first.Request("POST", "/vectors/index", CreateBody("docs", kDimension)).status, 201);
  WriteLedger ledger;
  ASSERT_EQ(SendBatch(first, ledger, "docs", "before-", kBatch, kDimension).status, 200);

  const std::string writer = WriterOf("docs", Running());
  ASSERT_FALSE(writer.empty());
  Node& paused = *Find(writer);
  std::vector<Node*> others;
  for (Node* node : Running()) {
    if (node != &paused) others.push_back(node);
  }

  HttpResult blocked_answer;
  std::jthread blocked;
  ASSERT_EQ(::kill(paused.process->pid(), SIGSTOP), 0);
  const Clock::time_point stopped = Clock::now();
  ResumeOnExit resume(paused.process->pid());  // destroyed before `blocked` is joined
  blocked = std::jthread([&] {
    TestClient client(paused.port);
    blocked_answer = SendBatch(client, ledger, "docs", "paused-", kBatch, kDimension);
  });

  // The others elect a new writer and take writes while it is paused.
  const auto pause = std::chrono::milliseconds(kLeaseTtlMs * 5 / 2);
  bool written = false;
  std::vector<std::unique_ptr<TestClient>> clients;
  for (Node* node : others) clients.push_back(std::make_unique<TestClient>(node->port));
  for (int k = 0; Clock::now() - stopped < 30s; ++k) {
    if (written && Clock::now() - stopped >= pause) break;
    const HttpResult r = SendBatch(*clients[k % clients.size()], ledger, "docs",
                                   "during-" + std::to_string(k) + "-", kBatch, kDimension);
    written = written || Acknowledged(r.status);
    if (!Acknowledged(r.status)) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(written) << "no write taken within 30 s of pausing the writer " << writer
                       << "; answers: " << Describe(ledger.StatusCounts());
  const std::string successor = WriterOf("docs", others, 10s);
  EXPECT_FALSE(successor.empty());
  EXPECT_NE(successor, writer);

  // Resumed, the old writer answers the write that waited, and at once
  // takes a burst of writes it may still believe it is the writer for.
  resume.Resume();
  blocked.join();
  std::printf("paused writer answered the write sent while paused: %d %s\n", blocked_answer.status,
              blocked_answer.body.c_str());
  TestClient resumed(paused.port);
  for (int k = 0; k < 20; ++k) {
    SendBatch(resumed, ledger, "docs", "resumed-" + std::to_string(k) + "-", kBatch, kDimension);
  }
  // And it goes on serving as a member: its writes are forwarded.
  int attempt = 0;
  EXPECT_TRUE(Eventually(
      [&] {
        const std::string prefix = "rejoined-" + std::to_string(attempt++) + "-";
        return Acknowledged(SendBatch(resumed, ledger, "docs", prefix, kBatch, kDimension).status);
      },
      30s, 200ms))
      << "the resumed node never took a write again";

  const std::set<std::string> ids = AgreedIds("docs", Running());
  ASSERT_FALSE(ids.empty());
  const std::vector<std::string> acknowledged = ledger.Prefixes(true);
  const BatchCheck check = CheckBatches(ids, acknowledged, ledger.Prefixes(false), kBatch);
  EXPECT_TRUE(check.missing.empty())
      << check.missing.size() << " acknowledged ids missing: " << FirstFew(check.missing);
  EXPECT_TRUE(check.partial.empty()) << "batches applied in part: " << FirstFew(check.partial);
  if (Acknowledged(blocked_answer.status)) {
    EXPECT_TRUE(ids.contains("paused-0")) << "the paused writer acknowledged a lost write";
  }
  std::printf("paused writer: answers %s\n", Describe(ledger.StatusCounts()).c_str());
}

// With etcd gone, writes fail fast with a 503 that names etcd, through any
// node, and nothing of them is applied; every node goes on serving its own
// copy to eventual reads, while strong reads (which need the committed
// sequence) fail. Writes come back with etcd.
TEST_F(Cluster, EtcdDownFailsWritesFastAndKeepsEventualReads) {
  constexpr int kBatch = 4, kDimension = 4;
  ASSERT_NO_FATAL_FAILURE(StartNodes(3));
  TestClient first(nodes_[0]->port);
  ASSERT_EQ(first.Request("POST", "/vectors/index", CreateBody("docs", kDimension)).status, 201);
  WriteLedger ledger;
  TestClient second(nodes_[1]->port);
  const HttpResult added = SendBatch(second, ledger, "docs", "before-", kBatch, kDimension);
  ASSERT_EQ(added.status, 200) << added.body;
  const std::optional<uint64_t> sequence = SequenceOf(added.body);
  ASSERT_TRUE(sequence.has_value()) << added.body;
  for (const auto& node : nodes_) {
    ASSERT_EQ(TestClient(node->port)
                  .Request("GET", "/vectors/index/docs/items/before-0?min_sequence=" +
                                      std::to_string(*sequence))
                  .status,
              200)
        << node->id << " did not apply the write";
  }

  etcd_->Stop();
  for (const auto& node : nodes_) {
    SCOPED_TRACE(node->id);
    TestClient client(node->port);
    // The interface promises about 3 s; the bound leaves room for a slow host.
    constexpr long long kFastMs = 4000;
    Clock::time_point asked = Clock::now();
    const HttpResult write =
        SendBatch(client, ledger, "docs", "during-" + node->id + "-", kBatch, kDimension);
    EXPECT_EQ(write.status, 503) << write.body;
    EXPECT_NE(write.body.find("etcd"), std::string::npos) << write.body;
    EXPECT_LT(MillisBetween(asked, Clock::now()), kFastMs);
    asked = Clock::now();
    const HttpResult create = client.Request("POST", "/vectors/index", CreateBody("other", 2));
    EXPECT_EQ(create.status, 503) << create.body;
    EXPECT_NE(create.body.find("etcd"), std::string::npos) << create.body;
    EXPECT_LT(MillisBetween(asked, Clock::now()), kFastMs);
    asked = Clock::now();
    EXPECT_EQ(client.Request("DELETE", "/vectors/index/docs/items/before-1").status, 503);
    EXPECT_LT(MillisBetween(asked, Clock::now()), kFastMs);

    for (const char* consistency : {"", "?consistency=eventual"}) {
      EXPECT_EQ(
          client.Request("GET", std::string("/vectors/index/docs/items/before-1") + consistency)
              .status,
          200)
          << consistency;
      const HttpResult search =
          client.Request("POST", std::string("/vectors/index/docs/search") + consistency,
                         R"({"vector":)" + VectorOf("before-2", kDimension) + R"(,"k":1})");
      EXPECT_EQ(search.status, 200) << search.body;
      EXPECT_EQ(ResultIds(search.body), std::vector<std::string>{"before-2"}) << search.body;
    }
    EXPECT_EQ(client.Request("GET", "/vectors/index/docs/items/during-" + node->id + "-0").status,
              404)
        << "a refused write is visible";
    EXPECT_EQ(client.Request("GET", "/vectors/index/docs/items/before-1?consistency=strong").status,
              503);
    EXPECT_EQ(client
                  .Request("POST", "/vectors/index/docs/search?consistency=strong",
                           R"({"vector":)" + VectorOf("before-2", kDimension) + R"(,"k":1})")
                  .status,
              503);
  }

  ASSERT_TRUE(etcd_->Restart());
  TestClient third(nodes_[2]->port);
  int status = 0;
  EXPECT_TRUE(Eventually(
      [&] {
        status =
            third
                .Request("POST", "/vectors/index/docs/add", BatchBody("after-", kBatch, kDimension))
                .status;
        return status == 200;
      },
      30s, 200ms))
      << "writes never came back with etcd; last answer " << status;
  for (const auto& node : nodes_) {
    SCOPED_TRACE(node->id);
    TestClient client(node->port);
    // A node's own etcd connection may take a moment longer to come back.
    EXPECT_TRUE(Eventually(
        [&] {
          return client.Request("GET", "/vectors/index/docs/items/after-0?consistency=strong")
                     .status == 200;
        },
        10s, 200ms));
    EXPECT_EQ(client.Request("GET", "/vectors/index/docs/items/before-1?consistency=strong").status,
              200);
    for (const auto& writer : nodes_) {
      EXPECT_EQ(client
                    .Request("GET", "/vectors/index/docs/items/during-" + writer->id +
                                        "-0?consistency=strong")
                    .status,
                404)
          << "a write refused while etcd was down came back";
    }
    EXPECT_EQ(client.Request("GET", "/vectors/index/other?consistency=strong").status, 404);
  }
}

// A fourth node on an empty disk, started into a cluster with data, hydrates
// from the bucket, is ready only once caught up, is listed by the others,
// and serves and forwards like the rest.
TEST_F(Cluster, ANewNodeOnAnEmptyDiskJoinsAndServes) {
  constexpr int kBatch = 10;
  ASSERT_NO_FATAL_FAILURE(StartNodes(3));
  WriteLedger ledger;
  {
    TestClient c1(nodes_[0]->port), c2(nodes_[1]->port), c3(nodes_[2]->port);
    ASSERT_EQ(c1.Request("POST", "/vectors/index", CreateBody("docs", 4)).status, 201);
    ASSERT_EQ(c2.Request("POST", "/vectors/index", CreateBody("notes", 3)).status, 201);
    TestClient* by[] = {&c1, &c2, &c3};
    for (int b = 0; b < 6; ++b) {
      ASSERT_EQ(
          SendBatch(*by[b % 3], ledger, "docs", "d" + std::to_string(b) + "-", kBatch, 4).status,
          200);
      ASSERT_EQ(
          SendBatch(*by[(b + 1) % 3], ledger, "notes", "n" + std::to_string(b) + "-", kBatch, 3)
              .status,
          200);
    }
    ASSERT_EQ(c3.Request("POST", "/vectors/index/docs/delete", R"({"ids":["d0-0","d0-1"]})").status,
              200);
    ASSERT_EQ(c1.Request("DELETE", "/vectors/index/notes/items/n5-9").status, 204);
  }
  std::set<std::string> docs, notes;
  for (int b = 0; b < 6; ++b) {
    for (int i = 0; i < kBatch; ++i) {
      docs.insert("d" + std::to_string(b) + "-" + std::to_string(i));
      notes.insert("n" + std::to_string(b) + "-" + std::to_string(i));
    }
  }
  docs.erase("d0-0");
  docs.erase("d0-1");
  notes.erase("n5-9");

  Node& n4 = AddNode();
  ASSERT_NE(n4.process, nullptr) << "a node on an empty disk did not become ready";
  TestClient c4(n4.port);
  // Ready means caught up: its own copy already holds everything.
  EXPECT_EQ(ScrollIds(n4.port, "docs", ""), docs);
  EXPECT_EQ(ScrollIds(n4.port, "notes", ""), notes);
  EXPECT_EQ(ScrollIds(n4.port, "docs", "&consistency=strong"), docs);
  EXPECT_EQ(ScrollIds(n4.port, "notes", "&consistency=strong"), notes);
  HttpResult info = c4.Request("GET", "/vectors/index/docs?consistency=strong");
  EXPECT_NE(info.body.find(R"("length":58)"), std::string::npos) << info.body;
  EXPECT_NE(info.body.find(R"("dimension":4)"), std::string::npos) << info.body;
  HttpResult item = c4.Request("GET", "/vectors/index/notes/items/n3-7?consistency=strong");
  ASSERT_EQ(item.status, 200) << item.body;
  EXPECT_NE(item.body.find(R"("vector":)" + VectorOf("n3-7", 3)), std::string::npos) << item.body;
  EXPECT_EQ(c4.Request("GET", "/vectors/index/docs/items/d0-1?consistency=strong").status, 404);
  const HttpResult search = c4.Request("POST", "/vectors/index/docs/search?consistency=strong",
                                       R"({"vector":)" + VectorOf("d4-4", 4) + R"(,"k":1})");
  EXPECT_EQ(ResultIds(search.body), std::vector<std::string>{"d4-4"}) << search.body;

  // The others list it, and it writes (through the writer) like any node.
  EXPECT_TRUE(Eventually(
      [&] {
        const auto view = GetCluster(*nodes_[0]);
        const ClusterView::Node* listed = view ? view->FindNode("n4") : nullptr;
        return listed && listed->healthy && listed->url == n4.url() && view->nodes.size() == 4;
      },
      10s))
      << TestClient(nodes_[0]->port).Request("GET", "/cluster").body;
  const HttpResult added = SendBatch(c4, ledger, "docs", "from-n4-", kBatch, 4);
  ASSERT_EQ(added.status, 200) << added.body;
  const std::optional<uint64_t> sequence = SequenceOf(added.body);
  ASSERT_TRUE(sequence.has_value()) << added.body;
  EXPECT_EQ(TestClient(nodes_[0]->port)
                .Request("GET", "/vectors/index/docs/items/from-n4-3?min_sequence=" +
                                    std::to_string(*sequence))
                .status,
            200);
  EXPECT_TRUE(Eventually(
      [&] {
        const auto view = GetCluster(*nodes_[1]);
        const ClusterView::Index* index = view ? view->FindIndex("docs") : nullptr;
        if (!index || index->sequence < *sequence) return false;
        for (const ClusterView::Replica& replica : index->replicas) {
          if (replica.node == "n4") return replica.applied_sequence == index->sequence;
        }
        return false;
      },
      10s, 200ms))
      << "n4's replica never showed the committed sequence: "
      << TestClient(nodes_[1]->port).Request("GET", "/cluster").body;
}

// A name dropped and at once created again (with another dimension) through
// a node that is not the writer, while every node is read all along: no node
// serves an id of an older incarnation once it has served a newer one, no
// answer mixes two, and after a settle every node serves only the last.
TEST_F(Cluster, DropAndRecreateNeverServesTheOldIncarnation) {
  constexpr int kGenerations = 4, kBatch = 10;
  // Generation g's ids are "g<g>-<batch>-<i>", and its dimension alternates,
  // so a vector of the wrong length also gives a stale item away.
  const auto dimension_of = [](int generation) { return generation % 2 == 0 ? 4 : 6; };
  const auto generation_of = [](const std::string& id) { return std::atoi(id.c_str() + 1); };
  ASSERT_NO_FATAL_FAILURE(StartNodes(3));
  ASSERT_EQ(TestClient(nodes_[0]->port)
                .Request("POST", "/vectors/index", CreateBody("docs", dimension_of(0)))
                .status,
            201);
  WriteLedger ledger;
  {
    TestClient client(nodes_[1]->port);
    for (int b = 0; b < 5; ++b) {
      ASSERT_EQ(SendBatch(client, ledger, "docs", "g0-" + std::to_string(b) + "-", kBatch,
                          dimension_of(0))
                    .status,
                200);
    }
  }

  std::mutex mutex;
  std::vector<std::string> violations;  // guarded by mutex
  std::atomic<int> reads{0};
  std::vector<std::jthread> readers;
  for (const auto& node : nodes_) {
    readers.emplace_back([&, id = node->id, port = node->port](std::stop_token stop) {
      TestClient client(port);
      int newest = 0;
      while (!stop.stop_requested()) {
        const HttpResult page =
            client.Request("GET", "/vectors/index/docs/items?limit=10000&include_vector=true");
        simdjson::dom::parser parser;
        simdjson::dom::element root;
        simdjson::dom::array items;
        if (page.status != 200 || parser.parse(page.body).get(root) ||
            root["items"].get_array().get(items)) {
          continue;  // between the drop and the create the name is absent
        }
        ++reads;
        std::set<int> generations;
        for (simdjson::dom::element entry : items) {
          const std::string item = StringField(entry, "id");
          const int generation = generation_of(item);
          generations.insert(generation);
          simdjson::dom::array vector;
          if (!entry["vector"].get_array().get(vector) &&
              static_cast<int>(vector.size()) != dimension_of(generation)) {
            std::lock_guard lock(mutex);
            violations.push_back(id + " served " + item + " with " + std::to_string(vector.size()) +
                                 " dimensions");
          }
          if (generation < newest) {
            std::lock_guard lock(mutex);
            violations.push_back(id + " served " + item + " after generation " +
                                 std::to_string(newest));
          }
        }
        if (generations.size() > 1) {
          std::lock_guard lock(mutex);
          violations.push_back(id + " mixed generations " + std::to_string(*generations.begin()) +
                               " and " + std::to_string(*generations.rbegin()) + " in one answer");
        }
        if (!generations.empty()) newest = std::max(newest, *generations.rbegin());
        std::this_thread::sleep_for(5ms);
      }
    });
  }

  for (int g = 1; g < kGenerations; ++g) {
    SCOPED_TRACE("generation " + std::to_string(g));
    const std::string writer = WriterOf("docs", Running());
    ASSERT_FALSE(writer.empty());
    Node* via = nullptr;
    for (const auto& node : nodes_) {
      if (node->id != writer && (!via || g % 2 == 0)) via = node.get();  // alternate non-writers
    }
    TestClient client(via->port);
    ASSERT_EQ(client.Request("DELETE", "/vectors/index/docs").status, 204) << "via " << via->id;
    const HttpResult created =
        client.Request("POST", "/vectors/index", CreateBody("docs", dimension_of(g)));
    ASSERT_EQ(created.status, 201) << created.body;
    for (int b = 0; b < 2; ++b) {
      const HttpResult added =
          SendBatch(client, ledger, "docs", "g" + std::to_string(g) + "-" + std::to_string(b) + "-",
                    kBatch, dimension_of(g));
      ASSERT_EQ(added.status, 200) << added.body;
    }
    // Strong reads on every node see the new incarnation alone at once.
    for (const auto& node : nodes_) {
      TestClient reader(node->port);
      const std::string old_id = "g" + std::to_string(g - 1) + "-0-0";
      const std::string new_id = "g" + std::to_string(g) + "-1-9";
      EXPECT_EQ(reader.Request("GET", "/vectors/index/docs/items/" + old_id + "?consistency=strong")
                    .status,
                404)
          << node->id << " serves " << old_id;
      EXPECT_EQ(reader.Request("GET", "/vectors/index/docs/items/" + new_id + "?consistency=strong")
                    .status,
                200)
          << node->id << " lacks " << new_id;
    }
  }
  std::this_thread::sleep_for(1s);  // the readers see the settled state too
  for (auto& reader : readers) reader.request_stop();
  readers.clear();  // joins
  EXPECT_GT(reads.load(), 0);
  {
    std::lock_guard lock(mutex);
    EXPECT_TRUE(violations.empty()) << FirstFew(violations);
  }

  std::set<std::string> last;
  for (int b = 0; b < 2; ++b) {
    for (int i = 0; i < kBatch; ++i) {
      last.insert("g" + std::to_string(kGenerations - 1) + "-" + std::to_string(b) + "-" +
                  std::to_string(i));
    }
  }
  for (const auto& node : nodes_) {
    SCOPED_TRACE(node->id);
    EXPECT_EQ(ScrollIds(node->port, "docs", "&consistency=strong"), last);
    EXPECT_EQ(ScrollIds(node->port, "docs", ""), last) << "its own copy after the settle";
    const HttpResult info =
        TestClient(node->port).Request("GET", "/vectors/index/docs?consistency=strong");
    EXPECT_NE(info.body.find(R"("dimension":)" + std::to_string(dimension_of(kGenerations - 1))),
              std::string::npos)
        << info.body;
    EXPECT_NE(info.body.find(R"("length":)" + std::to_string(last.size())), std::string::npos)
        << info.body;
  }
}

}  // namespace
}  // namespace vectord::testing

namespace vectord::testing {
namespace {

// The writer snapshots an index once checkpoint_bytes of commits passed,
// names the snapshot in etcd and deletes the objects it covers; a node that
// starts on an empty disk loads the snapshot and replays only what came
// after it, and serves exactly what was acknowledged.
TEST_F(Cluster, SnapshotsBoundTheBucketsLogAndNewNodesStartFromThem) {
  constexpr int kBatch = 10, kBatches = 40, kDimension = 8;
  snapshot_bytes_ = 4096;  // a snapshot every few batches
  ASSERT_NO_FATAL_FAILURE(StartNodes(2));
  WriteLedger ledger;
  std::set<std::string> expected;
  {
    TestClient c1(nodes_[0]->port), c2(nodes_[1]->port);
    // Vectors on disk: every node, and the new one loading the snapshot,
    // keeps them in its own vector file.
    ASSERT_EQ(c1.Request("POST", "/vectors/index", CreateBody("docs", kDimension, "disk")).status,
              201);
    for (int b = 0; b < kBatches; ++b) {
      const std::string prefix = "b" + std::to_string(b) + "-";
      ASSERT_EQ(SendBatch(b % 2 ? c2 : c1, ledger, "docs", prefix, kBatch, kDimension).status, 200);
      for (int i = 0; i < kBatch; ++i) expected.insert(prefix + std::to_string(i));
      if (b % 7 == 3) {
        const std::string id = prefix + "0";
        ASSERT_EQ(c2.Request("DELETE", "/vectors/index/docs/items/" + id).status, 204);
        expected.erase(id);
      }
      // Spread over several passes of the writer's snapshot check.
      if (b % 10 == 9) std::this_thread::sleep_for(400ms);
    }
  }
  // The bucket holds one snapshot and fewer segment objects than commits.
  auto bucket = store::S3ObjectStore::Open(bucket_->Options());
  ASSERT_TRUE(bucket.ok()) << bucket.status().ToString();
  size_t snapshots = 0, segments = 0;
  ASSERT_TRUE(Eventually(
      [&] {
        auto keys = (*bucket)->List("_cluster/docs/");
        if (!keys.ok()) return false;
        snapshots = segments = 0;
        for (const std::string& key : *keys) {
          if (key.ends_with(".hnsw")) ++snapshots;
          if (key.ends_with(".log")) ++segments;
        }
        return snapshots == 1 && segments < kBatches / 2;
      },
      20s))
      << snapshots << " snapshots, " << segments << " segment objects";

  // A node on an empty disk starts from the snapshot.
  Node& n3 = AddNode();
  ASSERT_NE(n3.process, nullptr);
  EXPECT_EQ(ScrollIds(n3.port, "docs", ""), expected);
  EXPECT_NE(n3.process->Log().find("cluster_snapshot_loaded"), std::string::npos);
  // So does one restarted on an empty disk, and the old nodes agree.
  ASSERT_NO_FATAL_FAILURE(Restart(*nodes_[1], /*empty_disk=*/true));
  EXPECT_EQ(ScrollIds(nodes_[1]->port, "docs", "&consistency=strong"), expected);
  EXPECT_EQ(ScrollIds(nodes_[0]->port, "docs", "&consistency=strong"), expected);
  // Writes go on after the snapshots, and reach the new node.
  TestClient c3(n3.port);
  const HttpResult more = SendBatch(c3, ledger, "docs", "after-", kBatch, kDimension);
  ASSERT_EQ(more.status, 200) << more.body;
  for (int i = 0; i < kBatch; ++i) expected.insert("after-" + std::to_string(i));
  for (Node* node : Running()) {
    EXPECT_EQ(ScrollIds(node->port, "docs", "&consistency=strong"), expected) << node->id;
  }
}

}  // namespace
}  // namespace vectord::testing

namespace vectord::testing {
namespace {

// A node pointed at the wrong place does not join silently: with another
// key prefix on this cluster's bucket (another cluster's namespace in etcd)
// it finds the bucket claimed by another cluster id; with another bucket at
// this cluster's prefix it is refused by the membership. Either way /ready
// stays 503 and says why, and the cluster is untouched.
TEST_F(Cluster, ANodeWithTheWrongPrefixOrBucketSaysWhyOnReady) {
  ASSERT_NO_FATAL_FAILURE(StartNodes(1));
  auto bucket = S3Server::Start("other");
  ASSERT_NE(bucket, nullptr);
  struct Wrong {
    std::vector<std::string> args;
    std::string expected;
  };
  const Wrong cases[] = {
      {{"--storaged-url", bucket_->url(), "--cluster-key-prefix", "/elsewhere/"},
       "belongs to another cluster"},
      {{"--storaged-url", bucket->url()}, "not in the cluster: the cluster at etcd prefix"},
  };
  for (const Wrong& wrong : cases) {
    SCOPED_TRACE(wrong.expected);
    TempDir disk;
    const uint16_t port = FreeLoopbackPort();
    std::vector<std::string> args = {"--bind",           "127.0.0.1:" + std::to_string(port),
                                     "--data-dir",       disk.path(),
                                     "--etcd-endpoints", etcd_->endpoint(),
                                     "--node-id",        "stray",
                                     "--advertise-url",  "http://127.0.0.1:" + std::to_string(port),
                                     "--lease-ttl-ms",   std::to_string(kLeaseTtlMs)};
    args.insert(args.end(), wrong.args.begin(), wrong.args.end());
    auto stray = ServerProcess::Start(args, Credentials(), /*wait_ready=*/false);
    ASSERT_NE(stray, nullptr);
    HttpResult ready;
    EXPECT_TRUE(Eventually(
        [&] {
          ready = TestClient(stray->port()).Request("GET", "/ready");
          return ready.body.find(wrong.expected) != std::string::npos;
        },
        15s))
        << ready.status << " " << ready.body;
    EXPECT_EQ(ready.status, 503);
  }
  // The cluster goes on as before.
  TestClient c1(nodes_[0]->port);
  EXPECT_EQ(c1.Request("POST", "/vectors/index", CreateBody("docs", 4)).status, 201);
  const std::optional<ClusterView> view = GetCluster(*nodes_[0]);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->nodes.size(), 1u);
}

}  // namespace
}  // namespace vectord::testing

namespace vectord::testing {
namespace {

// The bucket down in cluster mode is what it is on a single node: writes
// answer 503 naming the object store and change nothing on any node, reads
// go on (strong ones too: etcd answers), and writes work again once the
// bucket is back.
TEST_F(Cluster, BucketDownFailsWritesAndKeepsReads) {
  constexpr int kBatch = 4, kDimension = 4;
  ASSERT_NO_FATAL_FAILURE(StartNodes(2));
  TestClient first(nodes_[0]->port), second(nodes_[1]->port);
  ASSERT_EQ(first.Request("POST", "/vectors/index", CreateBody("docs", kDimension)).status, 201);
  WriteLedger ledger;
  const HttpResult before = SendBatch(second, ledger, "docs", "before-", kBatch, kDimension);
  ASSERT_EQ(before.status, 200) << before.body;
  // Every replica fetches the commit before the bucket goes (a replica that
  // has not cannot serve it until the bucket is back: its strong reads
  // would wait, then answer 504).
  const std::optional<uint64_t> sequence = SequenceOf(before.body);
  ASSERT_TRUE(sequence.has_value());
  for (const auto& node : nodes_) {
    ASSERT_EQ(TestClient(node->port)
                  .Request("GET", "/vectors/index/docs?min_sequence=" + std::to_string(*sequence))
                  .status,
              200);
  }

  bucket_->Stop();
  // The first write finds the bucket gone; later ones may find the writer
  // starting a new term after that failure: 503 either way.
  for (TestClient* client : {&first, &second}) {
    const HttpResult write = SendBatch(*client, ledger, "docs", "during-", kBatch, kDimension);
    EXPECT_EQ(write.status, 503) << write.body;
    if (client == &first) {
      EXPECT_NE(write.body.find("object store"), std::string::npos) << write.body;
    }
  }
  for (const auto& node : nodes_) {
    TestClient client(node->port);
    EXPECT_EQ(client.Request("GET", "/vectors/index/docs/items/before-0?consistency=strong").status,
              200)
        << node->id;
    EXPECT_EQ(client.Request("GET", "/vectors/index/docs/items/during-0?consistency=strong").status,
              404)
        << node->id << ": a refused write is visible";
  }

  ASSERT_TRUE(bucket_->Restart());
  HttpResult after;
  EXPECT_TRUE(Eventually(
      [&] {
        after = SendBatch(second, ledger, "docs", "after-", kBatch, kDimension);
        return after.status == 200;
      },
      30s, 200ms))
      << after.status << " " << after.body;
  std::set<std::string> expected;
  for (const char* prefix : {"before-", "after-"}) {
    for (int i = 0; i < kBatch; ++i) expected.insert(prefix + std::to_string(i));
  }
  for (const auto& node : nodes_) {
    EXPECT_EQ(ScrollIds(node->port, "docs", "&consistency=strong"), expected) << node->id;
  }
}

}  // namespace
}  // namespace vectord::testing

namespace vectord::testing {
namespace {

// With [auth] set, a node checks the token before it forwards anything: a
// write without it is refused where it arrives (401), never carried to the
// writer; a write with it is forwarded with the client's credential, which
// the writer checks again — so a request that reaches the writer by any
// path carries a valid token.
TEST_F(Cluster, ForwardedWritesCarryTheClientsTokenAndUnauthenticatedOnesStop) {
  extra_args_ = {"--auth-token", "s3cret"};
  ASSERT_NO_FATAL_FAILURE(StartNodes(2));
  const std::map<std::string, std::string> token = {{"Authorization", "Bearer s3cret"}};
  std::optional<ClusterView> view;
  ASSERT_TRUE(Eventually(
      [&] {
        const HttpResult r = TestClient(nodes_[0]->port).Request("GET", "/cluster", "", token);
        view = ParseCluster(r.body);
        return view && !view->leader.empty();
      },
      10s));
  Node* replica = nodes_[0]->id == view->leader ? nodes_[1].get() : nodes_[0].get();
  Node* writer = Find(view->leader);
  ASSERT_NE(writer, nullptr);
  TestClient client(replica->port);
  EXPECT_EQ(client.Request("POST", "/vectors/index", CreateBody("docs", 4)).status, 401);
  EXPECT_EQ(client.Request("POST", "/vectors/index", CreateBody("docs", 4), token).status, 201);
  EXPECT_EQ(client
                .Request("POST", "/vectors/index/docs/add", BatchBody("a-", 2, 4),
                         {{"Authorization", "Bearer wrong"}})
                .status,
            401);
  const HttpResult added =
      client.Request("POST", "/vectors/index/docs/add", BatchBody("a-", 2, 4), token);
  EXPECT_EQ(added.status, 200) << added.body;
  // Only the forwarded write reached the writer: the refused ones never left.
  const std::string log = writer->process->Log();
  size_t adds = 0;
  for (size_t at = log.find("path=/vectors/index/docs/add"); at != std::string::npos;
       at = log.find("path=/vectors/index/docs/add", at + 1)) {
    ++adds;
  }
  EXPECT_EQ(adds, 1u) << log;
  // A forged forwarding header opens nothing either.
  EXPECT_EQ(TestClient(writer->port)
                .Request("POST", "/vectors/index/docs/add", BatchBody("b-", 1, 4),
                         {{"X-Vectord-Forwarded-By", replica->id}})
                .status,
            401);
}

}  // namespace
}  // namespace vectord::testing
