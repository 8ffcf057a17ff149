// Fuzz target: raw bytes of a keep-alive connection in, responses out,
// through the server's own parser limits, request conversion, router and
// handlers (http/request_parsing.h, ApiHandler) on an in-memory registry.
//
// Each input starts from the same state: one 4-d cosine index "docs" holding
// a few items with metadata, auth off. Up to eight pipelined requests are
// taken from the input, as a connection would send them; one that cannot be
// parsed gets the status the server would send and ends the connection.
// Findings: crashes, sanitizer reports, hangs, runaway memory, and any 5xx
// other than 503 (an internal error on client input is a bug).
#include <boost/asio/buffer.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/thread_pool.h"
#include "http/api_handler.h"
#include "http/request_parsing.h"
#include "service/index_registry.h"

namespace {

namespace bhttp = boost::beast::http;
using namespace vectord;

constexpr size_t kBodyLimit = 1 << 20;
constexpr size_t kHeaderLimit = 8 << 10;
constexpr int kMaxRequests = 8;

void Check(const http::HttpResponse& response) {
  if (response.status < 100 || response.status > 599) std::abort();
  if (response.status >= 500 && response.status != 503) std::abort();
}

http::HttpResponse Call(const http::ApiHandler& handler, std::string method, std::string path,
                        std::string body) {
  http::HttpRequest request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.body = std::move(body);
  return handler.Handle(request);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ThreadPool* pool = new ThreadPool(1);
  static const std::atomic<bool> ready{true};
  service::Registry registry(pool);
  http::ApiHandler handler(&registry, http::ApiOptions{}, &ready, [] { return std::string(); });
  if (Call(handler, "POST", "/vectors/index", R"({"name":"docs","dimension":4})").status != 201 ||
      Call(handler, "POST", "/vectors/index/docs/add",
           R"({"items":[{"id":"a","vector":[1,0,0,0],"metadata":{"genre":"jazz","year":1959}},)"
           R"({"id":"b","vector":[0,1,0,0],"metadata":{"genre":"rock","tags":["x","y"]}},)"
           R"({"id":"c","vector":[0,0,1,0.5]}]})")
              .status != 200) {
    std::abort();  // the fixture itself must work
  }

  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (int n = 0; n < kMaxRequests && !rest.empty(); ++n) {
    http::RequestParser parser;
    http::LimitRequestParser(parser, kBodyLimit, kHeaderLimit);
    parser.eager(true);
    boost::beast::error_code ec;
    bool header_checked = false;
    while (!parser.is_done()) {
      size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
      rest.remove_prefix(used);
      if (!ec && parser.is_header_done() && !header_checked) {
        header_checked = true;
        if (auto rejection = http::CheckHeader(parser)) {
          Check(http::ApiHandler::Error(rejection->status, rejection->message));
          return 0;  // answered, then the connection closes
        }
      }
      if (ec == bhttp::error::need_more || (!ec && used == 0)) {
        if (!rest.empty() && used > 0) continue;
        ec = {};
        parser.put_eof(ec);  // the connection ends here
        if (!ec && !parser.is_done()) ec = bhttp::error::partial_message;
        break;
      }
      if (ec) break;
    }
    if (ec) {
      auto rejection = http::RejectionFor(ec);
      if (rejection) Check(http::ApiHandler::Error(rejection->status, rejection->message));
      return 0;  // the server closes the connection after a read error
    }
    http::RawRequest raw = parser.release();
    const bool keep_alive = raw.keep_alive();
    http::HttpRequest request = http::ToHttpRequest(std::move(raw));
    Check(handler.Handle(request));
    if (!keep_alive) break;
  }
  return 0;
}
