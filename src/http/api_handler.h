// ApiHandler: the HTTP API of vectord as a function from request to
// response, with no sockets in it: the server feeds it parsed requests, and
// tests and fuzzers can call it directly.
//
// It routes (404 "404 page not found", 405 for a known path with another
// method), checks the bearer token before routing, decodes bodies, calls the
// service layer, and maps Status codes to HTTP status codes — the only place
// where that mapping lives.
//
// Thread safety: Handle() may run on any number of threads at once.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "service/index_registry.h"

namespace vectord::http {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::string query;   // after '?', undecoded
  std::string authorization;
  std::string body;
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

struct ApiOptions {
  std::string auth_token;  // empty: no authentication
};

class ApiHandler {
 public:
  // `ready` says whether start-up loading has finished; `metrics_text`
  // renders GET /metrics (may be empty: then the route answers 404).
  ApiHandler(service::Registry* registry, ApiOptions options, const std::atomic<bool>* ready,
             std::function<std::string()> metrics_text);

  HttpResponse Handle(HttpRequest& request) const;
  // Whether `request` is short CPU work that never waits on disk (reads and
  // searches), which the server runs on its I/O thread instead of a worker.
  bool RunsInline(const HttpRequest& request) const;

  // Go's http.Error: text/plain, message and newline.
  static HttpResponse Error(int status, std::string_view message);

 private:
  bool Authorized(const HttpRequest& request) const;
  HttpResponse Route(HttpRequest& request) const;

  HttpResponse CreateIndex(HttpRequest& request) const;
  HttpResponse ListIndexes() const;
  HttpResponse GetIndex(std::string_view name) const;
  HttpResponse DropIndex(std::string_view name) const;
  HttpResponse AddItems(std::string_view name, HttpRequest& request) const;
  HttpResponse DeleteItems(std::string_view name, HttpRequest& request) const;
  HttpResponse GetItem(std::string_view name, std::string_view id) const;
  HttpResponse DeleteItem(std::string_view name, std::string_view id, HttpRequest& request) const;
  HttpResponse Search(std::string_view name, HttpRequest& request) const;
  HttpResponse SearchBatch(std::string_view name, HttpRequest& request) const;
  HttpResponse ScrollItems(std::string_view name, const HttpRequest& request) const;
  HttpResponse RecallCheck(std::string_view name, HttpRequest& request) const;

  service::Registry* const registry_;
  const ApiOptions options_;
  const std::atomic<bool>* const ready_;
  const std::function<std::string()> metrics_text_;
};

}  // namespace vectord::http
