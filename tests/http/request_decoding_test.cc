#include "http/request_decoding.h"

#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>

namespace vectord::http {
namespace {

bool StartsWith(const std::string& text, std::string_view prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// The decoders take a mutable body; these wrap a literal.
Result<service::CreateSpec> Create(std::string body) { return DecodeCreate(body); }
Result<std::vector<service::NewItem>> Add(std::string body) { return DecodeAdd(body); }
Result<service::SearchSpec> Search(std::string body) { return DecodeSearch(body); }

template <typename T>
void ExpectDecodeError(const Result<T>& result, std::string_view expected_part = {}) {
  ASSERT_FALSE(result.ok()) << "expected a decode error";
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  const std::string& message = result.status().message();
  EXPECT_TRUE(StartsWith(message, "decode body: ")) << message;
  if (!expected_part.empty()) {
    EXPECT_TRUE(Contains(message, expected_part)) << message << " lacks " << expected_part;
  }
}

std::string FloatText(float f) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), f);
  EXPECT_EQ(ec, std::errc());
  return std::string(buffer, end);
}

// ---------------------------------------------------------------------------
// DecodeCreate

TEST(DecodeCreate, FullBody) {
  auto spec =
      Create(R"({"name":"docs","dimension":768,"m":32,"ef_search":100,"ef_construction":300,)"
             R"("distance":"euclidean"})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name, "docs");
  EXPECT_EQ(spec->dimension, 768);
  EXPECT_EQ(spec->m, 32);
  EXPECT_EQ(spec->ef_search, 100);
  EXPECT_EQ(spec->ef_construction, 300);
  EXPECT_EQ(spec->distance, "euclidean");
}

TEST(DecodeCreate, AbsentFieldsTakeZeroValues) {
  auto spec = Create(R"({"name":"docs","dimension":3})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name, "docs");
  EXPECT_EQ(spec->dimension, 3);
  EXPECT_EQ(spec->m, 0);
  EXPECT_EQ(spec->ef_search, 0);
  EXPECT_EQ(spec->ef_construction, 0);
  EXPECT_EQ(spec->distance, "");

  auto empty = Create("{}");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(empty->name, "");
  EXPECT_EQ(empty->dimension, 0);
}

TEST(DecodeCreate, NullFieldsTakeZeroValues) {
  auto spec =
      Create(R"({"name":null,"dimension":null,"m":null,"ef_search":null,"ef_construction":null,)"
             R"("distance":null})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name, "");
  EXPECT_EQ(spec->dimension, 0);
  EXPECT_EQ(spec->m, 0);
  EXPECT_EQ(spec->ef_search, 0);
  EXPECT_EQ(spec->ef_construction, 0);
  EXPECT_EQ(spec->distance, "");
}

TEST(DecodeCreate, UnknownFieldsAreIgnored) {
  auto spec = Create(
      R"({"future":{"a":[1,2,{"b":null}]},"name":"docs","x":"y","dimension":3,"flag":true})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name, "docs");
  EXPECT_EQ(spec->dimension, 3);
}

TEST(DecodeCreate, WhitespaceAroundTokensIsFine) {
  auto spec = Create(" \n\t{ \"name\" : \"docs\" ,\r\n \"dimension\" : 3 } \n");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->dimension, 3);
}

TEST(DecodeCreate, NegativeNumbersDecodeAndAreLeftToValidation) {
  auto spec = Create(R"({"name":"docs","dimension":-3,"m":-1})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->dimension, -3);
  EXPECT_EQ(spec->m, -1);
}

TEST(DecodeCreate, WrongTypesNameTheField) {
  ExpectDecodeError(Create(R"({"name":"docs","dimension":"3"})"), "dimension");
  ExpectDecodeError(Create(R"({"name":"docs","dimension":3.5})"), "dimension");
  ExpectDecodeError(Create(R"({"name":"docs","dimension":true})"), "dimension");
  ExpectDecodeError(Create(R"({"name":"docs","dimension":[3]})"), "dimension");
  ExpectDecodeError(Create(R"({"name":"docs","dimension":1e40})"), "dimension");
  ExpectDecodeError(Create(R"({"name":"docs","dimension":18446744073709551615})"), "dimension");
  ExpectDecodeError(Create(R"({"name":5,"dimension":3})"), "name");
  ExpectDecodeError(Create(R"({"name":["docs"],"dimension":3})"), "name");
  ExpectDecodeError(Create(R"({"name":"docs","dimension":3,"m":"16"})"), "m");
  ExpectDecodeError(Create(R"({"name":"docs","dimension":3,"ef_search":{}})"), "ef_search");
  ExpectDecodeError(Create(R"({"name":"docs","dimension":3,"ef_construction":2.5})"),
                    "ef_construction");
  ExpectDecodeError(Create(R"({"name":"docs","dimension":3,"distance":1})"), "distance");
}

TEST(DecodeCreate, MalformedJsonIsADecodeError) {
  for (const std::string body :
       {"{", "{\"name\":", "{\"name\":\"docs\",}", "{name:\"docs\"}", "{'name':'docs'}", "not json",
        "{\"name\":\"docs\" \"dimension\":3}", "{\"dimension\":03}", "{\"dimension\":NaN}",
        "{\"name\":\"unterminated}", "\x01"}) {
    SCOPED_TRACE(body);
    ExpectDecodeError(Create(body));
  }
}

TEST(DecodeCreate, EmptyBodyIsEof) {
  auto spec = Create("");
  ExpectDecodeError(spec);
  // Go's json.Decoder says "EOF" for an empty body.
  EXPECT_EQ(spec.status().message(), "decode body: EOF");
  ExpectDecodeError(Create("   \n  "));
}

TEST(DecodeCreate, TopLevelMustBeAnObject) {
  for (const std::string body :
       {"[]", R"([{"name":"docs","dimension":3}])", "\"docs\"", "3", "true", "null"}) {
    SCOPED_TRACE(body);
    ExpectDecodeError(Create(body));
  }
}

// ---------------------------------------------------------------------------
// DecodeAdd

TEST(DecodeAdd, ValidBody) {
  auto items = Add(R"({"items":[{"id":"a","vector":[1,2.5,-3e2],"metadata":{"k":"v"}},)"
                   R"({"id":"b","vector":[0,0,0]}]})");
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 2u);
  EXPECT_EQ((*items)[0].id, "a");
  EXPECT_EQ((*items)[0].vector, (std::vector<float>{1.0f, 2.5f, -300.0f}));
  ASSERT_TRUE((*items)[0].metadata.has_value());
  EXPECT_EQ(*(*items)[0].metadata, R"({"k":"v"})");
  EXPECT_EQ((*items)[1].id, "b");
  EXPECT_EQ((*items)[1].vector, (std::vector<float>{0, 0, 0}));
  EXPECT_FALSE((*items)[1].metadata.has_value());
}

TEST(DecodeAdd, AbsentOrNullItemsGiveAnEmptyBatch) {
  for (const std::string body :
       {"{}", R"({"items":null})", R"({"items":[]})", R"({"other":[{"id":"x"}]})"}) {
    SCOPED_TRACE(body);
    auto items = Add(body);
    ASSERT_TRUE(items.ok()) << items.status().ToString();
    EXPECT_TRUE(items->empty());
  }
}

TEST(DecodeAdd, AbsentAndNullItemFieldsTakeZeroValues) {
  auto items = Add(R"({"items":[{},{"id":null,"vector":null},{"unknown":1,"id":"c"}]})");
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 3u);
  EXPECT_EQ((*items)[0].id, "");
  EXPECT_TRUE((*items)[0].vector.empty());
  EXPECT_FALSE((*items)[0].metadata.has_value());
  EXPECT_EQ((*items)[1].id, "");
  EXPECT_TRUE((*items)[1].vector.empty());
  EXPECT_EQ((*items)[2].id, "c");
}

TEST(DecodeAdd, MetadataAbsentNullOrValue) {
  auto items = Add(R"({"items":[)"
                   R"({"id":"absent","vector":[1]},)"
                   R"({"id":"null","vector":[1],"metadata":null},)"
                   R"({"id":"object","vector":[1],"metadata":{"b":1, "a":[1,2]}},)"
                   R"({"id":"string","vector":[1],"metadata":"text"},)"
                   R"({"id":"number","vector":[1],"metadata":42},)"
                   R"({"id":"array","vector":[1],"metadata":[true,false,null]},)"
                   R"({"id":"bool","vector":[1],"metadata":false})"
                   R"(]})");
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 7u);
  EXPECT_FALSE((*items)[0].metadata.has_value());
  ASSERT_TRUE((*items)[1].metadata.has_value());
  EXPECT_EQ(*(*items)[1].metadata, "null");
  ASSERT_TRUE((*items)[2].metadata.has_value());
  EXPECT_EQ(*(*items)[2].metadata, R"({"b":1,"a":[1,2]})");
  EXPECT_EQ((*items)[3].metadata.value_or("<none>"), R"("text")");
  EXPECT_EQ((*items)[4].metadata.value_or("<none>"), "42");
  EXPECT_EQ((*items)[5].metadata.value_or("<none>"), "[true,false,null]");
  EXPECT_EQ((*items)[6].metadata.value_or("<none>"), "false");
}

TEST(DecodeAdd, MetadataIsMinifiedWithKeyOrderKept) {
  auto items =
      Add("{\"items\":[{\"id\":\"a\",\"vector\":[1],\"metadata\":\n"
          "  { \"z\" : 1 ,\n \"a\" : { \"y\" : [ 1 , 2 , { } , [ ] ] , \"b\" : \"x y\" } ,"
          " \"m\" : null }\n}]}");
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].metadata.value_or("<none>"),
            R"({"z":1,"a":{"y":[1,2,{},[]],"b":"x y"},"m":null})");
}

TEST(DecodeAdd, MetadataStringsKeepTheirValue) {
  auto items = Add(
      R"({"items":[{"id":"a","vector":[1],"metadata":{"q":"say \"hi\"\\ \n\t","u":"\u00e9\u4e2d"}}]})");
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 1u);
  // Equivalent JSON: escapes may be re-spelled, the decoded values are the same.
  const std::string& text = (*items)[0].metadata.value();
  std::string reparse = R"({"items":[{"id":"a","vector":[1],"metadata":)" + text + "}]}";
  auto again = Add(reparse);
  ASSERT_TRUE(again.ok()) << again.status().ToString() << " for " << text;
  EXPECT_EQ((*again)[0].metadata.value(), text);  // minified form is a fixed point
  EXPECT_TRUE(Contains(text, "\xc3\xa9\xe4\xb8\xad") || Contains(text, "\\u00e9")) << text;
}

TEST(DecodeAdd, UnknownFieldsAreIgnored) {
  auto items = Add(
      R"({"version":2,"items":[{"id":"a","score":0.5,"vector":[1,2],"tags":["x"]}],"extra":{}})");
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].id, "a");
  EXPECT_EQ((*items)[0].vector, (std::vector<float>{1, 2}));
}

TEST(DecodeAdd, WrongTypesNameTheFieldAndItem) {
  ExpectDecodeError(Add(R"({"items":{"id":"a"}})"), "items");
  ExpectDecodeError(Add(R"({"items":"a"})"), "items");
  ExpectDecodeError(Add(R"({"items":[{"id":"a","vector":[1]},3]})"), "items[1]");
  ExpectDecodeError(Add(R"({"items":[{"id":"a","vector":[1]},[]]})"), "items[1]");
  ExpectDecodeError(Add(R"({"items":[{"id":7,"vector":[1]}]})"), "items[0].id");
  ExpectDecodeError(Add(R"({"items":[{"id":"a","vector":[1]},{"id":true,"vector":[1]}]})"),
                    "items[1].id");
  ExpectDecodeError(Add(R"({"items":[{"id":"a","vector":"1,2"}]})"), "items[0].vector");
  ExpectDecodeError(Add(R"({"items":[{"id":"a","vector":{"0":1}}]})"), "items[0].vector");
  ExpectDecodeError(Add(R"({"items":[{"id":"a","vector":[1,"2",3]}]})"), "items[0].vector[1]");
  ExpectDecodeError(Add(R"({"items":[{"id":"a","vector":[1,null]}]})"), "items[0].vector[1]");
  ExpectDecodeError(Add(R"({"items":[{"id":"a","vector":[[1]]}]})"), "items[0].vector[0]");
  ExpectDecodeError(Add(R"({"items":[{"id":"a","vector":[true]}]})"), "items[0].vector[0]");
}

TEST(DecodeAdd, MalformedJsonIsADecodeError) {
  ExpectDecodeError(Add(""));
  ExpectDecodeError(Add("{\"items\":[{\"id\":\"a\",\"vector\":[1,2,]}]}"));
  ExpectDecodeError(Add("{\"items\":[{\"id\":\"a\",\"vector\":[1,2]}]"));
  ExpectDecodeError(Add("{\"items\":[{\"id\":\"a\",\"metadata\":{\"x\":}}]}"));
  ExpectDecodeError(Add("[{\"id\":\"a\",\"vector\":[1]}]"));
}

TEST(DecodeAdd, LargeIntegersInVectorsAreNumbers) {
  auto items = Add(R"({"items":[{"id":"a","vector":[16777217,-9007199254740993,1e2,0.0,-0]}]})");
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ((*items)[0].vector.size(), 5u);
  EXPECT_EQ((*items)[0].vector[0], 16777216.0f);
  EXPECT_EQ((*items)[0].vector[2], 100.0f);
  EXPECT_EQ((*items)[0].vector[3], 0.0f);
}

// 1e999 does not fit a float; it decodes to +inf and the service's
// validation refuses it with the item's index.
// A number beyond double range is refused at decode, as Go's decoder did.
TEST(DecodeAdd, NumberBeyondDoubleRangeIsADecodeError) {
  auto items = Add(R"({"items":[{"id":"a","vector":[1,1e999,-1e999]}]})");
  ASSERT_FALSE(items.ok());
  EXPECT_EQ(items.status().message().rfind("decode body: ", 0), 0u) << items.status().message();
}

// Finite as a double, too large for a float: +inf, refused later.
TEST(DecodeAdd, DoubleBeyondFloatRangeDecodesToInfinity) {
  auto items = Add(R"({"items":[{"id":"a","vector":[1e39,-1e39,1e-50]}]})");
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ((*items)[0].vector.size(), 3u);
  EXPECT_EQ((*items)[0].vector[0], std::numeric_limits<float>::infinity());
  EXPECT_EQ((*items)[0].vector[1], -std::numeric_limits<float>::infinity());
  EXPECT_EQ((*items)[0].vector[2], 0.0f);
}

std::string Nested(size_t depth, std::string_view leaf = "1") {
  std::string out;
  for (size_t i = 0; i < depth; ++i) out += (i % 2 == 0) ? "[" : "{\"k\":";
  out += leaf;
  for (size_t i = depth; i-- > 0;) out += (i % 2 == 0) ? "]" : "}";
  return out;
}

TEST(DecodeAdd, DeepNestingIsRefusedNotACrash) {
  std::string body = R"({"items":[{"id":"a","vector":[1],"metadata":)" + Nested(200) + "}]}";
  ExpectDecodeError(Add(body));
  // Far deeper still: no stack overflow either.
  std::string deeper = R"({"items":[{"id":"a","vector":[1],"metadata":)" + Nested(100000) + "}]}";
  ExpectDecodeError(Add(deeper));
  std::string arrays = R"({"items":[{"id":"a","vector":[1],"metadata":)" + std::string(200, '[') +
                       std::string(200, ']') + "}]}";
  ExpectDecodeError(Add(arrays));
}

TEST(DecodeAdd, ModerateNestingIsAccepted) {
  std::string inner = Nested(100);
  std::string body = R"({"items":[{"id":"a","vector":[1],"metadata":)" + inner + "}]}";
  auto items = Add(body);
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  EXPECT_EQ((*items)[0].metadata.value_or("<none>"), inner);
}

TEST(DecodeAdd, ParserIsReusableAfterErrorsAndLargeDocuments) {
  // A large body first (grows the thread's parser), then an error, then a
  // small body: each must decode on its own merits.
  std::string big = R"({"items":[)";
  for (int i = 0; i < 20000; ++i) {
    if (i > 0) big += ',';
    big += R"({"id":"id)" + std::to_string(i) + R"(","vector":[1,2,3,4],"metadata":{"i":)" +
           std::to_string(i) + "}}";
  }
  big += "]}";
  auto items = Add(big);
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 20000u);
  EXPECT_EQ((*items)[19999].id, "id19999");
  EXPECT_EQ((*items)[19999].metadata.value_or(""), R"({"i":19999})");
  ExpectDecodeError(Add("{\"items\":[}"));
  auto small = Add(R"({"items":[{"id":"z","vector":[9]}]})");
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  EXPECT_EQ((*small)[0].id, "z");
}

// ---------------------------------------------------------------------------
// DecodeIds (bulk delete)

Result<std::vector<std::string>> Ids(std::string body) { return DecodeIds(body); }

TEST(DecodeIds, ValidBody) {
  auto ids = Ids(R"({"ids":["a","b c","","\u00e9"],"other":1})");
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  EXPECT_EQ(*ids, (std::vector<std::string>{"a", "b c", "", "\xc3\xa9"}));
}

TEST(DecodeIds, AbsentOrNullGiveEmpty) {
  for (const std::string body : {"{}", R"({"ids":null})", R"({"ids":[]})"}) {
    SCOPED_TRACE(body);
    auto ids = Ids(body);
    ASSERT_TRUE(ids.ok()) << ids.status().ToString();
    EXPECT_TRUE(ids->empty());
  }
}

TEST(DecodeIds, WrongTypesAndMalformed) {
  ExpectDecodeError(Ids(R"({"ids":"a"})"), "ids");
  ExpectDecodeError(Ids(R"({"ids":{"a":1}})"), "ids");
  ExpectDecodeError(Ids(R"({"ids":["a",2]})"), "ids[1]");
  ExpectDecodeError(Ids(R"({"ids":["a",null]})"), "ids[1]");
  ExpectDecodeError(Ids(R"({"ids":[["a"]]})"), "ids[0]");
  ExpectDecodeError(Ids(""));
  ExpectDecodeError(Ids("{\"ids\":[\"a\""));
  ExpectDecodeError(Ids(R"(["a"])"));
}

// ---------------------------------------------------------------------------
// DecodeSearch

TEST(DecodeSearch, ValidBody) {
  auto spec = Search(R"({"vector":[0.5,-1,2],"k":5})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->vector, (std::vector<float>{0.5f, -1.0f, 2.0f}));
  EXPECT_EQ(spec->k, 5);
  EXPECT_EQ(spec->ef, 0u);
  EXPECT_FALSE(spec->include_vector);
  EXPECT_TRUE(spec->include_metadata);
}

TEST(DecodeSearch, AbsentAndNullFieldsTakeZeroValues) {
  for (const std::string body :
       {"{}", R"({"vector":null,"k":null})", R"({"unknown":[1,2],"k":null})"}) {
    SCOPED_TRACE(body);
    auto spec = Search(body);
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    EXPECT_TRUE(spec->vector.empty());
    EXPECT_EQ(spec->k, 0);
  }
}

TEST(DecodeSearch, KIsPassedThroughForTheServiceToClamp) {
  auto negative = Search(R"({"vector":[1],"k":-7})");
  ASSERT_TRUE(negative.ok()) << negative.status().ToString();
  EXPECT_EQ(negative->k, -7);
  auto big = Search(R"({"vector":[1],"k":5000000})");
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->k, 5000000);
}

TEST(DecodeSearch, WrongTypesNameTheField) {
  ExpectDecodeError(Search(R"({"vector":[1,2],"k":2.5})"), "k");
  ExpectDecodeError(Search(R"({"vector":[1,2],"k":"2"})"), "k");
  ExpectDecodeError(Search(R"({"vector":[1,2],"k":[2]})"), "k");
  ExpectDecodeError(Search(R"({"vector":"1,2"})"), "vector");
  ExpectDecodeError(Search(R"({"vector":[1,"2"]})"), "vector[1]");
  ExpectDecodeError(Search(R"({"vector":[1,{}]})"), "vector[1]");
  ExpectDecodeError(Search(R"({"vector":{"x":1}})"), "vector");
}

TEST(DecodeSearch, MalformedOrNonObjectBodies) {
  ExpectDecodeError(Search(""));
  ExpectDecodeError(Search("{\"vector\":[1,2]"));
  ExpectDecodeError(Search("[1,2,3]"));
  ExpectDecodeError(Search("{\"vector\":[1 2]}"));
}

TEST(DecodeSearch, ExtensionFields) {
  auto spec = Search(R"({"vector":[1],"ef":200,"include_vector":true,"include_metadata":false})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->ef, 200u);
  EXPECT_TRUE(spec->include_vector);
  EXPECT_FALSE(spec->include_metadata);
  EXPECT_FALSE(Search(R"({"vector":[1],"ef":-1})").ok());
  EXPECT_FALSE(Search(R"({"vector":[1],"ef":10001})").ok());
  ExpectDecodeError(Search(R"({"vector":[1],"include_vector":"yes"})"), "include_vector");
}

// Every float32, printed shortest with std::to_chars (as vectord's own JSON
// writer and most clients do), decodes to the bit-identical float.
TEST(DecodeSearch, FloatsRoundTripBitExactly) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<uint32_t> bits;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  constexpr size_t kBatches = 200;
  constexpr size_t kPerBatch = 1000;
  size_t checked = 0;
  for (size_t b = 0; b < kBatches; ++b) {
    std::vector<float> values;
    values.reserve(kPerBatch);
    while (values.size() < kPerBatch) {
      float f;
      if (b % 2 == 0) {
        f = std::bit_cast<float>(bits(rng));  // any finite bit pattern, subnormals included
        if (!std::isfinite(f)) continue;
      } else {
        f = normal(rng);  // embedding-like values
      }
      values.push_back(f);
    }
    if (b == 0) {
      // Edges.
      values[0] = std::numeric_limits<float>::max();
      values[1] = std::numeric_limits<float>::lowest();
      values[2] = std::numeric_limits<float>::min();
      values[3] = std::numeric_limits<float>::denorm_min();
      values[4] = -std::numeric_limits<float>::denorm_min();
      values[5] = 1e-30f;  // -0.0f: see NegativeZeroKeepsItsSign
      values[6] = 0.1f;
      values[7] = 1.0f / 3.0f;
      values[8] = 16777215.0f;
      values[9] = std::nextafter(1.0f, 2.0f);
    }
    std::string body = "{\"vector\":[";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) body += ',';
      body += FloatText(values[i]);
    }
    body += "]}";
    auto spec = Search(body);
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    ASSERT_EQ(spec->vector.size(), values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      uint32_t want = std::bit_cast<uint32_t>(values[i]);
      uint32_t got = std::bit_cast<uint32_t>(spec->vector[i]);
      EXPECT_EQ(got, want) << "text " << FloatText(values[i]) << " decoded to "
                           << FloatText(spec->vector[i]);
      ++checked;
    }
  }
  EXPECT_EQ(checked, kBatches * kPerBatch);
}

// std::to_chars spells -0.0f "-0" (and so does vectord's JsonWriter); Go's
// ParseFloat keeps the sign.
// Decimal texts that are not the shortest form (more digits than a float
// holds) still decode to the nearest float, as Go's ParseFloat(s, 32) does.
TEST(DecodeSearch, LongDecimalsRoundToNearestFloat) {
  std::mt19937 rng(777);
  std::uniform_real_distribution<double> uniform(-10.0, 10.0);
  for (int i = 0; i < 20000; ++i) {
    double d = uniform(rng);
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), d);
    ASSERT_EQ(ec, std::errc());
    std::string text(buffer, end);
    float want;
    auto [fend, fec] = std::from_chars(text.data(), text.data() + text.size(), want);
    ASSERT_EQ(fec, std::errc());
    auto spec = Search("{\"vector\":[" + text + "]}");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    ASSERT_EQ(spec->vector.size(), 1u);
    EXPECT_EQ(std::bit_cast<uint32_t>(spec->vector[0]), std::bit_cast<uint32_t>(want))
        << text << " decoded to " << FloatText(spec->vector[0]) << ", nearest float is "
        << FloatText(want);
  }
}

// Not tested: a decimal text that sits just above the midpoint of two floats
// and has more digits than a double holds is rounded twice (text -> double
// -> float) and can land 1 ulp low, where Go's ParseFloat(s, 32) is exact;
// and "-0" decodes as +0. Shortest-form texts, which every float printer
// produces, round-trip exactly (FloatsRoundTripBitExactly).

// Go's encoding/json, which the seed used, differs from a plain JSON object
// lookup in two ways clients can see.
TEST(DecodeGoCompat, DuplicateKeyLastOneWins) {
  auto spec = Create(R"({"name":"first","dimension":2,"name":"last","dimension":3})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name, "last");
  EXPECT_EQ(spec->dimension, 3);
}

TEST(DecodeGoCompat, FieldNamesMatchCaseInsensitively) {
  // A Go client marshalling a struct without json tags sends "Name".
  auto spec = Create(R"({"Name":"docs","Dimension":3,"DISTANCE":"euclidean"})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name, "docs");
  EXPECT_EQ(spec->dimension, 3);
  EXPECT_EQ(spec->distance, "euclidean");
  auto items = Add(R"({"Items":[{"ID":"a","Vector":[1,2],"Metadata":{"x":1}}]})");
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].id, "a");
  EXPECT_EQ((*items)[0].vector.size(), 2u);
}

}  // namespace
}  // namespace vectord::http
