// ApiClient: one keep-alive HTTP connection to a vectord server, for
// vectorctl. It speaks the server's public HTTP/JSON API only (docs/API.md)
// and knows nothing of the server's code.
//
// Retries: Send() retries what may succeed on a second try — connection
// failures, timeouts, 429 and 5xx answers — with full-jitter exponential
// backoff, up to `max_attempts`; a 4xx other than 429 is answered at once.
// Every retry of a batch upsert is safe: an add is an upsert by id.
//
// Thread safety: none. Use one ApiClient per thread (each holds its own
// connection); the process-wide libcurl set-up is done once, thread-safely.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vectord::vectorctl {

struct ApiClientOptions {
  std::string base_url = "http://127.0.0.1:8090";  // scheme://host:port, no trailing slash
  std::string token;                               // Bearer token; empty: none sent
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{120000};  // whole request, upload to last byte
  int max_attempts = 5;
  std::chrono::milliseconds first_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
};

struct ApiResponse {
  long status = 0;  // HTTP status
  std::string body;
  int attempts = 1;  // how many tries it took
};

class ApiClient {
 public:
  explicit ApiClient(ApiClientOptions options);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // Sends `method` `target` (path and query, starting with '/') with a JSON
  // body (empty: none). An HTTP error status is a response, not an error; the
  // Status is non-ok only when no answer came after every attempt
  // (Unavailable, with curl's reason) — or, after retries, with the last 5xx
  // or 429 answer as the response.
  Result<ApiResponse> Send(std::string_view method, std::string_view target,
                           std::string_view body = {});

  // Called before each retry with the attempt number (2, 3, ...) and why
  // the previous one failed; for progress output.
  void set_retry_observer(std::function<void(int attempt, const std::string& reason)> observer) {
    retry_observer_ = std::move(observer);
  }

  const ApiClientOptions& options() const { return options_; }

 private:
  struct Attempt {
    bool answered = false;
    std::string error;  // when not answered
    ApiResponse response;
  };
  Attempt SendOnce(std::string_view method, const std::string& url, std::string_view body);

  ApiClientOptions options_;
  void* curl_ = nullptr;  // CURL*, kept for connection reuse
  uint64_t jitter_state_;
  std::function<void(int, const std::string&)> retry_observer_;
};

// "http://host:port" from what a user types: "host:port", ":8090",
// "http://host:port/" (a trailing slash dropped). Any other scheme, or a path
// after the authority, is an InvalidArgument.
Result<std::string> NormaliseBaseUrl(std::string_view text);

}  // namespace vectord::vectorctl
