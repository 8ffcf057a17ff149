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

// A Persistence that records what the registry told it, and fails a create
// or a drop when told to. It attaches no log, so indexes stay ephemeral.
class RecordingPersistence final : public Persistence {
 public:
  Status OnCreate(Index& index) override {
    std::lock_guard lock(mutex_);
    create_calls.push_back(index.params().name);
    if (!create_status.ok()) return create_status;
    created.push_back(index.params().name);
    return Status::Ok();
  }
  Status OnDrop(Index& index) override {
    const std::string& name = index.params().name;
    std::lock_guard lock(mutex_);
    drop_calls.push_back(name);
    if (!drop_status.ok()) return drop_status;
    dropped.push_back(name);
    return Status::Ok();
  }
  void OnWrite(const std::shared_ptr<Index>& index) override {
    std::lock_guard lock(mutex_);
    written.push_back(index->params().name);
    last_written = index;
  }
  Result<std::string> OnQuarantine(const std::string& name) override {
    std::lock_guard lock(mutex_);
    quarantined.push_back(name);
    return "quarantine/" + name;
  }
  Result<Recovered> OnRecover(const std::string& name, ThreadPool*) override {
    return Status::Unavailable("RecordingPersistence does not recover " + name);
  }

  std::mutex mutex_;
  Status create_status;  // what OnCreate returns
  Status drop_status;    // what OnDrop returns
  std::vector<std::string> create_calls;
  std::vector<std::string> created;  // successful OnCreate calls
  std::vector<std::string> drop_calls;
  std::vector<std::string> dropped;  // successful OnDrop calls
  std::vector<std::string> quarantined;
  std::vector<std::string> written;
  std::shared_ptr<Index> last_written;
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
  RegistryTest() : pool_(2), registry_(&pool_) { registry_.SetPersistence(&persistence_); }

  std::shared_ptr<Index> Create(const std::string& name, int64_t dimension,
                                const std::string& distance = "") {
    auto index = registry_.Create(Spec(name, dimension, distance));
    EXPECT_TRUE(index.ok()) << index.status().ToString();
    return index.ok() ? *index : nullptr;
  }

  std::vector<SearchHit> Search(const Index& index, std::vector<float> query, int64_t k) {
    SearchSpec spec;
    spec.vector = std::move(query);
    spec.k = k;
    auto results = index.Search(spec);
    EXPECT_TRUE(results.ok()) << results.status().ToString();
    return results.ok() ? *results : std::vector<SearchHit>{};
  }

  ThreadPool pool_;
  RecordingPersistence persistence_;
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
  // Only the successful create reached the persistence layer.
  EXPECT_EQ(persistence_.create_calls, std::vector<std::string>{"docs"});
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
  EXPECT_TRUE(persistence_.create_calls.empty());
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
  EXPECT_TRUE(index->Add(items, &pool_, Durability::kDefault).ok());
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
  // Register is for loading from storage: it tells the persistence nothing.
  EXPECT_EQ(persistence_.create_calls, std::vector<std::string>{"docs"});
  EXPECT_TRUE(persistence_.written.empty());
}

TEST_F(RegistryTest, AddInsertsAndReturnsSize) {
  auto index = Create("docs", 3, "euclidean");
  std::vector<NewItem> items = {Item("a", {1, 0, 0}), Item("b", {0, 1, 0}), Item("c", {0, 0, 1})};
  auto result = registry_.Add(index, items);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->affected, 3u);
  EXPECT_EQ(result->length, 3u);
  EXPECT_EQ(result->durability, "none");  // no log: an ephemeral index
  EXPECT_EQ(index->size(), 3u);
  auto results = Search(*index, {0, 0.9f, 0.1f}, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].id, "b");
  auto got = index->engine().Get("c");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->vector, (std::vector<float>{0, 0, 1}));
}

// Get and memory_bytes answer in service terms, as the HTTP layer reads them.
TEST_F(RegistryTest, GetReturnsTheStoredItemAndMemoryCountsEngineAndMetadata) {
  auto index = Create("docs", 3, "euclidean");
  const size_t empty_bytes = index->memory_bytes();
  EXPECT_GE(empty_bytes, index->auxiliary_memory_bytes());
  ASSERT_TRUE(
      registry_
          .Add(index, std::vector<NewItem>{Item("a", {1, 2, 3}, "{\"k\":1}"), Item("b", {4, 5, 6})})
          .ok());
  std::optional<StoredItem> a = index->Get("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->id, "a");
  EXPECT_EQ(a->vector, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(a->metadata, std::optional<std::string>("{\"k\":1}"));
  std::optional<StoredItem> b = index->Get("b");
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(b->metadata.has_value());
  EXPECT_FALSE(index->Get("absent").has_value());
  EXPECT_EQ(index->memory_bytes(),
            index->engine().memory_usage().total() + index->auxiliary_memory_bytes());
  EXPECT_GT(index->memory_bytes(), empty_bytes);
}

TEST_F(RegistryTest, AddValidatesWholeBatch) {
  auto index = Create("docs", 3, "euclidean");
  ASSERT_TRUE(registry_.Add(index, std::vector<NewItem>{Item("keep", {1, 2, 3}, "\"v1\"")}).ok());
  const uint64_t changes = index->change_count();
  persistence_.written.clear();

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
  // And no write was announced.
  EXPECT_TRUE(persistence_.written.empty());

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
  // An id the API refuses (item_id.h), after a valid item: nothing applied.
  std::vector<NewItem> control_id = {Item("fine", {1, 1, 1}), Item("bell", {1, 1, 1})};
  result = registry_.Add(index, control_id);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), "items[1]: id contains a control character (at byte 4)");
  EXPECT_FALSE(index->engine().Contains("fine"));
  EXPECT_EQ(index->size(), 1u);
  EXPECT_TRUE(persistence_.written.empty());
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
  EXPECT_EQ(persistence_.created, std::vector<std::string>{"docs"});  // the create only
  EXPECT_TRUE(persistence_.written.empty());
}

TEST_F(RegistryTest, UpsertAndLastWinsWithinBatch) {
  auto index = Create("docs", 2, "euclidean");
  ASSERT_TRUE(
      registry_.Add(index, std::vector<NewItem>{Item("a", {1, 0}, "1"), Item("b", {0, 1}, "2")})
          .ok());
  // Replace "a"; "c" appears twice and the last one wins.
  std::vector<NewItem> batch = {Item("c", {5, 5}, "\"first\""), Item("a", {3, 3}, "\"new a\""),
                                Item("c", {7, 7}, "\"second\"")};
  auto result = registry_.Add(index, batch);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->affected, 3u);  // items in the batch, duplicates included
  EXPECT_EQ(result->length, 3u);
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
  EXPECT_EQ((*results)[0].metadata, std::optional<std::string>(object));
  EXPECT_EQ((*results)[1].id, "null");
  EXPECT_EQ((*results)[1].metadata, std::optional<std::string>("null"));
  EXPECT_EQ((*results)[2].id, "none");
  EXPECT_FALSE((*results)[2].metadata.has_value());
  EXPECT_EQ((*results)[3].id, "str");
  EXPECT_EQ((*results)[3].metadata, std::optional<std::string>("\"s\""));
  for (const auto& r : *results) EXPECT_TRUE(r.vector.empty());  // not asked for

  // include_metadata = false leaves payloads out; include_vector adds vectors.
  spec.include_metadata = false;
  spec.include_vector = true;
  results = index->Search(spec);
  ASSERT_TRUE(results.ok());
  ASSERT_EQ(results->size(), 4u);
  for (const auto& r : *results) EXPECT_FALSE(r.metadata.has_value()) << r.id;
  EXPECT_EQ((*results)[3].vector, (std::vector<float>{3, 0}));
}

TEST_F(RegistryTest, SearchRejectsWrongDimension) {
  auto index = Create("docs", 3);
  ASSERT_TRUE(registry_.Add(index, std::vector<NewItem>{Item("a", {1, 0, 0})}).ok());
  SearchSpec spec;
  spec.vector = {1, 0};
  EXPECT_FALSE(index->Search(spec).ok());
}

TEST_F(RegistryTest, PersistenceSeesCreateWriteAndDrop) {
  auto docs = Create("docs", 2);
  EXPECT_EQ(persistence_.created, std::vector<std::string>{"docs"});
  EXPECT_TRUE(persistence_.written.empty());
  EXPECT_TRUE(persistence_.drop_calls.empty());

  ASSERT_TRUE(registry_.Add(docs, std::vector<NewItem>{Item("a", {1, 0})}).ok());
  EXPECT_EQ(persistence_.written, std::vector<std::string>{"docs"});
  EXPECT_EQ(persistence_.last_written, docs);
  EXPECT_EQ(docs->change_count(), 1u);

  // A rejected add announces nothing.
  auto bad = registry_.Add(docs, std::vector<NewItem>{Item("b", {1, 0, 0})});
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(persistence_.written.size(), 1u);
  EXPECT_EQ(docs->change_count(), 1u);

  // A remove is a write too, even when it finds nothing.
  ASSERT_TRUE(registry_.Remove(docs, std::vector<std::string>{"absent"}).ok());
  EXPECT_EQ(persistence_.written, (std::vector<std::string>{"docs", "docs"}));

  ASSERT_TRUE(registry_.Drop("docs").ok());
  EXPECT_EQ(persistence_.dropped, std::vector<std::string>{"docs"});
  EXPECT_EQ(persistence_.written.size(), 2u);

  // A drop of a missing index never reaches the persistence layer.
  EXPECT_FALSE(registry_.Drop("docs").ok());
  EXPECT_EQ(persistence_.drop_calls.size(), 1u);
}

TEST_F(RegistryTest, FailingOnCreateCancelsTheCreate) {
  persistence_.create_status = Status::NoSpace("disk full");
  auto index = registry_.Create(Spec("docs", 4));
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.status().code(), StatusCode::kNoSpace);
  EXPECT_EQ(index.status().message(), "disk full");
  EXPECT_EQ(persistence_.create_calls, std::vector<std::string>{"docs"});
  // Nothing was registered.
  EXPECT_EQ(registry_.Find("docs"), nullptr);
  EXPECT_EQ(registry_.count(), 0u);
  EXPECT_TRUE(registry_.Names().empty());
  EXPECT_EQ(registry_.Drop("docs").code(), StatusCode::kNotFound);

  // Once the persistence layer works again, the same name can be created.
  persistence_.create_status = Status::Ok();
  auto retried = Create("docs", 4);
  ASSERT_NE(retried, nullptr);
  EXPECT_EQ(registry_.Find("docs"), retried);
  EXPECT_EQ(persistence_.created, std::vector<std::string>{"docs"});
}

TEST_F(RegistryTest, FailingOnDropKeepsTheIndex) {
  auto index = Create("docs", 2);
  ASSERT_TRUE(registry_.Add(index, std::vector<NewItem>{Item("a", {1, 0})}).ok());
  persistence_.drop_status = Status::IOError("unlink failed");
  Status s = registry_.Drop("docs");
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_EQ(s.message(), "unlink failed");
  EXPECT_EQ(persistence_.drop_calls, std::vector<std::string>{"docs"});
  EXPECT_TRUE(persistence_.dropped.empty());
  // Still there, still usable.
  EXPECT_EQ(registry_.Find("docs"), index);
  EXPECT_EQ(registry_.count(), 1u);
  EXPECT_FALSE(index->dropped());
  EXPECT_EQ(index->size(), 1u);
  ASSERT_TRUE(registry_.Add(index, std::vector<NewItem>{Item("b", {0, 1})}).ok());
  // And the create of the same name still says it exists.
  EXPECT_EQ(registry_.Create(Spec("docs", 2)).status().code(), StatusCode::kAlreadyExists);

  persistence_.drop_status = Status::Ok();
  ASSERT_TRUE(registry_.Drop("docs").ok());
  EXPECT_TRUE(index->dropped());
  EXPECT_EQ(registry_.Find("docs"), nullptr);
}

TEST_F(RegistryTest, NoPersistenceIsFine) {
  Registry plain(&pool_);
  auto index = plain.Create(Spec("docs", 2));
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE(plain.Add(*index, std::vector<NewItem>{Item("a", {1, 0})}).ok());
  ASSERT_TRUE(plain.Remove(*index, std::vector<std::string>{"a"}).ok());
  EXPECT_TRUE(plain.Drop("docs").ok());
  EXPECT_TRUE(persistence_.create_calls.empty());
  EXPECT_TRUE(persistence_.written.empty());
  EXPECT_TRUE(persistence_.drop_calls.empty());
}

TEST_F(RegistryTest, IndexAddWithoutWorkers) {
  auto index = Create("docs", 2);
  std::vector<NewItem> items = {Item("a", {1, 0}), Item("b", {0, 1})};
  auto result = index->Add(items, nullptr, Durability::kDefault);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->affected, 2u);
  EXPECT_EQ(result->length, 2u);
  EXPECT_EQ(result->durability, "none");
  EXPECT_EQ(index->change_count(), 1u);
}

TEST_F(RegistryTest, DurabilityIsNoneWithoutALog) {
  auto index = Create("docs", 2);
  EXPECT_EQ(index->log(), nullptr);
  for (Durability level : {Durability::kDefault, Durability::kFsync, Durability::kWritten}) {
    auto added = registry_.Add(index, std::vector<NewItem>{Item("a", {1, 0})}, level);
    ASSERT_TRUE(added.ok()) << added.status().ToString();
    EXPECT_EQ(added->durability, "none");
    auto removed = registry_.Remove(index, std::vector<std::string>{"a"}, level);
    ASSERT_TRUE(removed.ok()) << removed.status().ToString();
    EXPECT_EQ(removed->durability, "none");
  }
}

TEST_F(RegistryTest, RemoveDeletesExistingIdsOnly) {
  auto index = Create("docs", 2, "euclidean");
  std::vector<NewItem> items = {Item("a", {1, 0}, "1"), Item("b", {0, 1}), Item("c", {1, 1})};
  ASSERT_TRUE(registry_.Add(index, items).ok());
  const uint64_t changes = index->change_count();

  auto result = registry_.Remove(index, std::vector<std::string>{"a", "missing", "c"});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->affected, 2u);
  EXPECT_EQ(result->length, 1u);
  EXPECT_EQ(result->durability, "none");
  EXPECT_EQ(index->size(), 1u);
  EXPECT_FALSE(index->engine().Contains("a"));
  EXPECT_TRUE(index->engine().Contains("b"));
  EXPECT_FALSE(index->engine().Contains("c"));
  EXPECT_EQ(index->change_count(), changes + 1);
  auto results = Search(*index, {1, 0}, 3);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].id, "b");

  // Only absent ids: not an error, nothing removed.
  result = registry_.Remove(index, std::vector<std::string>{"a", "zzz"});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->affected, 0u);
  EXPECT_EQ(result->length, 1u);

  // A removed id can be added again.
  ASSERT_TRUE(registry_.Add(index, std::vector<NewItem>{Item("a", {5, 5}, "\"again\"")}).ok());
  auto a = index->engine().Get("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->vector, (std::vector<float>{5, 5}));
  EXPECT_EQ(a->payload, std::optional<std::string>("\"again\""));
}

TEST_F(RegistryTest, RemoveValidatesIds) {
  auto index = Create("docs", 2);
  ASSERT_TRUE(registry_.Add(index, std::vector<NewItem>{Item("a", {1, 0})}).ok());
  persistence_.written.clear();
  const uint64_t changes = index->change_count();

  auto empty = registry_.Remove(index, std::span<const std::string>());
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.status().message(), "ids must be non-empty");

  auto empty_id = registry_.Remove(index, std::vector<std::string>{"a", ""});
  ASSERT_FALSE(empty_id.ok());
  EXPECT_EQ(empty_id.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(empty_id.status().message(), "ids[1]: empty id");

  auto malformed = registry_.Remove(index, std::vector<std::string>{"a", "\xff"});
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.status().message(), "ids[1]: id is not valid UTF-8 (at byte 0)");

  std::vector<std::string> too_many(kMaxBatchItems + 1, "a");
  auto big = registry_.Remove(index, too_many);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(big.status().message(), "ids: at most 100000 per batch");

  // Nothing was removed and no write was announced.
  EXPECT_TRUE(index->engine().Contains("a"));
  EXPECT_EQ(index->change_count(), changes);
  EXPECT_TRUE(persistence_.written.empty());
}

TEST_F(RegistryTest, AddRejectsOversizedBatch) {
  auto index = Create("docs", 1, "euclidean");
  std::vector<NewItem> items(kMaxBatchItems + 1, Item("x", {1}));
  auto result = registry_.Add(index, items);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(), "items: at most 100000 per batch");
  EXPECT_EQ(index->size(), 0u);
}

TEST(Durability, ParseAndName) {
  auto parsed = ParseDurability("");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, Durability::kDefault);
  parsed = ParseDurability("fsync");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, Durability::kFsync);
  // The API's "none" means: written to the OS, not fsynced.
  parsed = ParseDurability("none");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, Durability::kWritten);
  parsed = ParseDurability("object_store");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, Durability::kObjectStore);
  for (std::string_view bad : {"written", "FSYNC", "always", " fsync", "bucket"}) {
    auto result = ParseDurability(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(result.status().message(),
              "durability must be \"object_store\", \"fsync\" or \"none\", got \"" +
                  std::string(bad) + "\"");
  }
  EXPECT_EQ(DurabilityName(Durability::kObjectStore), "object_store");
  EXPECT_EQ(DurabilityName(Durability::kFsync), "fsync");
  EXPECT_EQ(DurabilityName(Durability::kWritten), "written");
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
  auto added = registry_.Add(index, items);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  ASSERT_EQ(added->length, n);

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
  EXPECT_EQ(persistence_.created, std::vector<std::string>{"shared"});
}

}  // namespace
}  // namespace vectord::service
