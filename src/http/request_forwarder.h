// RequestForwarder: carries a write that reached a node other than the
// cluster's writer on to the writer, and its answer back (one hop: the
// forwarded request is marked with kForwardedByHeader, and a node that is
// not the writer answers a marked request with 503 instead of forwarding it
// again). The client's Authorization header goes along unchanged: every
// node of a cluster checks the same token, so a forwarded request is
// authenticated by the writer exactly as if the client had sent it there.
//
// Thread safety: Forward may be called from any thread; each thread keeps
// its own connection to the writer for reuse.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "http/api_handler.h"

namespace vectord::http {

inline constexpr std::string_view kForwardedByHeader = "X-Vectord-Forwarded-By";

class RequestForwarder {
 public:
  RequestForwarder(std::string node_id, std::chrono::milliseconds timeout);

  // Sends `request` to `writer_url` (http://host:port) and returns its
  // answer; 503 naming the writer when it cannot be reached or answers
  // nothing (the write's outcome is then unknown: the message says so).
  // `still_writer` is asked several times a second while the answer is
  // awaited; once it says false (another node was elected: this one is
  // paused or gone) the forward is abandoned with a 503.
  HttpResponse Forward(const std::string& writer_node, const std::string& writer_url,
                       const HttpRequest& request, const std::function<bool()>& still_writer) const;

 private:
  const std::string node_id_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace vectord::http
