#include "http/request_decoding.h"

#include <simdjson.h>

#include <cctype>
#include <memory>

namespace vectord::http {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

Status DecodeError(const std::string& what) {
  return Status::InvalidArgument("decode body: " + what);
}

// A parser per thread, reused across requests; dropped after a very large
// document so its buffers do not pin memory.
simdjson::dom::parser& ThreadParser() {
  thread_local std::unique_ptr<simdjson::dom::parser> parser;
  if (!parser || parser->capacity() > (size_t{32} << 20)) {
    parser = std::make_unique<simdjson::dom::parser>();
    // Capacity grows with the documents; the depth limit stays.
    if (parser->allocate(1 << 16, kMaxJsonDepth) != simdjson::SUCCESS)
      parser.reset(new simdjson::dom::parser());
  }
  return *parser;
}

Result<element> ParseObject(std::string& body) {
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  simdjson::dom::parser& parser = ThreadParser();
  element root;
  auto error = parser.parse(body.data(), body.size(), false).get(root);
  if (error == simdjson::EMPTY) return DecodeError("EOF");
  // The parser grows its buffers to the document: not the client's fault.
  if (error == simdjson::MEMALLOC) return Status::NoSpace("out of memory decoding the body");
  if (error) return DecodeError(simdjson::error_message(error));
  if (root.type() != element_type::OBJECT) {
    return DecodeError("expected a JSON object at the top level");
  }
  return root;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Looks up `key` as Go's encoding/json does, which the seed's clients rely
// on: an exact match wins over a case-insensitive one, and of several equal
// keys the last wins. Absent and null both give nullopt (the Go zero value).
std::optional<element> Field(element object, std::string_view key) {
  simdjson::dom::object fields;
  if (object.get_object().get(fields)) return std::nullopt;
  std::optional<element> exact, folded;
  for (auto field : fields) {
    if (field.key == key) {
      exact = field.value;
    } else if (EqualsIgnoringCase(field.key, key)) {
      folded = field.value;
    }
  }
  std::optional<element> value = exact ? exact : folded;
  if (!value || value->is_null()) return std::nullopt;
  return value;
}

bool HasField(element object, std::string_view key) {
  simdjson::dom::object fields;
  if (object.get_object().get(fields)) return false;
  for (auto field : fields) {
    if (EqualsIgnoringCase(field.key, key)) return true;
  }
  return false;
}

Status GetInt(element object, std::string_view key, int64_t* out) {
  auto value = Field(object, key);
  if (!value) return Status::Ok();
  if (value->get_int64().get(*out)) {
    return DecodeError(std::string(key) + ": expected an integer");
  }
  return Status::Ok();
}

Status GetString(element object, std::string_view key, std::string* out) {
  auto value = Field(object, key);
  if (!value) return Status::Ok();
  std::string_view s;
  if (value->get_string().get(s)) return DecodeError(std::string(key) + ": expected a string");
  out->assign(s);
  return Status::Ok();
}

Status GetBool(element object, std::string_view key, bool* out) {
  auto value = Field(object, key);
  if (!value) return Status::Ok();
  if (value->get_bool().get(*out)) return DecodeError(std::string(key) + ": expected a boolean");
  return Status::Ok();
}

Status GetVector(element value, const std::string& where, std::vector<float>* out) {
  simdjson::dom::array array;
  if (value.get_array().get(array)) return DecodeError(where + ": expected an array of numbers");
  out->clear();
  out->reserve(array.size());
  size_t i = 0;
  for (element x : array) {
    double d;
    if (x.get_double().get(d)) {
      return DecodeError(where + "[" + std::to_string(i) + "]: expected a number");
    }
    out->push_back(static_cast<float>(d));
    ++i;
  }
  return Status::Ok();
}

Status FilterError(const std::string& what) {
  return Status::InvalidArgument("invalid filter: " + what);
}

Status DecodeFilterValue(element value, const std::string& where, service::FilterValue* out) {
  switch (value.type()) {
    case element_type::STRING:
      out->kind = service::FilterValue::Kind::kString;
      out->text = std::string(std::string_view(value));
      return Status::Ok();
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      out->kind = service::FilterValue::Kind::kNumber;
      if (value.get_double().get(out->number)) return FilterError(where + ": bad number");
      return Status::Ok();
    case element_type::BOOL:
      out->kind = service::FilterValue::Kind::kBool;
      out->boolean = bool(value);
      return Status::Ok();
    default: return FilterError(where + ": expected a string, number or boolean");
  }
}

Result<service::FilterGroup> DecodeFilterGroup(element group, const std::string& where);

Status DecodeCondition(element condition, const std::string& where, service::FilterCondition* out) {
  using Type = service::FilterCondition::Type;
  simdjson::dom::object fields;
  if (condition.get_object().get(fields)) return FilterError(where + ": expected an object");
  bool has_group = false, has_key = false, has_id = false;
  for (auto field : fields) {
    if (field.key == "must" || field.key == "should" || field.key == "must_not") {
      has_group = true;
    } else if (field.key == "key" || field.key == "match" || field.key == "range") {
      has_key = true;
    } else if (field.key == "has_id") {
      has_id = true;
    } else {
      return FilterError(where + ": unknown field \"" + std::string(field.key) + "\"");
    }
  }
  if (has_group + has_key + has_id != 1) {
    return FilterError(where +
                       ": unknown condition (expected key with match or range, has_id, or a "
                       "nested must/should/must_not)");
  }
  if (has_group) {
    VECTORD_ASSIGN_OR_RETURN(service::FilterGroup group, DecodeFilterGroup(condition, where));
    out->type = Type::kGroup;
    out->group = std::make_shared<service::FilterGroup>(std::move(group));
    return Status::Ok();
  }
  if (has_id) {
    simdjson::dom::array ids;
    if (condition["has_id"].get_array().get(ids)) {
      return FilterError(where + ".has_id: expected an array of strings");
    }
    out->type = Type::kHasId;
    for (element id : ids) {
      std::string_view text;
      if (id.get_string().get(text)) {
        return FilterError(where + ".has_id: expected an array of strings");
      }
      out->ids.emplace_back(text);
    }
    return Status::Ok();
  }
  std::string_view key;
  if (condition["key"].get_string().get(key) || key.empty()) {
    return FilterError(where + ".key: expected a non-empty string");
  }
  out->key = std::string(key);
  element match, range;
  const bool has_match = condition["match"].get(match) == simdjson::SUCCESS;
  const bool has_range = condition["range"].get(range) == simdjson::SUCCESS;
  if (has_match == has_range) {
    return FilterError(where + ": a key condition needs exactly one of match or range");
  }
  if (has_match) {
    simdjson::dom::object spec;
    if (match.get_object().get(spec) || spec.size() != 1) {
      return FilterError(where + ".match: expected {\"value\": v} or {\"any\": [v, ...]}");
    }
    element value;
    if (spec["value"].get(value) == simdjson::SUCCESS) {
      out->type = Type::kMatch;
      return DecodeFilterValue(value, where + ".match.value", &out->values.emplace_back());
    }
    simdjson::dom::array any;
    if (spec["any"].get_array().get(any)) {
      return FilterError(where + ".match: expected {\"value\": v} or {\"any\": [v, ...]}");
    }
    out->type = Type::kMatchAny;
    size_t i = 0;
    for (element value : any) {
      VECTORD_RETURN_IF_ERROR(DecodeFilterValue(
          value, where + ".match.any[" + std::to_string(i++) + "]", &out->values.emplace_back()));
    }
    return Status::Ok();
  }
  simdjson::dom::object bounds;
  if (range.get_object().get(bounds) || bounds.size() == 0) {
    return FilterError(where + ".range: expected an object with gt, gte, lt or lte");
  }
  out->type = Type::kRange;
  for (auto bound : bounds) {
    std::optional<double>* target = bound.key == "gt"    ? &out->gt
                                    : bound.key == "gte" ? &out->gte
                                    : bound.key == "lt"  ? &out->lt
                                    : bound.key == "lte" ? &out->lte
                                                         : nullptr;
    if (target == nullptr) {
      return FilterError(where + ".range: unknown bound \"" + std::string(bound.key) + "\"");
    }
    double number;
    if (bound.value.type() == element_type::BOOL || bound.value.get_double().get(number)) {
      return FilterError(where + ".range: " + std::string(bound.key) + " must be a number");
    }
    *target = number;
  }
  return Status::Ok();
}

Result<service::FilterGroup> DecodeFilterGroup(element group, const std::string& where) {
  simdjson::dom::object fields;
  if (group.get_object().get(fields)) return FilterError(where + ": expected an object");
  service::FilterGroup out;
  for (auto field : fields) {
    std::vector<service::FilterCondition>* list = field.key == "must"       ? &out.must
                                                  : field.key == "should"   ? &out.should
                                                  : field.key == "must_not" ? &out.must_not
                                                                            : nullptr;
    const std::string part = where + "." + std::string(field.key);
    if (list == nullptr)
      return FilterError(where + ": unknown field \"" + std::string(field.key) + "\"");
    if (field.value.is_null()) continue;
    if (field.value.type() == element_type::OBJECT) {
      // Qdrant also takes a single condition in place of a list.
      VECTORD_RETURN_IF_ERROR(DecodeCondition(field.value, part, &list->emplace_back()));
      continue;
    }
    simdjson::dom::array conditions;
    if (field.value.get_array().get(conditions)) {
      return FilterError(part + ": expected an array of conditions");
    }
    size_t i = 0;
    for (element condition : conditions) {
      VECTORD_RETURN_IF_ERROR(DecodeCondition(condition, part + "[" + std::to_string(i++) + "]",
                                              &list->emplace_back()));
    }
  }
  return out;
}

Result<service::SearchSpec> DecodeSearchObject(element root) {
  service::SearchSpec spec;
  if (auto vector = Field(root, "vector")) {
    VECTORD_RETURN_IF_ERROR(GetVector(*vector, "vector", &spec.vector));
  }
  VECTORD_RETURN_IF_ERROR(GetInt(root, "k", &spec.k));
  int64_t ef = 0;
  VECTORD_RETURN_IF_ERROR(GetInt(root, "ef", &ef));
  if (ef < 0 || ef > service::kMaxEf) {
    return Status::InvalidArgument("ef must be between 1 and " + std::to_string(service::kMaxEf));
  }
  spec.ef = static_cast<size_t>(ef);
  VECTORD_RETURN_IF_ERROR(GetBool(root, "include_vector", &spec.include_vector));
  VECTORD_RETURN_IF_ERROR(GetBool(root, "include_metadata", &spec.include_metadata));
  if (auto filter = Field(root, "filter")) {
    VECTORD_ASSIGN_OR_RETURN(service::FilterGroup group, DecodeFilterGroup(*filter, "filter"));
    spec.filter = std::make_shared<service::FilterGroup>(std::move(group));
  }
  return spec;
}

}  // namespace

Result<service::CreateSpec> DecodeCreate(std::string& body) {
  VECTORD_ASSIGN_OR_RETURN(const element root, ParseObject(body));
  service::CreateSpec spec;
  VECTORD_RETURN_IF_ERROR(GetString(root, "name", &spec.name));
  VECTORD_RETURN_IF_ERROR(GetInt(root, "dimension", &spec.dimension));
  VECTORD_RETURN_IF_ERROR(GetInt(root, "m", &spec.m));
  VECTORD_RETURN_IF_ERROR(GetInt(root, "ef_search", &spec.ef_search));
  VECTORD_RETURN_IF_ERROR(GetInt(root, "ef_construction", &spec.ef_construction));
  VECTORD_RETURN_IF_ERROR(GetString(root, "distance", &spec.distance));
  VECTORD_RETURN_IF_ERROR(GetString(root, "quantization", &spec.quantization));
  VECTORD_RETURN_IF_ERROR(GetString(root, "vectors", &spec.vectors));
  return spec;
}

Result<std::vector<service::NewItem>> DecodeAdd(std::string& body) {
  VECTORD_ASSIGN_OR_RETURN(const element root, ParseObject(body));
  std::vector<service::NewItem> items;
  auto list = Field(root, "items");
  if (!list) return items;
  simdjson::dom::array array;
  if (list->get_array().get(array)) return DecodeError("items: expected an array");
  items.reserve(array.size());
  size_t j = 0;
  for (element entry : array) {
    std::string where = "items[" + std::to_string(j) + "]";
    if (entry.type() != element_type::OBJECT) return DecodeError(where + ": expected an object");
    service::NewItem& item = items.emplace_back();
    auto id = Field(entry, "id");
    if (id) {
      std::string_view s;
      if (id->get_string().get(s)) return DecodeError(where + ".id: expected a string");
      item.id.assign(s);
    }
    if (auto vector = Field(entry, "vector")) {
      VECTORD_RETURN_IF_ERROR(GetVector(*vector, where + ".vector", &item.vector));
    }
    // Absent metadata stays absent; an explicit null is kept as null, as the
    // seed's json.RawMessage did.
    if (HasField(entry, "metadata")) {
      auto metadata = Field(entry, "metadata");
      item.metadata = metadata ? simdjson::to_string(*metadata) : std::string("null");
    }
    ++j;
  }
  return items;
}

Result<service::SearchSpec> DecodeSearch(std::string& body) {
  VECTORD_ASSIGN_OR_RETURN(const element root, ParseObject(body));
  return DecodeSearchObject(root);
}

Result<std::vector<service::SearchSpec>> DecodeSearchBatch(std::string& body) {
  VECTORD_ASSIGN_OR_RETURN(const element root, ParseObject(body));
  std::vector<service::SearchSpec> specs;
  auto list = Field(root, "searches");
  if (!list) return Status::InvalidArgument("searches must be a non-empty array");
  simdjson::dom::array array;
  if (list->get_array().get(array)) return DecodeError("searches: expected an array of objects");
  if (array.size() == 0) return Status::InvalidArgument("searches must be a non-empty array");
  specs.reserve(array.size());
  size_t j = 0;
  for (element search : array) {
    const std::string where = "searches[" + std::to_string(j++) + "]";
    if (search.type() != element_type::OBJECT) {
      return DecodeError(where + ": expected an object");
    }
    auto spec = DecodeSearchObject(search);
    if (!spec.ok()) return spec.status().WithContext(where);
    specs.push_back(std::move(spec).value());
  }
  return specs;
}

Result<std::vector<std::string>> DecodeIds(std::string& body) {
  VECTORD_ASSIGN_OR_RETURN(const element root, ParseObject(body));
  std::vector<std::string> ids;
  auto list = Field(root, "ids");
  if (!list) return ids;
  simdjson::dom::array array;
  if (list->get_array().get(array)) return DecodeError("ids: expected an array of strings");
  size_t j = 0;
  for (element entry : array) {
    std::string_view s;
    if (entry.get_string().get(s)) {
      return DecodeError("ids[" + std::to_string(j) + "]: expected a string");
    }
    ids.emplace_back(s);
    ++j;
  }
  return ids;
}

Result<RecallCheckSpec> DecodeRecallCheck(std::string& body) {
  RecallCheckSpec spec;
  // An empty body asks for the defaults.
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return spec;
  VECTORD_ASSIGN_OR_RETURN(const element root, ParseObject(body));
  if (auto list = Field(root, "ef")) {
    simdjson::dom::array array;
    if (list->get_array().get(array)) return DecodeError("ef: expected an array of integers");
    spec.efs.clear();
    size_t j = 0;
    for (element entry : array) {
      uint64_t ef = 0;
      if (entry.get_uint64().get(ef) || ef < 1 || ef > service::kMaxEf) {
        return DecodeError("ef[" + std::to_string(j) + "]: expected an integer from 1 to " +
                           std::to_string(service::kMaxEf));
      }
      if (spec.efs.size() == kMaxRecallCheckEfs) {
        return DecodeError("ef: at most " + std::to_string(kMaxRecallCheckEfs) + " values");
      }
      spec.efs.push_back(static_cast<uint32_t>(ef));
      ++j;
    }
    if (spec.efs.empty()) return DecodeError("ef: expected at least one value");
  }
  if (auto queries = Field(root, "queries")) {
    uint64_t n = 0;
    if (queries->get_uint64().get(n) || n < 1 || n > kMaxRecallCheckQueries) {
      return DecodeError("queries: expected an integer from 1 to " +
                         std::to_string(kMaxRecallCheckQueries));
    }
    spec.queries = static_cast<size_t>(n);
  }
  return spec;
}

}  // namespace vectord::http
