// Decoding of the API's JSON request bodies into service-layer requests.
//
// Follows the seed's Go decoder where clients can see it: unknown fields are
// ignored, an absent or null field takes its zero value, a field of the
// wrong type is an error. Every error is InvalidArgument with the message
// "decode body: <what>", naming the field and item where it can.
//
// Thread safety: all functions may run concurrently; each thread keeps its
// own parser.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "service/index_registry.h"

namespace vectord::http {

// Nesting beyond this is refused before any field is read.
inline constexpr size_t kMaxJsonDepth = 128;

// `body` may be reallocated to give the parser its padding.
Result<service::CreateSpec> DecodeCreate(std::string& body);
Result<std::vector<service::NewItem>> DecodeAdd(std::string& body);
Result<service::SearchSpec> DecodeSearch(std::string& body);
// {"ids": [str, ...]} for the bulk delete route.
Result<std::vector<std::string>> DecodeIds(std::string& body);

}  // namespace vectord::http
