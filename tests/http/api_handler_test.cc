#include "http/api_handler.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/thread_pool.h"
#include "engine/hnsw_index.h"
#include "service/index_registry.h"

namespace vectord::http {
namespace {

std::string FloatText(float v) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), v);
  return std::string(buffer, end);
}

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kText = "text/plain; charset=utf-8";
constexpr std::string_view kToken = "s3cret-token";

bool StartsWith(const std::string& text, std::string_view prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

bool EndsWith(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Header(const HttpResponse& r, std::string_view name) {
  for (const auto& [key, value] : r.headers) {
    if (key == name) return value;
  }
  return "";
}

// The params object of a create/get response with the server's defaults.
std::string ParamsJson(std::string_view name, int dimension, int m = engine::kDefaultM,
                       int ef_search = engine::kDefaultEfSearch,
                       std::string_view distance = "cosine",
                       int ef_construction = engine::kDefaultEfConstruction,
                       std::string_view quantization = "none",
                       std::string_view vectors = "memory") {
  return "{\"name\":\"" + std::string(name) + "\",\"dimension\":" + std::to_string(dimension) +
         ",\"m\":" + std::to_string(m) + ",\"ef_search\":" + std::to_string(ef_search) +
         ",\"distance\":\"" + std::string(distance) +
         "\",\"ef_construction\":" + std::to_string(ef_construction) + ",\"quantization\":\"" +
         std::string(quantization) + "\",\"vectors\":\"" + std::string(vectors) + "\"}";
}

std::string InfoJson(const std::string& params, size_t length) {
  return "{\"params\":" + params + ",\"length\":" + std::to_string(length) + "}\n";
}

struct Hit {
  std::string id;
  double distance;
  std::optional<std::string> metadata;  // minified
};

// Parses a search response body; fails the test on a malformed one.
std::vector<Hit> ParseHits(const std::string& body) {
  std::vector<Hit> hits;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto error = parser.parse(body).get(root);
  EXPECT_FALSE(error) << "response is not JSON: " << body;
  if (error) return hits;
  simdjson::dom::array results;
  EXPECT_FALSE(root["results"].get_array().get(results)) << body;
  for (simdjson::dom::element r : results) {
    Hit hit;
    std::string_view id;
    EXPECT_FALSE(r["id"].get_string().get(id)) << body;
    hit.id = std::string(id);
    EXPECT_FALSE(r["distance"].get_double().get(hit.distance)) << body;
    simdjson::dom::element metadata;
    if (!r.at_key("metadata").get(metadata)) hit.metadata = simdjson::to_string(metadata);
    hits.push_back(std::move(hit));
  }
  return hits;
}

class ApiHandlerTest : public ::testing::Test {
 protected:
  ApiHandlerTest() : pool_(4), registry_(&pool_), handler_(MakeHandler(std::string(), true)) {}

  std::unique_ptr<ApiHandler> MakeHandler(std::string token, bool with_metrics) {
    std::function<std::string()> metrics;
    if (with_metrics) {
      metrics = [this] {
        ++metrics_calls_;
        return std::string("# TYPE vectord_test gauge\nvectord_test 42\n");
      };
    }
    return std::make_unique<ApiHandler>(&registry_, ApiOptions{std::move(token)}, &ready_,
                                        std::move(metrics));
  }

  HttpResponse Do(std::string method, std::string path, std::string body = "",
                  std::string authorization = "") {
    return DoWith(*handler_, std::move(method), std::move(path), std::move(body),
                  std::move(authorization));
  }

  static HttpResponse DoWith(const ApiHandler& handler, std::string method, std::string path,
                             std::string body = "", std::string authorization = "") {
    HttpRequest request;
    request.method = std::move(method);
    request.path = std::move(path);
    request.body = std::move(body);
    request.authorization = std::move(authorization);
    return handler.Handle(request);
  }

  void CreateIndex(const std::string& name, int dim, const std::string& distance = "cosine") {
    HttpResponse r = Do("POST", "/vectors/index",
                        "{\"name\":\"" + name + "\",\"dimension\":" + std::to_string(dim) +
                            ",\"distance\":\"" + distance + "\"}");
    ASSERT_EQ(r.status, 201) << r.body;
  }

  void AddOk(const std::string& name, const std::string& body) {
    HttpResponse r = Do("POST", "/vectors/index/" + name + "/add", body);
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_EQ(r.content_type, kJson);
  }

  size_t Length(const std::string& name) {
    HttpResponse r = Do("GET", "/vectors/index/" + name);
    EXPECT_EQ(r.status, 200) << r.body;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(r.body).get(root)) {
      ADD_FAILURE() << r.body;
      return 0;
    }
    int64_t length = -1;
    EXPECT_FALSE(root["length"].get_int64().get(length)) << r.body;
    return static_cast<size_t>(length);
  }

  void ExpectError(const HttpResponse& r, int status, const std::string& body) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, kText);
    EXPECT_EQ(r.body, body);
  }

  void ExpectJson(const HttpResponse& r, int status, const std::string& body) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, kJson);
    EXPECT_EQ(r.body, body);
  }

  // GET /vectors/index/{name} starts with the seed's answer (params, length)
  // and goes on with the extensions (api_extensions_test checks those).
  void ExpectIndexDetails(const HttpResponse& r, const std::string& seed_body) {
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.content_type, kJson);
    ASSERT_TRUE(seed_body.ends_with("}\n"));
    const std::string prefix = seed_body.substr(0, seed_body.size() - 2) + ",\"memory_bytes\":";
    EXPECT_TRUE(r.body.starts_with(prefix)) << r.body << "\ndoes not start with\n" << prefix;
  }

  ThreadPool pool_;
  service::Registry registry_;
  std::atomic<bool> ready_{true};
  std::atomic<int> metrics_calls_{0};
  std::unique_ptr<ApiHandler> handler_;
};

// ---------------------------------------------------------------------------
// Create / list / get / delete

TEST_F(ApiHandlerTest, CreateReturns201WithDefaultsFilledIn) {
  HttpResponse r = Do("POST", "/vectors/index", R"({"name":"docs","dimension":3})");
  ExpectJson(r, 201, InfoJson(ParamsJson("docs", 3), 0));
  EXPECT_EQ(r.body, "{\"params\":{\"name\":\"docs\",\"dimension\":3,\"m\":16,\"ef_search\":" +
                        std::to_string(engine::kDefaultEfSearch) +
                        ",\"distance\":\"cosine\",\"ef_construction\":" +
                        std::to_string(engine::kDefaultEfConstruction) +
                        ",\"quantization\":\"none\",\"vectors\":\"memory\"},\"length\":0}\n");
  EXPECT_EQ(r.route, "POST /vectors/index");
  EXPECT_EQ(registry_.count(), 1u);
}

TEST_F(ApiHandlerTest, CreateWithEveryParameter) {
  HttpResponse r = Do(
      "POST", "/vectors/index",
      R"({"name":"e.v-1_x","dimension":8,"m":8,"ef_search":50,"ef_construction":120,"distance":"euclidean","quantization":"sq8"})");
  ExpectJson(r, 201, InfoJson(ParamsJson("e.v-1_x", 8, 8, 50, "euclidean", 120, "sq8"), 0));
}

// Vectors on disk: an SQ8 index (sq8 is implied), its vector file in the
// registry's vector directory.
TEST_F(ApiHandlerTest, CreateWithVectorsOnDisk) {
  char pattern[] = "/tmp/vectord_api_disk.XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::string directory = pattern;
  registry_.SetVectorDirectory(directory);
  HttpResponse r = Do("POST", "/vectors/index", R"({"name":"big","dimension":4,"vectors":"disk"})");
  ExpectJson(r, 201,
             InfoJson(ParamsJson("big", 4, engine::kDefaultM, engine::kDefaultEfSearch, "cosine",
                                 engine::kDefaultEfConstruction, "sq8", "disk"),
                      0));
  ASSERT_EQ(Do("POST", "/vectors/index/big/add",
               R"({"items":[{"id":"a","vector":[1,2,3,4]},{"id":"b","vector":[4,3,2,1]}]})")
                .status,
            200);
  HttpResponse search = Do("POST", "/vectors/index/big/search", R"({"vector":[1,2,3,4.5],"k":1})");
  ASSERT_EQ(search.status, 200) << search.body;
  EXPECT_EQ(ParseHits(search.body).at(0).id, "a");
  ExpectError(Do("POST", "/vectors/index",
                 R"({"name":"c","dimension":4,"vectors":"disk","quantization":"none"})"),
              400, "invalid index params: vectors \"disk\" needs quantization \"sq8\"\n");
  EXPECT_TRUE(registry_.Drop("big").ok());
  std::filesystem::remove_all(directory);
}

TEST_F(ApiHandlerTest, CreateTreatsZeroAndNullAsDefaults) {
  HttpResponse r = Do(
      "POST", "/vectors/index",
      R"({"name":"docs","dimension":3,"m":0,"ef_search":null,"distance":"","ef_construction":0})");
  ExpectJson(r, 201, InfoJson(ParamsJson("docs", 3), 0));
}

TEST_F(ApiHandlerTest, CreateDuplicateIs409) {
  ASSERT_EQ(Do("POST", "/vectors/index", R"({"name":"docs","dimension":3})").status, 201);
  ExpectError(Do("POST", "/vectors/index", R"({"name":"docs","dimension":5})"), 409,
              "index already exists: docs\n");
  // The original is untouched.
  ExpectIndexDetails(Do("GET", "/vectors/index/docs"), InfoJson(ParamsJson("docs", 3), 0));
}

TEST_F(ApiHandlerTest, CreateWithInvalidParamsIs400) {
  const std::vector<std::string> bodies = {
      R"({"dimension":3})",
      R"({"name":"","dimension":3})",
      R"({"name":"../etc","dimension":3})",
      R"({"name":"a/b","dimension":3})",
      R"({"name":".hidden","dimension":3})",
      R"({"name":"x.hnsw","dimension":3})",
      R"({"name":"x.json","dimension":3})",
      R"({"name":"a b","dimension":3})",
      R"({"name":"docs"})",
      R"({"name":"docs","dimension":0})",
      R"({"name":"docs","dimension":-4})",
      R"({"name":"docs","dimension":100000})",
      R"({"name":"docs","dimension":3,"m":1})",
      R"({"name":"docs","dimension":3,"m":-16})",
      R"({"name":"docs","dimension":3,"m":100000})",
      R"({"name":"docs","dimension":3,"ef_search":-1})",
      R"({"name":"docs","dimension":3,"ef_search":1000000})",
      R"({"name":"docs","dimension":3,"ef_construction":-1})",
      R"({"name":"docs","dimension":3,"quantization":"pq"})",
      R"({"name":"docs","dimension":3,"quantization":8})",
      R"({"name":"docs","dimension":3,"vectors":"ssd"})",
      R"({"name":"docs","dimension":3,"vectors":true})",
      R"({"name":"docs","dimension":3,"vectors":"disk","quantization":"none"})",
      "{\"name\":\"" + std::string(200, 'a') + "\",\"dimension\":3}",
  };
  for (const std::string& body : bodies) {
    SCOPED_TRACE(body);
    HttpResponse r = Do("POST", "/vectors/index", body);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.content_type, kText);
    EXPECT_TRUE(EndsWith(r.body, "\n")) << r.body;
    EXPECT_GT(r.body.size(), 1u);
  }
  EXPECT_EQ(registry_.count(), 0u);
  ExpectJson(Do("GET", "/vectors/index"), 200, "{\"names\":[],\"count\":0}\n");
}

TEST_F(ApiHandlerTest, CreateWithUnknownDistanceIs400) {
  ExpectError(
      Do("POST", "/vectors/index", R"({"name":"docs","dimension":3,"distance":"manhattan"})"), 400,
      "unknown distance: manhattan\n");
  EXPECT_EQ(registry_.count(), 0u);
}

TEST_F(ApiHandlerTest, CreateWithMalformedBodyIs400DecodeBody) {
  for (const std::string body : {"", "{", "not json", "[]", R"({"name":"docs","dimension":"3"})"}) {
    SCOPED_TRACE(body);
    HttpResponse r = Do("POST", "/vectors/index", body);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.content_type, kText);
    EXPECT_TRUE(StartsWith(r.body, "decode body: ")) << r.body;
    EXPECT_TRUE(EndsWith(r.body, "\n")) << r.body;
  }
  EXPECT_EQ(registry_.count(), 0u);
}

TEST_F(ApiHandlerTest, ListIsSortedWithCount) {
  ExpectJson(Do("GET", "/vectors/index"), 200, "{\"names\":[],\"count\":0}\n");
  for (const char* name : {"zeta", "alpha", "Mid", "beta9", "beta10"}) CreateIndex(name, 2);
  ExpectJson(Do("GET", "/vectors/index"), 200,
             "{\"names\":[\"Mid\",\"alpha\",\"beta10\",\"beta9\",\"zeta\"],\"count\":5}\n");
}

TEST_F(ApiHandlerTest, GetReturnsParamsAndLength) {
  CreateIndex("docs", 2, "euclidean");
  ExpectIndexDetails(Do("GET", "/vectors/index/docs"),
                     InfoJson(ParamsJson("docs", 2, 16, engine::kDefaultEfSearch, "euclidean"), 0));
  AddOk("docs", R"({"items":[{"id":"a","vector":[1,2]},{"id":"b","vector":[3,4]}]})");
  ExpectIndexDetails(Do("GET", "/vectors/index/docs"),
                     InfoJson(ParamsJson("docs", 2, 16, engine::kDefaultEfSearch, "euclidean"), 2));
}

TEST_F(ApiHandlerTest, GetMissingIs404) {
  ExpectError(Do("GET", "/vectors/index/nope"), 404, "not found\n");
  CreateIndex("docs", 2);
  ExpectError(Do("GET", "/vectors/index/Docs"), 404, "not found\n");
  ExpectError(Do("GET", "/vectors/index/doc"), 404, "not found\n");
}

TEST_F(ApiHandlerTest, PercentEncodedNameIsDecoded) {
  CreateIndex("docs", 2);
  EXPECT_EQ(Do("GET", "/vectors/index/do%63s").status, 200);
}

TEST_F(ApiHandlerTest, DeleteIs204ThenGone) {
  CreateIndex("docs", 2);
  CreateIndex("keep", 2);
  HttpResponse r = Do("DELETE", "/vectors/index/docs");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.content_type, "");
  ExpectError(Do("GET", "/vectors/index/docs"), 404, "not found\n");
  ExpectError(Do("DELETE", "/vectors/index/docs"), 404, "not found\n");
  ExpectJson(Do("GET", "/vectors/index"), 200, "{\"names\":[\"keep\"],\"count\":1}\n");
  // The name can be used again, from scratch.
  HttpResponse again = Do("POST", "/vectors/index", R"({"name":"docs","dimension":4})");
  ExpectJson(again, 201, InfoJson(ParamsJson("docs", 4), 0));
}

TEST_F(ApiHandlerTest, DeleteMissingIs404) {
  ExpectError(Do("DELETE", "/vectors/index/nope"), 404, "not found\n");
}

// ---------------------------------------------------------------------------
// Add

TEST_F(ApiHandlerTest, AddToMissingIndexIs404EvenWithMalformedBody) {
  for (const std::string body :
       {"", "{{{", R"({"items":[]})", "[1,2]", R"({"items":[{"id":"a","vector":[1,2,3]}]})"}) {
    SCOPED_TRACE(body);
    ExpectError(Do("POST", "/vectors/index/nope/add", body), 404, "not found\n");
  }
}

TEST_F(ApiHandlerTest, AddReturnsAddedAndLength) {
  CreateIndex("docs", 3);
  ExpectJson(Do("POST", "/vectors/index/docs/add",
                R"({"items":[{"id":"a","vector":[1,0,0]},{"id":"b","vector":[0,1,0]},)"
                R"({"id":"c","vector":[0,0,1]}]})"),
             200, "{\"added\":3,\"length\":3,\"durability\":\"none\"}\n");
  ExpectJson(Do("POST", "/vectors/index/docs/add",
                R"({"items":[{"id":"d","vector":[1,1,0],"metadata":{"x":1}}]})"),
             200, "{\"added\":1,\"length\":4,\"durability\":\"none\"}\n");
  EXPECT_EQ(Length("docs"), 4u);
}

TEST_F(ApiHandlerTest, AddIsAnUpsert) {
  CreateIndex("docs", 2, "euclidean");
  AddOk("docs",
        R"({"items":[{"id":"a","vector":[1,0],"metadata":{"v":1}},{"id":"b","vector":[5,0]}]})");
  // Replacing "a" moves it and drops its metadata.
  ExpectJson(Do("POST", "/vectors/index/docs/add", R"({"items":[{"id":"a","vector":[9,0]}]})"), 200,
             "{\"added\":1,\"length\":2,\"durability\":\"none\"}\n");
  ExpectJson(Do("POST", "/vectors/index/docs/search", R"({"vector":[10,0],"k":2})"), 200,
             "{\"results\":[{\"id\":\"a\",\"distance\":1},{\"id\":\"b\",\"distance\":5}]}\n");
}

TEST_F(ApiHandlerTest, LastOccurrenceInBatchWins) {
  CreateIndex("docs", 2, "euclidean");
  ExpectJson(Do("POST", "/vectors/index/docs/add",
                R"({"items":[{"id":"a","vector":[1,0],"metadata":"first"},)"
                R"({"id":"a","vector":[3,0],"metadata":"second"}]})"),
             200, "{\"added\":2,\"length\":1,\"durability\":\"none\"}\n");
  ExpectJson(Do("POST", "/vectors/index/docs/search", R"({"vector":[0,0]})"), 200,
             "{\"results\":[{\"id\":\"a\",\"distance\":3,\"metadata\":\"second\"}]}\n");
}

TEST_F(ApiHandlerTest, AddEmptyItemsIs400) {
  CreateIndex("docs", 3);
  for (const std::string body : {R"({"items":[]})", "{}", R"({"items":null})"}) {
    SCOPED_TRACE(body);
    ExpectError(Do("POST", "/vectors/index/docs/add", body), 400, "items must be non-empty\n");
  }
}

TEST_F(ApiHandlerTest, AddEmptyIdIs400) {
  CreateIndex("docs", 3);
  ExpectError(Do("POST", "/vectors/index/docs/add",
                 R"({"items":[{"id":"a","vector":[1,0,0]},{"id":"","vector":[1,0,0]}]})"),
              400, "items[1]: empty id\n");
  ExpectError(Do("POST", "/vectors/index/docs/add",
                 R"({"items":[{"id":"a","vector":[1,0,0]},{"vector":[1,0,0]}]})"),
              400, "items[1]: empty id\n");
  EXPECT_EQ(Length("docs"), 0u);
}

TEST_F(ApiHandlerTest, AddDimensionMismatchIs400) {
  CreateIndex("docs", 3);
  ExpectError(Do("POST", "/vectors/index/docs/add", R"({"items":[{"id":"a","vector":[1,2]}]})"),
              400, "items[0]: dim mismatch (index=3, got=2)\n");
  ExpectError(Do("POST", "/vectors/index/docs/add",
                 R"({"items":[{"id":"a","vector":[1,2,3]},{"id":"b","vector":[1,2,3,4]}]})"),
              400, "items[1]: dim mismatch (index=3, got=4)\n");
  ExpectError(Do("POST", "/vectors/index/docs/add", R"({"items":[{"id":"a"}]})"), 400,
              "items[0]: dim mismatch (index=3, got=0)\n");
  EXPECT_EQ(Length("docs"), 0u);
}

TEST_F(ApiHandlerTest, ZeroVectorIsRefusedInCosineIndexOnly) {
  CreateIndex("cos", 3, "cosine");
  HttpResponse r = Do("POST", "/vectors/index/cos/add",
                      R"({"items":[{"id":"a","vector":[1,0,0]},{"id":"z","vector":[0,0,0]}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, kText);
  EXPECT_TRUE(StartsWith(r.body, "items[1]: ")) << r.body;
  EXPECT_TRUE(EndsWith(r.body, "\n"));
  EXPECT_GT(r.body.size(), std::string("items[1]: \n").size()) << "no reason given";
  EXPECT_EQ(Length("cos"), 0u);

  CreateIndex("euc", 3, "euclidean");
  ExpectJson(Do("POST", "/vectors/index/euc/add", R"({"items":[{"id":"z","vector":[0,0,0]}]})"),
             200, "{\"added\":1,\"length\":1,\"durability\":\"none\"}\n");
}

TEST_F(ApiHandlerTest, NonFiniteComponentIsRefused) {
  CreateIndex("docs", 3, "euclidean");
  for (const std::string vector : {"[1,1e999,0]", "[1,-1e999,0]", "[1,0,1e39]"}) {
    SCOPED_TRACE(vector);
    HttpResponse r =
        Do("POST", "/vectors/index/docs/add",
           R"({"items":[{"id":"ok","vector":[1,2,3]},{"id":"bad","vector":)" + vector + "}]}");
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.content_type, kText);
    // Either the decoder or the validation refuses it; never stored.
    EXPECT_TRUE(StartsWith(r.body, "items[1]: ") || StartsWith(r.body, "decode body: ")) << r.body;
  }
  EXPECT_EQ(Length("docs"), 0u);
}

// 1e39 is a valid double but overflows a float: the component is +inf, and
// the batch validation names the item.
TEST_F(ApiHandlerTest, InfiniteComponentIsRefusedByValidationWithItsIndex) {
  CreateIndex("docs", 3, "euclidean");
  HttpResponse r =
      Do("POST", "/vectors/index/docs/add",
         R"({"items":[{"id":"ok","vector":[1,2,3]},{"id":"bad","vector":[1,1e39,0]}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, kText);
  EXPECT_TRUE(StartsWith(r.body, "items[1]: ")) << r.body;
  EXPECT_NE(r.body.find("infinite"), std::string::npos) << r.body;
  EXPECT_EQ(Length("docs"), 0u);
}

TEST_F(ApiHandlerTest, BadItemAnywhereRejectsTheWholeBatch) {
  CreateIndex("docs", 2, "euclidean");
  AddOk("docs", R"({"items":[{"id":"a","vector":[1,0],"metadata":"orig-a"},)"
                R"({"id":"b","vector":[2,0],"metadata":"orig-b"}]})");
  const std::vector<std::string> bad_batches = {
      // bad item last
      R"({"items":[{"id":"new","vector":[7,0]},{"id":"a","vector":[8,0],"metadata":"changed"},)"
      R"({"id":"","vector":[1,1]}]})",
      // bad item first
      R"({"items":[{"id":"x","vector":[1]},{"id":"new","vector":[7,0]},)"
      R"({"id":"a","vector":[8,0],"metadata":"changed"}]})",
      // bad item in the middle
      R"({"items":[{"id":"new","vector":[7,0]},{"id":"q","vector":[1,2,3]},)"
      R"({"id":"a","vector":[8,0],"metadata":"changed"}]})",
      // undecodable item in the middle
      R"({"items":[{"id":"new","vector":[7,0]},{"id":"q","vector":[1,"x"]},)"
      R"({"id":"a","vector":[8,0],"metadata":"changed"}]})",
  };
  for (const std::string& body : bad_batches) {
    SCOPED_TRACE(body);
    HttpResponse r = Do("POST", "/vectors/index/docs/add", body);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(Length("docs"), 2u);
    ExpectJson(Do("POST", "/vectors/index/docs/search", R"({"vector":[0,0],"k":10})"), 200,
               "{\"results\":[{\"id\":\"a\",\"distance\":1,\"metadata\":\"orig-a\"},"
               "{\"id\":\"b\",\"distance\":2,\"metadata\":\"orig-b\"}]}\n");
  }
}

TEST_F(ApiHandlerTest, AddMalformedBodyIs400DecodeBody) {
  CreateIndex("docs", 2);
  for (const std::string body :
       {"", "{", R"({"items":{}})", R"({"items":[{"id":1,"vector":[1,2]}]})", "[]"}) {
    SCOPED_TRACE(body);
    HttpResponse r = Do("POST", "/vectors/index/docs/add", body);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.content_type, kText);
    EXPECT_TRUE(StartsWith(r.body, "decode body: ")) << r.body;
    EXPECT_TRUE(EndsWith(r.body, "\n")) << r.body;
  }
  EXPECT_EQ(Length("docs"), 0u);
}

// ---------------------------------------------------------------------------
// Search

TEST_F(ApiHandlerTest, SearchReturnsNearestFirstWithMetadataAsStored) {
  CreateIndex("docs", 2, "euclidean");
  AddOk("docs", R"({"items":[)"
                R"({"id":"c","vector":[3,0],"metadata":null},)"
                R"({"id":"a","vector":[0,1],"metadata":{"b":1, "a":[1,2]}},)"
                R"({"id":"b","vector":[2,0]},)"
                R"({"id":"d","vector":[0,-4],"metadata":"text"}]})");
  ExpectJson(Do("POST", "/vectors/index/docs/search", R"({"vector":[0,0]})"), 200,
             "{\"results\":["
             "{\"id\":\"a\",\"distance\":1,\"metadata\":{\"b\":1,\"a\":[1,2]}},"
             "{\"id\":\"b\",\"distance\":2},"
             "{\"id\":\"c\",\"distance\":3,\"metadata\":null},"
             "{\"id\":\"d\",\"distance\":4,\"metadata\":\"text\"}]}\n");
}

TEST_F(ApiHandlerTest, EuclideanDistanceIsNotSquared) {
  CreateIndex("docs", 2, "euclidean");
  AddOk("docs", R"({"items":[{"id":"p","vector":[3,4]}]})");
  ExpectJson(Do("POST", "/vectors/index/docs/search", R"({"vector":[0,0],"k":1})"), 200,
             "{\"results\":[{\"id\":\"p\",\"distance\":5}]}\n");
}

TEST_F(ApiHandlerTest, CosineSearchOrdersByAngle) {
  CreateIndex("docs", 3, "cosine");
  AddOk("docs", R"({"items":[{"id":"y","vector":[0,1,0]},{"id":"x","vector":[2,0,0]},)"
                R"({"id":"z","vector":[1,1,0]},{"id":"w","vector":[-1,0,0]}]})");
  HttpResponse r = Do("POST", "/vectors/index/docs/search", R"({"vector":[5,0,0]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, kJson);
  EXPECT_TRUE(EndsWith(r.body, "}\n"));
  std::vector<Hit> hits = ParseHits(r.body);
  ASSERT_EQ(hits.size(), 4u) << r.body;
  EXPECT_EQ(hits[0].id, "x");
  EXPECT_EQ(hits[1].id, "z");
  EXPECT_EQ(hits[2].id, "y");
  EXPECT_EQ(hits[3].id, "w");
  EXPECT_NEAR(hits[0].distance, 0.0, 1e-6);
  EXPECT_NEAR(hits[1].distance, 1.0 - std::sqrt(0.5), 1e-6);
  EXPECT_NEAR(hits[2].distance, 1.0, 1e-6);
  EXPECT_NEAR(hits[3].distance, 2.0, 1e-6);
  for (const Hit& h : hits) EXPECT_FALSE(h.metadata.has_value()) << h.id;
}

TEST_F(ApiHandlerTest, SearchOnEmptyIndexGivesEmptyArray) {
  CreateIndex("docs", 3);
  ExpectJson(Do("POST", "/vectors/index/docs/search", R"({"vector":[1,2,3]})"), 200,
             "{\"results\":[]}\n");
}

TEST_F(ApiHandlerTest, SearchMissingIndexIs404EvenWithMalformedBody) {
  for (const std::string body : {"", "{{{", R"({"vector":[1,2,3]})"}) {
    SCOPED_TRACE(body);
    ExpectError(Do("POST", "/vectors/index/nope/search", body), 404, "not found\n");
  }
}

TEST_F(ApiHandlerTest, SearchDefaultAndExplicitK) {
  CreateIndex("docs", 2, "euclidean");
  std::string body = R"({"items":[)";
  for (int i = 0; i < 25; ++i) {
    if (i > 0) body += ',';
    body += "{\"id\":\"i" + std::to_string(i) + "\",\"vector\":[" + std::to_string(i) + ",0]}";
  }
  body += "]}";
  AddOk("docs", body);
  struct Case {
    std::string request;
    size_t want;
  };
  const std::vector<Case> cases = {
      {R"({"vector":[0,0]})", 10},           {R"({"vector":[0,0],"k":0})", 10},
      {R"({"vector":[0,0],"k":null})", 10},  {R"({"vector":[0,0],"k":-5})", 10},
      {R"({"vector":[0,0],"k":1})", 1},      {R"({"vector":[0,0],"k":3})", 3},
      {R"({"vector":[0,0],"k":25})", 25},    {R"({"vector":[0,0],"k":1000})", 25},
      {R"({"vector":[0,0],"k":99999})", 25},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.request);
    HttpResponse r = Do("POST", "/vectors/index/docs/search", c.request);
    ASSERT_EQ(r.status, 200) << r.body;
    std::vector<Hit> hits = ParseHits(r.body);
    ASSERT_EQ(hits.size(), c.want);
    for (size_t i = 0; i < hits.size(); ++i) {
      EXPECT_EQ(hits[i].id, "i" + std::to_string(i));
      EXPECT_EQ(hits[i].distance, static_cast<double>(i));
    }
  }
}

TEST_F(ApiHandlerTest, SearchKIsClampedTo1000) {
  CreateIndex("docs", 2, "euclidean");
  std::string body = R"({"items":[)";
  for (int i = 0; i < 1100; ++i) {
    if (i > 0) body += ',';
    body += "{\"id\":\"i" + std::to_string(i) + "\",\"vector\":[" + std::to_string(i % 37) + "," +
            std::to_string(i / 37) + "]}";
  }
  body += "]}";
  ExpectJson(Do("POST", "/vectors/index/docs/add", body), 200,
             "{\"added\":1100,\"length\":1100,\"durability\":\"none\"}\n");
  for (const std::string k : {"1001", "5000", "2147483648"}) {
    SCOPED_TRACE(k);
    HttpResponse r = Do("POST", "/vectors/index/docs/search", R"({"vector":[0,0],"k":)" + k + "}");
    ASSERT_EQ(r.status, 200) << r.body.substr(0, 200);
    std::vector<Hit> hits = ParseHits(r.body);
    EXPECT_EQ(hits.size(), 1000u);
    std::set<std::string> ids;
    for (const Hit& h : hits) ids.insert(h.id);
    EXPECT_EQ(ids.size(), hits.size()) << "duplicate ids in results";
    EXPECT_TRUE(std::is_sorted(hits.begin(), hits.end(),
                               [](const Hit& a, const Hit& b) { return a.distance < b.distance; }));
  }
}

// An item just added is found by its own vector. The data is a 2-d grid
// (many equal distances), added in one batch, which the registry inserts in
// parallel on its thread pool; several rounds, because a lost link depends on
// thread timing. An exact-match query of a stored vector finds it with a
// sound graph (a serial build misses none here): allow one in a thousand.
TEST_F(ApiHandlerTest, EveryAddedItemIsFoundByItsOwnVector) {
  constexpr int kRounds = 8;
  constexpr int kItems = 1100;
  auto vector_of = [](int i) {
    return "[" + std::to_string(i % 37) + "," + std::to_string(i / 37) + "]";
  };
  std::string body = R"({"items":[)";
  for (int i = 0; i < kItems; ++i) {
    if (i > 0) body += ',';
    body += "{\"id\":\"i" + std::to_string(i) + "\",\"vector\":" + vector_of(i) + "}";
  }
  body += "]}";
  int missed = 0;
  std::string first_miss;
  for (int round = 0; round < kRounds; ++round) {
    const std::string name = "grid" + std::to_string(round);
    CreateIndex(name, 2, "euclidean");
    AddOk(name, body);
    for (int i = 0; i < kItems; ++i) {
      HttpResponse r = Do("POST", "/vectors/index/" + name + "/search",
                          "{\"vector\":" + vector_of(i) + ",\"k\":1}");
      ASSERT_EQ(r.status, 200) << r.body;
      std::vector<Hit> hits = ParseHits(r.body);
      if (hits.size() != 1 || hits[0].id != "i" + std::to_string(i) || hits[0].distance != 0) {
        if (missed++ == 0) first_miss = name + "/i" + std::to_string(i) + " -> " + r.body;
      }
    }
  }
  EXPECT_LE(missed, kRounds * kItems / 1000)
      << missed << " of " << kRounds * kItems << " items not found by their own vector, e.g. "
      << first_miss;
}

TEST_F(ApiHandlerTest, SearchDimensionMismatchIs400) {
  CreateIndex("docs", 3);
  AddOk("docs", R"({"items":[{"id":"a","vector":[1,0,0]}]})");
  HttpResponse r = Do("POST", "/vectors/index/docs/search", R"({"vector":[1,0]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, kText);
  EXPECT_NE(r.body.find("dim"), std::string::npos) << r.body;
  EXPECT_TRUE(EndsWith(r.body, "\n"));
  EXPECT_EQ(Do("POST", "/vectors/index/docs/search", "{}").status, 400);
}

TEST_F(ApiHandlerTest, SearchWithZeroOrNonFiniteQueryIs400) {
  CreateIndex("docs", 3, "cosine");
  AddOk("docs", R"({"items":[{"id":"a","vector":[1,0,0]}]})");
  for (const std::string body :
       {R"({"vector":[0,0,0]})", R"({"vector":[1,1e999,0]})", R"({"vector":[1,1e39,0]})"}) {
    SCOPED_TRACE(body);
    HttpResponse r = Do("POST", "/vectors/index/docs/search", body);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.content_type, kText);
  }
}

TEST_F(ApiHandlerTest, SearchMalformedBodyIs400DecodeBody) {
  CreateIndex("docs", 2);
  for (const std::string body :
       {"", "{", R"({"vector":[1,"a"]})", R"({"vector":[1,2],"k":2.5})", "[1,2]"}) {
    SCOPED_TRACE(body);
    HttpResponse r = Do("POST", "/vectors/index/docs/search", body);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.content_type, kText);
    EXPECT_TRUE(StartsWith(r.body, "decode body: ")) << r.body;
  }
}

TEST_F(ApiHandlerTest, SearchCanReturnVectorsAndSkipMetadata) {
  CreateIndex("docs", 2, "euclidean");
  AddOk("docs", R"({"items":[{"id":"a","vector":[0.1,-2.5],"metadata":{"m":1}}]})");
  ExpectJson(Do("POST", "/vectors/index/docs/search",
                R"({"vector":[0.1,-2.5],"include_vector":true,"include_metadata":false})"),
             200, "{\"results\":[{\"id\":\"a\",\"distance\":0,\"vector\":[0.1,-2.5]}]}\n");
}

TEST_F(ApiHandlerTest, DeletedIndexCannotBeSearchedOrAddedTo) {
  CreateIndex("docs", 2);
  ASSERT_EQ(Do("DELETE", "/vectors/index/docs").status, 204);
  ExpectError(Do("POST", "/vectors/index/docs/search", R"({"vector":[1,0]})"), 404, "not found\n");
  ExpectError(Do("POST", "/vectors/index/docs/add", R"({"items":[{"id":"a","vector":[1,0]}]})"),
              404, "not found\n");
}

// ---------------------------------------------------------------------------
// Item routes (extensions): read one item, delete one, delete many

TEST_F(ApiHandlerTest, GetItemReturnsVectorAsSentAndMetadata) {
  CreateIndex("docs", 3, "cosine");
  AddOk("docs",
        R"({"items":[{"id":"a","vector":[3,0,4],"metadata":{"t":"A","n":[1,2]}},)"
        R"({"id":"b","vector":[0.1,0.2,0.3]},{"id":"c","vector":[2,0,0],"metadata":null}]})");
  ExpectJson(Do("GET", "/vectors/index/docs/items/a"), 200,
             "{\"id\":\"a\",\"vector\":[3,0,4],\"metadata\":{\"t\":\"A\",\"n\":[1,2]}}\n");
  ExpectJson(Do("GET", "/vectors/index/docs/items/c"), 200,
             "{\"id\":\"c\",\"vector\":[2,0,0],\"metadata\":null}\n");
  // A cosine index normalises internally; the vector read back is the one sent.
  HttpResponse b = Do("GET", "/vectors/index/docs/items/b");
  ASSERT_EQ(b.status, 200) << b.body;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_FALSE(parser.parse(b.body).get(root)) << b.body;
  simdjson::dom::array vector;
  ASSERT_FALSE(root["vector"].get_array().get(vector)) << b.body;
  std::vector<double> got;
  for (simdjson::dom::element x : vector) {
    double v = 0;
    EXPECT_FALSE(x.get_double().get(v)) << b.body;
    got.push_back(v);
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_NEAR(got[0], 0.1, 1e-6);
  EXPECT_NEAR(got[1], 0.2, 1e-6);
  EXPECT_NEAR(got[2], 0.3, 1e-6);
  EXPECT_EQ(b.body.find("metadata"), std::string::npos) << b.body;
}

// README: "read one item back (vector as sent)". A client that reads an item
// and writes it back must not drift, also in a cosine index, which keeps
// vectors normalised internally.
// A cosine index keeps the normalised vector and its length; the vector read
// back is the one sent up to float32 rounding (the issue's promise).
TEST_F(ApiHandlerTest, CosineItemVectorReadsBackAsSent) {
  CreateIndex("docs", 3, "cosine");
  const std::vector<std::vector<float>> vectors = {
      {1, 1, 1}, {0.1f, 0.2f, 0.3f}, {-7.25f, 3, 0.001f}, {123.456f, 0.5f, -2}};
  std::string body = R"({"items":[)";
  for (size_t i = 0; i < vectors.size(); ++i) {
    if (i > 0) body += ',';
    body += "{\"id\":\"v" + std::to_string(i) + "\",\"vector\":[";
    for (size_t d = 0; d < 3; ++d) body += (d > 0 ? "," : "") + FloatText(vectors[i][d]);
    body += "]}";
  }
  body += "]}";
  AddOk("docs", body);
  for (size_t i = 0; i < vectors.size(); ++i) {
    HttpResponse r = Do("GET", "/vectors/index/docs/items/v" + std::to_string(i));
    ASSERT_EQ(r.status, 200) << r.body;
    size_t open = r.body.find('[');
    size_t close = r.body.find(']');
    std::stringstream list(r.body.substr(open + 1, close - open - 1));
    std::vector<float> got;
    for (std::string part; std::getline(list, part, ',');) got.push_back(std::stof(part));
    ASSERT_EQ(got.size(), 3u);
    float scale =
        std::max({std::abs(vectors[i][0]), std::abs(vectors[i][1]), std::abs(vectors[i][2])});
    for (size_t d = 0; d < 3; ++d) {
      EXPECT_NEAR(got[d], vectors[i][d], 4e-7f * scale) << "v" << i << "[" << d << "]";
    }
  }
}

TEST_F(ApiHandlerTest, GetItemMissingIs404) {
  CreateIndex("docs", 2);
  ExpectError(Do("GET", "/vectors/index/docs/items/none"), 404, "not found\n");
  ExpectError(Do("GET", "/vectors/index/nope/items/a"), 404, "not found\n");
}

TEST_F(ApiHandlerTest, ItemIdIsPercentDecoded) {
  CreateIndex("docs", 2, "euclidean");
  AddOk("docs", R"({"items":[{"id":"a b/c","vector":[1,2]}]})");
  ExpectJson(Do("GET", "/vectors/index/docs/items/a%20b%2Fc"), 200,
             "{\"id\":\"a b/c\",\"vector\":[1,2]}\n");
}

TEST_F(ApiHandlerTest, DeleteItemIs204Then404) {
  CreateIndex("docs", 2, "euclidean");
  AddOk("docs", R"({"items":[{"id":"a","vector":[1,0]},{"id":"b","vector":[2,0]}]})");
  HttpResponse r = Do("DELETE", "/vectors/index/docs/items/a");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.body, "");
  ExpectError(Do("DELETE", "/vectors/index/docs/items/a"), 404, "not found\n");
  ExpectError(Do("GET", "/vectors/index/docs/items/a"), 404, "not found\n");
  ExpectError(Do("DELETE", "/vectors/index/nope/items/a"), 404, "not found\n");
  EXPECT_EQ(Length("docs"), 1u);
  ExpectJson(Do("POST", "/vectors/index/docs/search", R"({"vector":[0,0]})"), 200,
             "{\"results\":[{\"id\":\"b\",\"distance\":2}]}\n");
  // Re-adding a deleted id works.
  ExpectJson(Do("POST", "/vectors/index/docs/add", R"({"items":[{"id":"a","vector":[1,0]}]})"), 200,
             "{\"added\":1,\"length\":2,\"durability\":\"none\"}\n");
}

TEST_F(ApiHandlerTest, BulkDeleteCountsOnlyExistingIds) {
  CreateIndex("docs", 2, "euclidean");
  AddOk("docs", R"({"items":[{"id":"a","vector":[1,0]},{"id":"b","vector":[2,0]},)"
                R"({"id":"c","vector":[3,0]}]})");
  ExpectJson(Do("POST", "/vectors/index/docs/delete", R"({"ids":["a","zz","c"]})"), 200,
             "{\"deleted\":2,\"length\":1,\"durability\":\"none\"}\n");
  ExpectJson(Do("POST", "/vectors/index/docs/delete", R"({"ids":["a"]})"), 200,
             "{\"deleted\":0,\"length\":1,\"durability\":\"none\"}\n");
  ExpectJson(Do("POST", "/vectors/index/docs/search", R"({"vector":[0,0]})"), 200,
             "{\"results\":[{\"id\":\"b\",\"distance\":2}]}\n");
}

TEST_F(ApiHandlerTest, BulkDeleteErrors) {
  CreateIndex("docs", 2);
  ExpectError(Do("POST", "/vectors/index/nope/delete", "{{{"), 404, "not found\n");
  ExpectError(Do("POST", "/vectors/index/docs/delete", R"({"ids":[]})"), 400,
              "ids must be non-empty\n");
  ExpectError(Do("POST", "/vectors/index/docs/delete", "{}"), 400, "ids must be non-empty\n");
  ExpectError(Do("POST", "/vectors/index/docs/delete", R"({"ids":["a",""]})"), 400,
              "ids[1]: empty id\n");
  for (const std::string body : {"", "{", R"({"ids":"a"})", R"({"ids":["a",1]})", "[]"}) {
    SCOPED_TRACE(body);
    HttpResponse r = Do("POST", "/vectors/index/docs/delete", body);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.content_type, kText);
    EXPECT_TRUE(StartsWith(r.body, "decode body: ")) << r.body;
  }
}

TEST_F(ApiHandlerTest, DurabilityParameterIsValidated) {
  CreateIndex("docs", 2, "euclidean");
  HttpRequest bad{"POST", "/vectors/index/docs/add", "durability=sometimes", "",
                  R"({"items":[{"id":"a","vector":[1,0]}]})"};
  HttpResponse r = handler_->Handle(bad);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, kText);
  EXPECT_NE(r.body.find("durability"), std::string::npos) << r.body;
  EXPECT_EQ(Length("docs"), 0u);
  // Without persistence every write is "none", whatever was asked.
  for (const std::string query : {"durability=fsync", "durability=none", "x=1&durability=fsync"}) {
    SCOPED_TRACE(query);
    HttpRequest ok{"POST", "/vectors/index/docs/add", query, "",
                   R"({"items":[{"id":"a","vector":[1,0]}]})"};
    ExpectJson(handler_->Handle(ok), 200, "{\"added\":1,\"length\":1,\"durability\":\"none\"}\n");
  }
  HttpRequest del{"POST", "/vectors/index/docs/delete", "durability=bogus", "", R"({"ids":["a"]})"};
  EXPECT_EQ(handler_->Handle(del).status, 400);
  EXPECT_EQ(Length("docs"), 1u);
}

// ---------------------------------------------------------------------------
// Routing

TEST_F(ApiHandlerTest, UnknownPathIs404PageNotFound) {
  CreateIndex("docs", 2);
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"GET", "/"},
      {"GET", ""},
      {"GET", "/nope"},
      {"GET", "/vectors"},
      {"POST", "/vectors"},
      {"GET", "/vectors/indexes"},
      {"GET", "/vectors/index/"},
      {"POST", "/vectors/index/"},
      {"GET", "/vectors/index/docs/"},
      {"GET", "/vectors/index//add"},
      {"POST", "/vectors/index//add"},
      {"POST", "/vectors/index/docs/insert"},
      {"POST", "/vectors/index/docs/add/"},
      {"POST", "/vectors/index/docs/add/more"},
      {"POST", "/vectors/index/docs/search/x"},
      {"GET", "//vectors/index"},
      {"GET", "/Vectors/index"},
      {"GET", "/health/"},
      {"GET", "/healthz"},
      {"GET", "/vectors/index/docs/search/"},
      {"GET", "/vectors/index/docs/search/batch/"},
      {"GET", "/vectors/index/docs/items/"},
      {"DELETE", "/vectors/index/docs/items/"},
      {"GET", "/vectors/index/docs/items/a/b"},
      {"POST", "/vectors/index/docs/delete/x"},
  };
  for (const auto& [method, path] : requests) {
    SCOPED_TRACE(method + " " + path);
    HttpResponse r = Do(method, path);
    ExpectError(r, 404, "404 page not found\n");
    EXPECT_EQ(r.route, "unmatched");
  }
}

TEST_F(ApiHandlerTest, KnownPathWrongMethodIs405WithEmptyBody) {
  CreateIndex("docs", 2);
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"PUT", "/vectors/index"},
      {"DELETE", "/vectors/index"},
      {"PATCH", "/vectors/index"},
      {"POST", "/vectors/index/docs"},
      {"PUT", "/vectors/index/docs"},
      {"POST", "/vectors/index/nope"},
      {"GET", "/vectors/index/docs/add"},
      {"PUT", "/vectors/index/docs/add"},
      {"DELETE", "/vectors/index/docs/add"},
      {"GET", "/vectors/index/docs/search"},
      {"DELETE", "/vectors/index/nope/search"},
      {"POST", "/health"},
      {"DELETE", "/ready"},
      {"POST", "/metrics"},
      {"POST", "/dashboard"},
      {"GET", "/vectors/index/docs/delete"},
      {"DELETE", "/vectors/index/docs/delete"},
      {"POST", "/vectors/index/docs/items/a"},
      {"PUT", "/vectors/index/nope/items/a"},
  };
  for (const auto& [method, path] : requests) {
    SCOPED_TRACE(method + " " + path);
    HttpResponse r = Do(method, path, R"({"name":"x","dimension":2})");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.body, "");
    EXPECT_EQ(r.content_type, "");
    EXPECT_FALSE(Header(r, "Allow").empty());
  }
  EXPECT_EQ(Header(Do("PUT", "/vectors/index"), "Allow"), "GET, POST");
  EXPECT_EQ(Header(Do("POST", "/vectors/index/docs"), "Allow"), "GET, DELETE");
  EXPECT_EQ(Header(Do("GET", "/vectors/index/docs/add"), "Allow"), "POST");
  // Nothing was created or deleted by the refused requests.
  ExpectJson(Do("GET", "/vectors/index"), 200, "{\"names\":[\"docs\"],\"count\":1}\n");
}

TEST_F(ApiHandlerTest, RouteTemplatesAreReported) {
  CreateIndex("docs", 2);
  EXPECT_EQ(Do("GET", "/vectors/index").route, "GET /vectors/index");
  EXPECT_EQ(Do("GET", "/vectors/index/docs").route, "GET /vectors/index/{name}");
  EXPECT_EQ(Do("POST", "/vectors/index/docs/add", "{}").route, "POST /vectors/index/{name}/add");
  EXPECT_EQ(Do("POST", "/vectors/index/docs/search", "{}").route,
            "POST /vectors/index/{name}/search");
  EXPECT_EQ(Do("GET", "/vectors/index/docs/items/a").route, "GET /vectors/index/{name}/items/{id}");
  EXPECT_EQ(Do("DELETE", "/vectors/index/docs/items/a").route,
            "DELETE /vectors/index/{name}/items/{id}");
  EXPECT_EQ(Do("POST", "/vectors/index/docs/delete", "{}").route,
            "POST /vectors/index/{name}/delete");
  EXPECT_EQ(Do("DELETE", "/vectors/index/docs").route, "DELETE /vectors/index/{name}");
  EXPECT_EQ(Do("GET", "/health").route, "GET /health");
  EXPECT_EQ(Do("GET", "/dashboard").route, "GET /dashboard");
}

// ---------------------------------------------------------------------------
// Probes and metrics

TEST_F(ApiHandlerTest, HealthIsAlwaysOk) {
  ready_ = false;
  ExpectJson(Do("GET", "/health"), 200, "{\"status\":\"ok\"}\n");
}

TEST_F(ApiHandlerTest, ReadyIs503UntilLoaded) {
  ready_ = false;
  HttpResponse r = Do("GET", "/ready");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.content_type, kText);
  EXPECT_TRUE(EndsWith(r.body, "\n"));
  ready_ = true;
  ExpectJson(Do("GET", "/ready"), 200, "{\"status\":\"ready\"}\n");
}

// Until stored indexes are loaded the index API would show a partial set
// (and let a client create over a stored index): it answers 503.
TEST_F(ApiHandlerTest, IndexRoutesAre503UntilLoaded) {
  CreateIndex("docs", 2, "euclidean");
  ready_ = false;
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"GET", "/vectors/index"},
      {"POST", "/vectors/index"},
      {"GET", "/vectors/index/docs"},
      {"DELETE", "/vectors/index/docs"},
      {"POST", "/vectors/index/docs/add"},
      {"POST", "/vectors/index/docs/search"},
      {"POST", "/vectors/index/docs/delete"},
      {"GET", "/vectors/index/docs/items/a"},
      {"DELETE", "/vectors/index/docs/items/a"},
  };
  for (const auto& [method, path] : requests) {
    SCOPED_TRACE(method + " " + path);
    HttpResponse r = Do(method, path, R"({"name":"other","dimension":2})");
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(r.content_type, kText);
  }
  EXPECT_EQ(Do("GET", "/health").status, 200);
  EXPECT_EQ(Do("GET", "/metrics").status, 200);
  ready_ = true;
  ExpectJson(Do("GET", "/vectors/index"), 200, "{\"names\":[\"docs\"],\"count\":1}\n");
}

TEST_F(ApiHandlerTest, MetricsReturnsTheRenderedText) {
  HttpResponse r = Do("GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "# TYPE vectord_test gauge\nvectord_test 42\n");
  EXPECT_TRUE(StartsWith(r.content_type, "text/plain")) << r.content_type;
  EXPECT_EQ(metrics_calls_.load(), 1);
  Do("GET", "/metrics");
  EXPECT_EQ(metrics_calls_.load(), 2);
}

TEST_F(ApiHandlerTest, MetricsWithoutRendererIs404) {
  auto handler = MakeHandler(std::string(), false);
  ExpectError(DoWith(*handler, "GET", "/metrics"), 404, "404 page not found\n");
}

// The page is served even while indexes load (its script then shows the
// 503s), with or without the trailing slash; it names no other origin: the
// only URL in it is the SVG namespace, an identifier the browser never fetches.
TEST_F(ApiHandlerTest, DashboardIsOneSelfContainedHtmlPage) {
  ready_ = false;
  for (const std::string path : {"/dashboard", "/dashboard/"}) {
    SCOPED_TRACE(path);
    HttpResponse r = Do("GET", path);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
    EXPECT_EQ(r.route, "GET /dashboard");
    EXPECT_TRUE(StartsWith(r.body, "<!doctype html>")) << r.body.substr(0, 80);
    EXPECT_TRUE(EndsWith(r.body, "</html>\n"));
    EXPECT_NE(r.body.find("id=\"index-table\""), std::string::npos);
    EXPECT_NE(r.body.find("Content-Security-Policy"), std::string::npos);
    constexpr std::string_view kSvgNamespace = "'http://www.w3.org/2000/svg'";
    for (size_t at = r.body.find("://"); at != std::string::npos; at = r.body.find("://", at + 3)) {
      EXPECT_EQ(r.body.compare(at - 5, kSvgNamespace.size(), kSvgNamespace), 0)
          << r.body.substr(at - 8, 60);
    }
  }
  for (const std::string method : {"POST", "PUT", "DELETE", "PATCH"}) {
    HttpResponse r = Do(method, "/dashboard");
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(Header(r, "Allow"), "GET");
    EXPECT_EQ(r.body, "");
  }
}

// The page and the document are files in the tree, embedded at build time;
// what is served is those files byte for byte.
TEST_F(ApiHandlerTest, DashboardAndOpenApiServeTheirAssetFilesExactly) {
  for (const auto& [path, asset] : std::vector<std::pair<std::string, std::string>>{
           {"/dashboard", "dashboard.html"}, {"/openapi.json", "openapi.json"}}) {
    SCOPED_TRACE(path);
    std::ifstream in(std::string(VECTORD_SOURCE_DIR) + "/src/http/assets/" + asset,
                     std::ios::binary);
    ASSERT_TRUE(in) << asset;
    const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(file.empty());
    HttpResponse r = Do("GET", path);
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.body == file) << "served " << r.body.size() << " bytes, file has " << file.size();
  }
  EXPECT_EQ(Do("GET", "/openapi.json").content_type, kJson);
}

// ---------------------------------------------------------------------------
// Authentication

struct RouteCase {
  std::string method;
  std::string path;
  std::string body;
  int want_status;  // with the right token, in this order on a fresh registry
};

// One request for every row of the route table, in an order that makes each
// one succeed when run in sequence on an empty registry.
// RouteExamplesCoverTheTable checks that they match the table one to one.
std::vector<RouteCase> AllRoutes() {
  // A recall check needs 11 items.
  std::string items = R"({"items":[{"id":"a","vector":[1,2]})";
  for (int i = 0; i < 10; ++i) {
    items += ",{\"id\":\"b" + std::to_string(i) + "\",\"vector\":[" + std::to_string(i) + ",1]}";
  }
  items += "]}";
  return {
      {"GET", "/health", "", 200},
      {"GET", "/ready", "", 200},
      {"GET", "/metrics", "", 200},
      {"GET", "/openapi.json", "", 200},
      {"GET", "/dashboard", "", 200},
      {"GET", "/cluster", "", 404},  // a single node; Cluster.* tests serve it
      {"POST", "/vectors/index", R"({"name":"docs","dimension":2,"distance":"euclidean"})", 201},
      {"GET", "/vectors/index", "", 200},
      {"GET", "/vectors/index/docs", "", 200},
      {"POST", "/vectors/index/docs/add", items, 200},
      {"POST", "/vectors/index/docs/search", R"({"vector":[1,2]})", 200},
      {"POST", "/vectors/index/docs/search/batch", R"({"searches":[{"vector":[1,2]}]})", 200},
      {"GET", "/vectors/index/docs/items", "", 200},
      {"POST", "/vectors/index/docs/recall-check", R"({"ef":[10],"queries":1})", 200},
      {"POST", "/vectors/index/docs/recover", "", 409},  // a loaded index needs no recovery
      {"GET", "/vectors/index/docs/items/a", "", 200},
      {"POST", "/vectors/index/docs/delete", R"({"ids":["absent"]})", 200},
      {"DELETE", "/vectors/index/docs/items/a", "", 204},
      {"DELETE", "/vectors/index/docs", "", 204},
  };
}

// What the route table says is public: the probes, and the dashboard page,
// which carries no data.
bool ExemptFromAuth(const std::string& method, const std::string& path) {
  for (const ApiHandler::Route& route : ApiHandler::Routes()) {
    if (route.auth == ApiHandler::Auth::kPublic && route.method == method &&
        (route.pattern == path || route.alias == path)) {
      return true;
    }
  }
  return false;
}

std::string RouteName(const ApiHandler::Route& route) {
  return std::string(route.method) + " " + std::string(route.pattern);
}

class ApiAuthTest : public ApiHandlerTest {
 protected:
  ApiAuthTest() { handler_ = MakeHandler(std::string(kToken), true); }

  static std::vector<std::string> WrongCredentials() {
    const std::string token(kToken);
    return {
        "",                                             // no header
        "Bearer wrong",                                 // wrong token
        "Bearer " + token + "x",                        // longer
        "Bearer " + token.substr(0, token.size() - 1),  // prefix
        "Bearer",                                       // no token at all
        "Bearer ",                                      // empty token
        token,                                          // no scheme
        "Basic " + token,                               // other scheme
        "Bearer  " + token,                             // two spaces
        "Bearer " + token + " ",                        // trailing space
        "BearerX " + token,                             // scheme glued
    };
  }
};

// Each example request is answered by its own row, and every row has one.
// So the auth tests below, which walk the examples, walk the whole table.
TEST_F(ApiHandlerTest, RouteExamplesCoverTheTable) {
  std::map<std::string, int> examples_per_route;
  for (const ApiHandler::Route& route : ApiHandler::Routes()) {
    examples_per_route[RouteName(route)] = 0;
  }
  EXPECT_EQ(examples_per_route.size(), ApiHandler::Routes().size()) << "a row is listed twice";
  for (const RouteCase& example : AllRoutes()) {
    const ApiHandler::Route* route = handler_->RouteFor(example.method, example.path);
    ASSERT_NE(route, nullptr) << example.method << " " << example.path;
    ++examples_per_route[RouteName(*route)];
  }
  for (const auto& [name, count] : examples_per_route) EXPECT_EQ(count, 1) << name;
}

// A new public route must be a decision: this list changes with it.
TEST(RouteTable, OnlyTheProbesAndTheDashboardArePublic) {
  std::set<std::string> public_routes;
  for (const ApiHandler::Route& route : ApiHandler::Routes()) {
    if (route.auth == ApiHandler::Auth::kPublic) public_routes.insert(RouteName(route));
  }
  EXPECT_EQ(public_routes, (std::set<std::string>{"GET /health", "GET /ready", "GET /dashboard"}));
}

// Patterns are literal segments and {name}/{id}; a path fits one pattern at
// most, so the order of the rows never decides which route answers.
TEST(RouteTable, PatternsAreWellFormedAndDisjoint) {
  const auto routes = ApiHandler::Routes();
  std::set<std::pair<std::string_view, std::string_view>> seen;
  for (const ApiHandler::Route& route : routes) {
    SCOPED_TRACE(RouteName(route));
    EXPECT_TRUE(seen.insert({route.method, route.pattern}).second) << "listed twice";
    EXPECT_TRUE(route.method == "GET" || route.method == "POST" || route.method == "DELETE");
    ASSERT_TRUE(StartsWith(std::string(route.pattern), "/"));
    std::string example(route.pattern);
    for (auto [placeholder, value] : {std::pair{"{name}", "docs"}, std::pair{"{id}", "a"}}) {
      for (size_t at = example.find(placeholder); at != std::string::npos;
           at = example.find(placeholder)) {
        example.replace(at, std::string_view(placeholder).size(), value);
      }
    }
    EXPECT_EQ(example.find_first_of("{}"), std::string::npos) << "unknown placeholder";
    auto handler =
        std::make_unique<ApiHandler>(nullptr, ApiOptions{}, nullptr, [] { return std::string(); });
    const ApiHandler::Route* found = handler->RouteFor(route.method, example);
    ASSERT_NE(found, nullptr) << example;
    EXPECT_EQ(found, &route) << example << " is taken by " << RouteName(*found);
  }
}

// Reads and searches answer on the io thread; writes, and the routes that
// fan out or scan for seconds, go to the workers. Unknown paths and methods
// (404, 405) answer inline.
TEST_F(ApiHandlerTest, RunsInlineFollowsTheTable) {
  std::set<std::string> on_workers;
  for (const RouteCase& example : AllRoutes()) {
    const ApiHandler::Route* route = handler_->RouteFor(example.method, example.path);
    ASSERT_NE(route, nullptr);
    HttpRequest request{example.method, example.path, "", "", example.body};
    const bool inline_run = handler_->RunsInline(request);
    EXPECT_EQ(inline_run, route->runs == ApiHandler::Runs::kInline) << RouteName(*route);
    if (!inline_run) on_workers.insert(RouteName(*route));
  }
  EXPECT_EQ(on_workers,
            (std::set<std::string>{
                "POST /vectors/index", "DELETE /vectors/index/{name}",
                "POST /vectors/index/{name}/add", "POST /vectors/index/{name}/search/batch",
                "POST /vectors/index/{name}/delete", "POST /vectors/index/{name}/recall-check",
                "POST /vectors/index/{name}/recover", "DELETE /vectors/index/{name}/items/{id}"}));
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/nope"}, {"POST", "/nope/search"}, {"PUT", "/vectors/index"}}) {
    HttpRequest request{method, path, "", "", ""};
    EXPECT_TRUE(handler_->RunsInline(request)) << method << " " << path;
  }
}

TEST_F(ApiAuthTest, TheSchemeNameIsCaseInsensitiveButTheTokenIsNot) {
  const std::string token(kToken);
  EXPECT_EQ(Do("GET", "/vectors/index", "", "bearer " + token).status, 200);
  EXPECT_EQ(Do("GET", "/vectors/index", "", "BEARER " + token).status, 200);
  std::string upper = token;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(Do("GET", "/vectors/index", "", "Bearer " + upper).status, 401);
}

TEST_F(ApiAuthTest, EveryRouteNeedsTheTokenExceptProbes) {
  for (const RouteCase& route : AllRoutes()) {
    for (const std::string& auth : WrongCredentials()) {
      SCOPED_TRACE(route.method + " " + route.path + " with '" + auth + "'");
      HttpResponse r = Do(route.method, route.path, route.body, auth);
      if (ExemptFromAuth(route.method, route.path)) {
        EXPECT_EQ(r.status, 200) << r.body;
      } else {
        EXPECT_EQ(r.status, 401) << r.body;
        EXPECT_EQ(r.content_type, kText);
        EXPECT_TRUE(EndsWith(r.body, "\n"));
      }
    }
  }
  // None of the refused requests changed anything.
  EXPECT_EQ(registry_.count(), 0u);
  EXPECT_EQ(metrics_calls_.load(), 0);
}

TEST_F(ApiAuthTest, EveryRouteWorksWithTheRightToken) {
  const std::string auth = "Bearer " + std::string(kToken);
  for (const RouteCase& route : AllRoutes()) {
    SCOPED_TRACE(route.method + " " + route.path);
    HttpResponse r = Do(route.method, route.path, route.body, auth);
    EXPECT_EQ(r.status, route.want_status) << r.body;
  }
  EXPECT_EQ(registry_.count(), 0u);  // created, then deleted
  EXPECT_EQ(metrics_calls_.load(), 1);
}

// Authentication comes before routing: any method on any path, including
// paths no route serves yet, is 401 without the token. A route added later
// is therefore covered without touching this table.
TEST_F(ApiAuthTest, AuthIsCheckedBeforeRoutingForEveryMethodAndPath) {
  std::vector<std::string> paths;
  for (const RouteCase& route : AllRoutes()) paths.push_back(route.path);
  for (const char* extra : {"/", "/nope", "/vectors/index/docs/compact", "/vectors/index/docs/get",
                            "/vectors/index/docs/delete", "/admin", "/debug/pprof", "/health/",
                            "/vectors/index/", "/vectors/index/docs/items/a", "/snapshots"}) {
    paths.push_back(extra);
  }
  const std::vector<std::string> methods = {"GET",    "POST", "PUT",     "PATCH",
                                            "DELETE", "HEAD", "OPTIONS", "CONNECT"};
  const std::string right = "Bearer " + std::string(kToken);
  for (const std::string& path : paths) {
    for (const std::string& method : methods) {
      SCOPED_TRACE(method + " " + path);
      HttpResponse anonymous = Do(method, path, "{}");
      HttpResponse wrong = Do(method, path, "{}", "Bearer nope");
      if (ExemptFromAuth(method, path)) {
        EXPECT_NE(anonymous.status, 401);
        EXPECT_NE(wrong.status, 401);
        continue;
      }
      EXPECT_EQ(anonymous.status, 401) << anonymous.body;
      EXPECT_EQ(wrong.status, 401) << wrong.body;
      HttpResponse authorized = Do(method, path, "{}", right);
      EXPECT_NE(authorized.status, 401) << authorized.body;
    }
  }
}

TEST_F(ApiAuthTest, ProbesIgnoreCredentials) {
  for (const std::string& auth : WrongCredentials()) {
    EXPECT_EQ(Do("GET", "/health", "", auth).status, 200);
    EXPECT_EQ(Do("GET", "/ready", "", auth).status, 200);
  }
  EXPECT_EQ(Do("GET", "/health", "", "Bearer " + std::string(kToken)).status, 200);
  ready_ = false;
  EXPECT_EQ(Do("GET", "/ready").status, 503);
}

// GET of the page is exempt, nothing else on its path: auth runs before
// routing, so another method is 401 here and 405 only with the token (or on
// a server without one).
TEST_F(ApiAuthTest, DashboardPageNeedsNoTokenButOtherMethodsDo) {
  for (const std::string& auth : WrongCredentials()) {
    SCOPED_TRACE("'" + auth + "'");
    HttpResponse page = Do("GET", "/dashboard", "", auth);
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
    EXPECT_EQ(Do("GET", "/dashboard/", "", auth).status, 200);
    EXPECT_EQ(Do("POST", "/dashboard", "", auth).status, 401);
    EXPECT_EQ(Do("HEAD", "/dashboard", "", auth).status, 401);
    EXPECT_EQ(Do("GET", "/dashboard/data", "", auth).status, 401);
  }
  HttpResponse authorized = Do("POST", "/dashboard", "", "Bearer " + std::string(kToken));
  EXPECT_EQ(authorized.status, 405);
  EXPECT_EQ(Header(authorized, "Allow"), "GET");
  auto open = MakeHandler(std::string(), true);
  EXPECT_EQ(DoWith(*open, "POST", "/dashboard").status, 405);
  EXPECT_EQ(DoWith(*open, "GET", "/dashboard").status, 200);
}

TEST_F(ApiAuthTest, RefusedWritesChangeNothing) {
  const std::string right = "Bearer " + std::string(kToken);
  ASSERT_EQ(Do("POST", "/vectors/index", R"({"name":"docs","dimension":2})", right).status, 201);
  EXPECT_EQ(Do("DELETE", "/vectors/index/docs", "", "Bearer no").status, 401);
  EXPECT_EQ(
      Do("POST", "/vectors/index/docs/add", R"({"items":[{"id":"a","vector":[1,2]}]})", "Bearer no")
          .status,
      401);
  EXPECT_EQ(Do("POST", "/vectors/index", R"({"name":"other","dimension":2})").status, 401);
  ExpectJson(Do("GET", "/vectors/index", "", right), 200, "{\"names\":[\"docs\"],\"count\":1}\n");
  ExpectIndexDetails(Do("GET", "/vectors/index/docs", "", right),
                     InfoJson(ParamsJson("docs", 2), 0));
}

// The scope table of docs/API.md ("Tokens"), written out here rather than
// read from the route table, so that a change to either shows.
enum class Needs { kNothing, kAnyToken, kFullToken, kRead, kWrite, kAdmin };
const std::map<std::string, Needs>& DocumentedScopes() {
  static const std::map<std::string, Needs> scopes = {
      {"GET /health", Needs::kNothing},
      {"GET /ready", Needs::kNothing},
      {"GET /dashboard", Needs::kNothing},
      {"GET /metrics", Needs::kFullToken},
      {"GET /cluster", Needs::kFullToken},
      {"GET /openapi.json", Needs::kAnyToken},
      {"GET /vectors/index", Needs::kAnyToken},
      {"POST /vectors/index", Needs::kAdmin},
      {"GET /vectors/index/{name}", Needs::kRead},
      {"DELETE /vectors/index/{name}", Needs::kAdmin},
      {"POST /vectors/index/{name}/add", Needs::kWrite},
      {"POST /vectors/index/{name}/search", Needs::kRead},
      {"POST /vectors/index/{name}/search/batch", Needs::kRead},
      {"POST /vectors/index/{name}/delete", Needs::kWrite},
      {"POST /vectors/index/{name}/recall-check", Needs::kRead},
      {"POST /vectors/index/{name}/recover", Needs::kAdmin},
      {"GET /vectors/index/{name}/items", Needs::kRead},
      {"GET /vectors/index/{name}/items/{id}", Needs::kRead},
      {"DELETE /vectors/index/{name}/items/{id}", Needs::kWrite},
  };
  return scopes;
}

// Every route with every kind of caller: the full-access token; scoped
// admin, write and read tokens whose patterns match the example index
// "docs"; an admin token for other indexes; an unknown token; none. A
// refused request is sent again with the full-access token, which must then
// get the example's own status: so the refusal changed nothing, and the
// next example finds the state it expects.
TEST_F(ApiHandlerTest, ScopedTokensGetTheDocumentedStatusOnEveryRoute) {
  ApiOptions options{std::string(kToken)};
  options.scoped_tokens = {{"admin-token", {"docs"}, Access::kAdmin},
                           {"write-token", {"other", "d?cs"}, Access::kWrite},
                           {"read-token", {"do*"}, Access::kRead},
                           {"elsewhere-token", {"team-*", "docs2"}, Access::kAdmin}};
  handler_ = std::make_unique<ApiHandler>(&registry_, options, &ready_, [this] {
    ++metrics_calls_;
    return std::string("# TYPE vectord_test gauge\nvectord_test 42\n");
  });
  struct Caller {
    std::string name;
    std::string authorization;
    int level;  // 0 none/unknown, 1 read, 2 write, 3 admin (on "docs"), 4 full
    bool known;
  };
  const std::string full = "Bearer " + std::string(kToken);
  const std::vector<Caller> callers = {
      {"full", full, 4, true},
      {"admin", "Bearer admin-token", 3, true},
      {"write", "Bearer write-token", 2, true},
      {"read", "Bearer read-token", 1, true},
      {"out of scope", "Bearer elsewhere-token", 0, true},
      {"wrong token", "Bearer read-token2", 0, false},
      {"none", "", 0, false},
  };
  ASSERT_EQ(DocumentedScopes().size(), ApiHandler::Routes().size());
  for (const Caller& caller : callers) {
    for (const RouteCase& example : AllRoutes()) {
      const ApiHandler::Route* route = handler_->RouteFor(example.method, example.path);
      ASSERT_NE(route, nullptr);
      const Needs needs = DocumentedScopes().at(RouteName(*route));
      int want = example.want_status;
      if (needs != Needs::kNothing) {
        if (!caller.known) {
          want = 401;
        } else if (needs == Needs::kFullToken) {
          if (caller.level < 4) want = 403;
        } else if (needs != Needs::kAnyToken) {
          const int level = needs == Needs::kRead ? 1 : needs == Needs::kWrite ? 2 : 3;
          if (caller.level < level) want = 403;
        }
      }
      SCOPED_TRACE(caller.name + ": " + example.method + " " + example.path);
      HttpResponse r = Do(example.method, example.path, example.body, caller.authorization);
      EXPECT_EQ(r.status, want) << r.body;
      if (r.status == 403) {
        EXPECT_TRUE(StartsWith(r.body, "forbidden: ")) << r.body;
        // Create finds the name in the body, so its handler refuses it.
        if (RouteName(*route) != "POST /vectors/index") {
          EXPECT_EQ(r.route, "forbidden");
        }
      }
      if (r.status == 401) {
        EXPECT_EQ(Header(r, "WWW-Authenticate"), "Bearer");
      }
      if (example.method == "GET" && example.path == "/vectors/index" && r.status == 200) {
        // The list shows a scoped token only what it may read.
        EXPECT_EQ(r.body, caller.level > 0 ? "{\"names\":[\"docs\"],\"count\":1}\n"
                                           : "{\"names\":[],\"count\":0}\n");
      }
      if (r.status != example.want_status) {
        HttpResponse again = Do(example.method, example.path, example.body, full);
        EXPECT_EQ(again.status, example.want_status) << again.body;
      }
    }
    EXPECT_EQ(registry_.count(), 0u);
  }
  // /metrics rendered only for the callers allowed it (the full token, once
  // itself and once for each refused caller's retry).
  EXPECT_EQ(metrics_calls_.load(), static_cast<int>(callers.size()));
}

// A 403 says nothing about whether an index outside the token's scope
// exists: the answer is the same for one that does and one that does not.
TEST_F(ApiHandlerTest, ForbiddenIsTheSameForIndexesThatExistAndThatDoNot) {
  ApiOptions options{std::string(kToken)};
  options.scoped_tokens = {{"team-a", {"team-a-*"}, Access::kAdmin}};
  handler_ = std::make_unique<ApiHandler>(&registry_, options, &ready_, nullptr);
  const std::string full = "Bearer " + std::string(kToken);
  ASSERT_EQ(Do("POST", "/vectors/index", R"({"name":"team-b-docs","dimension":2})", full).status,
            201);
  for (const char* name : {"team-b-docs", "team-b-absent"}) {
    SCOPED_TRACE(name);
    HttpResponse r = Do("POST", "/vectors/index/" + std::string(name) + "/search",
                        R"({"vector":[1,2]})", "Bearer team-a");
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.body,
              "forbidden: this token has no read access to index '" + std::string(name) + "'\n");
  }
  // Create names its index in the body: checked there, before anything is made.
  HttpResponse create =
      Do("POST", "/vectors/index", R"({"name":"team-b-new","dimension":2})", "Bearer team-a");
  EXPECT_EQ(create.status, 403) << create.body;
  EXPECT_EQ(Do("POST", "/vectors/index", R"({"name":"team-a-new","dimension":2})", "Bearer team-a")
                .status,
            201);
  ExpectJson(Do("GET", "/vectors/index", "", full), 200,
             "{\"names\":[\"team-a-new\",\"team-b-docs\"],\"count\":2}\n");
  ExpectJson(Do("GET", "/vectors/index", "", "Bearer team-a"), 200,
             "{\"names\":[\"team-a-new\"],\"count\":1}\n");
}

TEST_F(ApiHandlerTest, WithoutATokenNoHeaderIsNeeded) {
  EXPECT_EQ(Do("GET", "/vectors/index").status, 200);
  EXPECT_EQ(Do("GET", "/vectors/index", "", "Bearer anything").status, 200);
}

// ---------------------------------------------------------------------------
// Concurrency: Handle() may run on many threads at once.

TEST_F(ApiHandlerTest, ConcurrentRequestsOnSeparateAndSharedIndexes) {
  CreateIndex("shared", 4, "euclidean");
  constexpr int kThreads = 4;
  constexpr int kBatches = 20;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string own = "own" + std::to_string(t);
      HttpRequest create{"POST", "/vectors/index", "", "",
                         "{\"name\":\"" + own + "\",\"dimension\":4,\"distance\":\"euclidean\"}"};
      if (handler_->Handle(create).status != 201) ++failures;
      for (int b = 0; b < kBatches; ++b) {
        for (const std::string& index : {own, std::string("shared")}) {
          std::string body = R"({"items":[)";
          for (int i = 0; i < 5; ++i) {
            if (i > 0) body += ',';
            int n = (t * kBatches + b) * 5 + i;
            body += "{\"id\":\"t" + std::to_string(t) + "-" + std::to_string(n) +
                    "\",\"vector\":[" + std::to_string(n) + ",1,2,3]}";
          }
          body += "]}";
          HttpRequest add{"POST", "/vectors/index/" + index + "/add", "", "", body};
          if (handler_->Handle(add).status != 200) ++failures;
          HttpRequest search{"POST", "/vectors/index/" + index + "/search", "", "",
                             R"({"vector":[0,1,2,3],"k":5})"};
          if (handler_->Handle(search).status != 200) ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Length("shared"), static_cast<size_t>(kThreads * kBatches * 5));
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(Length("own" + std::to_string(t)), static_cast<size_t>(kBatches * 5));
  }
}

}  // namespace
}  // namespace vectord::http
