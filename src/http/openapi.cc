#include "http/openapi.h"

namespace vectord::http {

std::string_view OpenApiDocument() {
  static constexpr std::string_view kDocument = R"json({
  "openapi": "3.0.3",
  "info": {
    "title": "vectord",
    "version": "1.0.0",
    "description": "Named HNSW indexes of float vectors keyed by string ids, with optional JSON metadata. Errors are text/plain lines. See docs/API.md."
  },
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "parameters": {
      "name": {"name": "name", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"}},
      "id": {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
      "durability": {"name": "durability", "in": "query", "required": false, "description": "fsync: the log record is fsynced before the answer; none: written to the OS only. Default: the server's fsync policy.", "schema": {"type": "string", "enum": ["fsync", "none"]}}
    },
    "responses": {
      "Error": {"description": "Error text", "content": {"text/plain": {"schema": {"type": "string"}}}}
    },
    "schemas": {
      "Params": {"type": "object", "properties": {
        "name": {"type": "string"}, "dimension": {"type": "integer", "minimum": 1, "maximum": 16384},
        "m": {"type": "integer", "minimum": 2, "maximum": 128, "default": 16},
        "ef_search": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 64},
        "ef_construction": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 200},
        "distance": {"type": "string", "enum": ["cosine", "euclidean", "dot"], "default": "cosine"},
        "quantization": {"type": "string", "enum": ["none", "sq8"], "default": "none"}}},
      "IndexInfo": {"type": "object", "properties": {"params": {"$ref": "#/components/schemas/Params"}, "length": {"type": "integer"}}},
      "Item": {"type": "object", "required": ["id", "vector"], "properties": {
        "id": {"type": "string", "minLength": 1}, "vector": {"type": "array", "items": {"type": "number"}},
        "metadata": {"description": "Any JSON value, stored and returned as sent."}}},
      "FilterValue": {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]},
      "Condition": {"oneOf": [
        {"type": "object", "required": ["key", "match"], "properties": {"key": {"type": "string"}, "match": {"oneOf": [
          {"type": "object", "required": ["value"], "properties": {"value": {"$ref": "#/components/schemas/FilterValue"}}},
          {"type": "object", "required": ["any"], "properties": {"any": {"type": "array", "items": {"$ref": "#/components/schemas/FilterValue"}}}}]}}},
        {"type": "object", "required": ["key", "range"], "properties": {"key": {"type": "string"}, "range": {"type": "object", "properties": {
          "gt": {"type": "number"}, "gte": {"type": "number"}, "lt": {"type": "number"}, "lte": {"type": "number"}}}}},
        {"type": "object", "required": ["has_id"], "properties": {"has_id": {"type": "array", "items": {"type": "string"}}}},
        {"$ref": "#/components/schemas/Filter"}]},
      "Filter": {"type": "object", "properties": {
        "must": {"type": "array", "items": {"$ref": "#/components/schemas/Condition"}},
        "should": {"type": "array", "items": {"$ref": "#/components/schemas/Condition"}},
        "must_not": {"type": "array", "items": {"$ref": "#/components/schemas/Condition"}}}},
      "Search": {"type": "object", "required": ["vector"], "properties": {
        "vector": {"type": "array", "items": {"type": "number"}},
        "k": {"type": "integer", "default": 10, "description": "<= 0: 10; above 1000: 1000"},
        "ef": {"type": "integer", "minimum": 0, "maximum": 10000, "description": "0: the index's ef_search; effective ef = max(ef, k)"},
        "include_vector": {"type": "boolean", "default": false},
        "include_metadata": {"type": "boolean", "default": true},
        "filter": {"$ref": "#/components/schemas/Filter"}}},
      "Results": {"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": "string"}, "distance": {"type": "number"}, "metadata": {}, "vector": {"type": "array", "items": {"type": "number"}}}}}
    }
  },
  "security": [{}, {"bearer": []}],
  "paths": {
    "/health": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "{\"status\":\"ok\"}"}}}},
    "/ready": {"get": {"summary": "Readiness: 503 until stored indexes are loaded", "security": [], "responses": {"200": {"description": "{\"status\":\"ready\"}"}, "503": {"$ref": "#/components/responses/Error"}}}},
    "/metrics": {"get": {"summary": "Prometheus text format", "responses": {"200": {"description": "Metrics", "content": {"text/plain": {}}}}}},
    "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3"}}}},
    "/dashboard": {"get": {"summary": "The dashboard: one self-contained HTML page that polls this API from the browser with the token given in its URL fragment (#token=...); the page carries no data, so it needs no token", "security": [], "responses": {"200": {"description": "The page", "content": {"text/html": {"schema": {"type": "string"}}}}}}},
    "/vectors/index": {
      "post": {"summary": "Create an index", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Params"}}}},
        "responses": {"201": {"description": "Created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IndexInfo"}}}}, "400": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}}},
      "get": {"summary": "List index names", "responses": {"200": {"description": "{\"names\": [...], \"count\": n}"}}}},
    "/vectors/index/{name}": {"parameters": [{"$ref": "#/components/parameters/name"}],
      "get": {"summary": "Parameters, size, memory, traffic, search latency and the recall self-check's estimate", "responses": {"200": {"description": "IndexInfo plus memory_bytes, stats {searches, items_added, items_deleted, search_latency_ms {p50, p90, p99, searches} | null}, recall_estimate {recall_at_10 | null, samples, samples_from_queries, ci95 | null, curve [{ef, recall_at_10, samples, ci95}]}, recall_check (the last explicit check) | null", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IndexInfo"}}}}, "404": {"$ref": "#/components/responses/Error"}}},
      "delete": {"summary": "Drop the index and its files", "responses": {"204": {"description": "Dropped"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/vectors/index/{name}/add": {"parameters": [{"$ref": "#/components/parameters/name"}, {"$ref": "#/components/parameters/durability"}],
      "post": {"summary": "Upsert a batch (validated whole before anything is applied; last occurrence of an id wins)",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}}}}},
        "responses": {"200": {"description": "{\"added\": n, \"length\": N, \"durability\": \"fsync\"|\"written\"|\"none\"}"}, "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}, "413": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}, "507": {"$ref": "#/components/responses/Error"}}}},
    "/vectors/index/{name}/search": {"parameters": [{"$ref": "#/components/parameters/name"}],
      "post": {"summary": "k nearest items, nearest first", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Search"}}}},
        "responses": {"200": {"description": "{\"results\": [...]}", "content": {"application/json": {"schema": {"type": "object", "properties": {"results": {"$ref": "#/components/schemas/Results"}}}}}}, "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/vectors/index/{name}/search/batch": {"parameters": [{"$ref": "#/components/parameters/name"}],
      "post": {"summary": "Many searches, run in parallel, answered in order",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["searches"], "properties": {"searches": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Search"}}}}}}},
        "responses": {"200": {"description": "{\"results\": [[...], ...]}", "content": {"application/json": {"schema": {"type": "object", "properties": {"results": {"type": "array", "items": {"$ref": "#/components/schemas/Results"}}}}}}}, "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/vectors/index/{name}/delete": {"parameters": [{"$ref": "#/components/parameters/name"}, {"$ref": "#/components/parameters/durability"}],
      "post": {"summary": "Delete items by id (absent ids are counted out)",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["ids"], "properties": {"ids": {"type": "array", "minItems": 1, "items": {"type": "string"}}}}}}},
        "responses": {"200": {"description": "{\"deleted\": n, \"length\": N, \"durability\": ...}"}, "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/vectors/index/{name}/recall-check": {"parameters": [{"$ref": "#/components/parameters/name"}],
      "post": {"summary": "Measure recall@10 now: stored items as queries (each left out of its own answer), exact answers by a full scan, at every ef asked",
        "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "properties": {"ef": {"type": "array", "minItems": 1, "maxItems": 64, "items": {"type": "integer", "minimum": 1, "maximum": 10000}, "default": [10, 16, 24, 32, 48, 64, 96, 128, 256]}, "queries": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 200}}}}}},
        "responses": {"200": {"description": "{\"measured_at\", \"queries\", \"results\": [{\"ef\", \"recall_at_10\", \"p50_ms\", \"p99_ms\"}]} in the order of ef asked"}, "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/vectors/index/{name}/items": {"parameters": [{"$ref": "#/components/parameters/name"},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}},
        {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "next_cursor of the previous page"},
        {"name": "include_vector", "in": "query", "schema": {"type": "boolean", "default": false}}],
      "get": {"summary": "Scroll through the items in id order",
        "responses": {"200": {"description": "{\"items\": [{\"id\", \"metadata\"?, \"vector\"?}], \"next_cursor\": string|null}"}, "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/vectors/index/{name}/items/{id}": {"parameters": [{"$ref": "#/components/parameters/name"}, {"$ref": "#/components/parameters/id"}],
      "get": {"summary": "One item, its vector as sent", "responses": {"200": {"description": "{\"id\", \"vector\", \"metadata\"?}"}, "404": {"$ref": "#/components/responses/Error"}}},
      "delete": {"summary": "Delete one item", "parameters": [{"$ref": "#/components/parameters/durability"}], "responses": {"204": {"description": "Deleted"}, "404": {"$ref": "#/components/responses/Error"}}}}
  }
}
)json";
  return kDocument;
}

}  // namespace vectord::http
