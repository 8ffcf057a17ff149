// Parsers for the XML bodies an S3-compatible store answers with: object
// listings, multipart-upload replies and error documents.
//
// They take untrusted bytes (a store we do not control, or anything that
// answers on its port) and either return the fields vectord uses or a
// Corruption status; they never throw. Parsing is done by expat, with
// entities decoded and DOCTYPE declarations refused (no entity expansion
// from the network).
//
// Thread safety: stateless functions, callable from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace vectord::store::s3_xml {

struct ListedObject {
  std::string key;
  uint64_t size = 0;
};

// One page of ListObjectsV2 (<ListBucketResult>).
struct ListPage {
  std::vector<ListedObject> objects;
  bool truncated = false;
  std::string next_continuation_token;  // set when truncated
};
Result<ListPage> ParseListObjectsV2(std::string_view xml);

// <InitiateMultipartUploadResult><UploadId>.
Result<std::string> ParseUploadId(std::string_view xml);

// An <Error> document: what S3 sends with a 4xx/5xx, and — for
// CompleteMultipartUpload — sometimes with a 200.
struct ErrorDocument {
  std::string code;
  std::string message;
};
// nullopt when the body is not an <Error> document (or not XML at all).
std::optional<ErrorDocument> ParseError(std::string_view xml);

// Escapes text for an XML element's content (&, <, >).
std::string EscapeText(std::string_view text);

}  // namespace vectord::store::s3_xml
