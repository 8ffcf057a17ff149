#include "vectorctl/vector_source.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <random>

#include "vectorctl/byte_building.h"

namespace vectord::vectorctl {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// Building input files byte by byte.

using vectord::vectorctl::testing::Append;
using vectord::vectorctl::testing::AppendBigEndian32;

using Rows = std::vector<std::vector<float>>;

// Row i, component j: distinct, exact in float, negative and fractional.
Rows MakeRows(size_t n, size_t d) {
  Rows rows(n, std::vector<float>(d));
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < d; ++j) {
      rows[i][j] = static_cast<float>(i) * 0.5f - static_cast<float>(j) * 0.25f + 1e-3f;
    }
  }
  return rows;
}

std::string Fvecs(const Rows& rows) {
  std::string bytes;
  for (const auto& row : rows) {
    Append<int32_t>(bytes, static_cast<int32_t>(row.size()));
    for (float x : row) Append<float>(bytes, x);
  }
  return bytes;
}

// A complete .npy file: the header padded with spaces so that the data
// starts at a multiple of 64, as numpy writes it.
std::string Npy(int major, const std::string& dict, const std::string& data) {
  std::string bytes = "\x93NUMPY";
  bytes.push_back(static_cast<char>(major));
  bytes.push_back(0);
  const size_t prelude = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((prelude + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  if (major == 1) {
    Append<uint16_t>(bytes, static_cast<uint16_t>(header.size()));
  } else {
    Append<uint32_t>(bytes, static_cast<uint32_t>(header.size()));
  }
  return bytes + header + data;
}

std::string NpyDict(const std::string& descr, size_t n, size_t d) {
  return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + std::to_string(n) +
         ", " + std::to_string(d) + "), }";
}

std::string F4Data(const Rows& rows) {
  std::string bytes;
  for (const auto& row : rows) {
    for (float x : row) Append<float>(bytes, x);
  }
  return bytes;
}

std::string F8Data(const Rows& rows) {
  std::string bytes;
  for (const auto& row : rows) {
    for (float x : row) Append<double>(bytes, static_cast<double>(x));
  }
  return bytes;
}

std::string Idx(uint32_t count, uint32_t height, uint32_t width, const std::string& pixels) {
  std::string bytes("\0\0\x08\x03", 4);
  AppendBigEndian32(bytes, count);
  AppendBigEndian32(bytes, height);
  AppendBigEndian32(bytes, width);
  return bytes + pixels;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---------------------------------------------------------------------------

class VectorSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    dir_ = fs::temp_directory_path() /
           ("vector_source_test-" + std::to_string(::getpid()) + "-" + std::to_string(random()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  std::string WriteGz(const std::string& name, const std::string& bytes) {
    const std::string path = (dir_ / name).string();
    gzFile file = gzopen(path.c_str(), "wb");
    EXPECT_NE(file, nullptr);
    if (!bytes.empty()) {
      EXPECT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
                static_cast<int>(bytes.size()));
    }
    EXPECT_EQ(gzclose(file), Z_OK);
    return path;
  }

  static std::unique_ptr<VectorSource> OpenOk(const std::string& path, SourceFormat format,
                                              SourceOptions options = {}) {
    auto source = VectorSource::Open(path, format, std::move(options));
    EXPECT_TRUE(source.ok()) << source.status().ToString();
    return source.ok() ? std::move(source).value() : nullptr;
  }

  // Every item of `source`, read `batch` at a time; the first error instead.
  static Result<std::vector<SourceItem>> ReadAll(VectorSource& source, size_t batch,
                                                 std::vector<size_t>* batch_sizes = nullptr) {
    std::vector<SourceItem> all, out;
    for (;;) {
      Status status = source.Next(batch, out);
      if (!status.ok()) return status;
      if (out.empty()) return all;
      EXPECT_LE(out.size(), batch);
      if (batch_sizes != nullptr) batch_sizes->push_back(out.size());
      for (auto& item : out) all.push_back(std::move(item));
    }
  }

  // The status of reading all of `path`: the failure of Open or of a Next.
  static Status ReadStatus(const std::string& path, SourceFormat format, size_t batch = 100) {
    auto source = VectorSource::Open(path, format);
    if (!source.ok()) return source.status();
    auto items = ReadAll(**source, batch);
    return items.ok() ? Status::Ok() : items.status();
  }

  // Reading `path` fails, and the message names the file and each of `parts`.
  static void ExpectError(const std::string& path, SourceFormat format,
                          std::initializer_list<std::string> parts) {
    Status status = ReadStatus(path, format);
    ASSERT_FALSE(status.ok()) << path;
    EXPECT_TRUE(Contains(status.message(), fs::path(path).filename().string())) << status.message();
    for (const auto& part : parts) {
      EXPECT_TRUE(Contains(status.message(), part)) << status.message() << " lacks " << part;
    }
  }

  static void ExpectRows(const std::vector<SourceItem>& items, const Rows& rows,
                         uint64_t first_row = 0, const std::string& prefix = "") {
    ASSERT_EQ(items.size(), rows.size());
    for (size_t i = 0; i < items.size(); ++i) {
      EXPECT_EQ(items[i].row, first_row + i);
      EXPECT_EQ(items[i].id, prefix + std::to_string(first_row + i));
      EXPECT_EQ(items[i].vector, rows[i]) << "row " << first_row + i;
      EXPECT_EQ(items[i].metadata_json, "");
    }
  }

  fs::path dir_;
};

// ---------------------------------------------------------------------------
// Format detection

TEST_F(VectorSourceTest, DetectFormatTable) {
  const std::pair<const char*, SourceFormat> table[] = {
      {"base.fvecs", SourceFormat::kFvecs},
      {"/data/sift/sift_base.fvecs.gz", SourceFormat::kFvecs},
      {"BIGANN.BVECS", SourceFormat::kBvecs},
      {"gt.ivecs", SourceFormat::kIvecs},
      {"gt.ivecs.gz", SourceFormat::kIvecs},
      {"emb.npy", SourceFormat::kNpy},
      {"emb.npy.GZ", SourceFormat::kNpy},
      {"items.jsonl", SourceFormat::kJsonLines},
      {"items.ndjson.gz", SourceFormat::kJsonLines},
      {"images.idx3-ubyte", SourceFormat::kIdx},
      {"/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", SourceFormat::kIdx},
  };
  for (const auto& [path, format] : table) {
    auto detected = DetectFormat(path, "");
    ASSERT_TRUE(detected.ok()) << path << ": " << detected.status().ToString();
    EXPECT_EQ(*detected, format) << path;
  }
  // An explicit format wins over the name.
  auto forced = DetectFormat("vectors.bin", "fvecs");
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(*forced, SourceFormat::kFvecs);
  auto over_name = DetectFormat("base.fvecs", "npy");
  ASSERT_TRUE(over_name.ok());
  EXPECT_EQ(*over_name, SourceFormat::kNpy);
  EXPECT_EQ(*DetectFormat("x", "ndjson"), SourceFormat::kJsonLines);

  for (const char* path : {"vectors.csv", "vectors.json", "train-labels-idx1-ubyte.gz", "fvecs",
                           "base.fvecs.zip", ""}) {
    auto unknown = DetectFormat(path, "");
    ASSERT_FALSE(unknown.ok()) << path;
    EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(unknown.status().message(), path));
    for (const char* name : {"fvecs", "bvecs", "ivecs", "npy", "jsonl", "idx"}) {
      EXPECT_TRUE(Contains(unknown.status().message(), name)) << unknown.status().message();
    }
  }
  auto bad_explicit = DetectFormat("base.fvecs", "csv");
  ASSERT_FALSE(bad_explicit.ok());
  EXPECT_TRUE(Contains(bad_explicit.status().message(), "csv"));
  EXPECT_TRUE(Contains(bad_explicit.status().message(), "base.fvecs"));
  EXPECT_TRUE(Contains(bad_explicit.status().message(), "jsonl"));
}

TEST_F(VectorSourceTest, FormatNameIsWhatDetectFormatTakes) {
  for (SourceFormat format : {SourceFormat::kFvecs, SourceFormat::kBvecs, SourceFormat::kIvecs,
                              SourceFormat::kNpy, SourceFormat::kJsonLines, SourceFormat::kIdx}) {
    auto detected = DetectFormat("file", FormatName(format));
    ASSERT_TRUE(detected.ok()) << FormatName(format);
    EXPECT_EQ(*detected, format);
  }
}

// ---------------------------------------------------------------------------
// *vecs

TEST_F(VectorSourceTest, FvecsRoundTripsPlainAndGzip) {
  const Rows rows = MakeRows(10, 3);
  for (const std::string& path :
       {Write("base.fvecs", Fvecs(rows)), WriteGz("base.fvecs.gz", Fvecs(rows))}) {
    SourceOptions options;
    options.id_prefix = "v-";
    auto source = OpenOk(path, SourceFormat::kFvecs, options);
    ASSERT_NE(source, nullptr);
    EXPECT_EQ(source->dimension(), 3u);
    if (path.ends_with(".gz")) {
      EXPECT_EQ(source->total_rows(), std::nullopt);
    } else {
      EXPECT_EQ(source->total_rows(), 10u);
    }
    EXPECT_EQ(source->file_bytes(), fs::file_size(path));
    auto items = ReadAll(*source, 4);
    ASSERT_TRUE(items.ok()) << items.status().ToString();
    ExpectRows(*items, rows, 0, "v-");
    EXPECT_GT(source->bytes_read(), 0u);
    EXPECT_LE(source->bytes_read(), source->file_bytes());
    if (!path.ends_with(".gz")) {
      EXPECT_EQ(source->bytes_read(), source->file_bytes());
    }
  }
}

TEST_F(VectorSourceTest, BvecsAndIvecsConvertToFloat) {
  std::string bvecs, ivecs;
  Rows expected_b, expected_i;
  for (int i = 0; i < 5; ++i) {
    Append<int32_t>(bvecs, 4);
    Append<int32_t>(ivecs, 2);
    std::vector<float> b, v;
    for (int j = 0; j < 4; ++j) {
      const auto byte = static_cast<uint8_t>(i * 60 + j);  // up to 243
      bvecs.push_back(static_cast<char>(byte));
      b.push_back(byte);
    }
    for (int32_t x : {i * 1000 - 2000, -i}) {
      Append<int32_t>(ivecs, x);
      v.push_back(static_cast<float>(x));
    }
    expected_b.push_back(b);
    expected_i.push_back(v);
  }
  for (const std::string& path : {Write("b.bvecs", bvecs), WriteGz("b.bvecs.gz", bvecs)}) {
    auto source = OpenOk(path, SourceFormat::kBvecs);
    ASSERT_NE(source, nullptr);
    EXPECT_EQ(source->dimension(), 4u);
    auto items = ReadAll(*source, 2);
    ASSERT_TRUE(items.ok()) << items.status().ToString();
    ExpectRows(*items, expected_b);
  }
  auto source = OpenOk(Write("gt.ivecs", ivecs), SourceFormat::kIvecs);
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->dimension(), 2u);
  EXPECT_EQ(source->total_rows(), 5u);
  auto items = ReadAll(*source, 100);
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ExpectRows(*items, expected_i);
}

TEST_F(VectorSourceTest, BatchesCoverTheFileWhateverTheirSize) {
  const Rows rows = MakeRows(20, 5);
  for (const std::string& path :
       {Write("base.fvecs", Fvecs(rows)), WriteGz("base.fvecs.gz", Fvecs(rows))}) {
    for (size_t batch :
         {size_t{1}, size_t{7}, size_t{20}, size_t{1000}, std::numeric_limits<size_t>::max()}) {
      auto source = OpenOk(path, SourceFormat::kFvecs);
      ASSERT_NE(source, nullptr);
      std::vector<size_t> sizes;
      auto items = ReadAll(*source, batch, &sizes);
      ASSERT_TRUE(items.ok()) << items.status().ToString();
      ExpectRows(*items, rows);
      if (batch == 7) {
        EXPECT_EQ(sizes, (std::vector<size_t>{7, 7, 6}));
      }
      if (batch == 1) {
        EXPECT_EQ(sizes.size(), 20u);
      }
      if (batch >= 20) {
        EXPECT_EQ(sizes, std::vector<size_t>{20});
      }
      // The end stays the end.
      std::vector<SourceItem> out(3);
      EXPECT_TRUE(source->Next(5, out).ok());
      EXPECT_TRUE(out.empty());
    }
  }
}

TEST_F(VectorSourceTest, RowsLargerThanOneReadSpanChunks) {
  // 2.4 MB: several of the reader's 1 MiB chunks, rows cut across them.
  const Rows rows = MakeRows(600, 1001);
  for (const std::string& path :
       {Write("big.fvecs", Fvecs(rows)), WriteGz("big.fvecs.gz", Fvecs(rows))}) {
    for (size_t batch : {size_t{1}, size_t{333}, size_t{100000}}) {
      auto source = OpenOk(path, SourceFormat::kFvecs);
      ASSERT_NE(source, nullptr);
      auto items = ReadAll(*source, batch);
      ASSERT_TRUE(items.ok()) << items.status().ToString();
      ExpectRows(*items, rows);
    }
  }
}

TEST_F(VectorSourceTest, SkipRowsAndMaxRows) {
  const Rows rows = MakeRows(20, 3);
  auto slice = [&](size_t from, size_t to) { return Rows(rows.begin() + from, rows.begin() + to); };
  const std::string npy_data = Npy(1, NpyDict("<f4", 20, 3), F4Data(rows));
  const std::pair<std::string, SourceFormat> files[] = {
      {Write("base.fvecs", Fvecs(rows)), SourceFormat::kFvecs},
      {WriteGz("base.fvecs.gz", Fvecs(rows)), SourceFormat::kFvecs},
      {Write("base.npy", npy_data), SourceFormat::kNpy},
      {WriteGz("base.npy.gz", npy_data), SourceFormat::kNpy},
  };
  for (const auto& [path, format] : files) {
    SCOPED_TRACE(path);
    struct Case {
      uint64_t skip, max;
      size_t from, to;
    };
    for (const Case& c : {Case{3, 4, 3, 7}, Case{0, 5, 0, 5}, Case{15, 0, 15, 20},
                          Case{15, 100, 15, 20}, Case{20, 0, 20, 20}, Case{1000, 0, 20, 20},
                          Case{std::numeric_limits<uint64_t>::max(), 0, 20, 20}}) {
      SourceOptions options;
      options.skip_rows = c.skip;
      options.max_rows = c.max;
      options.id_prefix = "r";
      auto source = OpenOk(path, format, options);
      ASSERT_NE(source, nullptr);
      EXPECT_EQ(source->total_rows().value_or(20), 20u);  // the file's rows, not the slice's
      for (size_t batch : {size_t{1}, size_t{3}}) {
        if (batch == 3) source = OpenOk(path, format, options);
        auto items = ReadAll(*source, batch);
        ASSERT_TRUE(items.ok()) << items.status().ToString();
        ExpectRows(*items, slice(c.from, c.to), c.from, "r");
      }
    }
  }
}

TEST_F(VectorSourceTest, VecsDimensionMismatchNamesBothRows) {
  Rows rows = MakeRows(20, 784);
  rows[17].resize(12);
  ExpectError(Write("base.fvecs", Fvecs(rows)), SourceFormat::kFvecs,
              {"base.fvecs: row 17: dimension 12 differs from 784 in row 0"});
  ExpectError(WriteGz("base.fvecs.gz", Fvecs(rows)), SourceFormat::kFvecs,
              {"row 17: dimension 12 differs from 784 in row 0"});
  // A wider row in the middle: seen as soon as its dimension is.
  rows[17].resize(900);
  ExpectError(Write("wide.fvecs", Fvecs(rows)), SourceFormat::kFvecs,
              {"row 17: dimension 900 differs from 784"});
  // The last row is the odd one (its bytes end before a full row would).
  rows = MakeRows(3, 8);
  rows[2].resize(2);
  ExpectError(Write("last.fvecs", Fvecs(rows)), SourceFormat::kFvecs,
              {"row 2: dimension 2 differs from 8 in row 0"});
}

TEST_F(VectorSourceTest, VecsBadDimensionsAreRefused) {
  for (int32_t d : {0, -3, 16385, std::numeric_limits<int32_t>::max()}) {
    std::string bytes;
    Append<int32_t>(bytes, d);
    Append<float>(bytes, 1.0f);
    ExpectError(Write("bad.fvecs", bytes), SourceFormat::kFvecs,
                {"row 0: dimension " + std::to_string(d) + " is out of range"});
  }
  // Negative in a later row.
  std::string bytes = Fvecs(MakeRows(2, 1));
  Append<int32_t>(bytes, -1);
  ExpectError(Write("neg.ivecs", bytes), SourceFormat::kIvecs,
              {"row 2: dimension -1 differs from 1 in row 0"});
}

TEST_F(VectorSourceTest, VecsTruncatedLastRow) {
  std::string bytes = Fvecs(MakeRows(60000, 2));
  bytes.resize(bytes.size() - 3);
  for (const std::string& path : {Write("base.fvecs", bytes), WriteGz("base.fvecs.gz", bytes)}) {
    ExpectError(path, SourceFormat::kFvecs, {"row 59999: file ends inside the row"});
  }
  // Only part of the first row's dimension.
  ExpectError(Write("stub.bvecs", std::string("\x04\x00", 2)), SourceFormat::kBvecs,
              {"row 0: file ends inside the row"});
}

TEST_F(VectorSourceTest, GoodRowsComeBeforeTheError) {
  Rows rows = MakeRows(10, 4);
  rows[5].resize(3);
  auto source = OpenOk(Write("base.fvecs", Fvecs(rows)), SourceFormat::kFvecs);
  ASSERT_NE(source, nullptr);
  std::vector<SourceItem> out;
  ASSERT_TRUE(source->Next(100, out).ok());
  ExpectRows(out, Rows(rows.begin(), rows.begin() + 5));
  Status error = source->Next(100, out);
  EXPECT_FALSE(error.ok());
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(Contains(error.message(), "row 5")) << error.message();
  // Sticky.
  EXPECT_EQ(source->Next(100, out).message(), error.message());
}

TEST_F(VectorSourceTest, NonFiniteValuesAreRefused) {
  Rows rows = MakeRows(4, 3);
  rows[2][1] = std::numeric_limits<float>::quiet_NaN();
  ExpectError(Write("nan.fvecs", Fvecs(rows)), SourceFormat::kFvecs,
              {"row 2: component 1 is not finite"});
  rows[2][1] = -std::numeric_limits<float>::infinity();
  ExpectError(Write("inf.npy", Npy(1, NpyDict("<f4", 4, 3), F4Data(rows))), SourceFormat::kNpy,
              {"row 2: component 1 is not finite"});
  // A double that no float can hold.
  std::string data = F8Data(MakeRows(4, 3));
  const double huge = 1e300;
  std::memcpy(data.data() + 8 * (3 * 3 + 2), &huge, 8);
  ExpectError(Write("huge.npy", Npy(1, NpyDict("<f8", 4, 3), data)), SourceFormat::kNpy,
              {"row 3: component 2 1e+300 does not fit in a float32"});
}

TEST_F(VectorSourceTest, EmptyFiles) {
  for (const std::string& path : {Write("empty.fvecs", ""), WriteGz("empty.fvecs.gz", "")}) {
    auto source = OpenOk(path, SourceFormat::kFvecs);
    ASSERT_NE(source, nullptr);
    EXPECT_EQ(source->dimension(), 0u);
    auto items = ReadAll(*source, 10);
    ASSERT_TRUE(items.ok()) << items.status().ToString();
    EXPECT_TRUE(items->empty());
  }
  EXPECT_EQ(OpenOk(Write("empty.bvecs", ""), SourceFormat::kBvecs)->total_rows(), 0u);
  for (const std::string& path : {Write("empty.jsonl", ""), Write("blank.jsonl", "\n  \n\r\n")}) {
    auto source = OpenOk(path, SourceFormat::kJsonLines);
    ASSERT_NE(source, nullptr);
    auto items = ReadAll(*source, 10);
    ASSERT_TRUE(items.ok()) << items.status().ToString();
    EXPECT_TRUE(items->empty());
    EXPECT_EQ(source->dimension(), 0u);
  }
  ExpectError(Write("empty.npy", ""), SourceFormat::kNpy, {"not an npy file"});
  ExpectError(Write("empty-idx3-ubyte", ""), SourceFormat::kIdx, {"file ends inside"});
  // An array of no rows is a valid, empty npy file.
  auto none = OpenOk(Write("none.npy", Npy(1, NpyDict("<f4", 0, 7), "")), SourceFormat::kNpy);
  ASSERT_NE(none, nullptr);
  EXPECT_EQ(none->dimension(), 7u);
  EXPECT_EQ(none->total_rows(), 0u);
  auto items = ReadAll(*none, 10);
  ASSERT_TRUE(items.ok());
  EXPECT_TRUE(items->empty());
}

// ---------------------------------------------------------------------------
// npy

TEST_F(VectorSourceTest, NpyVersionsAndFloatTypes) {
  const Rows rows = MakeRows(9, 5);
  const std::pair<std::string, std::string> files[] = {
      {"v1_f4.npy", Npy(1, NpyDict("<f4", 9, 5), F4Data(rows))},
      {"v2_f4.npy", Npy(2, NpyDict("<f4", 9, 5), F4Data(rows))},
      {"v1_f8.npy", Npy(1, NpyDict("<f8", 9, 5), F8Data(rows))},
      {"v2_f8.npy", Npy(2, NpyDict("<f8", 9, 5), F8Data(rows))},
      {"v3_f4.npy", Npy(3, NpyDict("<f4", 9, 5), F4Data(rows))},
  };
  for (const auto& [name, bytes] : files) {
    for (const std::string& path : {Write(name, bytes), WriteGz(name + ".gz", bytes)}) {
      SCOPED_TRACE(path);
      auto source = OpenOk(path, SourceFormat::kNpy);
      ASSERT_NE(source, nullptr);
      EXPECT_EQ(source->dimension(), 5u);
      EXPECT_EQ(source->total_rows(), 9u);
      auto items = ReadAll(*source, 4);
      ASSERT_TRUE(items.ok()) << items.status().ToString();
      ExpectRows(*items, rows);
    }
  }
}

TEST_F(VectorSourceTest, NpyIntegerAndHalfTypes) {
  std::string u1, i1, i4, f2;
  for (uint8_t x : {0, 7, 255, 128}) u1.push_back(static_cast<char>(x));
  for (int8_t x : {0, -7, 127, -128}) i1.push_back(static_cast<char>(x));
  for (int32_t x : {0, -7, 1 << 20, -(1 << 20)}) Append<int32_t>(i4, x);
  // 1, -2, 0.5, 65504 (the largest half), then the smallest subnormal, 0,
  // -0.25, 1/3 rounded to half (0x3555 = 0.333251953125).
  for (uint16_t x : {0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x0000, 0xB400, 0x3555}) {
    Append<uint16_t>(f2, x);
  }
  struct Case {
    std::string descr, data;
    Rows expected;
  };
  const Case cases[] = {
      {"|u1", u1, {{0, 7}, {255, 128}}},
      {"|i1", i1, {{0, -7}, {127, -128}}},
      {"<i4", i4, {{0, -7}, {1 << 20, -(1 << 20)}}},
      {"<f2", f2, {{1, -2}, {0.5f, 65504}, {std::ldexp(1.0f, -24), 0}, {-0.25f, 0.333251953125f}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.descr);
    const size_t n = c.expected.size();
    auto source =
        OpenOk(Write("t.npy", Npy(1, NpyDict(c.descr, n, 2), c.data)), SourceFormat::kNpy);
    ASSERT_NE(source, nullptr);
    auto items = ReadAll(*source, 3);
    ASSERT_TRUE(items.ok()) << items.status().ToString();
    ExpectRows(*items, c.expected);
  }
}

TEST_F(VectorSourceTest, NpyHeaderIsParsedTolerantly) {
  const Rows rows = MakeRows(3, 2);
  for (const std::string dict : {
           "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }",
           "{'descr':'<f4','fortran_order':False,'shape':(3,2)}",
           "{ 'shape' : ( 3 , 2 , ) ,\t'fortran_order' : False , 'descr' : '<f4' }",
           "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3L, 2L)}",
       }) {
    SCOPED_TRACE(dict);
    auto source = OpenOk(Write("h.npy", Npy(1, dict, F4Data(rows))), SourceFormat::kNpy);
    ASSERT_NE(source, nullptr);
    auto items = ReadAll(*source, 10);
    ASSERT_TRUE(items.ok()) << items.status().ToString();
    ExpectRows(*items, rows);
  }
}

TEST_F(VectorSourceTest, NpyMalformedHeadersAreRefusedClearly) {
  const std::string data = F4Data(MakeRows(3, 2));
  struct Case {
    std::string dict, expected;
  };
  const Case cases[] = {
      {"{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }",
       "Fortran order not supported: save with np.ascontiguousarray"},
      {NpyDict("<f4", 3, 2).replace(0, 1, "["), "expected '{'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", "expected a 2-D array"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 2), }", "expected a 2-D array"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 0), }", "out of range"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 20000), }", "out of range"},
      {"{'descr': '>f4', 'fortran_order': False, 'shape': (3, 2), }", "big-endian"},
      {"{'descr': '<c8', 'fortran_order': False, 'shape': (3, 2), }", "'<c8' is not supported"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", "structured"},
      {"{'descr': '<f4', 'shape': (3, 2), }", "no 'fortran_order'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), 'extra': 1}",
       "unexpected key 'extra'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)}", "twice"},
      {"{'descr': '<f4', 'fortran_order': false, 'shape': (3, 2)}", "expected True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, -2)}", "non-negative integer"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (3, 2)}", "expected ',' or '}'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)} x", "after '}'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.dict);
    ExpectError(Write("m.npy", Npy(1, c.dict, data)), SourceFormat::kNpy, {c.expected});
  }
  ExpectError(Write("magic.npy", "\x93NUMPX" + Npy(1, NpyDict("<f4", 3, 2), data).substr(6)),
              SourceFormat::kNpy, {"not an npy file"});
  std::string v4 = Npy(2, NpyDict("<f4", 3, 2), data);
  v4[6] = 4;
  ExpectError(Write("v4.npy", v4), SourceFormat::kNpy, {"version 4.0 is not supported"});
  ExpectError(Write("zip.npy", std::string("PK\x03\x04", 4) + data), SourceFormat::kNpy,
              {"zip archive"});
  ExpectError(Write("cut.npy", Npy(1, NpyDict("<f4", 3, 2), data).substr(0, 40)),
              SourceFormat::kNpy, {"file ends inside the npy header"});
}

TEST_F(VectorSourceTest, NpyShorterThanItsShape) {
  const Rows rows = MakeRows(10, 4);
  std::string data = F4Data(rows);
  // Ends on a row boundary, after 7 of 10 rows.
  const std::string short_rows = Npy(1, NpyDict("<f4", 10, 4), data.substr(0, 7 * 16));
  for (const std::string& path :
       {Write("short.npy", short_rows), WriteGz("short.npy.gz", short_rows)}) {
    ExpectError(path, SourceFormat::kNpy, {"row 7: file ends here, but its header says 10 rows"});
  }
  // Ends inside row 8.
  ExpectError(Write("cut.npy", Npy(2, NpyDict("<f8", 10, 4), F8Data(rows).substr(0, 8 * 32 + 5))),
              SourceFormat::kNpy, {"row 8: file ends inside the row"});
  // Extra bytes after the array are ignored (as np.load does).
  auto source = OpenOk(Write("long.npy", Npy(1, NpyDict("<f4", 10, 4), data + "trailing")),
                       SourceFormat::kNpy);
  ASSERT_NE(source, nullptr);
  auto items = ReadAll(*source, 3);
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ExpectRows(*items, rows);
}

// ---------------------------------------------------------------------------
// idx

TEST_F(VectorSourceTest, IdxRoundTrip) {
  std::string pixels;
  Rows rows(4, std::vector<float>(6));
  for (size_t i = 0; i < 4; ++i) {
    for (size_t j = 0; j < 6; ++j) {
      const auto value = static_cast<uint8_t>(i * 70 + j * 3);
      pixels.push_back(static_cast<char>(value));
      rows[i][j] = value;
    }
  }
  const std::string bytes = Idx(4, 2, 3, pixels);
  for (const std::string& path :
       {Write("t-images-idx3-ubyte", bytes), WriteGz("t-images-idx3-ubyte.gz", bytes)}) {
    SourceOptions options;
    options.id_prefix = "img-";
    auto source = OpenOk(path, SourceFormat::kIdx, options);
    ASSERT_NE(source, nullptr);
    EXPECT_EQ(source->dimension(), 6u);
    EXPECT_EQ(source->total_rows(), 4u);
    auto items = ReadAll(*source, 3);
    ASSERT_TRUE(items.ok()) << items.status().ToString();
    ExpectRows(*items, rows, 0, "img-");
  }
  SourceOptions options;
  options.skip_rows = 1;
  options.max_rows = 2;
  auto source = OpenOk(Write("s-idx3-ubyte", bytes), SourceFormat::kIdx, options);
  ASSERT_NE(source, nullptr);
  auto items = ReadAll(*source, 5);
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ExpectRows(*items, Rows(rows.begin() + 1, rows.begin() + 3), 1);
}

TEST_F(VectorSourceTest, IdxMalformed) {
  std::string pixels(2 * 2 * 2, '\x01');
  ExpectError(Write("cut-idx3-ubyte", Idx(3, 2, 2, pixels + "\x01")), SourceFormat::kIdx,
              {"row 2: file ends inside the row"});
  ExpectError(Write("few-idx3-ubyte", Idx(3, 2, 2, pixels)), SourceFormat::kIdx,
              {"row 2: file ends here, but its header says 3 rows"});
  std::string labels("\0\0\x08\x01", 4);
  AppendBigEndian32(labels, 2);
  ExpectError(Write("labels-idx1-ubyte", labels + "\x01\x02"), SourceFormat::kIdx, {"labels"});
  std::string floats = Idx(1, 1, 1, "abcd");
  floats[2] = 0x0D;
  ExpectError(Write("floats-idx3-ubyte", floats), SourceFormat::kIdx, {"0x0d"});
  ExpectError(Write("magic-idx3-ubyte", "\x01" + Idx(1, 1, 1, "a").substr(1)), SourceFormat::kIdx,
              {"not an idx file"});
  ExpectError(Write("huge-idx3-ubyte", Idx(1, 1000, 1000, "")), SourceFormat::kIdx,
              {"out of the dimension range"});
  ExpectError(Write("head-idx3-ubyte", Idx(1, 1, 1, "").substr(0, 9)), SourceFormat::kIdx,
              {"file ends inside the idx header"});
}

// ---------------------------------------------------------------------------
// JSON Lines

TEST_F(VectorSourceTest, JsonLinesRoundTrip) {
  const std::string text =
      "\xEF\xBB\xBF{\"id\": \"a\", \"vector\": [1, -2.5, 3e-3]}\n"
      "\n"
      "   \n"
      "{\"vector\": [0.1, 0.2, 0.3], \"id\": \"b\", \"metadata\": {\"tag\": \"x y\", \"n\": [1, "
      "2], \"o\": {\"k\": null}}}\r\n"
      "{\"id\": \"c\", \"vector\": [4,5,6], \"metadata\": null, \"text\": \"ignored\"}\n"
      "{\"id\": \"\\u00e9t\\u00e9\", \"vector\": [7, 8, 9], \"metadata\": {}}";  // no final \n
  for (const std::string& path : {Write("items.jsonl", text), WriteGz("items.jsonl.gz", text)}) {
    SCOPED_TRACE(path);
    auto source = OpenOk(path, SourceFormat::kJsonLines);
    ASSERT_NE(source, nullptr);
    EXPECT_EQ(source->dimension(), 0u);
    EXPECT_EQ(source->total_rows(), std::nullopt);
    std::vector<SourceItem> items;
    ASSERT_TRUE(source->Next(1, items).ok());
    EXPECT_EQ(source->dimension(), 3u);
    auto rest = ReadAll(*source, 2);
    ASSERT_TRUE(rest.ok()) << rest.status().ToString();
    for (auto& item : *rest) items.push_back(std::move(item));
    ASSERT_EQ(items.size(), 4u);
    EXPECT_EQ(items[0].id, "a");
    EXPECT_EQ(items[0].vector, (std::vector<float>{1, -2.5f, 3e-3f}));
    EXPECT_EQ(items[0].metadata_json, "");
    EXPECT_EQ(items[0].row, 1u);
    EXPECT_EQ(items[1].id, "b");
    EXPECT_EQ(items[1].vector, (std::vector<float>{0.1f, 0.2f, 0.3f}));
    EXPECT_EQ(items[1].metadata_json, R"({"tag":"x y","n":[1,2],"o":{"k":null}})");
    EXPECT_EQ(items[1].row, 4u);
    EXPECT_EQ(items[2].id, "c");
    EXPECT_EQ(items[2].metadata_json, "");
    EXPECT_EQ(items[2].row, 5u);
    EXPECT_EQ(items[3].id, "\xC3\xA9t\xC3\xA9");
    EXPECT_EQ(items[3].metadata_json, "{}");
    EXPECT_EQ(items[3].row, 6u);
  }
}

TEST_F(VectorSourceTest, JsonLinesSkipAndMaxCountItemsNotLines) {
  std::string text;
  for (int i = 0; i < 10; ++i) {
    text += "{\"id\": \"k" + std::to_string(i) + "\", \"vector\": [" + std::to_string(i) + "]}\n";
    if (i % 3 == 0) text += "\n";
  }
  SourceOptions options;
  options.skip_rows = 4;
  options.max_rows = 3;
  auto source = OpenOk(Write("s.jsonl", text), SourceFormat::kJsonLines, options);
  ASSERT_NE(source, nullptr);
  auto items = ReadAll(*source, 2);
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 3u);
  EXPECT_EQ((*items)[0].id, "k4");
  EXPECT_EQ((*items)[0].vector, std::vector<float>{4});
  EXPECT_EQ((*items)[0].row, 7u);  // lines 1-6 hold k0..k3 and two blank lines
  EXPECT_EQ((*items)[2].id, "k6");
}

TEST_F(VectorSourceTest, JsonLinesLongLinesAndManyChunks) {
  // Lines longer than the 1 MiB read buffer, and a file of many buffers.
  std::string text;
  const std::string big(3 << 20, 'x');
  text += "{\"id\": \"big\", \"vector\": [1, 2], \"metadata\": {\"blob\": \"" + big + "\"}}\n";
  for (int i = 0; i < 40000; ++i) {
    text +=
        "{\"id\": \"" + std::to_string(i) + "\", \"vector\": [" + std::to_string(i) + ", 0.5]}\n";
  }
  text += "{\"id\": \"big2\", \"vector\": [3, 4], \"metadata\": {\"blob\": \"" + big + "\"}}";
  for (const std::string& path : {Write("long.jsonl", text), WriteGz("long.jsonl.gz", text)}) {
    auto source = OpenOk(path, SourceFormat::kJsonLines);
    ASSERT_NE(source, nullptr);
    auto items = ReadAll(*source, 999);
    ASSERT_TRUE(items.ok()) << items.status().ToString();
    ASSERT_EQ(items->size(), 40002u);
    EXPECT_EQ(items->front().metadata_json, "{\"blob\":\"" + big + "\"}");
    EXPECT_EQ(items->back().id, "big2");
    EXPECT_EQ(items->back().row, 40002u);
    EXPECT_EQ((*items)[30001].id, "30000");
    EXPECT_EQ((*items)[30001].vector, (std::vector<float>{30000, 0.5f}));
    EXPECT_EQ(source->bytes_read(), source->file_bytes());
  }
}

TEST_F(VectorSourceTest, JsonLinesErrorsNameFileAndLine) {
  const std::string good = "{\"id\": \"a\", \"vector\": [1, 2]}\n\n";  // lines 1 and 2
  struct Case {
    std::string line, expected;
  };
  const Case cases[] = {
      {"{\"id\": \"b\", \"vector\": [1, 2]", "invalid JSON"},
      {"{\"id\": \"b\", \"vector\": [1, 2]} {}", "invalid JSON"},
      {"[1, 2]", "expected a JSON object"},
      {"{\"vector\": [1, 2]}", "no \"id\""},
      {"{\"id\": 7, \"vector\": [1, 2]}", "\"id\" must be a string"},
      {"{\"id\": \"b\"}", "no \"vector\""},
      {"{\"id\": \"b\", \"vector\": \"1, 2\"}", "\"vector\" must be an array"},
      {"{\"id\": \"b\", \"vector\": [1, \"2\"]}", "vector[1] is not a number"},
      {"{\"id\": \"b\", \"vector\": [1, true]}", "vector[1] is not a number"},
      {"{\"id\": \"b\", \"vector\": [1e39, 2]}", "vector[0] = 1e+39 does not fit in a float32"},
      {"{\"id\": \"b\", \"vector\": [NaN, 2]}", "invalid JSON"},
      {"{\"id\": \"b\", \"vector\": [1, 2, 3]}", "dimension 3 differs from 2 in line 1"},
      {"{\"id\": \"b\", \"vector\": [1, 2], \"metadata\": [1]}", "\"metadata\" must be an object"},
      {"{\"id\": \"b\", \"vector\": [1, 2], \"metadata\": \"x\"}",
       "\"metadata\" must be an object"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    ExpectError(Write("bad.jsonl", good + c.line + "\n" + good), SourceFormat::kJsonLines,
                {"bad.jsonl: line 3: " + c.expected});
  }
  ExpectError(Write("empty_vector.jsonl", "{\"id\": \"a\", \"vector\": []}\n"),
              SourceFormat::kJsonLines, {"line 1: dimension 0 is out of range"});
}

// ---------------------------------------------------------------------------
// Files that cannot be read

TEST_F(VectorSourceTest, MissingFileAndDirectoryAreIOErrors) {
  const std::string missing = (dir_ / "missing.fvecs").string();
  auto source = VectorSource::Open(missing, SourceFormat::kFvecs);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), StatusCode::kIOError);
  EXPECT_TRUE(Contains(source.status().message(), missing));
  EXPECT_TRUE(Contains(source.status().message(), "No such file or directory"));
  auto directory = VectorSource::Open(dir_.string(), SourceFormat::kJsonLines);
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().code(), StatusCode::kIOError);
  EXPECT_TRUE(Contains(directory.status().message(), dir_.string()));
}

TEST_F(VectorSourceTest, DamagedGzipIsCorruption) {
  const std::string path = WriteGz("base.fvecs.gz", Fvecs(MakeRows(5000, 16)));
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string cut = Write("cut.fvecs.gz", bytes.substr(0, bytes.size() / 2));
  Status status = ReadStatus(cut, SourceFormat::kFvecs);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "cut.fvecs.gz")) << status.message();
  for (size_t i = bytes.size() / 3; i < bytes.size() / 3 + 64; ++i) bytes[i] ^= 0x5a;
  status = ReadStatus(Write("garbled.fvecs.gz", bytes), SourceFormat::kFvecs);
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(Contains(status.message(), "garbled.fvecs.gz")) << status.message();
}

TEST_F(VectorSourceTest, ZeroBatchIsRefused) {
  auto source = OpenOk(Write("base.fvecs", Fvecs(MakeRows(2, 2))), SourceFormat::kFvecs);
  ASSERT_NE(source, nullptr);
  std::vector<SourceItem> out;
  EXPECT_EQ(source->Next(0, out).code(), StatusCode::kInvalidArgument);
  auto items = ReadAll(*source, 5);  // and the source still works
  ASSERT_TRUE(items.ok());
  EXPECT_EQ(items->size(), 2u);
}

// ---------------------------------------------------------------------------
// A real data set, when the machine has it (Debian: dataset-fashion-mnist).

TEST_F(VectorSourceTest, FashionMnistTrainImages) {
  const std::string path = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
  if (!fs::exists(path)) GTEST_SKIP() << path << " is not installed (dataset-fashion-mnist)";
  auto format = DetectFormat(path, "");
  ASSERT_TRUE(format.ok());
  const auto start = std::chrono::steady_clock::now();
  auto source = OpenOk(path, *format);
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->dimension(), 784u);
  EXPECT_EQ(source->total_rows(), 60000u);
  std::vector<SourceItem> batch;
  uint64_t count = 0;
  float low = 255, high = 0;
  for (;;) {
    Status status = source->Next(1000, batch);
    ASSERT_TRUE(status.ok()) << status.ToString();
    if (batch.empty()) break;
    for (const SourceItem& item : batch) {
      ASSERT_EQ(item.vector.size(), 784u);
      ASSERT_EQ(item.row, count);
      for (float x : item.vector) {
        low = std::min(low, x);
        high = std::max(high, x);
      }
      ++count;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(count, 60000u);
  EXPECT_EQ(low, 0.0f);
  EXPECT_EQ(high, 255.0f);
  EXPECT_EQ(source->bytes_read(), source->file_bytes());
  RecordProperty("seconds", std::to_string(seconds));
  std::printf("read %s: 60000 x 784 in %.3f s\n", path.c_str(), seconds);
}

}  // namespace
}  // namespace vectord::vectorctl
