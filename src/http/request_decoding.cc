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

}  // namespace

Result<service::CreateSpec> DecodeCreate(std::string& body) {
  auto root = ParseObject(body);
  if (!root.ok()) return root.status();
  service::CreateSpec spec;
  VECTORD_RETURN_IF_ERROR(GetString(*root, "name", &spec.name));
  VECTORD_RETURN_IF_ERROR(GetInt(*root, "dimension", &spec.dimension));
  VECTORD_RETURN_IF_ERROR(GetInt(*root, "m", &spec.m));
  VECTORD_RETURN_IF_ERROR(GetInt(*root, "ef_search", &spec.ef_search));
  VECTORD_RETURN_IF_ERROR(GetInt(*root, "ef_construction", &spec.ef_construction));
  VECTORD_RETURN_IF_ERROR(GetString(*root, "distance", &spec.distance));
  VECTORD_RETURN_IF_ERROR(GetString(*root, "quantization", &spec.quantization));
  return spec;
}

Result<std::vector<service::NewItem>> DecodeAdd(std::string& body) {
  auto root = ParseObject(body);
  if (!root.ok()) return root.status();
  std::vector<service::NewItem> items;
  auto list = Field(*root, "items");
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
  auto root = ParseObject(body);
  if (!root.ok()) return root.status();
  service::SearchSpec spec;
  if (auto vector = Field(*root, "vector")) {
    VECTORD_RETURN_IF_ERROR(GetVector(*vector, "vector", &spec.vector));
  }
  VECTORD_RETURN_IF_ERROR(GetInt(*root, "k", &spec.k));
  int64_t ef = 0;
  VECTORD_RETURN_IF_ERROR(GetInt(*root, "ef", &ef));
  if (ef < 0 || ef > engine::kMaxEf) {
    return Status::InvalidArgument("ef must be between 1 and " + std::to_string(engine::kMaxEf));
  }
  spec.ef = static_cast<size_t>(ef);
  VECTORD_RETURN_IF_ERROR(GetBool(*root, "include_vector", &spec.include_vector));
  VECTORD_RETURN_IF_ERROR(GetBool(*root, "include_metadata", &spec.include_metadata));
  return spec;
}

Result<std::vector<std::string>> DecodeIds(std::string& body) {
  auto root = ParseObject(body);
  if (!root.ok()) return root.status();
  std::vector<std::string> ids;
  auto list = Field(*root, "ids");
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

}  // namespace vectord::http
