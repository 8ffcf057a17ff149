// VectorFile: the local file in which an index whose vectors live on disk
// (VectorPlacement::kDisk) keeps its full-precision vectors, one fixed-size
// row per slot at offset slot * row_bytes.
//
// The file has no name: it is made with O_TMPFILE (or made and unlinked at
// once where the file system lacks it), so it disappears with the index, a
// crash leaves nothing to clean up, and two indexes of one name (a reload
// swapping in for the old one) never meet. It is never a durable record:
// the index file holds the vectors, and a load writes them here again.
//
// Two ways in, for two kinds of access:
// - MapRegion maps part of the file shared: the index writes new vectors
//   and the build reads neighbours through it (the page cache serves them;
//   ReleaseResident gives the mapped pages back to it);
// - ReadRows reads the rows of one search's candidates, in one batch
//   (io_uring, or pread), into the caller's buffer: what a re-rank needs,
//   without mapping the file into the process.
//
// Thread safety: MapRegion is called by one writer at a time (the index's
// growth is serialised); ReadRows and ReleaseResident from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/status.h"

namespace vectord::engine {

class VectorFile {
 public:
  static Result<std::unique_ptr<VectorFile>> Create(const std::string& directory);
  ~VectorFile();
  VectorFile(const VectorFile&) = delete;
  VectorFile& operator=(const VectorFile&) = delete;

  // Reserves the file's blocks for [offset, offset + bytes) (so a full disk
  // is an error here, not a SIGBUS on a later store) and maps them shared,
  // read-write. `offset` must be a multiple of the page size. Unmap with
  // munmap.
  Result<std::byte*> MapRegion(uint64_t offset, size_t bytes);

  // Reads rows.size() rows of `row_bytes`, row i from offset
  // rows[i] * row_bytes, into out + i * row_bytes: all issued together
  // through io_uring where the kernel allows it, else one pread each.
  Status ReadRows(std::span<const uint32_t> rows, size_t row_bytes, std::byte* out) const;

  // The file's length (blocks reserved so far).
  uint64_t size_bytes() const { return size_bytes_; }
  // Rows ReadRows has read, in all.
  uint64_t rows_read() const { return rows_read_.load(std::memory_order_relaxed); }

 private:
  VectorFile(int fd, std::string directory) : fd_(fd), directory_(std::move(directory)) {}
  Status ReadRow(uint32_t row, size_t row_bytes, std::byte* dest) const;

  const int fd_;
  const std::string directory_;  // for messages
  uint64_t size_bytes_ = 0;
  mutable std::atomic<uint64_t> rows_read_{0};
};

// Unmaps the pages of [p, p + bytes) of a shared file mapping from this
// process; their contents stay in the page cache and the file.
void ReleaseResident(std::byte* p, size_t bytes);

}  // namespace vectord::engine
