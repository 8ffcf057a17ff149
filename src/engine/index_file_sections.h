// Framed sections of the index file (docs/index-file-format.md, "Layout"):
// tag:u32 length:u64 payload crc:u32. The writer streams a payload whose
// length it declared up front; the reader checks tag, declared length and
// CRC, and never reads past the declared length, so a corrupt length cannot
// make it allocate more than the input really holds.
//
// Thread safety: one section at a time on one stream, from one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/byte_stream.h"
#include "common/status.h"
#include "engine/index_file.h"

namespace vectord::engine::index_file {

class SectionWriter {
 public:
  SectionWriter(ByteSink& sink, SectionTag tag, uint64_t length);
  void Append(const void* data, size_t size);
  void AppendU32(uint32_t v);
  // Writes the CRC; Internal when fewer or more bytes than declared came.
  Status Finish();

 private:
  ByteSink& sink_;
  uint64_t length_;
  uint64_t written_ = 0;
  uint32_t crc_ = 0;
  Status status_;
};

class SectionReader {
 public:
  SectionReader(ByteSource& source, SectionTag tag);

  const Status& status() const { return status_; }
  uint64_t remaining() const { return remaining_; }

  // Corruption unless the declared length is `expected`.
  Status ExpectLength(uint64_t expected);
  Status Read(void* data, size_t size);
  Status ReadU32(uint32_t* v);
  // Reads `size` bytes into `out` in bounded steps, so memory follows the
  // bytes actually present rather than a length field.
  Status ReadString(uint32_t size, std::string* out);
  // Checks that the payload was read whole, then the CRC.
  Status Finish();

  // "<what> (at byte N)", N the stream's position now.
  Status Corruption(const std::string& what) const;

 private:
  ByteSource& source_;
  uint64_t start_ = 0;
  uint64_t remaining_ = 0;
  uint32_t crc_ = 0;
  Status status_;
};

}  // namespace vectord::engine::index_file
