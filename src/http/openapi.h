// The OpenAPI 3 description of vectord's HTTP API, served at
// GET /openapi.json. docs/API.md is the prose version of the same contract;
// a test checks that every route the handler serves is described here.
#pragma once

#include <string_view>

namespace vectord::http {

std::string_view OpenApiDocument();

}  // namespace vectord::http
