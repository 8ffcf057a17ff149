// VectorSource: reads the vector files people already have (the ANN benchmark
// *vecs files, NumPy .npy arrays, JSON Lines, the MNIST idx files), plain or
// gzip-compressed, and hands them to `vectorctl import` in batches of items.
//
// Streaming: a source holds one read buffer (about 1 MiB, plus zlib's) and
// the batch it is filling, never the whole file, so a multi-gigabyte file
// imports in constant memory.
//
// Formats (little-endian unless said):
// - fvecs / bvecs / ivecs: per row an int32 dimension d, then d float32 /
//   uint8 / int32 values. Every row has the dimension of row 0.
// - npy: NumPy format 1.0, 2.0 and 3.0, a C-order 2-D array (n, d) of <f4,
//   <f8, <f2, <i4, |u1 or |i1; all converted to float32.
// - JSON Lines: {"id": "...", "vector": [numbers], "metadata": {...}} per
//   line; blank lines are skipped, other keys ignored, a null metadata is none.
// - idx (MNIST, Fashion-MNIST): big-endian header (magic 0x0000_08_nn, then
//   nn int32 sizes), unsigned bytes; one item per entry of the first axis,
//   its dimension the product of the other sizes.
// Every component must be finite and fit in a float32: the server refuses
// anything else, and here the error can name the row.
//
// Errors say "file: row R: what" for positional formats (R 0-based) and
// "file: line L: what" for JSON Lines (L 1-based, counting blank lines), as
// InvalidArgument; a damaged gzip stream is Corruption, an OS error IOError.
//
// Thread safety: a source is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace vectord::vectorctl {

// The server's largest dimension (engine::kMaxDimension). vectorctl talks to
// the server over HTTP only and does not link the engine, so it repeats it.
inline constexpr uint32_t kMaxDimension = 16384;

struct SourceItem {
  // JSON Lines: the line's "id". Positional formats: id_prefix followed by
  // the 0-based row number in decimal ("img-0", "img-1", ...).
  std::string id;
  std::vector<float> vector;
  // Compact JSON text of the line's "metadata" object (JSON Lines only);
  // empty = none.
  std::string metadata_json;
  // Where the item came from, for messages as "file:row": the 1-based line
  // (JSON Lines) or the 0-based row (the other formats).
  uint64_t row = 0;
};

enum class SourceFormat { kFvecs, kBvecs, kIvecs, kNpy, kJsonLines, kIdx };

// The format of `path`: `explicit_format` when non-empty ("fvecs", "bvecs",
// "ivecs", "npy", "jsonl" or "ndjson", "idx"), else from the name's ending
// (.fvecs .bvecs .ivecs .npy .jsonl .ndjson idx3-ubyte idx2-ubyte, any case,
// each optionally followed by .gz). InvalidArgument naming the file and the
// formats when neither says.
Result<SourceFormat> DetectFormat(std::string_view path, std::string_view explicit_format);

// "fvecs", "bvecs", "ivecs", "npy", "jsonl", "idx": what DetectFormat takes.
std::string_view FormatName(SourceFormat format);

struct SourceOptions {
  // Put before the row number to make ids of positional formats; not used
  // for JSON Lines, whose lines carry their own ids.
  std::string id_prefix;
  // Rows (JSON Lines: non-blank lines) to pass over before the first item,
  // without decoding them; row numbers and ids still count from the start
  // of the file, so an interrupted import resumes with the same ids. In an
  // uncompressed fixed-layout file this is a seek, which assumes the skipped
  // rows are well-formed.
  uint64_t skip_rows = 0;
  // Stop after this many items; 0 = all.
  uint64_t max_rows = 0;
};

// The open, buffered input file of a source (vector_source.cc).
class InputFile;

class VectorSource {
 public:
  // Opens `path` (plain or gzip; gzip is recognised by its content, not by
  // the name) and reads the format's header. IOError when the file cannot
  // be opened, InvalidArgument when its header is malformed.
  static Result<std::unique_ptr<VectorSource>> Open(const std::string& path, SourceFormat format,
                                                    SourceOptions options = {});

  virtual ~VectorSource();
  VectorSource(const VectorSource&) = delete;
  VectorSource& operator=(const VectorSource&) = delete;

  // Clears `out` and appends up to max_items (> 0) items; an empty `out`
  // with an ok status is the end of the input. The rows before a bad row are
  // delivered first: the error comes from the call after the last good item
  // and from every call after it.
  virtual Status Next(size_t max_items, std::vector<SourceItem>& out) = 0;

  // Known after Open for the fixed-layout formats (0 for an empty *vecs
  // file); for JSON Lines set by the first item (0 before).
  uint32_t dimension() const { return dimension_; }
  // Rows in the file, before skip_rows and max_rows: from the header for npy
  // and idx, from the file size for uncompressed *vecs; nullopt otherwise.
  std::optional<uint64_t> total_rows() const { return total_rows_; }
  // Progress: the bytes of the file consumed so far (of the compressed file
  // for gzip), against its size on disk.
  uint64_t bytes_read() const;
  uint64_t file_bytes() const { return file_bytes_; }

 protected:
  VectorSource();

  uint32_t dimension_ = 0;
  std::optional<uint64_t> total_rows_;
  uint64_t file_bytes_ = 0;
  std::unique_ptr<InputFile> input_;  // null in sources that read no file (test doubles)
};

}  // namespace vectord::vectorctl
