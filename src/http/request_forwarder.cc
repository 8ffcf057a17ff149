#include "http/request_forwarder.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace vectord::http {
namespace {

std::once_flag curl_global_once;

struct CurlHandle {
  CURL* curl = nullptr;
  CurlHandle() {
    std::call_once(curl_global_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    curl = curl_easy_init();
  }
  ~CurlHandle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

int OnProgress(void* still_writer, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return (*static_cast<const std::function<bool()>*>(still_writer))() ? 0 : 1;
}

size_t OnData(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

}  // namespace

RequestForwarder::RequestForwarder(std::string node_id, std::chrono::milliseconds timeout)
    : node_id_(std::move(node_id)), timeout_(timeout) {}

HttpResponse RequestForwarder::Forward(const std::string& writer_node,
                                       const std::string& writer_url, const HttpRequest& request,
                                       const std::function<bool()>& still_writer) const {
  // One connection per thread, kept alive between forwards.
  thread_local CurlHandle handle;
  CURL* curl = handle.curl;
  if (curl == nullptr) return ApiHandler::Error(503, "cannot forward the write: curl failed");
  curl_easy_reset(curl);
  std::string url = writer_url + request.path;
  if (!request.query.empty()) url += "?" + request.query;
  curl_slist* headers = nullptr;
  const std::string marker = std::string(kForwardedByHeader) + ": " + node_id_;
  headers = curl_slist_append(headers, marker.c_str());
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  std::string authorization;
  if (!request.authorization.empty()) {
    authorization = "Authorization: " + request.authorization;
    headers = curl_slist_append(headers, authorization.c_str());
  }
  std::string body;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (!request.body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, const_cast<std::function<bool()>*>(&still_writer));
  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    // A connect failure means the write never left; anything later, that
    // it may have been carried out.
    const bool unsent = code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST;
    const std::string why = code == CURLE_ABORTED_BY_CALLBACK
                                ? std::string("it is no longer the writer")
                                : std::string("it cannot be reached: ") + curl_easy_strerror(code);
    return ApiHandler::Error(
        503, "the write was forwarded to node " + writer_node + " at " + writer_url + ", but " +
                 why +
                 (unsent ? std::string(" (the write was not sent): retry")
                         : std::string("; outcome unknown: retry the write (adds replace by id, "
                                       "deletes are idempotent)")));
  }
  long status = 0;
  char* content_type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &content_type);
  HttpResponse response;
  response.status = static_cast<int>(status);
  response.body = std::move(body);
  if (content_type != nullptr && !response.body.empty()) response.content_type = content_type;
  return response;
}

}  // namespace vectord::http
