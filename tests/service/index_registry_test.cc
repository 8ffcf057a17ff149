#include "service/index_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "service/index_name.h"

namespace vectord::service {
namespace {

// An observer that records what the registry told it.
class RecordingListener final : public ChangeListener {
 public:
  void OnChanged(const std::shared_ptr<Index>& index) override {
    std::lock_guard lock(mutex_);
    changed.push_back(index->params().name);
    last_changed = index;
  }
  void OnDropped(const std::string& name) override {
    std::lock_guard lock(mutex_);
    dropped.push_back(name);
  }

  std::mutex mutex_;
  std::vector<std::string> changed;
  std::vector<std::string> dropped;
  std::shared_ptr<Index> last_changed;
};

CreateSpec Spec(std::string name, int64_t dimension, std::string distance = "") {
  CreateSpec spec;
  spec.name = std::move(name);
  spec.dimension = dimension;
  spec.distance = std::move(distance);
  return spec;
}

NewItem Item(std::string id, std::vector<float> vector,
             std::optional<std::string> metadata = std::nullopt) {
  return NewItem{std::move(id), std::move(vector), std::move(metadata)};
}

// ---------------------------------------------------------------------------
// ValidateIndexName

TEST(ValidateIndexName, AcceptsValidNames) {
  const std::string longest(kMaxIndexNameLength, 'n');
  for (std::string_view name :
       {std::string_view("docs"), std::string_view("a"), std::string_view("my-index_2"),
        std::string_view("v1.2"), std::string_view("0start"), std::string_view("A.b-c_D"),
        std::string_view("x.jsonx"), std::string_view(longest)}) {
    Status s = ValidateIndexName(name);
    EXPECT_TRUE(s.ok()) << name << ": " << s.ToString();
  }
}

TEST(ValidateIndexName, RejectsInvalidNames) {
  const std::string too_long(kMaxIndexNameLength + 1, 'n');
  const std::string with_nul("a\0b", 3);
  struct Case {
    std::string name;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"", "empty"},
      {".hidden", "starts with a dot"},
      {"-x", "starts with a dash"},
      {"_x", "starts with an underscore"},
      {"a/b", "slash"},
      {"..", "dot-dot"},
      {"a..b", "contains dot-dot"},
      {"x.json", "reserved suffix .json"},
      {"x.hnsw", "reserved suffix .hnsw"},
      {"x.wal", "reserved suffix .wal"},
      {"x.tmp", "reserved suffix .tmp"},
      {too_long, "129 characters"},
      {"my index", "space"},
      {" docs", "leading space"},
      {"docs ", "trailing space"},
      {"na\xc3\xafve", "non-ASCII (UTF-8)"},
      {"\xc3\xa9t\xc3\xa9", "non-ASCII first character"},
      {"tab\tname", "control character"},
      {with_nul, "NUL byte"},
      {"a\\b", "backslash"},
      {"a:b", "colon"},
      {"a\"b", "quote"},
  };
  for (const Case& c : cases) {
    Status s = ValidateIndexName(c.name);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.why;
    EXPECT_NE(s.message().find("invalid index params"), std::string::npos)
        << c.why << ": " << s.message();
  }
}

// ---------------------------------------------------------------------------
// ResolveParams

TEST(ResolveParams, FillsDefaults) {
  auto params = ResolveParams(Spec("docs", 8));
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  EXPECT_EQ(params->name, "docs");
  EXPECT_EQ(params->dimension, 8u);
  EXPECT_EQ(params->m, 16u);
  EXPECT_EQ(params->ef_search, engine::kDefaultEfSearch);
  EXPECT_EQ(params->ef_construction, engine::kDefaultEfConstruction);
  EXPECT_EQ(params->metric, engine::Metric::kCosine);
}

TEST(ResolveParams, KeepsGivenValues) {
  CreateSpec spec = Spec("docs", 16384, "euclidean");
  spec.m = 128;
  spec.ef_search = 10000;
  spec.ef_construction = 1;
  auto params = ResolveParams(spec);
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  EXPECT_EQ(params->dimension, 16384u);
  EXPECT_EQ(params->m, 128u);
  EXPECT_EQ(params->ef_search, 10000u);
  EXPECT_EQ(params->ef_construction, 1u);
  EXPECT_EQ(params->metric, engine::Metric::kEuclidean);

  spec = Spec("d", 1, "dot");
  spec.m = 2;
  spec.ef_search = 1;
  params = ResolveParams(spec);
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  EXPECT_EQ(params->dimension, 1u);
  EXPECT_EQ(params->m, 2u);
  EXPECT_EQ(params->ef_search, 1u);
  EXPECT_EQ(params->metric, engine::Metric::kDot);

  params = ResolveParams(Spec("c", 3, "cosine"));
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->metric, engine::Metric::kCosine);
}

TEST(ResolveParams, RejectsOutOfRange) {
  struct Case {
    CreateSpec spec;
    std::string field;  // the message must name it
    std::string got;    // and the value given
  };
  auto with = [](auto set) {
    CreateSpec spec = Spec("docs", 8);
    set(spec);
    return spec;
  };
  const std::vector<Case> cases = {
      {Spec("docs", 0), "dimension", "got 0"},
      {Spec("docs", -1), "dimension", "got -1"},
      {Spec("docs", 16385), "dimension", "got 16385"},
      {with([](CreateSpec& s) { s.m = 1; }), "m must be", "got 1"},
      {with([](CreateSpec& s) { s.m = 129; }), "m must be", "got 129"},
      {with([](CreateSpec& s) { s.m = -5; }), "m must be", "got -5"},
      {with([](CreateSpec& s) { s.ef_search = -1; }), "ef_search", "got -1"},
      {with([](CreateSpec& s) { s.ef_search = 10001; }), "ef_search", "got 10001"},
      {with([](CreateSpec& s) { s.ef_construction = -1; }), "ef_construction", "got -1"},
      {with([](CreateSpec& s) { s.ef_construction = 10001; }), "ef_construction", "got 10001"},
  };
  for (const Case& c : cases) {
    auto params = ResolveParams(c.spec);
    ASSERT_FALSE(params.ok()) << c.field << " " << c.got;
    const Status& s = params.status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("invalid index params"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(c.field), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(c.got), std::string::npos) << s.message();
  }
  EXPECT_EQ(ResolveParams(Spec("docs", 16385)).status().message(),
            "invalid index params: dimension must be between 1 and 16384, got 16385");
  EXPECT_EQ(ResolveParams(with([](CreateSpec& s) { s.m = 129; })).status().message(),
            "invalid index params: m must be between 2 and 128, got 129");
}

TEST(ResolveParams, UnknownDistance) {
  auto params = ResolveParams(Spec("docs", 8, "manhattan"));
  ASSERT_FALSE(params.ok());
  EXPECT_EQ(params.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(params.status().message(), "unknown distance: manhattan");
  EXPECT_FALSE(ResolveParams(Spec("docs", 8, "Cosine")).ok());
}

TEST(ResolveParams, ValidatesName) {
  auto params = ResolveParams(Spec("x.json", 8));
  ASSERT_FALSE(params.ok());
  EXPECT_EQ(params.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(params.status().message().find("invalid index params"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Registry

class RegistryTest : public ::testing::Test {
 protected:
  RegistryTest() : pool_(2), registry_(&pool_) { registry_.SetListener(&listener_); }

  std::shared_ptr<Index> Create(const std::string& name, int64_t dimension,
                                const std::string& distance = "") {
    auto index = registry_.Create(Spec(name, dimension, distance));
    EXPECT_TRUE(index.ok()) << index.status().ToString();
    return index.ok() ? *index : nullptr;
  }

  std::vector<engine::SearchResult> Search(const Index& index, std::vector<float> query,
                                           int64_t k) {
    SearchSpec spec;
    spec.vector = std::move(query);
    spec.k = k;
    auto results = index.Search(spec);
    EXPECT_TRUE(results.ok()) << results.status().ToString();
    return results.ok() ? *results : std::vector<engine::SearchResult>{};
  }

  ThreadPool pool_;
  RecordingListener listener_;
  Registry registry_;
};

TEST_F(RegistryTest, CreateAndFind) {
  auto index = Create("docs", 4, "euclidean");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->params().name, "docs");
  EXPECT_EQ(index->params().dimension, 4u);
  EXPECT_EQ(index->params().metric, engine::Metric::kEuclidean);
  EXPECT_EQ(index->size(), 0u);
  EXPECT_FALSE(index->dropped());
  // The engine was built with the resolved params.
  EXPECT_EQ(index->engine().options().dimension, 4u);
  EXPECT_EQ(index->engine().options().metric, engine::Metric::kEuclidean);
  EXPECT_EQ(index->engine().options().m, 16u);
  EXPECT_EQ(index->engine().options().ef_search, engine::kDefaultEfSearch);
  EXPECT_EQ(index->engine().options().ef_construction, engine::kDefaultEfConstruction);

  EXPECT_EQ(registry_.Find("docs"), index);
  EXPECT_EQ(registry_.Find("doc"), nullptr);
  EXPECT_EQ(registry_.Find("docs2"), nullptr);
  EXPECT_EQ(registry_.count(), 1u);
  EXPECT_EQ(registry_.workers(), &pool_);
}

TEST_F(RegistryTest, CreatePassesCustomParamsToEngine) {
  CreateSpec spec = Spec("custom", 3, "dot");
  spec.m = 5;
  spec.ef_search = 7;
  spec.ef_construction = 11;
  auto index = registry_.Create(spec);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  const engine::IndexOptions& o = (*index)->engine().options();
  EXPECT_EQ(o.dimension, 3u);
  EXPECT_EQ(o.metric, engine::Metric::kDot);
  EXPECT_EQ(o.m, 5u);
  EXPECT_EQ(o.ef_search, 7u);
  EXPECT_EQ(o.ef_construction, 11u);
  EXPECT_EQ((*index)->params().ef_construction, 11u);
}

TEST_F(RegistryTest, DuplicateCreateIsAlreadyExists) {
  auto first = Create("docs", 4);
  ASSERT_NE(first, nullptr);
  auto second = registry_.Create(Spec("docs", 8));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(second.status().message(), "index already exists: docs");
  // The original is untouched.
  EXPECT_EQ(registry_.Find("docs"), first);
  EXPECT_EQ(registry_.Find("docs")->params().dimension, 4u);
  EXPECT_EQ(registry_.count(), 1u);
  // Only the successful create was announced.
  EXPECT_EQ(listener_.changed, std::vector<std::string>{"docs"});
}

TEST_F(RegistryTest, InvalidCreateRegistersNothing) {
  auto bad = registry_.Create(Spec("bad name", 4));
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  auto bad_dim = registry_.Create(Spec("docs", 0));
  EXPECT_EQ(bad_dim.status().code(), StatusCode::kInvalidArgument);
  auto bad_distance = registry_.Create(Spec("docs", 4, "manhattan"));
  EXPECT_EQ(bad_distance.status().message(), "unknown distance: manhattan");
  EXPECT_EQ(registry_.count(), 0u);
  EXPECT_EQ(registry_.Find("docs"), nullptr);
  EXPECT_TRUE(listener_.changed.empty());
}

TEST_F(RegistryTest, NamesAreSorted) {
  for (const char* name : {"zeta", "alpha", "Beta", "m-1", "m.0", "10"}) Create(name, 2);
  EXPECT_EQ(registry_.Names(),
            (std::vector<std::string>{"10", "Beta", "alpha", "m-1", "m.0", "zeta"}));
  EXPECT_EQ(registry_.count(), 6u);
}

TEST_F(RegistryTest, DropThenNotFound) {
  auto index = Create("docs", 4);
  auto other = Create("other", 4);
  ASSERT_TRUE(registry_.Drop("docs").ok());
  EXPECT_TRUE(index->dropped());
  EXPECT_FALSE(other->dropped());
  EXPECT_EQ(registry_.Find("docs"), nullptr);
  EXPECT_EQ(registry_.Names(), std::vector<std::string>{"other"});
  EXPECT_EQ(registry_.count(), 1u);

  Status again = registry_.Drop("docs");
  EXPECT_EQ(again.code(), StatusCode::kNotFound);
  EXPECT_EQ(again.message(), "not found");
  EXPECT_EQ(registry_.Drop("never").code(), StatusCode::kNotFound);

  // The dropped index object stays usable for whoever still holds it.
  std::vector<NewItem> items = {Item("a", {1, 0, 0, 0})};
  EXPECT_TRUE(index->Add(items, &pool_).ok());
  EXPECT_EQ(Search(*index, {1, 0, 0, 0}, 1).size(), 1u);

  // The name can be used again, for a new index.
  auto recreated = Create("docs", 8);
  ASSERT_NE(recreated, nullptr);
  EXPECT_NE(recreated, index);
  EXPECT_FALSE(recreated->dropped());
  EXPECT_EQ(registry_.Find("docs")->params().dimension, 8u);
}

TEST_F(RegistryTest, RegisterRejectsTakenName) {
  auto index = Create("docs", 4);
  engine::IndexOptions options;
  options.dimension = 4;
  auto engine = engine::HnswIndex::Create(options);
  ASSERT_TRUE(engine.ok());
  IndexParams params;
  params.name = "docs";
  params.dimension = 4;
  Status s = registry_.Register(std::make_shared<Index>(params, std::move(engine).value()));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "index already exists: docs");
  EXPECT_EQ(registry_.Find("docs"), index);

  auto engine2 = engine::HnswIndex::Create(options);
  ASSERT_TRUE(engine2.ok());
  params.name = "loaded";
  auto loaded = std::make_shared<Index>(params, std::move(engine2).value());
  ASSERT_TRUE(registry_.Register(loaded).ok());
  EXPECT_EQ(registry_.Find("loaded"), loaded);
  // Register is for loading from storage: it does not announce a change.
  EXPECT_EQ(listener_.changed, std::vector<std::string>{"docs"});
}

TEST_F(RegistryTest, AddInsertsAndReturnsSize) {
  auto index = Create("docs", 3, "euclidean");
  std::vector<NewItem> items = {Item("a", {1, 0, 0}), Item("b", {0, 1, 0}), Item("c", {0, 0, 1})};
  auto size = registry_.Add(index, items);
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  EXPECT_EQ(*size, 3u);
  EXPECT_EQ(index->size(), 3u);
  auto results = Search(*index, {0, 0.9f, 0.1f}, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].id, "b");
  auto got = index->engine().Get("c");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->vector, (std::vector<float>{0, 0, 1}));
}

TEST_F(RegistryTest, AddValidatesWholeBatch) {
  auto index = Create("docs", 3, "euclidean");
  ASSERT_TRUE(registry_.Add(index, std::vector<NewItem>{Item("keep", {1, 2, 3}, "\"v1\"")}).ok());
  const uint64_t changes = index->change_count();
  listener_.changed.clear();

  std::vector<NewItem> batch = {Item("keep", {9, 9, 9}, "\"v2\""), Item("new1", {1, 1, 1}),
                                Item("bad", {1, 1}),  // wrong dimension at position 2
                                Item("new2", {2, 2, 2})};
  auto result = registry_.Add(index, batch);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message().rfind("items[2]: ", 0), 0u) << result.status().message();

  // Nothing of the batch was applied.
  EXPECT_EQ(index->size(), 1u);
  EXPECT_FALSE(index->engine().Contains("new1"));
  EXPECT_FALSE(index->engine().Contains("new2"));
  auto kept = index->engine().Get("keep");
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->vector, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(kept->payload, std::optional<std::string>("\"v1\""));
  EXPECT_EQ(index->change_count(), changes);
  // And no change was announced.
  EXPECT_TRUE(listener_.changed.empty());

  // Other invalid items: non-finite component, empty id.
  std::vector<NewItem> nan_batch = {Item("x", {1, 1, 1}),
                                    Item("y", {1, std::numeric_limits<float>::quiet_NaN(), 1})};
  result = registry_.Add(index, nan_batch);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message().rfind("items[1]: ", 0), 0u) << result.status().message();
  std::vector<NewItem> empty_id = {Item("", {1, 1, 1})};
  result = registry_.Add(index, empty_id);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message().rfind("items[0]: ", 0), 0u) << result.status().message();
  EXPECT_EQ(index->size(), 1u);
  EXPECT_TRUE(listener_.changed.empty());
}

TEST_F(RegistryTest, AddRejectsZeroVectorInCosineIndex) {
  auto index = Create("cos", 3);
  std::vector<NewItem> batch = {Item("ok", {1, 0, 0}), Item("zero", {0, 0, 0})};
  auto result = registry_.Add(index, batch);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message().rfind("items[1]: ", 0), 0u) << result.status().message();
  EXPECT_EQ(index->size(), 0u);
}

TEST_F(RegistryTest, EmptyBatchIsRejected) {
  auto index = Create("docs", 3);
  auto result = registry_.Add(index, std::span<const NewItem>());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(), "items must be non-empty");
  EXPECT_EQ(index->change_count(), 0u);
  EXPECT_EQ(listener_.changed, std::vector<std::string>{"docs"});  // the create only
}

TEST_F(RegistryTest, UpsertAndLastWinsWithinBatch) {
  auto index = Create("docs", 2, "euclidean");
  ASSERT_TRUE(
      registry_.Add(index, std::vector<NewItem>{Item("a", {1, 0}, "1"), Item("b", {0, 1}, "2")})
          .ok());
  // Replace "a"; "c" appears twice and the last one wins.
  std::vector<NewItem> batch = {Item("c", {5, 5}, "\"first\""), Item("a", {3, 3}, "\"new a\""),
                                Item("c", {7, 7}, "\"second\"")};
  auto size = registry_.Add(index, batch);
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  EXPECT_EQ(*size, 3u);
  EXPECT_EQ(index->size(), 3u);

  auto a = index->engine().Get("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->vector, (std::vector<float>{3, 3}));
  EXPECT_EQ(a->payload, std::optional<std::string>("\"new a\""));
  auto c = index->engine().Get("c");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->vector, (std::vector<float>{7, 7}));
  EXPECT_EQ(c->payload, std::optional<std::string>("\"second\""));

  // Searching at the old position of "a" no longer finds it there.
  auto results = Search(*index, {1, 0}, 3);
  ASSERT_EQ(results.size(), 3u);
  std::set<std::string> ids;
  for (const auto& r : results) ids.insert(r.id);
  EXPECT_EQ(ids, (std::set<std::string>{"a", "b", "c"}));
  EXPECT_EQ(results[0].id, "b");
  EXPECT_NEAR(results[0].distance, std::sqrt(2.0f), 1e-5);
}

TEST_F(RegistryTest, MetadataIsStoredAndReturnedAsGiven) {
  auto index = Create("docs", 2, "euclidean");
  const std::string object = R"({"title":"Hello, \"world\"","n":[1,2.5,null],"ü":true})";
  std::vector<NewItem> items = {Item("obj", {0, 0}, object), Item("null", {1, 0}, "null"),
                                Item("none", {2, 0}), Item("str", {3, 0}, "\"s\"")};
  ASSERT_TRUE(registry_.Add(index, items).ok());

  SearchSpec spec;
  spec.vector = {0, 0};
  spec.k = 4;
  auto results = index->Search(spec);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), 4u);
  EXPECT_EQ((*results)[0].id, "obj");
  EXPECT_EQ((*results)[0].payload, std::optional<std::string>(object));
  EXPECT_EQ((*results)[1].id, "null");
  EXPECT_EQ((*results)[1].payload, std::optional<std::string>("null"));
  EXPECT_EQ((*results)[2].id, "none");
  EXPECT_FALSE((*results)[2].payload.has_value());
  EXPECT_EQ((*results)[3].id, "str");
  EXPECT_EQ((*results)[3].payload, std::optional<std::string>("\"s\""));
  for (const auto& r : *results) EXPECT_TRUE(r.vector.empty());  // not asked for

  // include_metadata = false leaves payloads out; include_vector adds vectors.
  spec.include_metadata = false;
  spec.include_vector = true;
  results = index->Search(spec);
  ASSERT_TRUE(results.ok());
  ASSERT_EQ(results->size(), 4u);
  for (const auto& r : *results) EXPECT_FALSE(r.payload.has_value()) << r.id;
  EXPECT_EQ((*results)[3].vector, (std::vector<float>{3, 0}));
}

TEST_F(RegistryTest, SearchRejectsWrongDimension) {
  auto index = Create("docs", 3);
  ASSERT_TRUE(registry_.Add(index, std::vector<NewItem>{Item("a", {1, 0, 0})}).ok());
  SearchSpec spec;
  spec.vector = {1, 0};
  EXPECT_FALSE(index->Search(spec).ok());
}

TEST_F(RegistryTest, ListenerSeesCreateAddAndDrop) {
  auto docs = Create("docs", 2);
  EXPECT_EQ(listener_.changed, std::vector<std::string>{"docs"});
  EXPECT_EQ(listener_.last_changed, docs);
  EXPECT_TRUE(listener_.dropped.empty());

  ASSERT_TRUE(registry_.Add(docs, std::vector<NewItem>{Item("a", {1, 0})}).ok());
  EXPECT_EQ(listener_.changed, (std::vector<std::string>{"docs", "docs"}));
  EXPECT_EQ(listener_.last_changed, docs);
  EXPECT_EQ(docs->change_count(), 1u);

  // A rejected add announces nothing.
  auto bad = registry_.Add(docs, std::vector<NewItem>{Item("b", {1, 0, 0})});
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(listener_.changed.size(), 2u);
  EXPECT_EQ(docs->change_count(), 1u);

  ASSERT_TRUE(registry_.Drop("docs").ok());
  EXPECT_EQ(listener_.dropped, std::vector<std::string>{"docs"});
  EXPECT_EQ(listener_.changed.size(), 2u);

  // A failed drop announces nothing.
  EXPECT_FALSE(registry_.Drop("docs").ok());
  EXPECT_EQ(listener_.dropped.size(), 1u);
}

TEST_F(RegistryTest, NoListenerIsFine) {
  Registry plain(&pool_);
  auto index = plain.Create(Spec("docs", 2));
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE(plain.Add(*index, std::vector<NewItem>{Item("a", {1, 0})}).ok());
  EXPECT_TRUE(plain.Drop("docs").ok());
  EXPECT_TRUE(listener_.changed.empty());
}

TEST_F(RegistryTest, IndexAddWithoutWorkers) {
  auto index = Create("docs", 2);
  std::vector<NewItem> items = {Item("a", {1, 0}), Item("b", {0, 1})};
  auto size = index->Add(items, nullptr);
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 2u);
  EXPECT_EQ(index->change_count(), 1u);
}

TEST_F(RegistryTest, SearchKDefaultsAndClamps) {
  const size_t n = 1100;
  auto index = Create("many", 4, "euclidean");
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<NewItem> items;
  for (size_t i = 0; i < n; ++i) {
    items.push_back(
        Item("id-" + std::to_string(i), {uniform(rng), uniform(rng), uniform(rng), uniform(rng)}));
  }
  auto size = registry_.Add(index, items);
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  ASSERT_EQ(*size, n);

  const std::vector<float> query = {0.1f, -0.2f, 0.3f, 0.0f};
  EXPECT_EQ(Search(*index, query, 0).size(), kDefaultK);
  EXPECT_EQ(Search(*index, query, -1).size(), kDefaultK);
  EXPECT_EQ(Search(*index, query, std::numeric_limits<int64_t>::min()).size(), kDefaultK);
  EXPECT_EQ(Search(*index, query, 1).size(), 1u);
  EXPECT_EQ(Search(*index, query, 37).size(), 37u);
  EXPECT_EQ(Search(*index, query, 1000).size(), kMaxK);
  EXPECT_EQ(Search(*index, query, 1001).size(), kMaxK);
  EXPECT_EQ(Search(*index, query, 5000).size(), kMaxK);
  EXPECT_EQ(Search(*index, query, std::numeric_limits<int64_t>::max()).size(), kMaxK);

  // The clamped results are distinct and nearest first.
  auto results = Search(*index, query, 1001);
  std::set<std::string> ids;
  for (size_t i = 0; i < results.size(); ++i) {
    ids.insert(results[i].id);
    if (i > 0) {
      EXPECT_LE(results[i - 1].distance, results[i].distance);
    }
  }
  EXPECT_EQ(ids.size(), results.size());
}

TEST_F(RegistryTest, ConcurrentCreateOfOneNameHasOneWinner) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::atomic<int> created{0}, exists{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto index = registry_.Create(Spec("shared", t + 1));
      if (index.ok()) {
        ++created;
      } else if (index.status().code() == StatusCode::kAlreadyExists) {
        ++exists;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(exists.load(), kThreads - 1);
  EXPECT_EQ(registry_.count(), 1u);
  EXPECT_EQ(listener_.changed, std::vector<std::string>{"shared"});
}

}  // namespace
}  // namespace vectord::service
