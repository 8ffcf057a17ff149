#include "http/request_parsing.h"

#include <boost/asio/error.hpp>

#include "http/request_forwarder.h"

namespace vectord::http {

namespace bhttp = boost::beast::http;
namespace net = boost::asio;

void LimitRequestParser(RequestParser& parser, size_t body_limit, size_t header_limit) {
  parser.body_limit(body_limit);
  parser.header_limit(static_cast<std::uint32_t>(header_limit));
}

std::optional<ReadRejection> CheckHeader(const RequestParser& parser) {
  const RawRequest& request = parser.get();
  if (request.target().size() > kMaxTargetBytes) {
    return ReadRejection{
        414, "request target longer than " + std::to_string(kMaxTargetBytes) + " bytes"};
  }
  if (request.find(bhttp::field::transfer_encoding) != request.end() && !parser.chunked()) {
    return ReadRejection{400, "bad request: unsupported transfer encoding"};
  }
  return std::nullopt;
}

HttpRequest ToHttpRequest(RawRequest&& raw) {
  HttpRequest request;
  request.method = std::string(raw.method_string());
  std::string_view target = raw.target();
  const size_t q = target.find('?');
  request.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) request.query = std::string(target.substr(q + 1));
  request.authorization = std::string(raw[bhttp::field::authorization]);
  request.forwarded_by = std::string(raw[kForwardedByHeader]);
  request.body = std::move(raw.body());
  return request;
}

std::optional<ReadRejection> RejectionFor(boost::beast::error_code ec) {
  if (ec == bhttp::error::end_of_stream || ec == net::error::eof ||
      ec == net::error::connection_reset || ec == boost::beast::error::timeout ||
      ec == net::error::operation_aborted) {
    return std::nullopt;
  }
  if (ec == bhttp::error::body_limit) return ReadRejection{413, "body too large"};
  if (ec == bhttp::error::header_limit) {
    return ReadRejection{431, "request header fields too large"};
  }
  return ReadRejection{400, "bad request: " + ec.message()};
}

}  // namespace vectord::http
