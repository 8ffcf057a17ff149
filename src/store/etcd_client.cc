#include "store/etcd_client.h"

#include <curl/curl.h>
#include <simdjson.h>

#include <charconv>
#include <mutex>

#include "common/base64.h"
#include "common/json_writer.h"

namespace vectord::store {
namespace {

std::once_flag curl_global_once;

// The end of the range of keys starting with `prefix` (etcd's range_end).
std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(end.back() + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

// etcd's gateway writes int64 fields as strings; absent fields are zero.
int64_t Int(simdjson::dom::element object, std::string_view field) {
  simdjson::dom::element value;
  if (object[field].get(value) != simdjson::SUCCESS) return 0;
  int64_t n = 0;
  if (value.is_int64()) return value.get_int64().value();
  if (value.is_uint64()) return static_cast<int64_t>(value.get_uint64().value());
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) return 0;
  std::from_chars(text.data(), text.data() + text.size(), n);
  return n;
}

std::string Bytes(simdjson::dom::element object, std::string_view field) {
  std::string_view text;
  if (object[field].get_string().get(text) != simdjson::SUCCESS) return "";
  return base64::Decode(text).value_or("");
}

EtcdKeyValue KeyValueOf(simdjson::dom::element kv) {
  EtcdKeyValue out;
  out.key = Bytes(kv, "key");
  out.value = Bytes(kv, "value");
  out.create_revision = Int(kv, "create_revision");
  out.mod_revision = Int(kv, "mod_revision");
  out.version = Int(kv, "version");
  out.lease = Int(kv, "lease");
  return out;
}

std::vector<EtcdKeyValue> KeyValuesOf(simdjson::dom::element range) {
  std::vector<EtcdKeyValue> out;
  simdjson::dom::array kvs;
  if (range["kvs"].get_array().get(kvs) != simdjson::SUCCESS) return out;
  for (simdjson::dom::element kv : kvs) out.push_back(KeyValueOf(kv));
  return out;
}

// Parses a reply; an error object ({"error": ..., "code": N}) becomes a
// Status naming etcd's message.
Result<simdjson::dom::element> ParseReply(simdjson::dom::parser& parser, const std::string& body,
                                          std::string_view what) {
  simdjson::dom::element root;
  if (parser.parse(body).get(root) != simdjson::SUCCESS) {
    return Status::IOError("etcd " + std::string(what) +
                           ": unreadable reply: " + body.substr(0, 200));
  }
  std::string_view message;
  if (root["error"].get_string().get(message) == simdjson::SUCCESS ||
      root["message"].get_string().get(message) == simdjson::SUCCESS) {
    if (message.find("not found") != std::string_view::npos) {
      return Status::NotFound("etcd " + std::string(what) + ": " + std::string(message));
    }
    return Status::IOError("etcd " + std::string(what) + ": " + std::string(message));
  }
  simdjson::dom::element result;
  if (root["result"].get(result) == simdjson::SUCCESS) return result;  // streaming routes
  return root;
}

void WriteOperation(JsonWriter& w, const EtcdOperation& op) {
  w.BeginObject();
  switch (op.kind) {
    case EtcdOperation::Kind::kPut:
      w.Key("requestPut").BeginObject();
      w.Key("key").String(base64::Encode(op.key));
      w.Key("value").String(base64::Encode(op.value));
      if (op.lease != 0) w.Key("lease").String(std::to_string(op.lease));
      w.EndObject();
      break;
    case EtcdOperation::Kind::kDelete:
    case EtcdOperation::Kind::kGet:
      w.Key(op.kind == EtcdOperation::Kind::kGet ? "requestRange" : "requestDeleteRange")
          .BeginObject();
      w.Key("key").String(base64::Encode(op.key));
      if (op.prefix) w.Key("range_end").String(base64::Encode(PrefixEnd(op.key)));
      w.EndObject();
      break;
  }
  w.EndObject();
}

const char* TargetName(EtcdCompare::Target target) {
  switch (target) {
    case EtcdCompare::Target::kValue: return "VALUE";
    case EtcdCompare::Target::kVersion: return "VERSION";
    case EtcdCompare::Target::kCreateRevision: return "CREATE";
    case EtcdCompare::Target::kModRevision: return "MOD";
    case EtcdCompare::Target::kLease: return "LEASE";
  }
  return "VALUE";
}

const char* TargetField(EtcdCompare::Target target) {
  switch (target) {
    case EtcdCompare::Target::kValue: return "value";
    case EtcdCompare::Target::kVersion: return "version";
    case EtcdCompare::Target::kCreateRevision: return "create_revision";
    case EtcdCompare::Target::kModRevision: return "mod_revision";
    case EtcdCompare::Target::kLease: return "lease";
  }
  return "value";
}

const char* ResultName(EtcdCompare::Result result) {
  switch (result) {
    case EtcdCompare::Result::kEqual: return "EQUAL";
    case EtcdCompare::Result::kNotEqual: return "NOT_EQUAL";
    case EtcdCompare::Result::kGreater: return "GREATER";
    case EtcdCompare::Result::kLess: return "LESS";
  }
  return "EQUAL";
}

// One POST with libcurl. `on_data` gets the body as it arrives and returns
// false to end the transfer early (then the call still succeeds).
struct Transfer {
  std::function<bool(std::string_view)> on_data;
  std::function<bool()> keep_going;  // checked while waiting; may be empty
  bool ended_early = false;
};

size_t OnData(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  if (!transfer->on_data(std::string_view(data, size * count))) {
    transfer->ended_early = true;
    return 0;
  }
  return size * count;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  return transfer->keep_going && !transfer->keep_going() ? 1 : 0;
}

// Ok, or Unavailable when the endpoint could not be reached or timed out
// (`timeout` 0: none, for watches).
Status Post(const std::string& url, const std::string& body, std::chrono::milliseconds timeout,
            Transfer& transfer, long* http_status) {
  std::call_once(curl_global_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Status::Internal("curl_easy_init failed");
  struct curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
  if (timeout.count() > 0)
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  if (transfer.keep_going) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  }
  const CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, http_status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && transfer.ended_early)) return Status::Ok();
  return Status::Unavailable(url + ": " + curl_easy_strerror(code));
}

}  // namespace

EtcdClient::EtcdClient(EtcdOptions options) : options_(std::move(options)) {}
EtcdClient::~EtcdClient() = default;

std::string EtcdClient::Describe() const {
  std::string out = "etcd ";
  for (size_t i = 0; i < options_.endpoints.size(); ++i) {
    if (i > 0) out += ',';
    out += options_.endpoints[i];
  }
  return out;
}

Result<std::string> EtcdClient::Call(std::string_view path, const std::string& body,
                                     bool first_object_only) {
  Status last = Status::Unavailable(Describe() + ": no endpoint configured");
  for (const std::string& endpoint : options_.endpoints) {
    std::string reply;
    Transfer transfer;
    transfer.on_data = [&](std::string_view data) {
      reply.append(data);
      return !(first_object_only && reply.find('\n') != std::string::npos);
    };
    long http_status = 0;
    Status s =
        Post(endpoint + std::string(path), body, options_.request_timeout, transfer, &http_status);
    if (!s.ok()) {
      last = Status::Unavailable("etcd unreachable: " + s.message());
      continue;
    }
    if (first_object_only) {
      if (size_t end = reply.find('\n'); end != std::string::npos) reply.resize(end);
    }
    return reply;
  }
  return last;
}

Result<std::optional<EtcdKeyValue>> EtcdClient::Get(std::string_view key) {
  JsonWriter w;
  w.BeginObject().Key("key").String(base64::Encode(key)).EndObject();
  VECTORD_ASSIGN_OR_RETURN(const std::string reply,
                           Call("/v3/kv/range", std::move(w).Finish(), false));
  simdjson::dom::parser parser;
  VECTORD_ASSIGN_OR_RETURN(simdjson::dom::element root, ParseReply(parser, reply, "get"));
  std::vector<EtcdKeyValue> kvs = KeyValuesOf(root);
  if (kvs.empty()) return std::optional<EtcdKeyValue>();
  return std::optional<EtcdKeyValue>(std::move(kvs.front()));
}

Result<std::vector<EtcdKeyValue>> EtcdClient::GetPrefix(std::string_view prefix,
                                                        int64_t* revision) {
  JsonWriter w;
  w.BeginObject();
  w.Key("key").String(base64::Encode(prefix));
  w.Key("range_end").String(base64::Encode(PrefixEnd(prefix)));
  w.EndObject();
  VECTORD_ASSIGN_OR_RETURN(const std::string reply,
                           Call("/v3/kv/range", std::move(w).Finish(), false));
  simdjson::dom::parser parser;
  VECTORD_ASSIGN_OR_RETURN(simdjson::dom::element root, ParseReply(parser, reply, "range"));
  if (revision != nullptr) {
    simdjson::dom::element header;
    *revision = root["header"].get(header) == simdjson::SUCCESS ? Int(header, "revision") : 0;
  }
  return KeyValuesOf(root);
}

Result<int64_t> EtcdClient::Put(std::string_view key, std::string_view value, int64_t lease) {
  JsonWriter w;
  w.BeginObject();
  w.Key("key").String(base64::Encode(key));
  w.Key("value").String(base64::Encode(value));
  if (lease != 0) w.Key("lease").String(std::to_string(lease));
  w.EndObject();
  VECTORD_ASSIGN_OR_RETURN(const std::string reply,
                           Call("/v3/kv/put", std::move(w).Finish(), false));
  simdjson::dom::parser parser;
  VECTORD_ASSIGN_OR_RETURN(simdjson::dom::element root, ParseReply(parser, reply, "put"));
  simdjson::dom::element header;
  return root["header"].get(header) == simdjson::SUCCESS ? Int(header, "revision") : 0;
}

Result<int64_t> EtcdClient::Delete(std::string_view key, bool prefix) {
  JsonWriter w;
  w.BeginObject();
  w.Key("key").String(base64::Encode(key));
  if (prefix) w.Key("range_end").String(base64::Encode(PrefixEnd(key)));
  w.EndObject();
  VECTORD_ASSIGN_OR_RETURN(const std::string reply,
                           Call("/v3/kv/deleterange", std::move(w).Finish(), false));
  simdjson::dom::parser parser;
  VECTORD_ASSIGN_OR_RETURN(simdjson::dom::element root, ParseReply(parser, reply, "delete"));
  return Int(root, "deleted");
}

Result<EtcdTxnResult> EtcdClient::Txn(const std::vector<EtcdCompare>& compares,
                                      const std::vector<EtcdOperation>& success,
                                      const std::vector<EtcdOperation>& failure) {
  JsonWriter w;
  w.BeginObject();
  w.Key("compare").BeginArray();
  for (const EtcdCompare& c : compares) {
    w.BeginObject();
    w.Key("key").String(base64::Encode(c.key));
    w.Key("target").String(TargetName(c.target));
    w.Key("result").String(ResultName(c.result));
    if (c.target == EtcdCompare::Target::kValue) {
      w.Key("value").String(base64::Encode(c.value));
    } else {
      w.Key(TargetField(c.target)).String(std::to_string(c.number));
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("success").BeginArray();
  for (const EtcdOperation& op : success) WriteOperation(w, op);
  w.EndArray();
  w.Key("failure").BeginArray();
  for (const EtcdOperation& op : failure) WriteOperation(w, op);
  w.EndArray();
  w.EndObject();
  VECTORD_ASSIGN_OR_RETURN(const std::string reply,
                           Call("/v3/kv/txn", std::move(w).Finish(), false));
  simdjson::dom::parser parser;
  VECTORD_ASSIGN_OR_RETURN(simdjson::dom::element root, ParseReply(parser, reply, "txn"));
  EtcdTxnResult out;
  bool succeeded = false;
  if (root["succeeded"].get_bool().get(succeeded) == simdjson::SUCCESS) out.succeeded = succeeded;
  simdjson::dom::element header;
  if (root["header"].get(header) == simdjson::SUCCESS) out.revision = Int(header, "revision");
  simdjson::dom::array responses;
  if (root["responses"].get_array().get(responses) == simdjson::SUCCESS) {
    for (simdjson::dom::element response : responses) {
      simdjson::dom::element range;
      if (response["response_range"].get(range) == simdjson::SUCCESS) {
        out.reads.push_back(KeyValuesOf(range));
      }
    }
  }
  return out;
}

Result<int64_t> EtcdClient::GrantLease(std::chrono::seconds ttl) {
  JsonWriter w;
  w.BeginObject().Key("TTL").String(std::to_string(std::max<int64_t>(1, ttl.count()))).EndObject();
  VECTORD_ASSIGN_OR_RETURN(const std::string reply,
                           Call("/v3/lease/grant", std::move(w).Finish(), false));
  simdjson::dom::parser parser;
  VECTORD_ASSIGN_OR_RETURN(simdjson::dom::element root, ParseReply(parser, reply, "lease grant"));
  const int64_t id = Int(root, "ID");
  if (id == 0) return Status::IOError("etcd lease grant: no lease id in " + reply.substr(0, 200));
  return id;
}

Result<int64_t> EtcdClient::KeepAlive(int64_t lease) {
  JsonWriter w;
  w.BeginObject().Key("ID").String(std::to_string(lease)).EndObject();
  VECTORD_ASSIGN_OR_RETURN(const std::string reply,
                           Call("/v3/lease/keepalive", std::move(w).Finish(), true));
  simdjson::dom::parser parser;
  VECTORD_ASSIGN_OR_RETURN(simdjson::dom::element root, ParseReply(parser, reply, "keepalive"));
  const int64_t ttl = Int(root, "TTL");
  // An expired (or unknown) lease answers with no TTL.
  if (ttl <= 0) return Status::NotFound("etcd lease " + std::to_string(lease) + " expired");
  return ttl;
}

Status EtcdClient::RevokeLease(int64_t lease) {
  JsonWriter w;
  w.BeginObject().Key("ID").String(std::to_string(lease)).EndObject();
  VECTORD_ASSIGN_OR_RETURN(const std::string reply,
                           Call("/v3/lease/revoke", std::move(w).Finish(), false));
  simdjson::dom::parser parser;
  return ParseReply(parser, reply, "lease revoke").status();
}

std::unique_ptr<EtcdWatch> EtcdClient::Watch(
    std::string prefix, int64_t start_revision,
    std::function<void(const std::vector<EtcdEvent>&)> on_events,
    std::function<void(const Status&)> on_broken, std::chrono::milliseconds give_up_after) {
  std::unique_ptr<EtcdWatch> watch(new EtcdWatch());
  watch->options_ = options_;
  watch->prefix_ = std::move(prefix);
  watch->on_events_ = std::move(on_events);
  watch->on_broken_ = std::move(on_broken);
  watch->give_up_after_ = give_up_after;
  watch->revision_ = start_revision > 0 ? start_revision - 1 : 0;
  watch->thread_ = std::thread([w = watch.get()] { w->Run(); });
  return watch;
}

EtcdWatch::~EtcdWatch() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void EtcdWatch::Run() {
  auto failing_since = std::chrono::steady_clock::now();
  size_t next_endpoint = 0;
  while (!stopping_) {
    JsonWriter w;
    w.BeginObject().Key("create_request").BeginObject();
    w.Key("key").String(base64::Encode(prefix_));
    w.Key("range_end").String(base64::Encode(PrefixEnd(prefix_)));
    if (revision_ > 0) w.Key("start_revision").String(std::to_string(revision_ + 1));
    w.EndObject().EndObject();
    const std::string body = std::move(w).Finish();

    std::string pending;
    Status broken;
    simdjson::dom::parser parser;
    Transfer transfer;
    transfer.keep_going = [this] { return !stopping_.load(); };
    transfer.on_data = [&](std::string_view data) {
      pending.append(data);
      for (size_t end; (end = pending.find('\n')) != std::string::npos;) {
        const std::string line = pending.substr(0, end);
        pending.erase(0, end + 1);
        auto result = ParseReply(parser, line, "watch");
        if (!result.ok()) {
          broken = result.status();
          return false;
        }
        failing_since = std::chrono::steady_clock::now();
        bool canceled = false;
        if ((*result)["canceled"].get_bool().get(canceled) != simdjson::SUCCESS) canceled = false;
        if (canceled || Int(*result, "compact_revision") > 0) {
          broken = Status::NotFound("etcd watch of " + prefix_ + " ended: revision " +
                                    std::to_string(revision_ + 1) + " was compacted");
          return false;
        }
        std::vector<EtcdEvent> events;
        simdjson::dom::array list;
        if ((*result)["events"].get_array().get(list) == simdjson::SUCCESS) {
          for (simdjson::dom::element e : list) {
            EtcdEvent event;
            std::string_view type;
            if (e["type"].get_string().get(type) == simdjson::SUCCESS && type == "DELETE") {
              event.type = EtcdEvent::Type::kDelete;
            }
            simdjson::dom::element kv;
            if (e["kv"].get(kv) == simdjson::SUCCESS) event.kv = KeyValueOf(kv);
            events.push_back(std::move(event));
          }
        }
        if (!events.empty()) {
          revision_ = std::max<int64_t>(revision_, events.back().kv.mod_revision);
          on_events_(events);
        }
      }
      return !stopping_.load();
    };
    long http_status = 0;
    const std::string url = options_.endpoints.empty()
                                ? std::string()
                                : options_.endpoints[next_endpoint % options_.endpoints.size()];
    Status s = url.empty() ? Status::Unavailable("no etcd endpoint")
                           : Post(url + "/v3/watch", body, std::chrono::milliseconds(0), transfer,
                                  &http_status);
    if (stopping_) return;
    if (!broken.ok() && broken.code() == StatusCode::kNotFound) {
      on_broken_(broken);
      return;
    }
    // The stream ended (etcd restarted, a network error): watch again from
    // the next revision, on the next endpoint, for as long as allowed.
    ++next_endpoint;
    if (std::chrono::steady_clock::now() - failing_since > give_up_after_) {
      on_broken_(Status::Unavailable("etcd watch of " + prefix_ + ": " +
                                     (broken.ok() ? s.message() : broken.message())));
      return;
    }
    for (int i = 0; i < 10 && !stopping_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace vectord::store
