// Filter: a search's restriction on item metadata, in the shape of Qdrant's
// filter language so its users recognise it (the HTTP layer decodes it from
// JSON; MetadataIndex evaluates it):
//
//   group     := {"must": [cond...], "should": [cond...], "must_not": [cond...]}
//   cond      := {"key": "a.b", "match": {"value": v}}
//              | {"key": "a.b", "match": {"any": [v...]}}
//              | {"key": "a.b", "range": {"gt"|"gte"|"lt"|"lte": number, ...}}
//              | {"has_id": ["id"...]}
//              | group
//
// A group holds when every `must` holds, no `must_not` holds, and at least
// one `should` holds if there are any. A dotted key reaches into nested
// objects and matches any element of an array on the way. Numbers compare as
// numbers (1 matches 1.0), a boolean never matches a number, strings match
// exactly.
//
// Plain values: build one on a thread, then read it from any number.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vectord::service {

struct FilterValue {
  enum class Kind { kString, kNumber, kBool };
  Kind kind = Kind::kString;
  std::string text;      // kString
  double number = 0;     // kNumber
  bool boolean = false;  // kBool
};

struct FilterGroup;

struct FilterCondition {
  enum class Type { kMatch, kMatchAny, kRange, kHasId, kGroup };
  Type type = Type::kMatch;
  std::string key;                           // kMatch, kMatchAny, kRange
  std::vector<FilterValue> values;           // kMatch: one; kMatchAny: any number
  std::optional<double> gt, gte, lt, lte;    // kRange: at least one
  std::vector<std::string> ids;              // kHasId
  std::shared_ptr<const FilterGroup> group;  // kGroup
};

struct FilterGroup {
  std::vector<FilterCondition> must;
  std::vector<FilterCondition> should;
  std::vector<FilterCondition> must_not;
};

}  // namespace vectord::service
