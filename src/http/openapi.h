// The OpenAPI 3 description of vectord's HTTP API, served at
// GET /openapi.json: src/http/assets/openapi.json, embedded at build time
// (cmake/embed_asset.cmake). docs/API.md is the prose version of the same
// contract. Tests check that its operations are exactly the rows of
// ApiHandler::Routes() and that its defaults and limits are the code's.
#pragma once

#include <string_view>

namespace vectord::http {

std::string_view OpenApiDocument();

}  // namespace vectord::http
