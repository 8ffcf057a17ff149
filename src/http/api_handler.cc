#include "http/api_handler.h"

#include <cctype>
#include <charconv>
#include <chrono>
#include <ctime>

#include "common/json_writer.h"
#include "common/log.h"
#include "http/dashboard.h"
#include "http/openapi.h"
#include "http/request_decoding.h"
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

// Splits "/a/b/c" into {"a","b","c"}; an empty segment (double or trailing
// slash) is kept so that it fails to match, as in the seed's router.
std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      break;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
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

bool IsDashboardPath(std::string_view path) {
  return path == "/dashboard" || path == "/dashboard/";
}

HttpResponse MethodNotAllowed(std::string_view allow) {
  HttpResponse r;
  r.status = 405;
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

// Compares in time that depends only on the lengths, so the token cannot be
// guessed byte by byte from response times.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

}  // namespace

ApiHandler::ApiHandler(service::Registry* registry, ApiOptions options,
                       const std::atomic<bool>* ready, std::function<std::string()> metrics_text)
    : registry_(registry),
      options_(std::move(options)),
      ready_(ready),
      metrics_text_(std::move(metrics_text)) {}

namespace {

constexpr size_t kDefaultScrollLimit = 100;
constexpr size_t kMaxScrollLimit = 10000;

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

bool ApiHandler::RunsInline(const HttpRequest& request) const {
  if (request.method == "GET") return true;
  return request.method == "POST" && request.path.ends_with("/search");
}

HttpResponse ApiHandler::Error(int status, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body.assign(message);
  r.body += '\n';
  return r;
}

bool ApiHandler::Authorized(const HttpRequest& request) const {
  if (options_.auth_token.empty()) return true;
  // The probes, and the dashboard page, which carries no data (its script
  // sends the token on every call it makes).
  if (request.method == "GET" &&
      (request.path == "/health" || request.path == "/ready" || IsDashboardPath(request.path))) {
    return true;
  }
  // The scheme name is case-insensitive (RFC 9110 11.1); the token is not.
  constexpr std::string_view kBearer = "bearer ";
  std::string_view header = request.authorization;
  if (header.size() < kBearer.size()) return false;
  for (size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kBearer[i]) return false;
  }
  return ConstantTimeEquals(header.substr(kBearer.size()), options_.auth_token);
}

HttpResponse ApiHandler::Handle(HttpRequest& request) const {
  if (!Authorized(request)) {
    HttpResponse r = Error(401, "unauthorized");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    r.route = "unauthorized";
    return r;
  }
  return Route(request);
}

HttpResponse ApiHandler::Route(HttpRequest& request) const {
  const std::string& method = request.method;
  std::vector<std::string_view> seg = Segments(request.path);
  auto with_route = [](HttpResponse r, std::string route) {
    r.route = std::move(route);
    return r;
  };

  if (seg.size() == 1 && seg[0] == "health") {
    if (method != "GET") return with_route(MethodNotAllowed("GET"), "/health");
    return with_route(Json(200, "{\"status\":\"ok\"}\n"), "GET /health");
  }
  if (seg.size() == 1 && seg[0] == "ready") {
    if (method != "GET") return with_route(MethodNotAllowed("GET"), "/ready");
    bool ready = ready_ == nullptr || ready_->load(std::memory_order_acquire);
    return with_route(ready ? Json(200, "{\"status\":\"ready\"}\n") : Error(503, "loading indexes"),
                      "GET /ready");
  }
  if (seg.size() == 1 && seg[0] == "openapi.json") {
    if (method != "GET") return with_route(MethodNotAllowed("GET"), "/openapi.json");
    return with_route(Json(200, std::string(OpenApiDocument())), "GET /openapi.json");
  }
  if (IsDashboardPath(request.path)) {
    if (method != "GET") return with_route(MethodNotAllowed("GET"), "/dashboard");
    HttpResponse r;
    r.content_type = "text/html; charset=utf-8";
    r.body.assign(DashboardPage());
    r.headers.emplace_back("Cache-Control", "no-cache");
    return with_route(std::move(r), "GET /dashboard");
  }
  if (seg.size() == 1 && seg[0] == "metrics" && metrics_text_) {
    if (method != "GET") return with_route(MethodNotAllowed("GET"), "/metrics");
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_text_();
    return with_route(std::move(r), "GET /metrics");
  }
  if (seg.size() >= 2 && seg[0] == "vectors" && seg[1] == "index") {
    // Until stored indexes are loaded, the API would show (and let clients
    // create over) a partial set: refuse it.
    if (ready_ != nullptr && !ready_->load(std::memory_order_acquire)) {
      return with_route(Error(503, "loading indexes"), "loading");
    }
    if (seg.size() == 2) {
      if (method == "POST") return with_route(CreateIndex(request), "POST /vectors/index");
      if (method == "GET") return with_route(ListIndexes(), "GET /vectors/index");
      return with_route(MethodNotAllowed("GET, POST"), "/vectors/index");
    }
    if (!seg[2].empty()) {
      std::string name = PercentDecode(seg[2]);
      if (seg.size() == 3) {
        if (method == "GET") return with_route(GetIndex(name), "GET /vectors/index/{name}");
        if (method == "DELETE") return with_route(DropIndex(name), "DELETE /vectors/index/{name}");
        return with_route(MethodNotAllowed("GET, DELETE"), "/vectors/index/{name}");
      }
      if (seg.size() == 4 && seg[3] == "add") {
        if (method == "POST") {
          return with_route(AddItems(name, request), "POST /vectors/index/{name}/add");
        }
        return with_route(MethodNotAllowed("POST"), "/vectors/index/{name}/add");
      }
      if (seg.size() == 4 && seg[3] == "search") {
        if (method == "POST") {
          return with_route(Search(name, request), "POST /vectors/index/{name}/search");
        }
        return with_route(MethodNotAllowed("POST"), "/vectors/index/{name}/search");
      }
      if (seg.size() == 5 && seg[3] == "search" && seg[4] == "batch") {
        if (method == "POST") {
          return with_route(SearchBatch(name, request), "POST /vectors/index/{name}/search/batch");
        }
        return with_route(MethodNotAllowed("POST"), "/vectors/index/{name}/search/batch");
      }
      if (seg.size() == 4 && seg[3] == "items") {
        if (method == "GET") {
          return with_route(ScrollItems(name, request), "GET /vectors/index/{name}/items");
        }
        return with_route(MethodNotAllowed("GET"), "/vectors/index/{name}/items");
      }
      if (seg.size() == 4 && seg[3] == "recall-check") {
        if (method == "POST") {
          return with_route(RecallCheck(name, request), "POST /vectors/index/{name}/recall-check");
        }
        return with_route(MethodNotAllowed("POST"), "/vectors/index/{name}/recall-check");
      }
      if (seg.size() == 4 && seg[3] == "delete") {
        if (method == "POST") {
          return with_route(DeleteItems(name, request), "POST /vectors/index/{name}/delete");
        }
        return with_route(MethodNotAllowed("POST"), "/vectors/index/{name}/delete");
      }
      if (seg.size() == 5 && seg[3] == "items" && !seg[4].empty()) {
        std::string id = PercentDecode(seg[4]);
        if (method == "GET") {
          return with_route(GetItem(name, id), "GET /vectors/index/{name}/items/{id}");
        }
        if (method == "DELETE") {
          return with_route(DeleteItem(name, id, request),
                            "DELETE /vectors/index/{name}/items/{id}");
        }
        return with_route(MethodNotAllowed("GET, DELETE"), "/vectors/index/{name}/items/{id}");
      }
    }
  }
  return with_route(Error(404, "404 page not found"), "unmatched");
}

HttpResponse ApiHandler::CreateIndex(HttpRequest& request) const {
  auto spec = DecodeCreate(request.body);
  if (!spec.ok()) return FromStatus(spec.status());
  auto index = registry_->Create(*spec);
  if (!index.ok()) return FromStatus(index.status());
  return Json(201, IndexInfo(**index));
}

HttpResponse ApiHandler::ListIndexes() const {
  std::vector<std::string> names = registry_->Names();
  JsonWriter w;
  w.BeginObject().Key("names").BeginArray();
  for (const std::string& n : names) w.String(n);
  w.EndArray().Key("count").Int(static_cast<int64_t>(names.size())).EndObject();
  return Json(200, std::move(w).Finish());
}

HttpResponse ApiHandler::GetIndex(std::string_view name) const {
  auto index = registry_->Find(name);
  if (!index) return Error(404, "not found");
  return Json(200, IndexDetails(*index));
}

HttpResponse ApiHandler::RecallCheck(std::string_view name, HttpRequest& request) const {
  auto index = registry_->Find(name);
  if (!index) return Error(404, "not found");
  auto spec = DecodeRecallCheck(request.body);
  if (!spec.ok()) return FromStatus(spec.status());
  const auto seed =
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  auto report = service::MeasureRecall(*index, spec->efs, spec->queries, seed);
  if (!report.ok()) return FromStatus(report.status());
  JsonWriter w;
  WriteRecallCheck(w, *report);
  return Json(200, std::move(w).Finish());
}

HttpResponse ApiHandler::DropIndex(std::string_view name) const {
  Status s = registry_->Drop(name);
  if (!s.ok()) return FromStatus(s);
  HttpResponse r;
  r.status = 204;
  return r;
}

HttpResponse ApiHandler::AddItems(std::string_view name, HttpRequest& request) const {
  auto index = registry_->Find(name);  // checked before the body, as the seed does
  if (!index) return Error(404, "not found");
  auto items = DecodeAdd(request.body);
  if (!items.ok()) return FromStatus(items.status());
  auto durability = service::ParseDurability(QueryParam(request.query, "durability"));
  if (!durability.ok()) return FromStatus(durability.status());
  auto result = registry_->Add(index, *items, *durability);
  if (!result.ok()) return FromStatus(result.status());
  JsonWriter w;
  w.BeginObject();
  w.Key("added").Int(static_cast<int64_t>(result->affected));
  w.Key("length").Int(static_cast<int64_t>(result->length));
  w.Key("durability").String(result->durability);
  w.EndObject();
  return Json(200, std::move(w).Finish());
}

HttpResponse ApiHandler::DeleteItems(std::string_view name, HttpRequest& request) const {
  auto index = registry_->Find(name);
  if (!index) return Error(404, "not found");
  auto ids = DecodeIds(request.body);
  if (!ids.ok()) return FromStatus(ids.status());
  auto durability = service::ParseDurability(QueryParam(request.query, "durability"));
  if (!durability.ok()) return FromStatus(durability.status());
  auto result = registry_->Remove(index, *ids, *durability);
  if (!result.ok()) return FromStatus(result.status());
  JsonWriter w;
  w.BeginObject();
  w.Key("deleted").Int(static_cast<int64_t>(result->affected));
  w.Key("length").Int(static_cast<int64_t>(result->length));
  w.Key("durability").String(result->durability);
  w.EndObject();
  return Json(200, std::move(w).Finish());
}

HttpResponse ApiHandler::GetItem(std::string_view name, std::string_view id) const {
  auto index = registry_->Find(name);
  if (!index) return Error(404, "not found");
  if (Status valid = service::ValidateItemId(id); !valid.ok()) return FromStatus(valid);
  auto item = index->Get(id);
  if (!item) return Error(404, "not found");
  JsonWriter w;
  w.BeginObject();
  w.Key("id").String(item->id);
  w.Key("vector").FloatArray(item->vector);
  if (item->metadata) w.Key("metadata").Raw(*item->metadata);
  w.EndObject();
  return Json(200, std::move(w).Finish());
}

HttpResponse ApiHandler::DeleteItem(std::string_view name, std::string_view id,
                                    HttpRequest& request) const {
  auto index = registry_->Find(name);
  if (!index) return Error(404, "not found");
  auto durability = service::ParseDurability(QueryParam(request.query, "durability"));
  if (!durability.ok()) return FromStatus(durability.status());
  std::vector<std::string> ids = {std::string(id)};
  auto result = registry_->Remove(index, ids, *durability);
  if (!result.ok()) return FromStatus(result.status());
  if (result->affected == 0) return Error(404, "not found");
  HttpResponse r;
  r.status = 204;
  return r;
}

HttpResponse ApiHandler::Search(std::string_view name, HttpRequest& request) const {
  auto index = registry_->Find(name);
  if (!index) return Error(404, "not found");
  auto spec = DecodeSearch(request.body);
  if (!spec.ok()) return FromStatus(spec.status());
  auto results = index->Search(*spec);
  if (!results.ok()) return FromStatus(results.status());
  JsonWriter w;
  w.BeginObject().Key("results");
  WriteResults(w, *results, spec->include_vector);
  w.EndObject();
  return Json(200, std::move(w).Finish());
}

HttpResponse ApiHandler::SearchBatch(std::string_view name, HttpRequest& request) const {
  auto index = registry_->Find(name);
  if (!index) return Error(404, "not found");
  auto specs = DecodeSearchBatch(request.body);
  if (!specs.ok()) return FromStatus(specs.status());
  std::vector<std::optional<Result<std::vector<service::SearchHit>>>> results(specs->size());
  auto run = [&](size_t i) { results[i] = index->Search((*specs)[i]); };
  if (registry_->workers() != nullptr) {
    registry_->workers()->ParallelFor(specs->size(), run);
  } else {
    for (size_t i = 0; i < specs->size(); ++i) run(i);
  }
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i]->ok()) {
      const Status& s = results[i]->status();
      return FromStatus(s.WithContext("searches[" + std::to_string(i) + "]"));
    }
  }
  JsonWriter w;
  w.BeginObject().Key("results").BeginArray();
  for (size_t i = 0; i < results.size(); ++i) {
    WriteResults(w, **results[i], (*specs)[i].include_vector);
  }
  w.EndArray().EndObject();
  return Json(200, std::move(w).Finish());
}

HttpResponse ApiHandler::ScrollItems(std::string_view name, const HttpRequest& request) const {
  auto index = registry_->Find(name);
  if (!index) return Error(404, "not found");
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

}  // namespace vectord::http
