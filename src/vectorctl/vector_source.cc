#include "vectorctl/vector_source.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <system_error>
#include <utility>

namespace vectord::vectorctl {

// The decoders copy values as they lie in the file, which is little-endian
// for every format but idx (whose values are single bytes).
static_assert(std::endian::native == std::endian::little);
// Skipping and progress use zlib's offsets, which must reach past 2 GiB.
static_assert(sizeof(z_off_t) == 8);

namespace {

// zlib's own buffers and our reads: big enough that a read costs one
// system call per MiB, small enough to stay out of the way of the import.
constexpr size_t kChunkBytes = size_t{1} << 20;
// A longer "line" means the file is not JSON Lines (say, one big JSON array).
constexpr size_t kMaxLineBytes = size_t{64} << 20;
// NumPy itself refuses headers over 10,000 bytes; this leaves room.
constexpr uint32_t kMaxNpyHeaderBytes = 1 << 16;

std::string ErrnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

std::string FormatNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value);
  return text;
}

Status RowError(const std::string& path, uint64_t row, const std::string& what) {
  return Status::InvalidArgument(path + ": row " + std::to_string(row) + ": " + what);
}

Status LineError(const std::string& path, uint64_t line, const std::string& what) {
  return Status::InvalidArgument(path + ": line " + std::to_string(line) + ": " + what);
}

Status HeaderError(const std::string& path, const std::string& what) {
  return Status::InvalidArgument(path + ": " + what);
}

std::string DimensionRange() { return "(1.." + std::to_string(kMaxDimension) + ")"; }

uint32_t LoadBigEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} << 24 | uint32_t{u[1]} << 16 | uint32_t{u[2]} << 8 | uint32_t{u[3]};
}

template <typename T>
T LoadLittleEndian(const char* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

// IEEE half precision, which numpy stores as '<f2' (embeddings are often
// saved that way to halve their size).
float HalfToFloat(uint16_t half) {
  const uint32_t sign = uint32_t{half & 0x8000u} << 16;
  const uint32_t exponent = (half >> 10) & 0x1f;
  const uint32_t mantissa = half & 0x3ff;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | mantissa << 13);
  return std::bit_cast<float>(sign | (exponent + 112) << 23 | mantissa << 13);
}

}  // namespace

// ---------------------------------------------------------------------------
// InputFile

// One file read through zlib, which passes a file that is not gzip through
// unchanged: every format reads plain and .gz files alike, and gzip is
// recognised by its content whatever the name says.
class InputFile {
 public:
  static Result<std::unique_ptr<InputFile>> Open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::IOError(path + ": " + ErrnoText(errno));
    struct stat info;
    if (::fstat(fd, &info) != 0) {
      const int error = errno;
      ::close(fd);
      return Status::IOError(path + ": " + ErrnoText(error));
    }
    if (S_ISDIR(info.st_mode)) {
      ::close(fd);
      return Status::IOError(path + ": " + ErrnoText(EISDIR));
    }
    gzFile file = gzdopen(fd, "rb");
    if (file == nullptr) {
      ::close(fd);
      return Status::IOError(path + ": cannot set up zlib: out of memory");
    }
    auto input = std::unique_ptr<InputFile>(new InputFile(path, file));
    // Before the first read, as zlib requires; gzdirect() then looks at the
    // first bytes to tell gzip from plain.
    if (gzbuffer(file, kChunkBytes) != 0) return Status::Internal(path + ": gzbuffer failed");
    input->direct_ = gzdirect(file) != 0;
    input->regular_ = S_ISREG(info.st_mode);
    input->size_ = input->regular_ ? static_cast<uint64_t>(info.st_size) : 0;
    return input;
  }

  ~InputFile() { gzclose(file_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const { return path_; }
  // On disk (compressed, for gzip); 0 for a pipe.
  uint64_t size() const { return size_; }
  // A regular file that is not gzip: its size on disk is the size of its
  // content, and it can be seeked.
  bool sized() const { return regular_ && direct_; }

  // Bytes of the file consumed so far. Exact for plain files; for gzip
  // zlib's input buffer counts as consumed.
  uint64_t raw_offset() const {
    const z_off_t offset = direct_ ? gztell(file_) : gzoffset(file_);
    return offset < 0 ? 0 : static_cast<uint64_t>(offset);
  }

  // Reads n bytes into dst; fewer only at the end of the file or after an
  // error, which status() then holds.
  size_t Read(char* dst, size_t n) {
    size_t done = TakePushback(dst, n);
    while (done < n && status_.ok() && !at_end_) {
      const auto chunk = static_cast<unsigned>(std::min<size_t>(n - done, size_t{1} << 30));
      const int got = gzread(file_, dst + done, chunk);
      if (got < 0) {
        status_ = ZlibError();
      } else if (got == 0) {
        at_end_ = true;
        // A gzip stream cut short reads as a clean end with this error set.
        int code = Z_OK;
        gzerror(file_, &code);
        if (code == Z_BUF_ERROR) {
          status_ = Status::Corruption(path_ + ": the gzip stream ends early (truncated file)");
        }
      } else {
        done += static_cast<size_t>(got);
      }
    }
    return done;
  }

  // Passes over up to n bytes, returning how many (fewer as for Read). A
  // seek in a plain file; gzip has to be decompressed on the way.
  uint64_t Skip(uint64_t n) {
    uint64_t done = TakePushback(nullptr, n);
    if (done == n || !status_.ok()) return done;
    if (sized()) {
      const z_off_t position = gztell(file_);
      const uint64_t left = position >= 0 && static_cast<uint64_t>(position) < size_
                                ? size_ - static_cast<uint64_t>(position)
                                : 0;
      const uint64_t step = std::min(n - done, left);
      if (gzseek(file_, static_cast<z_off_t>(step), SEEK_CUR) < 0) {
        status_ = ZlibError();
        return done;
      }
      return done + step;
    }
    std::vector<char> scratch(std::min<uint64_t>(n - done, kChunkBytes));
    while (done < n) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(n - done, scratch.size()));
      const size_t got = Read(scratch.data(), want);
      done += got;
      if (got < want) break;
    }
    return done;
  }

  // Makes the next Read return `bytes` first: a header looked at to open
  // the file that belongs to its first row.
  void Unread(std::string_view bytes) {
    pushback_.erase(0, pushback_at_);
    pushback_.insert(0, bytes);
    pushback_at_ = 0;
  }

  const Status& status() const { return status_; }

 private:
  InputFile(std::string path, gzFile file) : path_(std::move(path)), file_(file) {}

  // Moves up to n pushed-back bytes to dst (or drops them when dst is null).
  size_t TakePushback(char* dst, size_t n) {
    const size_t take = std::min(n, pushback_.size() - pushback_at_);
    if (dst != nullptr) std::memcpy(dst, pushback_.data() + pushback_at_, take);
    pushback_at_ += take;
    return take;
  }

  Status ZlibError() const {
    int code = Z_OK;
    std::string message = gzerror(file_, &code);
    if (code == Z_ERRNO) return Status::IOError(path_ + ": " + ErrnoText(errno));
    // zlib names the file "<fd:N>"; the path is said already.
    if (message.starts_with("<fd:")) {
      const size_t colon = message.find(": ");
      if (colon != std::string::npos) message.erase(0, colon + 2);
    }
    return Status::Corruption(path_ + ": damaged gzip data: " + message);
  }

  std::string path_;
  gzFile file_;
  bool direct_ = true;
  bool regular_ = false;
  uint64_t size_ = 0;
  bool at_end_ = false;
  Status status_;
  std::string pushback_;
  size_t pushback_at_ = 0;
};

VectorSource::VectorSource() = default;
VectorSource::~VectorSource() = default;

uint64_t VectorSource::bytes_read() const { return input_ ? input_->raw_offset() : 0; }

namespace {

// ---------------------------------------------------------------------------
// What every format shares: skip_rows, max_rows and the sticky error.

class SourceBase : public VectorSource {
 public:
  Status Next(size_t max_items, std::vector<SourceItem>& out) final {
    out.clear();
    if (!pending_.ok()) return pending_;
    if (max_items == 0) return Status::InvalidArgument("VectorSource::Next: max_items is 0");
    if (!started_) {
      started_ = true;
      if (options_.skip_rows > 0) {
        pending_ = SkipRows(options_.skip_rows);
        if (!pending_.ok()) return pending_;
      }
    }
    uint64_t count = max_items;
    if (options_.max_rows > 0) count = std::min(count, options_.max_rows - delivered_);
    if (count == 0) return Status::Ok();
    pending_ = ReadItems(static_cast<size_t>(count), out);
    delivered_ += out.size();
    // The good items before an error go out first; the error comes next time.
    if (!pending_.ok() && out.empty()) return pending_;
    return Status::Ok();
  }

 protected:
  SourceBase(std::unique_ptr<InputFile> input, SourceOptions options)
      : options_(std::move(options)) {
    input_ = std::move(input);
    file_bytes_ = input_->size();
  }

  const std::string& path() const { return input_->path(); }

  // Passes over `rows` rows; called once, before the first ReadItems.
  virtual Status SkipRows(uint64_t rows) = 0;
  // Appends up to `count` items to the empty `out`, fewer only at the end of
  // the input or at an error, which it returns after appending the items
  // before it.
  virtual Status ReadItems(size_t count, std::vector<SourceItem>& out) = 0;

  const SourceOptions options_;

 private:
  Status pending_;  // the first error: every Next after it returns it again
  bool started_ = false;
  uint64_t delivered_ = 0;
};

// ---------------------------------------------------------------------------
// Fixed-size rows: *vecs, npy, idx.

enum class Element : uint8_t { kF16, kF32, kF64, kU8, kI8, kI32 };

size_t ElementBytes(Element element) {
  switch (element) {
    case Element::kF16: return 2;
    case Element::kF32: return 4;
    case Element::kF64: return 8;
    case Element::kU8: return 1;
    case Element::kI8: return 1;
    case Element::kI32: return 4;
  }
  return 1;
}

struct Layout {
  uint32_t dimension = 0;
  Element element = Element::kF32;
  // *vecs: each row starts with its dimension as an int32.
  bool dimension_prefix = false;
  // npy, idx: the number of rows the header promises.
  std::optional<uint64_t> declared_rows;

  size_t row_bytes() const {
    return (dimension_prefix ? 4 : 0) + size_t{dimension} * ElementBytes(element);
  }
};

class FixedRowSource final : public SourceBase {
 public:
  FixedRowSource(std::unique_ptr<InputFile> input, SourceOptions options, Layout layout)
      : SourceBase(std::move(input), std::move(options)),
        layout_(layout),
        row_bytes_(layout.row_bytes()) {
    dimension_ = layout.dimension;
    total_rows_ = layout.declared_rows;
    if (!total_rows_ && input_->sized()) total_rows_ = input_->size() / row_bytes_;
  }

 private:
  Status SkipRows(uint64_t rows) override {
    if (layout_.declared_rows) rows = std::min(rows, *layout_.declared_rows);
    const uint64_t bytes = rows > std::numeric_limits<uint64_t>::max() / row_bytes_
                               ? std::numeric_limits<uint64_t>::max()
                               : rows * row_bytes_;
    const uint64_t skipped = input_->Skip(bytes);
    next_row_ = skipped / row_bytes_;
    if (skipped == bytes) return Status::Ok();
    at_end_ = true;
    if (!input_->status().ok()) return input_->status();
    // The rows skipped are not looked at, but a file shorter than its
    // header says is broken whichever rows are wanted.
    if (layout_.declared_rows) return ShortFileError(skipped % row_bytes_);
    return Status::Ok();
  }

  Status ReadItems(size_t count, std::vector<SourceItem>& out) override {
    if (layout_.declared_rows) {
      const uint64_t left = *layout_.declared_rows - std::min(*layout_.declared_rows, next_row_);
      count = static_cast<size_t>(std::min<uint64_t>(count, left));
    }
    const size_t rows_per_chunk = std::max<size_t>(1, kChunkBytes / row_bytes_);
    out.reserve(std::min(count, rows_per_chunk));
    while (out.size() < count && !at_end_) {
      const size_t rows = std::min(count - out.size(), rows_per_chunk);
      chunk_.resize(rows * row_bytes_);
      const size_t got = input_->Read(chunk_.data(), chunk_.size());
      const size_t full_rows = got / row_bytes_;
      for (size_t i = 0; i < full_rows; ++i) {
        SourceItem& item = out.emplace_back();
        item.row = next_row_;
        item.id = options_.id_prefix;
        item.id += std::to_string(next_row_);
        Status status = DecodeRow(chunk_.data() + i * row_bytes_, item);
        if (!status.ok()) {
          out.pop_back();
          at_end_ = true;
          return status;
        }
        ++next_row_;
      }
      if (got < chunk_.size()) {
        at_end_ = true;
        if (!input_->status().ok()) return input_->status();
        const size_t partial = got % row_bytes_;
        if (layout_.dimension_prefix && partial >= 4) {
          // A last row of another dimension is shorter: say that, not "truncated".
          VECTORD_RETURN_IF_ERROR(CheckRowDimension(chunk_.data() + full_rows * row_bytes_));
        }
        if (partial != 0 || layout_.declared_rows) return ShortFileError(partial);
      }
    }
    return Status::Ok();
  }

  // At the end of the file after next_row_ - 1, with `partial` bytes of the next row.
  Status ShortFileError(size_t partial) const {
    if (partial != 0) return RowError(path(), next_row_, "file ends inside the row");
    if (layout_.declared_rows && next_row_ < *layout_.declared_rows) {
      return RowError(path(), next_row_,
                      "file ends here, but its header says " +
                          std::to_string(*layout_.declared_rows) + " rows");
    }
    return Status::Ok();
  }

  Status CheckRowDimension(const char* row) const {
    const auto d = LoadLittleEndian<int32_t>(row);
    if (d == static_cast<int32_t>(layout_.dimension)) return Status::Ok();
    return RowError(path(), next_row_,
                    "dimension " + std::to_string(d) + " differs from " +
                        std::to_string(layout_.dimension) + " in row 0");
  }

  Status DecodeRow(const char* row, SourceItem& item) const {
    if (layout_.dimension_prefix) {
      VECTORD_RETURN_IF_ERROR(CheckRowDimension(row));
      row += 4;
    }
    const size_t d = layout_.dimension;
    std::vector<float>& v = item.vector;
    v.resize(d);
    switch (layout_.element) {
      case Element::kF32:
        std::memcpy(v.data(), row, d * sizeof(float));
        for (size_t j = 0; j < d; ++j) {
          if (!std::isfinite(v[j])) return NotFinite(j, v[j]);
        }
        break;
      case Element::kF64:
        for (size_t j = 0; j < d; ++j) {
          const double x = LoadLittleEndian<double>(row + 8 * j);
          v[j] = static_cast<float>(x);
          if (!std::isfinite(v[j])) return NotFinite(j, x);
        }
        break;
      case Element::kF16:
        for (size_t j = 0; j < d; ++j) {
          v[j] = HalfToFloat(LoadLittleEndian<uint16_t>(row + 2 * j));
          if (!std::isfinite(v[j])) return NotFinite(j, v[j]);
        }
        break;
      case Element::kU8:
        for (size_t j = 0; j < d; ++j) v[j] = static_cast<unsigned char>(row[j]);
        break;
      case Element::kI8:
        for (size_t j = 0; j < d; ++j) v[j] = static_cast<signed char>(row[j]);
        break;
      case Element::kI32:
        for (size_t j = 0; j < d; ++j) {
          v[j] = static_cast<float>(LoadLittleEndian<int32_t>(row + 4 * j));
        }
        break;
    }
    return Status::Ok();
  }

  Status NotFinite(size_t component, double value) const {
    const std::string what = "component " + std::to_string(component) + " ";
    if (std::isfinite(value)) {
      return RowError(path(), next_row_, what + FormatNumber(value) + " does not fit in a float32");
    }
    return RowError(path(), next_row_, what + "is not finite (" + FormatNumber(value) + ")");
  }

  const Layout layout_;
  const size_t row_bytes_;
  uint64_t next_row_ = 0;
  bool at_end_ = false;
  std::vector<char> chunk_;
};

Result<std::unique_ptr<VectorSource>> OpenVecs(std::unique_ptr<InputFile> input,
                                               SourceOptions options, Element element) {
  const std::string& path = input->path();
  char head[4];
  const size_t got = input->Read(head, sizeof(head));
  if (!input->status().ok()) return input->status();
  Layout layout;
  layout.element = element;
  layout.dimension_prefix = true;
  if (got > 0) {  // an empty file is an empty data set
    if (got < sizeof(head)) return RowError(path, 0, "file ends inside the row");
    const auto d = LoadLittleEndian<int32_t>(head);
    if (d < 1 || static_cast<uint32_t>(d) > kMaxDimension) {
      return RowError(path, 0,
                      "dimension " + std::to_string(d) + " is out of range " + DimensionRange());
    }
    layout.dimension = static_cast<uint32_t>(d);
    input->Unread(std::string_view(head, sizeof(head)));
  }
  return std::unique_ptr<VectorSource>(
      new FixedRowSource(std::move(input), std::move(options), layout));
}

// ---------------------------------------------------------------------------
// npy: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<uint64_t> shape;
};

// Parses the Python dict literal of an npy header, as numpy writes it and
// as other writers do: any spacing, any key order, a trailing comma, single
// or double quotes, Python 2's "3L". Refuses anything else.
class NpyHeaderParser {
 public:
  explicit NpyHeaderParser(std::string_view text) : text_(text) {}

  Result<NpyHeader> Parse() {
    NpyHeader header;
    bool has_descr = false, has_fortran = false, has_shape = false;
    if (!Consume('{')) return Fail("expected '{'");
    while (!Consume('}')) {
      std::string key;
      VECTORD_RETURN_IF_ERROR(ParseString(&key));
      if (!Consume(':')) return Fail("expected ':' after '" + key + "'");
      bool* seen = key == "descr"           ? &has_descr
                   : key == "fortran_order" ? &has_fortran
                   : key == "shape"         ? &has_shape
                                            : nullptr;
      if (seen == nullptr) return Fail("unexpected key '" + key + "'");
      if (*seen) return Fail("key '" + key + "' appears twice");
      *seen = true;
      if (key == "descr") {
        if (Peek() == '[') {
          return Fail("structured dtypes are not supported: save a plain 2-D array of numbers");
        }
        VECTORD_RETURN_IF_ERROR(ParseString(&header.descr));
      } else if (key == "fortran_order") {
        VECTORD_RETURN_IF_ERROR(ParseBool(&header.fortran_order));
      } else {
        VECTORD_RETURN_IF_ERROR(ParseShape(&header.shape));
      }
      if (!Consume(',') && Peek() != '}') return Fail("expected ',' or '}' after '" + key + "'");
    }
    SkipSpace();
    if (at_ != text_.size()) return Fail("unexpected text after '}'");
    if (!has_descr) return Fail("no 'descr'");
    if (!has_fortran) return Fail("no 'fortran_order'");
    if (!has_shape) return Fail("no 'shape'");
    return header;
  }

 private:
  void SkipSpace() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r')) {
      ++at_;
    }
  }
  char Peek() {
    SkipSpace();
    return at_ < text_.size() ? text_[at_] : '\0';
  }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++at_;
    return true;
  }
  Status Fail(const std::string& what) const {
    return Status::InvalidArgument(what + " at offset " + std::to_string(at_));
  }

  Status ParseString(std::string* out) {
    const char quote = Peek();
    if (quote != '\'' && quote != '"') return Fail("expected a quoted string");
    const size_t end = text_.find(quote, at_ + 1);
    if (end == std::string_view::npos) return Fail("unterminated string");
    const std::string_view body = text_.substr(at_ + 1, end - at_ - 1);
    if (body.find('\\') != std::string_view::npos) return Fail("escapes in strings");
    out->assign(body);
    at_ = end + 1;
    return Status::Ok();
  }

  Status ParseBool(bool* out) {
    SkipSpace();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      if (text_.substr(at_).starts_with(word)) {
        at_ += std::strlen(word);
        *out = value;
        return Status::Ok();
      }
    }
    return Fail("expected True or False");
  }

  Status ParseShape(std::vector<uint64_t>* out) {
    if (!Consume('(')) return Fail("expected a tuple for 'shape'");
    while (!Consume(')')) {
      SkipSpace();
      uint64_t value = 0;
      size_t digits = 0;
      while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') {
        const unsigned digit = static_cast<unsigned>(text_[at_] - '0');
        if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
          return Fail("shape entry too large");
        }
        value = value * 10 + digit;
        ++at_;
        ++digits;
      }
      if (digits == 0) return Fail("expected a non-negative integer in 'shape'");
      if (at_ < text_.size() && text_[at_] == 'L') ++at_;
      out->push_back(value);
      if (!Consume(',') && Peek() != ')') return Fail("expected ',' or ')' in 'shape'");
    }
    return Status::Ok();
  }

  std::string_view text_;
  size_t at_ = 0;
};

Result<Element> NpyElement(const std::string& descr) {
  // '<' little-endian, '|' not applicable (one byte), '=' native (little).
  std::string_view type = descr;
  const char order = type.empty() ? '\0' : type[0];
  if (order == '<' || order == '|' || order == '=' || order == '>') type.remove_prefix(1);
  if (order == '>' && type != "u1" && type != "i1") {
    return Status::InvalidArgument("big-endian dtype '" + descr +
                                   "' is not supported: save with arr.astype('<" +
                                   std::string(type) + "')");
  }
  if (type == "f4") return Element::kF32;
  if (type == "f8") return Element::kF64;
  if (type == "f2") return Element::kF16;
  if (type == "i4") return Element::kI32;
  if (type == "u1") return Element::kU8;
  if (type == "i1") return Element::kI8;
  return Status::InvalidArgument("dtype '" + descr +
                                 "' is not supported (use <f4, <f8, <f2, <i4, |u1 or |i1)");
}

Result<std::unique_ptr<VectorSource>> OpenNpy(std::unique_ptr<InputFile> input,
                                              SourceOptions options) {
  const std::string& path = input->path();
  // Magic, version, and a header length of 2 (1.0) or 4 bytes (2.0, 3.0).
  char prelude[12];
  size_t got = input->Read(prelude, 10);
  if (!input->status().ok()) return input->status();
  if (got < 6 || std::memcmp(prelude, "\x93NUMPY", 6) != 0) {
    if (got >= 2 && std::memcmp(prelude, "PK", 2) == 0) {
      return HeaderError(path, "this is a zip archive (.npz?): extract the .npy files from it");
    }
    return HeaderError(path, "not an npy file (it does not start with \\x93NUMPY)");
  }
  if (got < 10) return HeaderError(path, "file ends inside the npy header");
  const int major = static_cast<unsigned char>(prelude[6]);
  const int minor = static_cast<unsigned char>(prelude[7]);
  uint32_t header_bytes = 0;
  if (major == 1 && minor == 0) {
    header_bytes = LoadLittleEndian<uint16_t>(prelude + 8);
  } else if ((major == 2 || major == 3) && minor == 0) {
    if (input->Read(prelude + 10, 2) < 2) {
      if (!input->status().ok()) return input->status();
      return HeaderError(path, "file ends inside the npy header");
    }
    header_bytes = LoadLittleEndian<uint32_t>(prelude + 8);
  } else {
    return HeaderError(path, "npy format version " + std::to_string(major) + "." +
                                 std::to_string(minor) +
                                 " is not supported (1.0, 2.0 and 3.0 are)");
  }
  if (header_bytes > kMaxNpyHeaderBytes) {
    return HeaderError(
        path, "npy header of " + std::to_string(header_bytes) + " bytes is implausibly long");
  }
  std::string text(header_bytes, '\0');
  got = input->Read(text.data(), text.size());
  if (!input->status().ok()) return input->status();
  if (got < text.size()) return HeaderError(path, "file ends inside the npy header");

  auto header = NpyHeaderParser(text).Parse();
  if (!header.ok()) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    if (text.size() > 200) text = text.substr(0, 200) + "...";
    return HeaderError(path,
                       "cannot read the npy header " + text + ": " + header.status().message());
  }
  if (header->fortran_order) {
    return HeaderError(path, "Fortran order not supported: save with np.ascontiguousarray");
  }
  auto element = NpyElement(header->descr);
  if (!element.ok()) return HeaderError(path, element.status().message());
  if (header->shape.size() != 2) {
    return HeaderError(path, "shape has " + std::to_string(header->shape.size()) +
                                 " dimensions; expected a 2-D array (rows, dimension)");
  }
  const uint64_t d = header->shape[1];
  if (d < 1 || d > kMaxDimension) {
    return HeaderError(
        path, "dimension " + std::to_string(d) + " (shape[1]) is out of range " + DimensionRange());
  }
  Layout layout;
  layout.dimension = static_cast<uint32_t>(d);
  layout.element = *element;
  layout.declared_rows = header->shape[0];
  return std::unique_ptr<VectorSource>(
      new FixedRowSource(std::move(input), std::move(options), layout));
}

// ---------------------------------------------------------------------------
// idx (http://yann.lecun.com/exdb/mnist/): magic 0x0000 TT NN, NN sizes.

Result<std::unique_ptr<VectorSource>> OpenIdx(std::unique_ptr<InputFile> input,
                                              SourceOptions options) {
  const std::string& path = input->path();
  char magic[4];
  size_t got = input->Read(magic, sizeof(magic));
  if (!input->status().ok()) return input->status();
  if (got < sizeof(magic)) return HeaderError(path, "file ends inside the idx header");
  if (magic[0] != 0 || magic[1] != 0) {
    return HeaderError(path, "not an idx file (it does not start with two zero bytes)");
  }
  const int type = static_cast<unsigned char>(magic[2]);
  const int dims = static_cast<unsigned char>(magic[3]);
  if (type != 0x08) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "0x%02x", type);
    return HeaderError(path, std::string("idx element type ") + hex +
                                 " is not supported (only unsigned bytes, 0x08, as in MNIST)");
  }
  if (dims < 2) {
    return HeaderError(
        path, "idx file of " + std::to_string(dims) + " dimension(s) holds no vectors (labels?)");
  }
  std::string sizes(size_t{4} * dims, '\0');
  got = input->Read(sizes.data(), sizes.size());
  if (!input->status().ok()) return input->status();
  if (got < sizes.size()) return HeaderError(path, "file ends inside the idx header");
  uint64_t d = 1;
  for (int i = 1; i < dims; ++i) {
    d *= LoadBigEndian32(sizes.data() + 4 * i);
    if (d > kMaxDimension) break;
  }
  if (d < 1 || d > kMaxDimension) {
    return HeaderError(path, "entries of " + (d > kMaxDimension ? "over " : std::string()) +
                                 std::to_string(std::min<uint64_t>(d, kMaxDimension)) +
                                 " values are out of the dimension range " + DimensionRange());
  }
  Layout layout;
  layout.dimension = static_cast<uint32_t>(d);
  layout.element = Element::kU8;
  layout.declared_rows = LoadBigEndian32(sizes.data());
  return std::unique_ptr<VectorSource>(
      new FixedRowSource(std::move(input), std::move(options), layout));
}

// ---------------------------------------------------------------------------
// JSON Lines

class JsonLinesSource final : public SourceBase {
 public:
  JsonLinesSource(std::unique_ptr<InputFile> input, SourceOptions options)
      : SourceBase(std::move(input), std::move(options)) {
    // simdjson reads up to SIMDJSON_PADDING bytes past a document: every
    // line sits in buffer_[0, capacity_), so the padding is always there.
    buffer_.resize(capacity_ + simdjson::SIMDJSON_PADDING);
  }

 private:
  Status SkipRows(uint64_t rows) override {
    skip_ = rows;  // counted off in ReadItems, which knows which lines are blank
    return Status::Ok();
  }

  Status ReadItems(size_t count, std::vector<SourceItem>& out) override {
    while (out.size() < count) {
      auto line = NextLine();
      if (!line.ok()) return line.status();
      if (!*line) return Status::Ok();
      std::string_view text = **line;
      ++line_;
      if (line_ == 1 && text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // BOM
      if (text.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      if (skip_ > 0) {
        --skip_;
        continue;
      }
      SourceItem& item = out.emplace_back();
      Status status = DecodeLine(text, item);
      if (!status.ok()) {
        out.pop_back();
        return status;
      }
    }
    return Status::Ok();
  }

  // The next line without its '\n'; nullopt at the end of the file.
  Result<std::optional<std::string_view>> NextLine() {
    for (;;) {
      const char* base = buffer_.data();
      if (const void* newline = std::memchr(base + scan_, '\n', end_ - scan_)) {
        const size_t at = static_cast<const char*>(newline) - base;
        std::string_view line(base + begin_, at - begin_);
        begin_ = scan_ = at + 1;
        return std::optional<std::string_view>(line);
      }
      scan_ = end_;
      if (at_end_) {
        if (begin_ == end_) return std::optional<std::string_view>();
        std::string_view line(base + begin_, end_ - begin_);  // no final '\n'
        begin_ = scan_ = end_;
        return std::optional<std::string_view>(line);
      }
      // Move the unfinished line to the front, growing the buffer when it
      // already fills it, and read more.
      if (begin_ > 0) {
        std::memmove(buffer_.data(), base + begin_, end_ - begin_);
        end_ -= begin_;
        scan_ = end_;
        begin_ = 0;
      }
      if (end_ == capacity_) {
        if (capacity_ >= kMaxLineBytes) {
          return LineError(path(), line_ + 1,
                           "longer than " + std::to_string(kMaxLineBytes >> 20) +
                               " MiB: is this JSON Lines, one object per line?");
        }
        capacity_ *= 2;
        buffer_.resize(capacity_ + simdjson::SIMDJSON_PADDING);
      }
      const size_t want = capacity_ - end_;
      const size_t got = input_->Read(buffer_.data() + end_, want);
      end_ += got;
      if (got < want) {
        at_end_ = true;
        if (!input_->status().ok()) return input_->status();
      }
    }
  }

  Status DecodeLine(std::string_view text, SourceItem& item) {
    using simdjson::dom::element;
    element root;
    auto error = parser_.parse(text.data(), text.size(), false).get(root);
    if (error) return Error(std::string("invalid JSON: ") + simdjson::error_message(error));
    simdjson::dom::object object;
    if (root.get_object().get(object)) return Error("expected a JSON object");

    element value;
    std::string_view id;
    if (object["id"].get(value)) return Error("no \"id\"");
    if (value.get_string().get(id)) return Error("\"id\" must be a string");
    item.id.assign(id);

    simdjson::dom::array array;
    if (object["vector"].get(value)) return Error("no \"vector\"");
    if (value.get_array().get(array)) return Error("\"vector\" must be an array of numbers");
    std::vector<float>& v = item.vector;
    v.clear();
    v.reserve(dimension_ != 0 ? dimension_ : 16);
    for (element x : array) {
      double number;
      if (x.get_double().get(number)) {
        return Error("vector[" + std::to_string(v.size()) + "] is not a number");
      }
      const auto f = static_cast<float>(number);
      if (!std::isfinite(f)) {
        return Error("vector[" + std::to_string(v.size()) + "] = " + FormatNumber(number) +
                     " does not fit in a float32");
      }
      v.push_back(f);
    }
    if (v.empty() || v.size() > kMaxDimension) {
      return Error("dimension " + std::to_string(v.size()) + " is out of range " +
                   DimensionRange());
    }
    if (dimension_ == 0) {
      dimension_ = static_cast<uint32_t>(v.size());
      first_line_ = line_;
    } else if (v.size() != dimension_) {
      return Error("dimension " + std::to_string(v.size()) + " differs from " +
                   std::to_string(dimension_) + " in line " + std::to_string(first_line_));
    }

    item.metadata_json.clear();
    if (object["metadata"].get(value) == simdjson::SUCCESS && !value.is_null()) {
      if (!value.is_object()) return Error("\"metadata\" must be an object");
      item.metadata_json = simdjson::to_string(value);
    }
    item.row = line_;
    return Status::Ok();
  }

  Status Error(const std::string& what) const { return LineError(path(), line_, what); }

  simdjson::dom::parser parser_;
  std::vector<char> buffer_;
  size_t capacity_ = kChunkBytes;
  size_t begin_ = 0;  // start of the next line
  size_t scan_ = 0;   // where to look for its '\n' (before: none)
  size_t end_ = 0;    // end of the data read
  bool at_end_ = false;
  uint64_t line_ = 0;        // 1-based number of the last line taken
  uint64_t first_line_ = 0;  // the line that set dimension_
  uint64_t skip_ = 0;
};

std::string Lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

Result<SourceFormat> DetectFormat(std::string_view path, std::string_view explicit_format) {
  if (!explicit_format.empty()) {
    const std::string name = Lowercase(explicit_format);
    if (name == "fvecs") return SourceFormat::kFvecs;
    if (name == "bvecs") return SourceFormat::kBvecs;
    if (name == "ivecs") return SourceFormat::kIvecs;
    if (name == "npy") return SourceFormat::kNpy;
    if (name == "jsonl" || name == "ndjson") return SourceFormat::kJsonLines;
    if (name == "idx") return SourceFormat::kIdx;
    return Status::InvalidArgument("unknown format \"" + std::string(explicit_format) + "\" for " +
                                   std::string(path) +
                                   ": expected fvecs, bvecs, ivecs, npy, jsonl or idx");
  }
  std::string name = Lowercase(path);
  if (name.ends_with(".gz")) name.resize(name.size() - 3);
  if (name.ends_with(".fvecs")) return SourceFormat::kFvecs;
  if (name.ends_with(".bvecs")) return SourceFormat::kBvecs;
  if (name.ends_with(".ivecs")) return SourceFormat::kIvecs;
  if (name.ends_with(".npy")) return SourceFormat::kNpy;
  if (name.ends_with(".jsonl") || name.ends_with(".ndjson")) return SourceFormat::kJsonLines;
  // MNIST names its files "train-images-idx3-ubyte".
  if (name.ends_with("idx3-ubyte") || name.ends_with("idx2-ubyte")) return SourceFormat::kIdx;
  return Status::InvalidArgument(
      std::string(path) +
      ": cannot tell the format from the name: expected it to end in .fvecs, .bvecs, .ivecs, "
      ".npy, .jsonl, .ndjson or idx3-ubyte (each optionally followed by .gz), or name the "
      "format (fvecs, bvecs, ivecs, npy, jsonl, idx)");
}

std::string_view FormatName(SourceFormat format) {
  switch (format) {
    case SourceFormat::kFvecs: return "fvecs";
    case SourceFormat::kBvecs: return "bvecs";
    case SourceFormat::kIvecs: return "ivecs";
    case SourceFormat::kNpy: return "npy";
    case SourceFormat::kJsonLines: return "jsonl";
    case SourceFormat::kIdx: return "idx";
  }
  return "unknown";
}

Result<std::unique_ptr<VectorSource>> VectorSource::Open(const std::string& path,
                                                         SourceFormat format,
                                                         SourceOptions options) {
  auto input = InputFile::Open(path);
  if (!input.ok()) return input.status();
  switch (format) {
    case SourceFormat::kFvecs:
      return OpenVecs(std::move(*input), std::move(options), Element::kF32);
    case SourceFormat::kBvecs: return OpenVecs(std::move(*input), std::move(options), Element::kU8);
    case SourceFormat::kIvecs:
      return OpenVecs(std::move(*input), std::move(options), Element::kI32);
    case SourceFormat::kNpy: return OpenNpy(std::move(*input), std::move(options));
    case SourceFormat::kIdx: return OpenIdx(std::move(*input), std::move(options));
    case SourceFormat::kJsonLines:
      return std::unique_ptr<VectorSource>(
          new JsonLinesSource(std::move(*input), std::move(options)));
  }
  return Status::InvalidArgument(path + ": unknown source format");
}

}  // namespace vectord::vectorctl
