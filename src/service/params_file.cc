#include "service/params_file.h"

#include <simdjson.h>

namespace vectord::service {
namespace {

constexpr std::string_view kParamsFormat = "vectord.index-params";
constexpr int kParamsVersion = 1;

}  // namespace

std::string ParamsJson(const IndexParams& p) {
  // Names are validated to [A-Za-z0-9_.-], so no escaping is needed.
  return "{\"format\":\"" + std::string(kParamsFormat) +
         "\",\"format_version\":" + std::to_string(kParamsVersion) + ",\"params\":{\"name\":\"" +
         p.name + "\",\"dimension\":" + std::to_string(p.dimension) +
         ",\"m\":" + std::to_string(p.m) + ",\"ef_search\":" + std::to_string(p.ef_search) +
         ",\"ef_construction\":" + std::to_string(p.ef_construction) + ",\"distance\":\"" +
         std::string(engine::MetricName(p.metric)) + "\",\"quantization\":\"" +
         std::string(engine::QuantizationName(p.quantization)) + "\",\"vectors\":\"" +
         std::string(p.vectors_name()) + "\"}}\n";
}

Result<IndexParams> ParseParamsJson(const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto error = parser.parse(text).get(doc)) {
    return Status::Corruption(std::string("params file is not JSON: ") +
                              simdjson::error_message(error));
  }
  std::string_view format;
  int64_t version = 0;
  simdjson::dom::object params;
  if (doc["format"].get(format) || format != kParamsFormat || doc["format_version"].get(version) ||
      doc["params"].get(params)) {
    return Status::Corruption("params file lacks format, format_version or params");
  }
  if (version != kParamsVersion) {
    return Status::Corruption("params file format_version " + std::to_string(version) +
                              " is not supported");
  }
  CreateSpec spec;
  std::string_view name, distance;
  if (params["name"].get(name) || params["dimension"].get(spec.dimension) ||
      params["m"].get(spec.m) || params["ef_search"].get(spec.ef_search) ||
      params["ef_construction"].get(spec.ef_construction) || params["distance"].get(distance)) {
    return Status::Corruption("params file has a missing or mistyped field");
  }
  spec.name = name;
  spec.distance = distance;
  // Added after the first release of this file: absent means none.
  std::string_view quantization;
  if (params["quantization"].get(quantization) == simdjson::SUCCESS) {
    spec.quantization = quantization;
  } else if (params["quantization"].error() != simdjson::NO_SUCH_FIELD) {
    return Status::Corruption("params file has a mistyped quantization");
  }
  // Added later again: absent means memory.
  std::string_view vectors;
  if (params["vectors"].get(vectors) == simdjson::SUCCESS) {
    spec.vectors = vectors;
  } else if (params["vectors"].error() != simdjson::NO_SUCH_FIELD) {
    return Status::Corruption("params file has a mistyped vectors");
  }
  auto resolved = ResolveParams(spec);
  if (!resolved.ok()) return Status::Corruption("params file: " + resolved.status().message());
  return resolved;
}

}  // namespace vectord::service
