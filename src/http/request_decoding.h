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
// A search body; its optional "filter" is decoded strictly (unlike the seed
// fields: it is new, so unknown keys there are errors, "invalid filter: ..."
// naming the part, e.g. "filter.must[1].range: gt must be a number").
Result<service::SearchSpec> DecodeSearch(std::string& body);
// {"searches": [search body, ...]}: errors name the search, "searches[2]: ...".
Result<std::vector<service::SearchSpec>> DecodeSearchBatch(std::string& body);
// POST /vectors/index/{name}/recall-check: {"ef": [10, 20, ...], "queries": 200},
// both optional (an empty body takes the defaults).
inline constexpr size_t kMaxRecallCheckEfs = 64;
inline constexpr size_t kMaxRecallCheckQueries = 10000;
struct RecallCheckSpec {
  std::vector<uint32_t> efs = {10, 16, 24, 32, 48, 64, 96, 128, 256};
  size_t queries = 200;
};
Result<RecallCheckSpec> DecodeRecallCheck(std::string& body);

// {"ids": [str, ...]} for the bulk delete route.
Result<std::vector<std::string>> DecodeIds(std::string& body);

}  // namespace vectord::http
