// From bytes on a socket to an HttpRequest: the Beast parser's limits, the
// conversion of its message, and the answer to a request that could not be
// read. HttpServer uses them on its streams; the HTTP fuzz target uses the
// same functions on raw bytes, so what it tests is what the server runs.
//
// Thread safety: stateless functions.
#pragma once

#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <optional>
#include <string>

#include "http/api_handler.h"

namespace vectord::http {

using RawRequest = boost::beast::http::request<boost::beast::http::string_body>;
using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// Applies the body cap (413 from Content-Length before the body is read) and
// the header size cap to a fresh parser.
void LimitRequestParser(RequestParser& parser, size_t body_limit, size_t header_limit);

// Longer request targets get 414: no route needs more than a name and an
// id, each far shorter.
inline constexpr size_t kMaxTargetBytes = 8 << 10;

// What to refuse once the header is parsed, before any body is read: an
// overlong target (414), or a Transfer-Encoding that does not end in
// chunked (400: RFC 9112 6.3 leaves such a request's length undefined; Beast
// would read no body and take what follows as the next request, which a
// proxy in front may frame differently). nullopt: go on.
struct ReadRejection {
  int status;
  std::string message;
};
std::optional<ReadRejection> CheckHeader(const RequestParser& parser);

// Moves a parsed message into the handler's request type.
HttpRequest ToHttpRequest(RawRequest&& raw);

// How to answer a read that failed: nullopt when the client went away or
// timed out (just close), else the status and message to send before closing.
std::optional<ReadRejection> RejectionFor(boost::beast::error_code ec);

}  // namespace vectord::http
