// The routes and options vectord adds to the seed API: metadata filters,
// batch search, scrolling, and the OpenAPI document.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "engine/hnsw_index.h"
#include "http/api_handler.h"
#include "http/request_decoding.h"
#include "service/index_name.h"
#include "service/index_registry.h"

namespace vectord::http {
namespace {

class ApiExtensionsTest : public ::testing::Test {
 protected:
  ApiExtensionsTest()
      : pool_(2), registry_(&pool_), handler_(&registry_, ApiOptions{}, &ready_, nullptr) {}

  HttpResponse Do(std::string method, std::string path, std::string body = "") {
    HttpRequest request;
    request.method = std::move(method);
    const size_t q = path.find('?');
    request.path = path.substr(0, q);
    if (q != std::string::npos) request.query = path.substr(q + 1);
    request.body = std::move(body);
    return handler_.Handle(request);
  }

  // An index "docs" of `n` 2-d items whose metadata exercises every kind of
  // value: strings, integers and doubles, booleans, nested objects, arrays.
  void CreateCatalogue(int n) {
    ASSERT_EQ(
        Do("POST", "/vectors/index", R"({"name":"docs","dimension":2,"distance":"euclidean"})")
            .status,
        201);
    std::string body = "{\"items\":[";
    for (int i = 0; i < n; ++i) {
      if (i > 0) body += ',';
      const std::string colour = i % 3 == 0 ? "red" : i % 3 == 1 ? "green" : "blue";
      body += "{\"id\":\"item-" + std::to_string(i) + "\",\"vector\":[" + std::to_string(i) +
              ",1],\"metadata\":{\"colour\":\"" + colour + "\",\"n\":" + std::to_string(i) +
              ",\"half\":" + std::to_string(i) + ".5" +
              ",\"even\":" + (i % 2 == 0 ? "true" : "false") + ",\"shop\":{\"city\":\"" +
              (i < n / 2 ? "Paris" : "Oslo") + "\",\"floor\":" + std::to_string(i % 4) +
              "},\"tags\":[\"t" + std::to_string(i % 5) + "\",\"all\"" +
              (i % 10 == 0 ? ",\"tenth\"" : "") + "]}}";
    }
    body += "]}";
    HttpResponse r = Do("POST", "/vectors/index/docs/add", body);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // Ids a filtered search returns (k large enough for every item).
  std::set<int> Matching(const std::string& filter) {
    HttpResponse r = Do("POST", "/vectors/index/docs/search",
                        R"({"vector":[0,1],"k":1000,"filter":)" + filter + "}");
    EXPECT_EQ(r.status, 200) << filter << " -> " << r.body;
    std::set<int> ids;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(r.body).get(root)) return ids;
    for (simdjson::dom::element hit : root["results"].get_array()) {
      std::string_view id = hit["id"].get_string();
      ids.insert(std::stoi(std::string(id.substr(5))));
    }
    return ids;
  }

  template <typename Pred>
  static std::set<int> Where(int n, Pred pred) {
    std::set<int> out;
    for (int i = 0; i < n; ++i) {
      if (pred(i)) out.insert(i);
    }
    return out;
  }

  ThreadPool pool_;
  service::Registry registry_;
  std::atomic<bool> ready_{true};
  ApiHandler handler_;
};

TEST_F(ApiExtensionsTest, FilterConditionsMatchQdrantSemantics) {
  const int n = 200;
  CreateCatalogue(n);
  EXPECT_EQ(Matching(R"({"must":[{"key":"colour","match":{"value":"red"}}]})"),
            Where(n, [](int i) { return i % 3 == 0; }));
  // Numbers compare as numbers: 7 and 7.0 are the same value.
  EXPECT_EQ(Matching(R"({"must":[{"key":"n","match":{"value":7.0}}]})"), std::set<int>{7});
  EXPECT_EQ(Matching(R"({"must":[{"key":"half","match":{"value":7.5}}]})"), std::set<int>{7});
  // A boolean never matches a number, nor a number a boolean.
  EXPECT_EQ(Matching(R"({"must":[{"key":"n","match":{"value":true}}]})"), std::set<int>{});
  EXPECT_EQ(Matching(R"({"must":[{"key":"even","match":{"value":1}}]})"), std::set<int>{});
  EXPECT_EQ(Matching(R"({"must":[{"key":"even","match":{"value":true}}]})"),
            Where(n, [](int i) { return i % 2 == 0; }));
  // Strings match exactly.
  EXPECT_EQ(Matching(R"({"must":[{"key":"colour","match":{"value":"Red"}}]})"), std::set<int>{});
  // Dotted keys reach into objects; arrays match any element.
  EXPECT_EQ(Matching(R"({"must":[{"key":"shop.city","match":{"value":"Oslo"}}]})"),
            Where(n, [&](int i) { return i >= n / 2; }));
  EXPECT_EQ(Matching(R"({"must":[{"key":"tags","match":{"value":"tenth"}}]})"),
            Where(n, [](int i) { return i % 10 == 0; }));
  EXPECT_EQ(Matching(R"({"must":[{"key":"tags","match":{"any":["t1","t3"]}}]})"),
            Where(n, [](int i) { return i % 5 == 1 || i % 5 == 3; }));
  EXPECT_EQ(Matching(R"({"must":[{"key":"n","match":{"any":[3, 4.0, "5"]}}]})"),
            (std::set<int>{3, 4}));
  // Ranges, each bound inclusive or not as named.
  EXPECT_EQ(Matching(R"({"must":[{"key":"n","range":{"gte":10,"lt":20}}]})"),
            Where(n, [](int i) { return i >= 10 && i < 20; }));
  EXPECT_EQ(Matching(R"({"must":[{"key":"half","range":{"gt":10.5,"lte":20.5}}]})"),
            Where(n, [](int i) { return i > 10 && i <= 20; }));
  EXPECT_EQ(Matching(R"({"must":[{"key":"n","range":{"gt":5,"gte":3,"lt":9}}]})"),
            (std::set<int>{6, 7, 8}));
  EXPECT_EQ(Matching(R"({"must":[{"key":"colour","range":{"gt":0}}]})"), std::set<int>{});
  EXPECT_EQ(Matching(R"({"must":[{"has_id":["item-4","item-9","absent"]}]})"),
            (std::set<int>{4, 9}));
  // must_not, should, nesting, and a single condition in place of a list.
  EXPECT_EQ(Matching(R"({"must":{"key":"shop.floor","match":{"value":0}},
                         "must_not":[{"key":"colour","match":{"value":"red"}}]})"),
            Where(n, [](int i) { return i % 4 == 0 && i % 3 != 0; }));
  EXPECT_EQ(
      Matching(R"({"should":[{"key":"n","range":{"lt":3}},{"key":"n","range":{"gte":197}}]})"),
      (std::set<int>{0, 1, 2, 197, 198, 199}));
  EXPECT_EQ(Matching(R"({"must":[{"key":"even","match":{"value":false}},
                           {"should":[{"key":"colour","match":{"value":"blue"}},
                                      {"must":[{"key":"shop.city","match":{"value":"Paris"}}],
                                       "must_not":[{"key":"n","range":{"gte":10}}]}]}]})"),
            Where(n, [](int i) { return i % 2 == 1 && (i % 3 == 2 || i < 10); }));
  EXPECT_EQ(Matching("{}"), Where(n, [](int) { return true; }));
  EXPECT_EQ(Matching(R"({"must":[{"key":"absent.key","match":{"value":1}}]})"), std::set<int>{});
}

TEST_F(ApiExtensionsTest, FiltersFollowUpsertsAndDeletes) {
  CreateCatalogue(30);
  const std::string red = R"({"must":[{"key":"colour","match":{"value":"red"}}]})";
  EXPECT_EQ(Matching(red).count(3), 1u);
  ASSERT_EQ(Do("POST", "/vectors/index/docs/add",
               R"({"items":[{"id":"item-3","vector":[3,1],"metadata":{"colour":"black"}},
                              {"id":"item-4","vector":[4,1],"metadata":{"colour":"red"}}]})")
                .status,
            200);
  ASSERT_EQ(Do("DELETE", "/vectors/index/docs/items/item-6").status, 204);
  ASSERT_EQ(Do("POST", "/vectors/index/docs/delete", R"({"ids":["item-9"]})").status, 200);
  std::set<int> expected =
      Where(30, [](int i) { return i % 3 == 0 && i != 3 && i != 6 && i != 9; });
  expected.insert(4);
  EXPECT_EQ(Matching(red), expected);
  EXPECT_EQ(Matching(R"({"must":[{"key":"colour","match":{"value":"black"}}]})"), std::set<int>{3});
}

TEST_F(ApiExtensionsTest, MalformedFiltersAre400NamingThePart) {
  CreateCatalogue(5);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"([1])", "filter: expected an object"},
      {R"({"must":[{"key":"a"}]})", "filter.must[0]: a key condition needs exactly one"},
      {R"({"must":[{"key":"a","match":{"value":1},"range":{"gt":1}}]})", "filter.must[0]: a key"},
      {R"({"must":[{"color":"red"}]})", "filter.must[0]: unknown field \"color\""},
      {R"({"must":[{}]})", "filter.must[0]: unknown condition"},
      {R"({"should":[{"key":"a","match":{"value":[1]}}]})", "filter.should[0].match.value"},
      {R"({"must_not":[{"key":"a","match":{"val":1}}]})", "filter.must_not[0].match"},
      {R"({"must":[{"key":"a","match":{"any":[1,{"x":1}]}}]})", "filter.must[0].match.any[1]"},
      {R"({"must":[{"key":"a","range":{"gt":"1"}}]})", "filter.must[0].range: gt must be a number"},
      {R"({"must":[{"key":"a","range":{"gt":true}}]})", "range: gt must be a number"},
      {R"({"must":[{"key":"a","range":{"above":1}}]})", "unknown bound \"above\""},
      {R"({"must":[{"key":"a","range":{}}]})", "filter.must[0].range"},
      {R"({"must":[{"key":"","match":{"value":1}}]})", "filter.must[0].key"},
      {R"({"must":[{"has_id":"item-1"}]})", "filter.must[0].has_id"},
      {R"({"must":[{"must":[{"key":1,"match":{"value":1}}]}]})", "filter.must[0].must[0].key"},
      {R"({"must":"x"})", "filter.must: expected an array of conditions"},
      {R"({"filter":{}})", "filter: unknown field \"filter\""},
  };
  for (const auto& [filter, message] : cases) {
    HttpResponse r =
        Do("POST", "/vectors/index/docs/search", R"({"vector":[0,1],"filter":)" + filter + "}");
    EXPECT_EQ(r.status, 400) << filter;
    EXPECT_NE(r.body.find("invalid filter: "), std::string::npos) << filter << " -> " << r.body;
    EXPECT_NE(r.body.find(message), std::string::npos) << filter << " -> " << r.body;
  }
}

TEST_F(ApiExtensionsTest, BatchSearchAnswersInOrderLikeSingleSearches) {
  CreateCatalogue(100);
  std::string batch = "{\"searches\":[";
  std::vector<std::string> singles;
  for (int q = 0; q < 12; ++q) {
    std::string search =
        "{\"vector\":[" + std::to_string(q * 8) + ",1],\"k\":" + std::to_string(1 + q % 4) +
        (q % 2 ? ",\"include_vector\":true" : "") +
        (q % 3 == 0 ? R"(,"filter":{"must":[{"key":"even","match":{"value":true}}]})" : "") + "}";
    singles.push_back(search);
    batch += (q > 0 ? "," : "") + search;
  }
  batch += "]}";
  HttpResponse r = Do("POST", "/vectors/index/docs/search/batch", batch);
  ASSERT_EQ(r.status, 200) << r.body;
  std::string expected = "{\"results\":[";
  for (size_t q = 0; q < singles.size(); ++q) {
    HttpResponse one = Do("POST", "/vectors/index/docs/search", singles[q]);
    ASSERT_EQ(one.status, 200);
    // {"results":[...]}\n -> [...]
    const std::string list = one.body.substr(11, one.body.size() - 11 - 2);
    expected += (q > 0 ? "," : "") + list;
  }
  expected += "]}\n";
  EXPECT_EQ(r.body, expected);
}

TEST_F(ApiExtensionsTest, BatchSearchErrors) {
  CreateCatalogue(5);
  EXPECT_EQ(Do("POST", "/vectors/index/nope/search/batch", R"({"searches":[{}]})").status, 404);
  HttpResponse empty = Do("POST", "/vectors/index/docs/search/batch", R"({"searches":[]})");
  EXPECT_EQ(empty.status, 400);
  EXPECT_EQ(empty.body, "searches must be a non-empty array\n");
  EXPECT_EQ(Do("POST", "/vectors/index/docs/search/batch", R"({})").status, 400);
  HttpResponse bad = Do("POST", "/vectors/index/docs/search/batch",
                        R"({"searches":[{"vector":[1,1]},{"vector":[1,1,1]}]})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body, "searches[1]: dim mismatch (index=2, got=3)\n");
  HttpResponse filter = Do("POST", "/vectors/index/docs/search/batch",
                           R"({"searches":[{"vector":[1,1],"filter":{"must":[{}]}}]})");
  EXPECT_EQ(filter.status, 400);
  EXPECT_NE(filter.body.find("searches[0]: invalid filter: filter.must[0]"), std::string::npos)
      << filter.body;
  EXPECT_EQ(Do("GET", "/vectors/index/docs/search/batch").status, 405);
}

struct Page {
  std::vector<std::string> ids;
  std::optional<std::string> cursor;
  size_t with_vector = 0, with_metadata = 0;
};

Page ParsePage(const std::string& body) {
  Page page;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_FALSE(parser.parse(body).get(root)) << body;
  for (simdjson::dom::element item : root["items"].get_array()) {
    page.ids.emplace_back(std::string_view(item["id"].get_string()));
    simdjson::dom::element x;
    page.with_vector += item.at_key("vector").get(x) == simdjson::SUCCESS;
    page.with_metadata += item.at_key("metadata").get(x) == simdjson::SUCCESS;
  }
  simdjson::dom::element cursor = root["next_cursor"];
  if (!cursor.is_null()) page.cursor = std::string(std::string_view(cursor.get_string()));
  return page;
}

TEST_F(ApiExtensionsTest, ScrollVisitsEveryItemOnceEvenWhileWritesGoOn) {
  const int n = 250;
  CreateCatalogue(n);
  std::map<std::string, int> seen;
  std::string cursor;
  int pages = 0;
  std::set<std::string> deleted_unseen;
  while (true) {
    HttpResponse r = Do("GET", "/vectors/index/docs/items?limit=60" +
                                   (cursor.empty() ? std::string() : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200) << r.body;
    Page page = ParsePage(r.body);
    EXPECT_EQ(page.with_vector, 0u);
    // Later pages hold items rewritten without metadata.
    if (pages == 0) {
      EXPECT_EQ(page.with_metadata, page.ids.size());
    }
    for (const std::string& id : page.ids) ++seen[id];
    ++pages;
    if (pages == 1) {
      // Between pages: rewrite items seen and not yet seen, delete some not
      // yet seen, add new ones (both before and after the cursor in order).
      std::string body = R"({"items":[)";
      for (int i : {0, 1, 2, 120, 121, 249}) {
        body += "{\"id\":\"item-" + std::to_string(i) + "\",\"vector\":[9,9]},";
      }
      body += R"({"id":"item-0000-new","vector":[1,2]},{"id":"zzz-new","vector":[2,1]}]})";
      ASSERT_EQ(Do("POST", "/vectors/index/docs/add", body).status, 200);
      for (int i : {200, 201}) {
        const std::string id = "item-" + std::to_string(i);
        if (seen.count(id) == 0) deleted_unseen.insert(id);
        ASSERT_EQ(Do("DELETE", "/vectors/index/docs/items/" + id).status, 204);
      }
    }
    if (!page.cursor) break;
    EXPECT_EQ(page.ids.size(), 60u);
    cursor = *page.cursor;
  }
  for (int i = 0; i < n; ++i) {
    const std::string id = "item-" + std::to_string(i);
    if (deleted_unseen.count(id) != 0) {
      EXPECT_EQ(seen.count(id), 0u) << id;
      continue;
    }
    EXPECT_EQ(seen[id], 1) << id;  // lived through the scroll: exactly once
  }
  for (const auto& [id, times] : seen) EXPECT_EQ(times, 1) << id;
  EXPECT_EQ(seen.count("zzz-new"), 1u);  // added ahead of the cursor
  EXPECT_GE(pages, 5);
}

TEST_F(ApiExtensionsTest, ScrollOptionsAndErrors) {
  CreateCatalogue(10);
  Page all = ParsePage(Do("GET", "/vectors/index/docs/items").body);
  EXPECT_EQ(all.ids.size(), 10u);
  EXPECT_FALSE(all.cursor);
  EXPECT_TRUE(std::is_sorted(all.ids.begin(), all.ids.end()));
  Page vectors = ParsePage(Do("GET", "/vectors/index/docs/items?include_vector=true&limit=3").body);
  EXPECT_EQ(vectors.ids.size(), 3u);
  EXPECT_EQ(vectors.with_vector, 3u);
  ASSERT_TRUE(vectors.cursor);
  // Exactly `limit` left: the page that takes them is the last.
  Page rest =
      ParsePage(Do("GET", "/vectors/index/docs/items?limit=7&cursor=" + *vectors.cursor).body);
  EXPECT_EQ(rest.ids.size(), 7u);
  EXPECT_FALSE(rest.cursor);
  EXPECT_EQ(Do("GET", "/vectors/index/nope/items").status, 404);
  for (const std::string query : {"limit=0", "limit=10001", "limit=x", "limit=-1", "cursor=zz",
                                  "cursor=abc", "include_vector=maybe"}) {
    HttpResponse r = Do("GET", "/vectors/index/docs/items?" + query);
    EXPECT_EQ(r.status, 400) << query << " " << r.body;
  }
  EXPECT_EQ(Do("POST", "/vectors/index/docs/items").status, 405);
  ASSERT_EQ(Do("POST", "/vectors/index", R"({"name":"empty","dimension":2})").status, 201);
  EXPECT_EQ(Do("GET", "/vectors/index/empty/items").body, "{\"items\":[],\"next_cursor\":null}\n");
}

// The document and the route table agree: every row has its operation
// (method and path) in the document, and every operation is a row.
TEST_F(ApiExtensionsTest, OpenApiDocumentDescribesEveryRoute) {
  HttpResponse r = Do("GET", "/openapi.json");
  ASSERT_EQ(r.status, 200);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_FALSE(parser.parse(r.body).get(root)) << "not JSON";
  simdjson::dom::object paths;
  ASSERT_FALSE(root["paths"].get_object().get(paths));
  std::set<std::string> in_table, in_document;
  for (const ApiHandler::Route& route : ApiHandler::Routes()) {
    std::string method(route.method);
    std::transform(method.begin(), method.end(), method.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    in_table.insert(method + " " + std::string(route.pattern));
  }
  static const std::set<std::string_view> kOperations = {"get",     "put",  "post",  "delete",
                                                         "options", "head", "patch", "trace"};
  for (auto [path, item] : paths) {
    simdjson::dom::object operations;
    ASSERT_FALSE(item.get_object().get(operations)) << path;
    for (auto [key, operation] : operations) {
      if (kOperations.contains(key)) in_document.insert(std::string(key) + " " + std::string(path));
    }
  }
  EXPECT_EQ(in_document, in_table);
  EXPECT_EQ(in_table.size(), 19u);
  EXPECT_EQ(Do("POST", "/openapi.json").status, 405);
}

// The document states defaults and limits in its own words; they are the
// ones the code applies.
TEST_F(ApiExtensionsTest, OpenApiDefaultsAndLimitsAreTheCodes) {
  HttpResponse r = Do("GET", "/openapi.json");
  ASSERT_EQ(r.status, 200);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_FALSE(parser.parse(r.body).get(root)) << "not JSON";
  auto number = [&](std::string_view pointer) -> int64_t {
    int64_t value = -1;
    EXPECT_FALSE(root.at_pointer(pointer).get_int64().get(value)) << pointer;
    return value;
  };
  auto text = [&](std::string_view pointer) -> std::string {
    std::string_view value;
    EXPECT_FALSE(root.at_pointer(pointer).get_string().get(value)) << pointer;
    return std::string(value);
  };
  const std::string params = "/components/schemas/Params/properties/";
  EXPECT_EQ(number(params + "dimension/minimum"), 1);
  EXPECT_EQ(number(params + "dimension/maximum"), engine::kMaxDimension);
  EXPECT_EQ(number(params + "m/minimum"), engine::kMinM);
  EXPECT_EQ(number(params + "m/maximum"), engine::kMaxM);
  EXPECT_EQ(number(params + "m/default"), engine::kDefaultM);
  EXPECT_EQ(number(params + "ef_search/maximum"), engine::kMaxEf);
  EXPECT_EQ(number(params + "ef_search/default"), engine::kDefaultEfSearch);
  EXPECT_EQ(number(params + "ef_construction/maximum"), engine::kMaxEf);
  EXPECT_EQ(number(params + "ef_construction/default"), engine::kDefaultEfConstruction);
  const service::IndexParams defaults;
  EXPECT_EQ(text(params + "distance/default"), defaults.distance_name());
  EXPECT_EQ(text(params + "quantization/default"), defaults.quantization_name());

  const std::string search = "/components/schemas/Search/properties/";
  EXPECT_EQ(number(search + "k/default"), static_cast<int64_t>(service::kDefaultK));
  EXPECT_EQ(text(search + "k/description"), "<= 0: " + std::to_string(service::kDefaultK) +
                                                "; above " + std::to_string(service::kMaxK) + ": " +
                                                std::to_string(service::kMaxK));
  EXPECT_EQ(number(search + "ef/maximum"), service::kMaxEf);

  EXPECT_EQ(
      text("/components/parameters/name/schema/pattern"),
      "^[A-Za-z0-9_][A-Za-z0-9_.-]{0," + std::to_string(service::kMaxIndexNameLength - 1) + "}$");

  const std::string check =
      "/paths/~1vectors~1index~1{name}~1recall-check/post/requestBody/content/"
      "application~1json/schema/properties/";
  const RecallCheckSpec recall_defaults;
  EXPECT_EQ(number(check + "ef/maxItems"), static_cast<int64_t>(kMaxRecallCheckEfs));
  EXPECT_EQ(number(check + "ef/items/maximum"), service::kMaxEf);
  std::vector<uint32_t> efs;
  simdjson::dom::array efs_json;
  ASSERT_FALSE(root.at_pointer(check + "ef/default").get_array().get(efs_json));
  for (simdjson::dom::element ef : efs_json) efs.push_back(static_cast<uint32_t>(int64_t(ef)));
  EXPECT_EQ(efs, recall_defaults.efs);
  EXPECT_EQ(number(check + "queries/maximum"), static_cast<int64_t>(kMaxRecallCheckQueries));
  EXPECT_EQ(number(check + "queries/default"), static_cast<int64_t>(recall_defaults.queries));

  const std::string limit = "/paths/~1vectors~1index~1{name}~1items/parameters/1/";
  EXPECT_EQ(text(limit + "name"), "limit");
  EXPECT_EQ(number(limit + "schema/default"), static_cast<int64_t>(kDefaultScrollLimit));
  EXPECT_EQ(number(limit + "schema/maximum"), static_cast<int64_t>(kMaxScrollLimit));
}

// GET /vectors/index/{name} carries what the dashboard and operators watch.
TEST_F(ApiExtensionsTest, IndexDetailsReportMemoryTrafficLatencyAndRecall) {
  CreateCatalogue(50);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Do("POST", "/vectors/index/docs/search", R"({"vector":[3,1],"k":2})").status, 200);
  }
  ASSERT_EQ(Do("POST", "/vectors/index/docs/delete", R"({"ids":["item-1","item-2"]})").status, 200);
  HttpResponse r = Do("GET", "/vectors/index/docs");
  ASSERT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  simdjson::dom::element root = parser.parse(r.body);
  EXPECT_EQ(uint64_t(root["length"]), 48u);
  EXPECT_GT(uint64_t(root["memory_bytes"]), 48u * 2 * sizeof(float));
  EXPECT_EQ(uint64_t(root["stats"]["searches"]), 3u);
  EXPECT_EQ(uint64_t(root["stats"]["items_added"]), 50u);
  EXPECT_EQ(uint64_t(root["stats"]["items_deleted"]), 2u);
  EXPECT_EQ(uint64_t(root["stats"]["search_latency_ms"]["searches"]), 3u);
  EXPECT_GT(double(root["stats"]["search_latency_ms"]["p99"]), 0.0);
  // No sample yet: null estimate, zero samples, empty curve, no check.
  EXPECT_TRUE(root["recall_estimate"]["recall_at_10"].is_null());
  EXPECT_EQ(uint64_t(root["recall_estimate"]["samples"]), 0u);
  EXPECT_EQ(root["recall_estimate"]["curve"].get_array().size(), 0u);
  EXPECT_TRUE(root["recall_check"].is_null());

  // After an explicit check, GET shows it too.
  HttpResponse check =
      Do("POST", "/vectors/index/docs/recall-check", R"({"ef":[64,10],"queries":20})");
  ASSERT_EQ(check.status, 200) << check.body;
  simdjson::dom::element answer = parser.parse(check.body);
  EXPECT_EQ(uint64_t(answer["queries"]), 20u);
  simdjson::dom::array results = answer["results"];
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(uint64_t(results.at(0)["ef"]), 64u);
  EXPECT_EQ(uint64_t(results.at(1)["ef"]), 10u);
  // 48 two-dimensional items: ef 64 covers them all.
  EXPECT_DOUBLE_EQ(double(results.at(0)["recall_at_10"]), 1.0);
  EXPECT_GE(double(results.at(1)["p99_ms"]), double(results.at(1)["p50_ms"]));
  r = Do("GET", "/vectors/index/docs");
  root = parser.parse(r.body);
  EXPECT_EQ(root["recall_check"]["results"].get_array().size(), 2u);
}

TEST_F(ApiExtensionsTest, RecallCheckRefusesBadRequestsClearly) {
  EXPECT_EQ(Do("POST", "/vectors/index/nope/recall-check", "{}").status, 404);
  CreateCatalogue(50);
  struct Case {
    const char* body;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"ef":10})", "decode body: ef: expected an array of integers"},
           {R"({"ef":[]})", "decode body: ef: expected at least one value"},
           {R"({"ef":[10,0]})", "decode body: ef[1]: expected an integer from 1 to 10000"},
           {R"({"ef":[10001]})", "decode body: ef[0]: expected an integer from 1 to 10000"},
           {R"({"ef":[1.5]})", "decode body: ef[0]: expected an integer from 1 to 10000"},
           {R"({"queries":0})", "decode body: queries: expected an integer from 1 to 10000"},
           {R"({"queries":"ten"})", "decode body: queries: expected an integer from 1 to 10000"},
           {R"([1])", "decode body: expected a JSON object at the top level"},
       }) {
    HttpResponse r = Do("POST", "/vectors/index/docs/recall-check", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(r.body, std::string(c.message) + "\n") << c.body;
  }
  std::string many = R"({"ef":[)";
  for (int i = 1; i <= 65; ++i) many += (i > 1 ? "," : "") + std::to_string(i);
  many += "]}";
  EXPECT_EQ(Do("POST", "/vectors/index/docs/recall-check", many).body,
            "decode body: ef: at most 64 values\n");
  EXPECT_EQ(Do("GET", "/vectors/index/docs/recall-check").status, 405);
  // An empty body takes the defaults: nine efs.
  HttpResponse r = Do("POST", "/vectors/index/docs/recall-check", "");
  ASSERT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  EXPECT_EQ(parser.parse(r.body)["results"].get_array().size(), 9u);

  ASSERT_EQ(Do("POST", "/vectors/index", R"({"name":"small","dimension":2})").status, 201);
  ASSERT_EQ(
      Do("POST", "/vectors/index/small/add", R"({"items":[{"id":"a","vector":[1,0]}]})").status,
      200);
  r = Do("POST", "/vectors/index/small/recall-check", "{}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "the index needs at least 11 items to measure recall@10 (it has 1)\n");
}

}  // namespace
}  // namespace vectord::http
