// The durability promise, tested the way it is broken in production: several
// clients write (creates, upserts, deletes) while the server is killed with
// SIGKILL at random moments, 20 times. After every restart, each
// acknowledged write must be there with its exact vector and metadata, each
// batch that was in flight must be there entirely or not at all, and nothing
// else may appear. A second test does the same with an object store and a
// new, empty disk at every restart.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "server_process.h"
#include "support/s3_server.h"

namespace vectord::testing {
namespace {

constexpr int kClients = 4;
constexpr int kIdsPerClient = 60;
constexpr int kDimension = 4;

struct ItemState {
  std::vector<float> vector;
  std::string metadata;  // minified JSON
  bool operator==(const ItemState&) const = default;
};

// index name -> id -> state
using Model = std::map<std::string, std::map<std::string, ItemState>>;

struct Op {
  enum Kind { kCreate, kUpsert, kDelete } kind;
  std::string index;
  std::vector<std::pair<std::string, ItemState>> items;  // kUpsert
  std::vector<std::string> ids;                          // kDelete
};

void Apply(Model& model, const Op& op) {
  switch (op.kind) {
    case Op::kCreate: model[op.index]; break;
    case Op::kUpsert:
      for (const auto& [id, state] : op.items) model[op.index][id] = state;
      break;
    case Op::kDelete:
      for (const auto& id : op.ids) model[op.index].erase(id);
      break;
  }
}

std::string FloatText(float v) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), v);
  return std::string(buffer, end);
}

// One client: owns its indexes and ids, so its acknowledged history alone
// decides what the server must hold for them.
class Client {
 public:
  Client(int number, uint64_t seed) : number_(number), rng_(seed) {}

  // Writes until a request fails (the server died); the failed op is the one
  // in flight.
  void Run(uint16_t port, const std::atomic<bool>& stop) {
    TestClient http(port);
    while (!stop.load()) {
      Op op = NextOp();
      in_flight_ = op;
      HttpResult r = Send(http, op);
      if (r.status == 0) return;  // killed mid-request: outcome unknown
      in_flight_.reset();
      if (r.status == 200 || r.status == 201) {
        Apply(acked_, op);
      } else {
        ADD_FAILURE() << "client " << number_ << ": unexpected " << r.status << " " << r.body;
        return;
      }
    }
  }

  // Checks the restarted server against the model; then forgets the op in
  // flight, adopting what the server shows for it.
  void Verify(uint16_t port) {
    TestClient http(port);
    Model with_in_flight = acked_;
    if (in_flight_) Apply(with_in_flight, *in_flight_);
    std::set<std::string> indexes;
    for (const auto& [name, items] : acked_) indexes.insert(name);
    for (const auto& [name, items] : with_in_flight) indexes.insert(name);
    bool in_flight_applied = false, in_flight_missing = false;
    Model observed;
    for (const std::string& name : indexes) {
      HttpResult info = http.Request("GET", "/vectors/index/" + name);
      const bool exists = info.status == 200;
      const bool must_exist = acked_.count(name) != 0;
      const bool may_exist = with_in_flight.count(name) != 0;
      if (must_exist) {
        ASSERT_TRUE(exists) << "acknowledged index " << name << " is gone";
      } else if (!may_exist) {
        ASSERT_FALSE(exists) << "index " << name << " appeared from nowhere";
      }
      if (!exists) {
        in_flight_missing = true;
        continue;
      }
      if (!must_exist) in_flight_applied = true;
      observed[name];
      for (int i = 0; i < kIdsPerClient; ++i) {
        std::string id = IdOf(i);
        HttpResult got = http.Request("GET", "/vectors/index/" + name + "/items/" + id);
        std::optional<ItemState> a, b;
        if (auto it = acked_.find(name); it != acked_.end() && it->second.count(id)) {
          a = it->second.at(id);
        }
        if (auto it = with_in_flight.find(name);
            it != with_in_flight.end() && it->second.count(id)) {
          b = it->second.at(id);
        }
        std::optional<ItemState> server;
        if (got.status == 200) {
          server = ParseItem(got.body);
          observed[name][id] = *server;
        } else {
          ASSERT_EQ(got.status, 404) << got.body;
        }
        if (server == a && server == b) continue;
        if (server == a) {
          in_flight_missing = true;
        } else if (server == b) {
          in_flight_applied = true;
        } else {
          FAIL() << "client " << number_ << " " << name << "/" << id << ": server has "
                 << (server ? Describe(*server) : "nothing") << ", acknowledged "
                 << (a ? Describe(*a) : "nothing");
        }
      }
    }
    // A batch is one unit, across a crash too.
    ASSERT_FALSE(in_flight_applied && in_flight_missing)
        << "client " << number_ << ": a batch in flight was applied in part";
    if (in_flight_applied) Apply(acked_, *in_flight_);
    in_flight_.reset();
    verified_items_ = 0;
    for (const auto& [name, items] : acked_) verified_items_ += items.size();
  }

  size_t verified_items() const { return verified_items_; }

 private:
  std::string IdOf(int i) const { return "c" + std::to_string(number_) + "-" + std::to_string(i); }

  Op NextOp() {
    std::uniform_real_distribution<float> value(-100.0f, 100.0f);
    std::uniform_int_distribution<int> pick_id(0, kIdsPerClient - 1);
    Op op;
    if (acked_.empty() || (rng_() % 40 == 0 && acked_.size() < 4)) {
      op.kind = Op::kCreate;
      op.index = "c" + std::to_string(number_) + "-idx" + std::to_string(next_index_++);
      return op;
    }
    auto it = acked_.begin();
    std::advance(it, rng_() % acked_.size());
    op.index = it->first;
    if (rng_() % 4 == 0) {
      op.kind = Op::kDelete;
      for (int n = 1 + static_cast<int>(rng_() % 3); n > 0; --n)
        op.ids.push_back(IdOf(pick_id(rng_)));
      return op;
    }
    op.kind = Op::kUpsert;
    for (int n = 1 + static_cast<int>(rng_() % 6); n > 0; --n) {
      ItemState state;
      for (int d = 0; d < kDimension; ++d) state.vector.push_back(value(rng_));
      state.metadata =
          "{\"v\":" + std::to_string(rng_() % 100000) + ",\"c\":" + std::to_string(number_) + "}";
      op.items.emplace_back(IdOf(pick_id(rng_)), state);
    }
    // The last occurrence of an id wins inside a batch, on the server and here.
    return op;
  }

  HttpResult Send(TestClient& http, const Op& op) {
    switch (op.kind) {
      case Op::kCreate:
        // Odd clients keep their vectors on disk: the same promises hold.
        return http.Request("POST", "/vectors/index",
                            "{\"name\":\"" + op.index + "\",\"dimension\":" +
                                std::to_string(kDimension) + ",\"distance\":\"euclidean\"" +
                                (number_ % 2 == 1 ? ",\"vectors\":\"disk\"" : "") + "}");
      case Op::kUpsert: {
        std::string body = "{\"items\":[";
        for (size_t i = 0; i < op.items.size(); ++i) {
          if (i > 0) body += ",";
          body += "{\"id\":\"" + op.items[i].first + "\",\"vector\":[";
          for (size_t d = 0; d < op.items[i].second.vector.size(); ++d) {
            if (d > 0) body += ",";
            body += FloatText(op.items[i].second.vector[d]);
          }
          body += "],\"metadata\":" + op.items[i].second.metadata + "}";
        }
        body += "]}";
        return http.Request("POST", "/vectors/index/" + op.index + "/add", body);
      }
      case Op::kDelete: {
        std::string body = "{\"ids\":[";
        for (size_t i = 0; i < op.ids.size(); ++i)
          body += (i > 0 ? ",\"" : "\"") + op.ids[i] + "\"";
        body += "]}";
        return http.Request("POST", "/vectors/index/" + op.index + "/delete", body);
      }
    }
    return {};
  }

  static ItemState ParseItem(const std::string& body) {
    // {"id":"..","vector":[a,b,c,d],"metadata":{...}}
    ItemState s;
    size_t v = body.find("\"vector\":[") + 10;
    size_t end = body.find(']', v);
    std::string list = body.substr(v, end - v);
    size_t start = 0;
    while (start < list.size()) {
      size_t comma = list.find(',', start);
      if (comma == std::string::npos) comma = list.size();
      s.vector.push_back(std::stof(list.substr(start, comma - start)));
      start = comma + 1;
    }
    size_t m = body.find("\"metadata\":");
    if (m != std::string::npos) s.metadata = body.substr(m + 11, body.size() - (m + 11) - 2);
    return s;
  }

  static std::string Describe(const ItemState& s) {
    std::string out = "[";
    for (float v : s.vector) out += FloatText(v) + " ";
    return out + "] " + s.metadata;
  }

  int number_;
  std::mt19937_64 rng_;
  Model acked_;
  std::optional<Op> in_flight_;
  int next_index_ = 0;
  size_t verified_items_ = 0;
};

// Runs `rounds` rounds of: start the server with round_args(round), check
// every client's acknowledged history, write from all clients, SIGKILL.
void RunCrashRounds(int rounds, const std::function<std::vector<std::string>(int)>& round_args,
                    const std::map<std::string, std::string>& env) {
  std::vector<Client> clients;
  for (int c = 0; c < kClients; ++c) clients.emplace_back(c, 1000 + c);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> uptime_ms(50, 700);
  size_t total = 0;
  for (int round = 0; round < rounds; ++round) {
    auto server = ServerProcess::Start(round_args(round), env);
    ASSERT_NE(server, nullptr) << "round " << round;
    for (auto& c : clients) {
      c.Verify(server->port());
      if (::testing::Test::HasFatalFailure()) {
        std::fprintf(stderr, "server log:\n%s\n", server->Log().c_str());
        return;
      }
    }
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (auto& c : clients) threads.emplace_back([&, port = server->port()] { c.Run(port, stop); });
    std::this_thread::sleep_for(std::chrono::milliseconds(uptime_ms(rng)));
    server->Kill();
    stop = true;
    for (auto& t : threads) t.join();
    total = 0;
    for (auto& c : clients) total += c.verified_items();
  }
  // The last restart, checked once more.
  auto server = ServerProcess::Start(round_args(rounds), env);
  ASSERT_NE(server, nullptr);
  for (auto& c : clients) c.Verify(server->port());
  EXPECT_GT(total, 0u) << "no writes were acknowledged: the test did not test anything";
  std::fprintf(stderr, "crash rounds: %d, items verified at the end: %zu\n", rounds, total);
}

// Rounds of the local-disk test: 20, or $VECTORD_TEST_CRASH_ROUNDS (the
// sanitizer stages of scripts/test.sh run fewer; a bench loop can run many).
// The disk-loss test runs 2/5 as many. At least two: acknowledged writes are
// counted when a restart verifies them.
int CrashRounds() {
  if (const char* env = std::getenv("VECTORD_TEST_CRASH_ROUNDS")) {
    return std::max(2, std::atoi(env));
  }
  return 20;
}

TEST(CrashRecovery, AcknowledgedWritesSurviveSigkill) {
  TempDir dir;
  // Small checkpoints so that some rounds crash around a checkpoint too.
  RunCrashRounds(
      CrashRounds(),
      [&](int) {
        return std::vector<std::string>{"--data-dir", dir.path(), "--checkpoint-bytes", "8192"};
      },
      {});
}

// With an object store, an acknowledged write survives the loss of the whole
// machine: every round starts on an empty disk and rebuilds from the bucket.
TEST(CrashRecovery, AcknowledgedWritesSurviveSigkillAndTheLossOfTheDisk) {
  auto bucket = S3Server::Start();
  ASSERT_NE(bucket, nullptr);
  std::vector<std::unique_ptr<TempDir>> disks;
  RunCrashRounds(std::max(2, CrashRounds() * 2 / 5),
                 [&](int) {
                   disks.push_back(std::make_unique<TempDir>());
                   return std::vector<std::string>{"--data-dir",         disks.back()->path(),
                                                   "--storaged-url",     bucket->url(),
                                                   "--checkpoint-bytes", "8192"};
                 },
                 {{"AWS_ACCESS_KEY_ID", S3Server::kAccessKey},
                  {"AWS_SECRET_ACCESS_KEY", S3Server::kSecretKey}});
}

}  // namespace
}  // namespace vectord::testing
