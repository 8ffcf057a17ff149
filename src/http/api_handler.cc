#include "http/api_handler.h"

#include <cctype>
#include <charconv>
#include <chrono>
#include <ctime>
#include <exception>
#include <new>

#include "common/json_writer.h"
#include "common/log.h"
#include "http/dashboard.h"
#include "http/openapi.h"
#include "http/request_decoding.h"
#include "http/request_forwarder.h"
#include "service/cluster_coordinator.h"
#include "service/item_id.h"

namespace vectord::http {
namespace {

constexpr std::string_view kJson = "application/json";

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = kJson;
  r.body = std::move(body);
  return r;
}

int StatusFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kNoSpace: return 507;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kTimedOut: return 504;
    case StatusCode::kCorruption:
    case StatusCode::kIOError:
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

HttpResponse FromStatus(const Status& s) {
  if (StatusFor(s) == 500) {
    LogError("internal_error", {{"error", s.ToString()}});
    return ApiHandler::Error(500, "internal");
  }
  return ApiHandler::Error(StatusFor(s), s.message());
}

void WriteParams(JsonWriter& w, const service::IndexParams& p) {
  w.Key("params").BeginObject();
  w.Key("name").String(p.name);
  w.Key("dimension").Int(p.dimension);
  w.Key("m").Int(p.m);
  w.Key("ef_search").Int(p.ef_search);
  w.Key("distance").String(p.distance_name());
  w.Key("ef_construction").Int(p.ef_construction);
  w.Key("quantization").String(p.quantization_name());
  w.Key("vectors").String(p.vectors_name());
  w.EndObject();
}

// "2026-11-26T04:05:06Z"
std::string IsoTime(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

void WriteRecallCheck(JsonWriter& w, const service::RecallCheckReport& report) {
  w.BeginObject();
  w.Key("measured_at").String(IsoTime(report.measured_at));
  w.Key("queries").Int(static_cast<int64_t>(report.queries));
  w.Key("results").BeginArray();
  for (const service::RecallCheckPoint& p : report.results) {
    w.BeginObject();
    w.Key("ef").Int(p.ef);
    w.Key("recall_at_10").Double(p.recall_at_10);
    w.Key("p50_ms").Double(p.p50_ms);
    w.Key("p99_ms").Double(p.p99_ms);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

// The create response: parameters and length, as the seed answered.
std::string IndexInfo(const service::Index& index) {
  JsonWriter w;
  w.BeginObject();
  WriteParams(w, index.params());
  w.Key("length").Int(static_cast<int64_t>(index.size()));
  w.EndObject();
  return std::move(w).Finish();
}

// GET /vectors/index/{name}: the create response plus what an operator
// watches: memory, traffic, search latency and the recall self-check.
std::string IndexDetails(const service::Index& index) {
  JsonWriter w;
  w.BeginObject();
  WriteParams(w, index.params());
  w.Key("length").Int(static_cast<int64_t>(index.size()));
  w.Key("memory_bytes").Int(static_cast<int64_t>(index.memory_bytes()));
  w.Key("disk_vector_bytes").Int(static_cast<int64_t>(index.disk_vector_bytes()));
  w.Key("loaded").Bool(true);

  const service::IndexStatsSnapshot stats = index.stats().Read();
  w.Key("stats").BeginObject();
  w.Key("searches").Int(static_cast<int64_t>(stats.searches));
  w.Key("items_added").Int(static_cast<int64_t>(stats.items_added));
  w.Key("items_deleted").Int(static_cast<int64_t>(stats.items_deleted));
  w.Key("search_latency_ms");
  if (stats.search_p50_ms) {
    w.BeginObject();
    w.Key("p50").Double(*stats.search_p50_ms);
    w.Key("p90").Double(*stats.search_p90_ms);
    w.Key("p99").Double(*stats.search_p99_ms);
    w.Key("searches").Int(static_cast<int64_t>(stats.recent_searches));
    w.EndObject();
  } else {
    w.Null();
  }
  w.EndObject();

  const service::RecallEstimate recall = index.recall().Estimate();
  w.Key("recall_estimate").BeginObject();
  w.Key("recall_at_10");
  if (recall.recall_at_10) {
    w.Double(*recall.recall_at_10);
  } else {
    w.Null();
  }
  w.Key("samples").Int(static_cast<int64_t>(recall.samples));
  w.Key("samples_from_queries").Int(static_cast<int64_t>(recall.samples_from_queries));
  w.Key("ci95");
  if (recall.recall_at_10) {
    w.Double(recall.ci95);
  } else {
    w.Null();
  }
  w.Key("curve").BeginArray();
  for (const service::RecallPoint& p : recall.curve) {
    w.BeginObject();
    w.Key("ef").Int(p.ef);
    w.Key("recall_at_10").Double(p.recall_at_10);
    w.Key("samples").Int(static_cast<int64_t>(p.samples));
    w.Key("ci95").Double(p.ci95);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();

  w.Key("recall_check");
  if (auto check = index.recall().LastCheck()) {
    WriteRecallCheck(w, *check);
  } else {
    w.Null();
  }
  w.EndObject();
  return std::move(w).Finish();
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The decoded value of `key` in a query string, or "" when absent.
std::string QueryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      return eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return "";
}

HttpResponse MethodNotAllowed(std::string_view allow) {
  HttpResponse r;
  r.status = 405;
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

}  // namespace

ApiHandler::ApiHandler(service::Registry* registry, ApiOptions options,
                       const std::atomic<bool>* ready, std::function<std::string()> metrics_text)
    : registry_(registry),
      options_(std::move(options)),
      tokens_(options_.auth_token, options_.scoped_tokens),
      ready_(ready),
      metrics_text_(std::move(metrics_text)) {}

namespace {

// A scroll cursor is the last id of the page, in lowercase hex: ids may
// hold any byte, a cursor must survive a query string untouched.
std::string EncodeCursor(std::string_view id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(id.size() * 2);
  for (unsigned char c : id) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::optional<std::string> DecodeCursor(std::string_view cursor) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (cursor.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < cursor.size(); i += 2) {
    int hi = nibble(cursor[i]), lo = nibble(cursor[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

void WriteResults(JsonWriter& w, const std::vector<service::SearchHit>& results,
                  bool include_vector) {
  w.BeginArray();
  for (const service::SearchHit& r : results) {
    w.BeginObject();
    w.Key("id").String(r.id);
    w.Key("distance").Float(r.distance);
    if (r.metadata) w.Key("metadata").Raw(*r.metadata);
    if (include_vector) w.Key("vector").FloatArray(r.vector);
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace

std::span<const ApiHandler::Route> ApiHandler::Routes() {
  using enum Runs;
  using enum Auth;
  using enum Role;
  // Rows of one path list GET first: their methods, in this order, are the
  // Allow header of a 405.
  static constexpr Route kRoutes[] = {
      {"GET", "/health", &ApiHandler::Health, kInline, kPublic},
      {"GET", "/ready", &ApiHandler::Ready, kInline, kPublic},
      {"GET",
       "/metrics",
       &ApiHandler::Metrics,
       kInline,
       kServer,
       kOther,
       {},
       &ApiHandler::HasMetrics},
      {"GET", "/openapi.json", &ApiHandler::OpenApi, kInline, kAnyToken},
      // The page carries no data (its script sends the token on every call).
      {"GET", "/dashboard", &ApiHandler::Dashboard, kInline, kPublic, kOther, "/dashboard/"},
      {"GET", "/cluster", &ApiHandler::ClusterState, kInline, kServer},
      {"GET", "/vectors/index", &ApiHandler::ListIndexes, kInline, kAnyToken},
      {"POST", "/vectors/index", &ApiHandler::CreateIndex, kWorker, kNewIndex, kWrite},
      {"GET", "/vectors/index/{name}", &ApiHandler::GetIndex, kInline, kIndexRead, kRead},
      {"DELETE", "/vectors/index/{name}", &ApiHandler::DropIndex, kWorker, kIndexAdmin, kWrite},
      {"POST", "/vectors/index/{name}/add", &ApiHandler::AddItems, kWorker, kIndexWrite, kWrite},
      {"POST", "/vectors/index/{name}/search", &ApiHandler::Search, kInline, kIndexRead, kRead},
      // Fans its searches out over the workers itself.
      {"POST", "/vectors/index/{name}/search/batch", &ApiHandler::SearchBatch, kWorker, kIndexRead,
       kRead},
      {"POST", "/vectors/index/{name}/delete", &ApiHandler::DeleteItems, kWorker, kIndexWrite,
       kWrite},
      // Full scans for up to seconds: never on an io thread. It changes
      // nothing, so read access is enough.
      {"POST", "/vectors/index/{name}/recall-check", &ApiHandler::RecallCheck, kWorker, kIndexRead},
      // Reads and rewrites a whole index's files.
      {"POST", "/vectors/index/{name}/recover", &ApiHandler::RecoverIndex, kWorker, kIndexAdmin},
      {"GET", "/vectors/index/{name}/items", &ApiHandler::ScrollItems, kInline, kIndexRead, kRead},
      {"GET", "/vectors/index/{name}/items/{id}", &ApiHandler::GetItem, kInline, kIndexRead, kRead},
      {"DELETE", "/vectors/index/{name}/items/{id}", &ApiHandler::DeleteItem, kWorker, kIndexWrite,
       kWrite},
  };
  return kRoutes;
}

namespace {

// Takes the next "/segment" off the front of `rest`; false when `rest` does
// not start with '/'.
bool NextSegment(std::string_view& rest, std::string_view* segment) {
  if (rest.empty() || rest.front() != '/') return false;
  rest.remove_prefix(1);
  const size_t slash = rest.find('/');
  *segment = rest.substr(0, slash);
  rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  return true;
}

// Whether `path` fits `pattern` segment by segment: literal segments equal,
// each placeholder one non-empty segment. An empty segment (a double or
// trailing slash) therefore fits nothing, as in the seed's router. Fills
// `params` (when given) with the percent-decoded placeholders.
bool Fits(std::string_view pattern, std::string_view path, ApiHandler::PathParams* params) {
  std::string_view name, id;
  while (!pattern.empty()) {
    std::string_view want, got;
    if (!NextSegment(pattern, &want) || !NextSegment(path, &got)) return false;
    if (want == "{name}" || want == "{id}") {
      if (got.empty()) return false;
      (want == "{id}" ? id : name) = got;
    } else if (want != got) {
      return false;
    }
  }
  if (!path.empty()) return false;
  if (params != nullptr) {
    params->name = PercentDecode(name);
    params->id = PercentDecode(id);
  }
  return true;
}

bool FitsRoute(const ApiHandler::Route& route, std::string_view path) {
  return Fits(route.pattern, path, nullptr) || (!route.alias.empty() && path == route.alias);
}

// Until stored indexes are loaded the index API would show (and let clients
// create over) a partial set: every path under it answers 503, known or not.
bool InIndexApi(std::string_view path) {
  constexpr std::string_view kPrefix = "/vectors/index";
  return path.starts_with(kPrefix) &&
         (path.size() == kPrefix.size() || path[kPrefix.size()] == '/');
}

}  // namespace

ApiHandler::PathMatch ApiHandler::Match(std::string_view method, std::string_view path) const {
  PathMatch match;
  for (const Route& route : Routes()) {
    if (route.present != nullptr && !(this->*route.present)()) continue;
    if (match.pattern.empty() ? !FitsRoute(route, path) : route.pattern != match.pattern) continue;
    match.pattern = route.pattern;
    if (route.method == method) match.route = &route;
    if (!match.allow.empty()) match.allow += ", ";
    match.allow += route.method;
  }
  return match;
}

const ApiHandler::Route* ApiHandler::RouteFor(std::string_view method,
                                              std::string_view path) const {
  return Match(method, path).route;
}

bool ApiHandler::RunsInline(const HttpRequest& request) const {
  const Route* route = RouteFor(request.method, request.path);
  // A read that may wait for this node to catch up must not hold an io
  // thread meanwhile.
  if (route != nullptr && route->role == Role::kRead &&
      (!QueryParam(request.query, "min_sequence").empty() ||
       (options_.cluster != nullptr && QueryParam(request.query, "consistency") == "strong"))) {
    return false;
  }
  if (route == nullptr) return true;
  if (route->runs != Runs::kInline) return false;
  // A first use loads the index (a snapshot read, maybe a download): not on
  // an io thread, which other connections share. (A diverged one is loaded
  // again, too.) Shortly after start-up, the index list and a name not known
  // yet may wait a moment for the bucket's listing.
  PathParams params;
  if (Fits(route->pattern, request.path, &params) && !params.name.empty()) {
    std::optional<service::Registry::Summary> summary = registry_->Describe(params.name);
    if (!summary) return !registry_->discovering();
    if (!summary->loaded || summary->index->diverged()) return false;
  } else if (route->handler == &ApiHandler::ListIndexes && registry_->discovering()) {
    return false;
  }
  return true;
}

HttpResponse ApiHandler::Error(int status, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body.assign(message);
  r.body += '\n';
  return r;
}

std::optional<Access> ApiHandler::IndexAccess(Auth auth) {
  switch (auth) {
    case Auth::kIndexRead: return Access::kRead;
    case Auth::kIndexWrite: return Access::kWrite;
    case Auth::kIndexAdmin:
    case Auth::kNewIndex: return Access::kAdmin;
    case Auth::kPublic:
    case Auth::kAnyToken:
    case Auth::kServer: break;
  }
  return std::nullopt;
}

std::optional<Grant> ApiHandler::Authenticate(const HttpRequest& request,
                                              const Route* route) const {
  if (!tokens_.enabled()) return Grant::Full();
  if (route != nullptr && route->auth == Auth::kPublic) return Grant::Full();
  // The scheme name is case-insensitive (RFC 9110 11.1); the token is not.
  constexpr std::string_view kBearer = "bearer ";
  std::string_view header = request.authorization;
  if (header.size() < kBearer.size()) return std::nullopt;
  for (size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kBearer[i]) return std::nullopt;
  }
  return tokens_.Find(header.substr(kBearer.size()));
}

std::optional<HttpResponse> ApiHandler::Forbidden(const Grant& grant, const Route& route,
                                                  std::string_view index_name) {
  if (grant.full()) return std::nullopt;
  if (route.auth == Auth::kServer) {
    return Error(403, "forbidden: this token is limited to some indexes; " +
                          std::string(route.pattern) + " needs the full-access token");
  }
  const std::optional<Access> needed = IndexAccess(route.auth);
  if (!needed || grant.Allows(index_name, *needed)) return std::nullopt;
  // The same answer whether or not the index exists: a token learns
  // nothing about names outside its scope.
  return Error(403, "forbidden: this token has no " + std::string(AccessName(*needed)) +
                        " access to index '" + std::string(index_name) + "'");
}

HttpResponse ApiHandler::Handle(HttpRequest& request) const {
  // An allocation that fails answers this request alone; the io thread or
  // worker running it goes on serving others. A write is applied whole or
  // not at all whatever fails (service::Index cancels a logged write it
  // could not apply, or rebuilds it whole from the log), so a retry is safe.
  try {
    return Authorize(request);
  } catch (const std::bad_alloc&) {
    HttpResponse r = Error(507,
                           "out of memory: retry later or with a smaller request (a write is "
                           "applied whole or not at all; retrying one is safe)");
    r.route = "out_of_memory";
    return r;
  } catch (const std::exception& e) {
    HttpResponse r = Error(500, std::string("internal: ") + e.what());
    r.route = "internal";
    return r;
  }
}

HttpResponse ApiHandler::Authorize(HttpRequest& request) const {
  const PathMatch match = Match(request.method, request.path);
  // Before anything else, even for paths no route serves: a route added
  // later is covered without anyone remembering to.
  std::optional<Grant> grant = Authenticate(request, match.route);
  if (!grant) {
    HttpResponse r = Error(401, "unauthorized");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    r.route = "unauthorized";
    return r;
  }
  if (match.route != nullptr && !grant->full()) {
    PathParams params;
    (void)Fits(match.route->pattern, request.path, &params);
    // A route that names its index in the body (create) checks it there.
    if (match.route->auth != Auth::kNewIndex) {
      if (std::optional<HttpResponse> refused = Forbidden(*grant, *match.route, params.name)) {
        refused->route = "forbidden";
        return std::move(*refused);
      }
    }
  }
  return Dispatch(request, match, *grant);
}

HttpResponse ApiHandler::Dispatch(HttpRequest& request, const PathMatch& match,
                                  const Grant& grant) const {
  auto labelled = [](HttpResponse r, std::string route) {
    r.route = std::move(route);
    return r;
  };
  if (InIndexApi(request.path) && ready_ != nullptr && !ready_->load(std::memory_order_acquire)) {
    return labelled(Error(503, "loading indexes"), "loading");
  }
  if (match.pattern.empty()) return labelled(Error(404, "404 page not found"), "unmatched");
  if (match.route == nullptr) {
    return labelled(MethodNotAllowed(match.allow), std::string(match.pattern));
  }
  const Route& route = *match.route;
  PathParams params;
  (void)Fits(route.pattern, request.path, &params);  // false for the alias: no placeholders
  params.grant = grant;
  std::string label = std::string(route.method) + " " + std::string(route.pattern);
  if (route.role == Role::kWrite) {
    if (std::optional<HttpResponse> forwarded = ForwardIfNotWriter(request)) {
      return labelled(std::move(*forwarded), std::move(label));
    }
  } else if (route.role == Role::kRead) {
    if (Status waited = AwaitConsistency(request, params); !waited.ok()) {
      return labelled(FromStatus(waited), std::move(label));
    }
  }
  Result<HttpResponse> response = (this->*route.handler)(request, params);
  if (!response.ok()) return labelled(FromStatus(response.status()), std::move(label));
  return labelled(std::move(response).value(), std::move(label));
}

std::optional<HttpResponse> ApiHandler::ForwardIfNotWriter(const HttpRequest& request) const {
  service::ClusterCoordinator* cluster = options_.cluster;
  if (cluster == nullptr || cluster->IsWriter()) return std::nullopt;
  // Without etcd there is no writer to be had: say so (the client should
  // see what is down, not "retry" an election that cannot happen).
  if (Status etcd = cluster->EtcdHealth(); !etcd.ok()) {
    return Error(503, "node " + cluster->node_id() + " cannot take writes: " + etcd.message());
  }
  // One hop only: a forwarded request that finds the writer gone is
  // answered here, never sent on (two nodes with stale views could
  // otherwise bounce it between them).
  if (!request.forwarded_by.empty()) {
    return Error(503, "node " + cluster->node_id() + " is not the writer (node " +
                          request.forwarded_by + " forwarded this write here): retry");
  }
  const std::optional<service::WriterInfo> writer = cluster->Writer();
  if (!writer || writer->node == cluster->node_id() || options_.forwarder == nullptr) {
    return Error(503, "the cluster has no writer at the moment (an election is under way): retry");
  }
  return options_.forwarder->Forward(writer->node, writer->url, request, [&] {
    // Abandoned only when another node is the writer: the same node starting
    // a new term (as it does after a failed commit) still answers this
    // forward, definitely (its commit checks its own term), and abandoning it
    // would turn that answer into "outcome unknown".
    const std::optional<service::WriterInfo> now = cluster->Writer();
    return now && now->node == writer->node && !cluster->IsWriter();
  });
}

Status ApiHandler::AwaitConsistency(const HttpRequest& request, const PathParams& path) const {
  const std::string consistency = QueryParam(request.query, "consistency");
  if (!consistency.empty() && consistency != "strong" && consistency != "eventual") {
    return Status::InvalidArgument("consistency must be strong or eventual");
  }
  const std::string min_text = QueryParam(request.query, "min_sequence");
  uint64_t min_sequence = 0;
  if (!min_text.empty()) {
    auto [end, error] =
        std::from_chars(min_text.data(), min_text.data() + min_text.size(), min_sequence);
    if (error != std::errc() || end != min_text.data() + min_text.size()) {
      return Status::InvalidArgument("min_sequence must be a non-negative integer");
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + kReadWaitBound;
  if (options_.cluster != nullptr) {
    return options_.cluster->WaitForRead(path.name, consistency == "strong", min_sequence,
                                         deadline);
  }
  // A single node applies a write before acknowledging it: every read is
  // strong, and a sequence it has not reached is one it has not written.
  if (min_sequence == 0) return Status::Ok();
  auto index = registry_->Find(path.name);
  if (!index) return Status::Ok();  // the handler answers 404
  if (index->WaitApplied(min_sequence, deadline)) return Status::Ok();
  return Status::TimedOut("index " + path.name + " has applied " +
                          std::to_string(index->applied_sequence()) + " of the " +
                          std::to_string(min_sequence) + " records the read needs");
}

Result<HttpResponse> ApiHandler::ClusterState(HttpRequest&, const PathParams&) const {
  if (options_.cluster == nullptr) {
    return Error(404, "not a cluster: this node runs alone (cluster.etcd_endpoints is empty)");
  }
  VECTORD_ASSIGN_OR_RETURN(const service::ClusterStatus status, options_.cluster->Describe());
  JsonWriter w;
  w.BeginObject();
  w.Key("node").String(options_.cluster->node_id());
  w.Key("leader");
  if (status.writer) {
    w.String(status.writer->node);
  } else {
    w.Null();
  }
  w.Key("term").Int(status.writer ? status.writer->term : 0);
  w.Key("nodes").BeginArray();
  for (const service::ClusterNode& node : status.nodes) {
    w.BeginObject().Key("id").String(node.id).Key("url").String(node.url);
    w.Key("healthy").Bool(node.healthy).EndObject();
  }
  w.EndArray();
  w.Key("indexes").BeginArray();
  for (const service::ClusterStatus::IndexState& index : status.indexes) {
    w.BeginObject().Key("name").String(index.name).Key("writer");
    if (status.writer) {
      w.String(status.writer->node);
    } else {
      w.Null();
    }
    w.Key("sequence").Int(static_cast<int64_t>(index.sequence));
    w.Key("replicas").BeginArray();
    for (const auto& replica : index.replicas) {
      w.BeginObject().Key("node").String(replica.node);
      w.Key("applied_sequence").Int(static_cast<int64_t>(replica.applied_sequence)).EndObject();
    }
    w.EndArray().EndObject();
  }
  w.EndArray().EndObject();
  return Json(200, std::move(w).Finish());
}

Result<HttpResponse> ApiHandler::Health(HttpRequest&, const PathParams&) const {
  return Json(200, "{\"status\":\"ok\"}\n");
}

Result<HttpResponse> ApiHandler::Ready(HttpRequest&, const PathParams&) const {
  const bool ready = ready_ == nullptr || ready_->load(std::memory_order_acquire);
  if (ready) return Json(200, "{\"status\":\"ready\"}\n");
  return Error(503, options_.not_ready_reason ? options_.not_ready_reason() : "loading indexes");
}

Result<HttpResponse> ApiHandler::Metrics(HttpRequest&, const PathParams&) const {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics_text_();
  return r;
}

Result<HttpResponse> ApiHandler::OpenApi(HttpRequest&, const PathParams&) const {
  return Json(200, std::string(OpenApiDocument()));
}

Result<HttpResponse> ApiHandler::Dashboard(HttpRequest&, const PathParams&) const {
  HttpResponse r;
  r.content_type = "text/html; charset=utf-8";
  r.body.assign(DashboardPage());
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

Result<HttpResponse> ApiHandler::ListIndexes(HttpRequest&, const PathParams& path) const {
  // Every index: also those only the bucket holds, still being listed.
  VECTORD_RETURN_IF_ERROR(registry_->WaitDiscovered());
  std::vector<std::string> names = registry_->Names();
  std::erase_if(names, [&](const std::string& name) { return !path.grant.MaySee(name); });
  JsonWriter w;
  w.BeginObject().Key("names").BeginArray();
  for (const std::string& n : names) w.String(n);
  w.EndArray().Key("count").Int(static_cast<int64_t>(names.size()));
  // Indexes whose stored copy did not load: not in names (the seed's
  // contract), but never silently absent either.
  std::vector<service::Registry::FailedIndex> failed = registry_->Failed();
  std::erase_if(failed, [&](const auto& f) { return !path.grant.MaySee(f.name); });
  if (!failed.empty()) {
    w.Key("failed").BeginArray();
    for (const auto& f : failed) {
      w.BeginObject().Key("name").String(f.name).Key("error").String(f.error).EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return Json(200, std::move(w).Finish());
}

Result<HttpResponse> ApiHandler::CreateIndex(HttpRequest& request, const PathParams& path) const {
  VECTORD_ASSIGN_OR_RETURN(const service::CreateSpec spec, DecodeCreate(request.body));
  if (!path.grant.Allows(spec.name, Access::kAdmin)) {
    return Error(403, "forbidden: this token has no admin access to index '" + spec.name + "'");
  }
  VECTORD_ASSIGN_OR_RETURN(const std::shared_ptr<service::Index> index, registry_->Create(spec));
  return Json(201, IndexInfo(*index));
}

Result<HttpResponse> ApiHandler::GetIndex(HttpRequest&, const PathParams& path) const {
  // An unloaded index whose item count is known (it was loaded since
  // start-up) answers from its stored parameters without loading; one not
  // loaded since start-up is loaded, as only a load counts its items.
  // An unknown name goes through Open too: it may be one the bucket's
  // listing has not registered yet (Open waits for it), or a failed index.
  const std::optional<service::Registry::Summary> summary = registry_->Describe(path.name);
  if (!summary || summary->loaded || !summary->items) {
    VECTORD_ASSIGN_OR_RETURN(const std::shared_ptr<service::Index> index,
                             registry_->Open(path.name));
    return Json(200, IndexDetails(*index));
  }
  VECTORD_ASSIGN_OR_RETURN(const service::IndexParams params, registry_->StoredParams(path.name));
  JsonWriter w;
  w.BeginObject();
  WriteParams(w, params);
  w.Key("length").Int(static_cast<int64_t>(*summary->items));
  w.Key("loaded").Bool(false);
  w.EndObject();
  return Json(200, std::move(w).Finish());
}

Result<HttpResponse> ApiHandler::RecoverIndex(HttpRequest&, const PathParams& path) const {
  VECTORD_ASSIGN_OR_RETURN(const service::Recovered recovered, registry_->Recover(path.name));
  // Refused, and the bucket's complete copy is served instead.
  if (!recovered.loaded_object_store_copy.empty()) {
    return Error(409, recovered.loaded_object_store_copy);
  }
  const service::RecoveryReport& r = recovered.report;
  auto text_or_null = [](JsonWriter& w, const std::string& text) -> JsonWriter& {
    return text.empty() ? w.Null() : w.String(text);
  };
  JsonWriter w;
  w.BeginObject();
  w.Key("name").String(path.name);
  w.Key("items").Int(static_cast<int64_t>(r.items));
  w.Key("summary").String(r.Summary());
  w.Key("snapshot_sequence").Int(static_cast<int64_t>(r.snapshot_sequence));
  w.Key("snapshot_error");
  text_or_null(w, r.snapshot_error);
  w.Key("log_records").BeginObject();
  w.Key("count").Int(static_cast<int64_t>(r.records));
  w.Key("first").Int(static_cast<int64_t>(r.first_record));
  w.Key("last").Int(static_cast<int64_t>(r.last_record));
  w.EndObject();
  w.Key("log_error");
  text_or_null(w, r.log_error);
  w.Key("quarantine").String(r.quarantine);
  w.EndObject();
  return Json(200, std::move(w).Finish());
}

Result<HttpResponse> ApiHandler::DropIndex(HttpRequest&, const PathParams& path) const {
  VECTORD_RETURN_IF_ERROR(registry_->Drop(path.name));
  HttpResponse r;
  r.status = 204;
  return r;
}

Result<HttpResponse> ApiHandler::AddItems(HttpRequest& request, const PathParams& path) const {
  // Checked before the body, as the seed does.
  VECTORD_ASSIGN_OR_RETURN(const std::shared_ptr<service::Index> index, registry_->Open(path.name));
  VECTORD_ASSIGN_OR_RETURN(const std::vector<service::NewItem> items, DecodeAdd(request.body));
  VECTORD_ASSIGN_OR_RETURN(const service::Durability durability,
                           service::ParseDurability(QueryParam(request.query, "durability")));
  VECTORD_ASSIGN_OR_RETURN(const service::WriteResult result,
                           registry_->Add(index, items, durability));
  JsonWriter w;
  w.BeginObject();
  w.Key("added").Int(static_cast<int64_t>(result.affected));
  w.Key("length").Int(static_cast<int64_t>(result.length));
  w.Key("durability").String(result.durability);
  // Cluster mode: what ?min_sequence= takes on any node. (A single node's
  // answers keep the shape its clients know.)
  if (options_.cluster != nullptr) w.Key("sequence").Int(static_cast<int64_t>(result.sequence));
  w.EndObject();
  return Json(200, std::move(w).Finish());
}

Result<HttpResponse> ApiHandler::Search(HttpRequest& request, const PathParams& path) const {
  VECTORD_ASSIGN_OR_RETURN(const std::shared_ptr<service::Index> index, registry_->Open(path.name));
  VECTORD_ASSIGN_OR_RETURN(const service::SearchSpec spec, DecodeSearch(request.body));
  VECTORD_ASSIGN_OR_RETURN(const std::vector<service::SearchHit> results, index->Search(spec));
  JsonWriter w;
  w.BeginObject().Key("results");
  WriteResults(w, results, spec.include_vector);
  w.EndObject();
  return Json(200, std::move(w).Finish());
}

Result<HttpResponse> ApiHandler::SearchBatch(HttpRequest& request, const PathParams& path) const {
  VECTORD_ASSIGN_OR_RETURN(const std::shared_ptr<service::Index> index, registry_->Open(path.name));
  VECTORD_ASSIGN_OR_RETURN(const std::vector<service::SearchSpec> specs,
                           DecodeSearchBatch(request.body));
  std::vector<std::optional<Result<std::vector<service::SearchHit>>>> results(specs.size());
  auto run = [&](size_t i) { results[i] = index->Search(specs[i]); };
  if (registry_->workers() != nullptr) {
    registry_->workers()->ParallelFor(specs.size(), run);
  } else {
    for (size_t i = 0; i < specs.size(); ++i) run(i);
  }
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i]->ok()) {
      return results[i]->status().WithContext("searches[" + std::to_string(i) + "]");
    }
  }
  JsonWriter w;
  w.BeginObject().Key("results").BeginArray();
  for (size_t i = 0; i < results.size(); ++i) {
    WriteResults(w, **results[i], specs[i].include_vector);
  }
  w.EndArray().EndObject();
  return Json(200, std::move(w).Finish());
}

Result<HttpResponse> ApiHandler::DeleteItems(HttpRequest& request, const PathParams& path) const {
  VECTORD_ASSIGN_OR_RETURN(const std::shared_ptr<service::Index> index, registry_->Open(path.name));
  VECTORD_ASSIGN_OR_RETURN(const std::vector<std::string> ids, DecodeIds(request.body));
  VECTORD_ASSIGN_OR_RETURN(const service::Durability durability,
                           service::ParseDurability(QueryParam(request.query, "durability")));
  VECTORD_ASSIGN_OR_RETURN(const service::WriteResult result,
                           registry_->Remove(index, ids, durability));
  JsonWriter w;
  w.BeginObject();
  w.Key("deleted").Int(static_cast<int64_t>(result.affected));
  w.Key("length").Int(static_cast<int64_t>(result.length));
  w.Key("durability").String(result.durability);
  // Cluster mode: what ?min_sequence= takes on any node. (A single node's
  // answers keep the shape its clients know.)
  if (options_.cluster != nullptr) w.Key("sequence").Int(static_cast<int64_t>(result.sequence));
  w.EndObject();
  return Json(200, std::move(w).Finish());
}

Result<HttpResponse> ApiHandler::RecallCheck(HttpRequest& request, const PathParams& path) const {
  VECTORD_ASSIGN_OR_RETURN(const std::shared_ptr<service::Index> index, registry_->Open(path.name));
  VECTORD_ASSIGN_OR_RETURN(const RecallCheckSpec spec, DecodeRecallCheck(request.body));
  const auto seed =
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  VECTORD_ASSIGN_OR_RETURN(const service::RecallCheckReport report,
                           service::MeasureRecall(*index, spec.efs, spec.queries, seed));
  JsonWriter w;
  WriteRecallCheck(w, report);
  return Json(200, std::move(w).Finish());
}

Result<HttpResponse> ApiHandler::ScrollItems(HttpRequest& request, const PathParams& path) const {
  VECTORD_ASSIGN_OR_RETURN(const std::shared_ptr<service::Index> index, registry_->Open(path.name));
  size_t limit = kDefaultScrollLimit;
  const std::string limit_text = QueryParam(request.query, "limit");
  if (!limit_text.empty()) {
    uint64_t value = 0;
    auto [end, ec] =
        std::from_chars(limit_text.data(), limit_text.data() + limit_text.size(), value);
    if (ec != std::errc() || end != limit_text.data() + limit_text.size() || value < 1 ||
        value > kMaxScrollLimit) {
      return Error(400, "limit must be between 1 and " + std::to_string(kMaxScrollLimit));
    }
    limit = value;
  }
  bool include_vector = false;
  const std::string vector_text = QueryParam(request.query, "include_vector");
  if (vector_text == "true" || vector_text == "1") {
    include_vector = true;
  } else if (!vector_text.empty() && vector_text != "false" && vector_text != "0") {
    return Error(400, "include_vector must be true or false");
  }
  auto after = DecodeCursor(QueryParam(request.query, "cursor"));
  if (!after) return Error(400, "invalid cursor");
  service::ScrollPage page = index->Scroll(*after, limit, include_vector);
  JsonWriter w;
  w.BeginObject().Key("items").BeginArray();
  for (const service::StoredItem& item : page.items) {
    w.BeginObject();
    w.Key("id").String(item.id);
    if (item.metadata) w.Key("metadata").Raw(*item.metadata);
    if (include_vector) w.Key("vector").FloatArray(item.vector);
    w.EndObject();
  }
  w.EndArray().Key("next_cursor");
  if (page.next_after) {
    w.String(EncodeCursor(*page.next_after));
  } else {
    w.Null();
  }
  w.EndObject();
  return Json(200, std::move(w).Finish());
}

Result<HttpResponse> ApiHandler::GetItem(HttpRequest&, const PathParams& path) const {
  VECTORD_ASSIGN_OR_RETURN(const std::shared_ptr<service::Index> index, registry_->Open(path.name));
  VECTORD_RETURN_IF_ERROR(service::ValidateItemId(path.id));
  std::optional<service::StoredItem> item = index->Get(path.id);
  if (!item) return Error(404, "not found");
  JsonWriter w;
  w.BeginObject();
  w.Key("id").String(item->id);
  w.Key("vector").FloatArray(item->vector);
  if (item->metadata) w.Key("metadata").Raw(*item->metadata);
  w.EndObject();
  return Json(200, std::move(w).Finish());
}

Result<HttpResponse> ApiHandler::DeleteItem(HttpRequest& request, const PathParams& path) const {
  VECTORD_ASSIGN_OR_RETURN(const std::shared_ptr<service::Index> index, registry_->Open(path.name));
  VECTORD_ASSIGN_OR_RETURN(const service::Durability durability,
                           service::ParseDurability(QueryParam(request.query, "durability")));
  const std::vector<std::string> ids = {path.id};
  VECTORD_ASSIGN_OR_RETURN(const service::WriteResult result,
                           registry_->Remove(index, ids, durability));
  if (result.affected == 0) return Error(404, "not found");
  HttpResponse r;
  r.status = 204;
  return r;
}

}  // namespace vectord::http
