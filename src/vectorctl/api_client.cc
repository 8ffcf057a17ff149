#include "vectorctl/api_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <thread>

namespace vectord::vectorctl {
namespace {

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

bool IsRetryable(long status) { return status == 429 || status >= 500; }

}  // namespace

ApiClient::ApiClient(ApiClientOptions options)
    : options_(std::move(options)),
      jitter_state_(
          static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
          reinterpret_cast<uintptr_t>(this)) {
  static std::once_flag curl_global_once;
  std::call_once(curl_global_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

ApiClient::~ApiClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

ApiClient::Attempt ApiClient::SendOnce(std::string_view method, const std::string& url,
                                       std::string_view body) {
  Attempt attempt;
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) {
    attempt.error = "curl_easy_init failed";
    return attempt;
  }
  // reset keeps the connection cache: the next request reuses the socket.
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &attempt.response.body);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);

  curl_slist* headers = nullptr;
  std::string authorization;
  if (!options_.token.empty()) {
    authorization = "Authorization: Bearer " + options_.token;
    headers = curl_slist_append(headers, authorization.c_str());
  }
  // curl would otherwise send "Expect: 100-continue" for large bodies and
  // wait a round trip for the server's go-ahead.
  headers = curl_slist_append(headers, "Expect:");
  if (!body.empty()) {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  if (method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (method != "POST" || body.empty()) {
    const std::string verb(method);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, verb.c_str());
    if (body.empty() && method == "POST") curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    attempt.error = curl_easy_strerror(code);
    return attempt;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &attempt.response.status);
  attempt.answered = true;
  return attempt;
}

Result<ApiResponse> ApiClient::Send(std::string_view method, std::string_view target,
                                    std::string_view body) {
  const std::string url = options_.base_url + std::string(target);
  const int attempts = std::max(1, options_.max_attempts);
  std::string last_error;
  for (int n = 1;; ++n) {
    Attempt attempt = SendOnce(method, url, body);
    attempt.response.attempts = n;
    if (attempt.answered && !IsRetryable(attempt.response.status)) return attempt.response;
    if (attempt.answered) {
      std::string text = attempt.response.body.substr(0, 200);
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      last_error = "HTTP " + std::to_string(attempt.response.status) + " " + text;
      if (n >= attempts) return attempt.response;
    } else {
      last_error = attempt.error;
      if (n >= attempts) break;
    }
    if (retry_observer_) retry_observer_(n + 1, last_error);
    // Full jitter: a uniform wait up to the exponential step, so clients that
    // failed together do not come back together.
    const auto step = std::min<int64_t>(options_.max_backoff.count(), options_.first_backoff.count()
                                                                          << std::min(n - 1, 20));
    jitter_state_ = jitter_state_ * 6364136223846793005ull + 1442695040888963407ull;
    const int64_t wait = step > 0 ? static_cast<int64_t>((jitter_state_ >> 33) % (step + 1)) : 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(wait));
  }
  return Status::Unavailable(std::string(method) + " " + url + ": " + last_error + " (after " +
                             std::to_string(attempts) + " attempts)");
}

Result<std::string> NormaliseBaseUrl(std::string_view text) {
  std::string_view rest = text;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    return Status::InvalidArgument("server address " + std::string(text) +
                                   ": only http:// is supported");
  }
  while (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) {
    return Status::InvalidArgument("server address " + std::string(text) +
                                   ": expected host:port without a path");
  }
  if (rest.empty()) return Status::InvalidArgument("server address is empty");
  std::string authority(rest);
  if (authority.front() == ':') authority = "127.0.0.1" + authority;
  return "http://" + authority;
}

}  // namespace vectord::vectorctl
