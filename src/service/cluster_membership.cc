#include "service/cluster_membership.h"

#include <simdjson.h>

#include <random>

#include "common/json_writer.h"
#include "common/log.h"

namespace vectord::service {
namespace {

using store::EtcdCompare;
using store::EtcdOperation;

std::string UrlOf(const std::string& value) { return JsonStringField(value, "url"); }

}  // namespace

std::string JsonStringField(const std::string& json, const char* field) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view text;
  if (parser.parse(json).get(root) != simdjson::SUCCESS ||
      root[field].get_string().get(text) != simdjson::SUCCESS) {
    return "";
  }
  return std::string(text);
}

ClusterMembership::ClusterMembership(store::EtcdClient* etcd, MembershipOptions options)
    : etcd_(etcd), options_(std::move(options)) {}

ClusterMembership::~ClusterMembership() {
  int64_t lease = 0;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    lease = lease_;
  }
  wake_.notify_all();
  if (keep_alive_.joinable()) keep_alive_.join();
  watch_.reset();  // no callback runs after this
  if (lease != 0) (void)etcd_->RevokeLease(lease);
}

Status ClusterMembership::Join() {
  // The cluster's bucket: recorded by the first node, checked by the rest.
  const std::string cluster_key = options_.key_prefix + "cluster";
  // A random id names the cluster in its bucket (ClusterCoordinator checks
  // it): a cluster at another prefix, or on another etcd, gets another one.
  std::string id(16, '0');
  {
    std::random_device random;
    static constexpr char kHex[] = "0123456789abcdef";
    for (char& c : id) c = kHex[random() % 16];
  }
  JsonWriter w;
  w.BeginObject().Key("storaged_url").String(options_.storaged_url).Key("id").String(id);
  w.EndObject();
  VECTORD_ASSIGN_OR_RETURN(const store::EtcdTxnResult recorded,
                           etcd_->Txn({{.key = cluster_key,
                                        .target = EtcdCompare::Target::kVersion,
                                        .result = EtcdCompare::Result::kEqual,
                                        .value = "",
                                        .number = 0}},
                                      {{.kind = EtcdOperation::Kind::kPut,
                                        .key = cluster_key,
                                        .value = std::move(w).Finish(),
                                        .lease = 0,
                                        .prefix = false}},
                                      {{.kind = EtcdOperation::Kind::kGet,
                                        .key = cluster_key,
                                        .value = "",
                                        .lease = 0,
                                        .prefix = false}}));
  if (!recorded.succeeded && !recorded.reads.empty() && !recorded.reads[0].empty()) {
    id = JsonStringField(recorded.reads[0][0].value, "id");
    const std::string theirs = JsonStringField(recorded.reads[0][0].value, "storaged_url");
    if (theirs != options_.storaged_url) {
      return Status::InvalidArgument("the cluster at etcd prefix " + options_.key_prefix +
                                     " uses the bucket " + theirs +
                                     ", and this node is configured with " + options_.storaged_url +
                                     ": vectord.storaged_url or cluster.key_prefix is wrong");
    }
  }
  {
    std::lock_guard lock(mutex_);
    cluster_id_ = id;
  }
  VECTORD_RETURN_IF_ERROR(Register());

  int64_t revision = 0;
  VECTORD_ASSIGN_OR_RETURN(const std::vector<store::EtcdKeyValue> nodes,
                           etcd_->GetPrefix(options_.key_prefix + "nodes/", &revision));
  {
    std::lock_guard lock(mutex_);
    for (const store::EtcdKeyValue& kv : nodes) {
      const std::string id = kv.key.substr(options_.key_prefix.size() + 6);
      nodes_[id] = ClusterNode{id, UrlOf(kv.value), true};
    }
  }
  StartWatch(revision + 1);
  keep_alive_ = std::thread([this] { KeepAlive(); });
  LogInfo("cluster_joined", {{"node", options_.node_id},
                             {"prefix", options_.key_prefix},
                             {"nodes", nodes.size()},
                             {"lease", lease()}});
  return Status::Ok();
}

Status ClusterMembership::Register() {
  const auto ttl = std::chrono::ceil<std::chrono::seconds>(options_.lease_ttl);
  VECTORD_ASSIGN_OR_RETURN(const int64_t lease, etcd_->GrantLease(ttl));
  JsonWriter w;
  w.BeginObject().Key("url").String(options_.advertise_url).EndObject();
  const std::string key = NodeKey(options_.node_id);
  auto claimed = etcd_->Txn(
      {{.key = key,
        .target = EtcdCompare::Target::kVersion,
        .result = EtcdCompare::Result::kEqual,
        .value = "",
        .number = 0}},
      {{.kind = EtcdOperation::Kind::kPut,
        .key = key,
        .value = std::move(w).Finish(),
        .lease = lease,
        .prefix = false}},
      {{.kind = EtcdOperation::Kind::kGet, .key = key, .value = "", .lease = 0, .prefix = false}});
  Status refused;
  if (!claimed.ok()) {
    refused = claimed.status();
  } else if (!claimed->succeeded) {
    const std::string url = claimed->reads.empty() || claimed->reads[0].empty()
                                ? ""
                                : UrlOf(claimed->reads[0][0].value);
    // The same id at the same address is this node's previous life, whose
    // lease has not expired yet: wait for it. Anything else is a clash.
    refused =
        url == options_.advertise_url
            ? Status::Unavailable("node id " + options_.node_id +
                                  " is still held by this node's previous lease (it "
                                  "expires within cluster.lease_ttl_ms)")
            : Status::AlreadyExists("node id " + options_.node_id + " is held by a live node at " +
                                    url + ": cluster.node_id must be unique");
  }
  if (!refused.ok()) {
    (void)etcd_->RevokeLease(lease);
    return refused;
  }
  std::lock_guard lock(mutex_);
  lease_ = lease;
  health_ = Status::Ok();
  nodes_[options_.node_id] = ClusterNode{options_.node_id, options_.advertise_url, true};
  return Status::Ok();
}

void ClusterMembership::StartWatch(int64_t from_revision) {
  watch_ = etcd_->Watch(
      options_.key_prefix + "nodes/", from_revision,
      [this](const std::vector<store::EtcdEvent>& events) { Apply(events); },
      [this](const Status& status) {
        LogWarn("cluster_watch_broken", {{"error", status.ToString()}});
        std::lock_guard lock(mutex_);
        watch_broken_ = true;
        wake_.notify_all();
      },
      options_.lease_ttl);
}

void ClusterMembership::Apply(const std::vector<store::EtcdEvent>& events) {
  std::lock_guard lock(mutex_);
  const size_t skip = options_.key_prefix.size() + 6;  // "nodes/"
  for (const store::EtcdEvent& event : events) {
    if (event.kv.key.size() <= skip) continue;
    const std::string id = event.kv.key.substr(skip);
    ClusterNode& node = nodes_[id];
    node.id = id;
    if (event.type == store::EtcdEvent::Type::kPut) {
      node.url = UrlOf(event.kv.value);
      node.healthy = true;
    } else {
      node.healthy = false;
    }
  }
}

void ClusterMembership::KeepAlive() {
  const auto period = std::max(options_.lease_ttl / 3, std::chrono::milliseconds(100));
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, period, [this] { return stopping_ || watch_broken_; });
    if (stopping_) return;
    const bool resync = watch_broken_;
    watch_broken_ = false;
    const int64_t lease = lease_;
    lock.unlock();

    Status alive = etcd_->KeepAlive(lease).status();
    if (alive.code() == StatusCode::kNotFound) {
      // Expired (etcd was out of reach longer than the TTL, or this process
      // was paused): the node key went with it. Join again.
      LogWarn("cluster_lease_expired", {{"node", options_.node_id}, {"lease", lease}});
      alive = Register();
    }
    if (resync && alive.ok()) {
      // The watch gave up (etcd gone too long, or history compacted): read
      // the node list afresh and watch from there.
      int64_t revision = 0;
      auto nodes = etcd_->GetPrefix(options_.key_prefix + "nodes/", &revision);
      if (nodes.ok()) {
        watch_.reset();
        {
          std::lock_guard relock(mutex_);
          for (auto& [id, node] : nodes_) node.healthy = false;
          for (const store::EtcdKeyValue& kv : *nodes) {
            const std::string id = kv.key.substr(options_.key_prefix.size() + 6);
            nodes_[id] = ClusterNode{id, UrlOf(kv.value), true};
          }
        }
        StartWatch(revision + 1);
      } else {
        alive = nodes.status();
      }
    }
    lock.lock();
    if (!alive.ok()) {
      if (resync) watch_broken_ = true;  // try the resync again
      if (health_.ok()) LogWarn("cluster_unhealthy", {{"error", alive.ToString()}});
      health_ = alive.code() == StatusCode::kUnavailable
                    ? alive
                    : Status::Unavailable("cluster membership: " + alive.message());
    } else {
      health_ = Status::Ok();
    }
  }
}

std::vector<ClusterNode> ClusterMembership::Nodes() const {
  std::lock_guard lock(mutex_);
  std::vector<ClusterNode> out;
  out.reserve(nodes_.size());
  for (const auto& [id, node] : nodes_) out.push_back(node);
  return out;
}

Status ClusterMembership::health() const {
  std::lock_guard lock(mutex_);
  return health_;
}

std::string ClusterMembership::cluster_id() const {
  std::lock_guard lock(mutex_);
  return cluster_id_;
}

int64_t ClusterMembership::lease() const {
  std::lock_guard lock(mutex_);
  return lease_;
}

}  // namespace vectord::service
