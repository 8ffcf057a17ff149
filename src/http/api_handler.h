// ApiHandler: the HTTP API of vectord as a function from request to
// response, with no sockets in it: the server feeds it parsed requests, and
// tests and fuzzers can call it directly.
//
// It routes by one table (Routes(): 404 "404 page not found", 405 for a
// known path with another method), checks the bearer token and what it
// grants before any handler runs (access_control.h), decodes bodies, calls the
// service layer, and maps Status codes to HTTP status codes — the only place
// where that mapping lives.
//
// Thread safety: Handle() may run on any number of threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "http/access_control.h"
#include "service/index_registry.h"

namespace vectord::service {
class ClusterCoordinator;
}  // namespace vectord::service

namespace vectord::http {

class RequestForwarder;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::string query;   // after '?', undecoded
  std::string authorization;
  std::string body;
  // X-Vectord-Forwarded-By: the node that forwarded this write (cluster
  // mode); empty for a client's request.
  std::string forwarded_by = {};
};

struct HttpResponse {
  int status = 200;
  std::string content_type;  // empty when there is no body
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // The route template, e.g. "POST /vectors/index/{name}/add", for logs and
  // metrics; "unmatched" for 404s.
  std::string route;
};

// GET /vectors/index/{name}/items?limit=: the page size when none is asked,
// and the largest one may ask.
inline constexpr size_t kDefaultScrollLimit = 100;
inline constexpr size_t kMaxScrollLimit = 10000;

// How long a read waits for this node to apply what it asked for
// (?min_sequence=, ?consistency=strong) before it answers 504.
inline constexpr std::chrono::milliseconds kReadWaitBound{5000};

struct ApiOptions {
  std::string auth_token;  // full access; empty (and no scoped tokens): no authentication
  std::vector<ScopedToken> scoped_tokens = {};
  // Cluster mode: writes that reach a node other than the writer are
  // forwarded (through `forwarder`), and reads honour ?consistency=strong
  // through etcd. Both null: a single node.
  service::ClusterCoordinator* cluster = nullptr;
  const RequestForwarder* forwarder = nullptr;
  // Why /ready answers 503 while start-up goes on; unset: "loading indexes".
  std::function<std::string()> not_ready_reason = {};
};

class ApiHandler {
 public:
  // The decoded {placeholders} of a matched path, and what the caller's
  // token allows (for the checks that need the body: create; and for lists).
  struct PathParams {
    std::string name;  // {name}
    std::string id;    // {id}
    Grant grant = Grant::Full();
  };
  using Handler = Result<HttpResponse> (ApiHandler::*)(HttpRequest& request,
                                                       const PathParams& path) const;

  // Where a request runs: on the io thread that read it (short CPU work that
  // never waits on disk: reads and searches), or on the write workers (it
  // may wait on fsync, or fans out over the workers itself).
  enum class Runs : uint8_t { kInline = 0, kWorker = 1 };
  // What a caller needs, when the server has tokens (access_control.h).
  enum class Auth : uint8_t {
    kPublic = 0,      // nothing: probes, and pages that carry no data
    kAnyToken = 1,    // any known token (the index list shows each its own)
    kServer = 2,      // the full-access token: server-wide state
    kIndexRead = 3,   // read access to the index the route names
    kIndexWrite = 4,  // write access to it
    kIndexAdmin = 5,  // admin access to it
    kNewIndex = 6,    // admin access to the index named in the body (create;
                      // the handler checks it once the body is decoded)
  };
  // The access an index route needs; nothing for the others.
  static std::optional<Access> IndexAccess(Auth auth);
  // What a route is to a cluster: a write, carried out by the writer
  // (forwarded there); a read of one index, which takes ?consistency= and
  // ?min_sequence=; or neither.
  enum class Role : uint8_t { kOther = 0, kWrite = 1, kRead = 2 };

  // One row of the route table.
  struct Route {
    std::string_view method;  // "GET", "POST", "DELETE"
    // "/vectors/index/{name}/items/{id}": literal segments, and placeholders
    // that each take one non-empty segment. It is also the route's key under
    // "paths" in openapi.json, and with the method its label in logs and
    // metrics ("GET /vectors/index/{name}").
    std::string_view pattern;
    Handler handler;
    Runs runs;
    Auth auth;
    Role role = Role::kOther;
    // Another path answered by this route ("/dashboard/" as typed in a
    // browser); empty: none.
    std::string_view alias = {};
    // Whether this server has the route; null: always. A route it lacks is
    // an unknown path (404).
    bool (ApiHandler::*present)() const = nullptr;
  };

  // Every route, one row each: the router, RunsInline, the auth check and
  // the tests (against openapi.json) all read this table. Two rows with the
  // same pattern are one path with two methods; distinct patterns never fit
  // the same path.
  static std::span<const Route> Routes();

  // `ready` says whether start-up loading has finished; `metrics_text`
  // renders GET /metrics (may be empty: then the route answers 404).
  ApiHandler(service::Registry* registry, ApiOptions options, const std::atomic<bool>* ready,
             std::function<std::string()> metrics_text);

  // A failed allocation answers 507, any other exception 500 (it throws
  // only if even that answer cannot be built).
  HttpResponse Handle(HttpRequest& request) const;
  // Whether `request` is answered on the io thread: its route runs inline,
  // or no route takes it (a 404 or 405 is a few bytes of work).
  bool RunsInline(const HttpRequest& request) const;
  // The row that answers `method` on `path` on this server, or null.
  const Route* RouteFor(std::string_view method, std::string_view path) const;

  // Go's http.Error: text/plain, message and newline.
  static HttpResponse Error(int status, std::string_view message);

 private:
  // The rows whose pattern fits a path: one pattern, one row per method.
  struct PathMatch {
    const Route* route = nullptr;  // the row of the request's method, if any
    std::string_view pattern;      // empty: no row fits the path
    std::string allow;             // the methods of the fitting rows: "GET, DELETE"
  };
  PathMatch Match(std::string_view method, std::string_view path) const;

  // The grant of the request's token; nothing when it has no known token
  // and needs one (401).
  std::optional<Grant> Authenticate(const HttpRequest& request, const Route* route) const;
  // 403 for a known token outside its scope on `route`; nothing when allowed.
  static std::optional<HttpResponse> Forbidden(const Grant& grant, const Route& route,
                                               std::string_view index_name);
  // Handle's work: authentication and scope, then Dispatch.
  HttpResponse Authorize(HttpRequest& request) const;
  HttpResponse Dispatch(HttpRequest& request, const PathMatch& match, const Grant& grant) const;
  bool HasMetrics() const { return static_cast<bool>(metrics_text_); }
  // Cluster mode, on a node that is not the writer: the writer's answer.
  std::optional<HttpResponse> ForwardIfNotWriter(const HttpRequest& request) const;
  // Holds a read until this node has applied what ?consistency= and
  // ?min_sequence= ask for.
  Status AwaitConsistency(const HttpRequest& request, const PathParams& path) const;

  // The handlers, in the order of the table.
  Result<HttpResponse> Health(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> Ready(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> Metrics(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> OpenApi(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> Dashboard(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> ListIndexes(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> CreateIndex(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> GetIndex(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> DropIndex(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> AddItems(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> Search(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> SearchBatch(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> DeleteItems(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> RecallCheck(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> RecoverIndex(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> ScrollItems(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> GetItem(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> DeleteItem(HttpRequest& request, const PathParams& path) const;
  Result<HttpResponse> ClusterState(HttpRequest& request, const PathParams& path) const;

  service::Registry* const registry_;
  const ApiOptions options_;
  const TokenTable tokens_;
  const std::atomic<bool>* const ready_;
  const std::function<std::string()> metrics_text_;
};

}  // namespace vectord::http
