// EtcdClient: the coordination store of a vectord cluster — an etcd v3
// cluster spoken to through its JSON gateway (POST /v3/kv/range, /v3/kv/txn,
// /v3/lease/..., /v3/watch; keys and values travel base64-encoded) with
// libcurl. Consensus is etcd's; this is only a client.
//
// What the cluster protocol needs and nothing more: single keys and prefix
// ranges, transactions whose compares guard a commit point (a key's value,
// version or mod revision, or the lease it is attached to), leases that
// expire unless kept alive, and watches that deliver every change of a
// prefix after a revision.
//
// Failures: a request that cannot reach an endpoint tries the next one (in
// the order given) and then fails with Unavailable naming etcd; an answer
// etcd refuses (an unknown lease, a compacted revision) is IOError or
// NotFound with etcd's message. Nothing is retried behind the caller's back:
// a transaction whose reply was lost may have been applied, and only the
// caller knows how to check.
//
// Thread safety: every method may be called from any thread; each call uses
// its own connection. An EtcdWatch runs its own thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"

namespace vectord::store {

struct EtcdOptions {
  // "http://host:port", tried in order.
  std::vector<std::string> endpoints;
  std::chrono::milliseconds request_timeout{2000};
};

struct EtcdKeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;  // 0: the key does not exist
  int64_t lease = 0;
};

// One compare of a transaction: `target` of `key` compared with a value.
struct EtcdCompare {
  enum class Target { kValue, kVersion, kCreateRevision, kModRevision, kLease };
  enum class Result { kEqual, kNotEqual, kGreater, kLess };
  std::string key;
  Target target = Target::kValue;
  Result result = Result::kEqual;
  std::string value;   // kValue
  int64_t number = 0;  // the others
};

// One operation of a transaction branch.
struct EtcdOperation {
  enum class Kind { kPut, kDelete, kGet };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;    // kPut
  int64_t lease = 0;    // kPut: attach to this lease (0: none)
  bool prefix = false;  // kDelete / kGet: every key starting with `key`
};

struct EtcdTxnResult {
  bool succeeded = false;
  int64_t revision = 0;  // the store's revision after the transaction
  // For each kGet of the branch taken, in order: the keys it read.
  std::vector<std::vector<EtcdKeyValue>> reads;
};

// A change seen by a watch.
struct EtcdEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  EtcdKeyValue kv;  // for a delete: the key, and mod_revision = the delete's revision
};

class EtcdWatch;

class EtcdClient {
 public:
  explicit EtcdClient(EtcdOptions options);
  ~EtcdClient();

  const EtcdOptions& options() const { return options_; }
  std::string Describe() const;  // "etcd http://a:2379,http://b:2379"

  // The key, or nullopt when it does not exist.
  Result<std::optional<EtcdKeyValue>> Get(std::string_view key);
  // Every key starting with `prefix`, sorted, and the revision read at.
  Result<std::vector<EtcdKeyValue>> GetPrefix(std::string_view prefix, int64_t* revision = nullptr);
  // Returns the revision of the put.
  Result<int64_t> Put(std::string_view key, std::string_view value, int64_t lease = 0);
  // Returns how many keys were deleted.
  Result<int64_t> Delete(std::string_view key, bool prefix = false);
  // If every compare holds, the `success` operations, else the `failure`
  // ones, atomically.
  Result<EtcdTxnResult> Txn(const std::vector<EtcdCompare>& compares,
                            const std::vector<EtcdOperation>& success,
                            const std::vector<EtcdOperation>& failure = {});

  // A lease of `ttl` (whole seconds, at least 1); returns its id.
  Result<int64_t> GrantLease(std::chrono::seconds ttl);
  // Renews the lease; returns the TTL left (NotFound once it expired).
  Result<int64_t> KeepAlive(int64_t lease);
  Status RevokeLease(int64_t lease);

  // Watches every key starting with `prefix` from `start_revision` on
  // (0: from now). `on_events` runs on the watch's thread for each batch of
  // changes, in revision order; `on_broken` when the watch cannot go on
  // (the revision was compacted, or etcd is unreachable for longer than
  // `give_up_after`): the caller re-reads and watches again.
  std::unique_ptr<EtcdWatch> Watch(
      std::string prefix, int64_t start_revision,
      std::function<void(const std::vector<EtcdEvent>&)> on_events,
      std::function<void(const Status&)> on_broken,
      std::chrono::milliseconds give_up_after = std::chrono::seconds(10));

  // POSTs `body` to `path` of the first endpoint that answers; the reply's
  // body. Streaming routes stop after the first JSON object.
  Result<std::string> Call(std::string_view path, const std::string& body, bool first_object_only);

 private:
  const EtcdOptions options_;
};

// A running watch (EtcdClient::Watch). Destroying it stops it: no callback
// runs after the destructor returns.
class EtcdWatch {
 public:
  ~EtcdWatch();
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  // The highest revision delivered so far.
  int64_t revision() const { return revision_.load(); }

 private:
  friend class EtcdClient;
  EtcdWatch() = default;
  void Run();

  EtcdOptions options_;
  std::string prefix_;
  std::function<void(const std::vector<EtcdEvent>&)> on_events_;
  std::function<void(const Status&)> on_broken_;
  std::chrono::milliseconds give_up_after_{0};
  std::atomic<int64_t> revision_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace vectord::store
