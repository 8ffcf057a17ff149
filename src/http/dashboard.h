// The operator's dashboard served at GET /dashboard: one self-contained HTML
// document (markup, CSS and script; no external resources, since the server
// may have no internet) that polls the JSON API from the browser every 2 s.
//
// It shows the indexes (size, memory, write and search rates, search
// latency, the recall self-check's estimate), a recall-vs-ef chart per index
// with a button that runs an explicit recall check, and a search playground.
//
// The page carries no data, so it is served without the token, like
// /health; the script takes the token from the URL fragment (`#token=...`,
// never sent to the server), keeps it in sessionStorage and sends it as
// `Authorization: Bearer` on every call, asking for it when a call is 401.
//
// The page is src/http/assets/dashboard.html, embedded at build time
// (cmake/embed_asset.cmake). It names no other origin: its
// Content-Security-Policy lets it talk only to its own. Server text is never
// parsed as HTML: the script builds elements and sets textContent.
#pragma once

#include <string_view>

namespace vectord::http {

// The page, text/html in UTF-8; static bytes.
std::string_view DashboardPage();

}  // namespace vectord::http
