#include "engine/index_file_sections.h"

#include <algorithm>

#include "common/crc32c.h"
#include "common/little_endian.h"

namespace vectord::engine::index_file {

using little_endian::GetU32;
using little_endian::GetU64;
using little_endian::PutU32;
using little_endian::PutU64;

SectionWriter::SectionWriter(ByteSink& sink, SectionTag tag, uint64_t length)
    : sink_(sink), length_(length) {
  std::byte head[kSectionHeadSize];
  PutU32(head, static_cast<uint32_t>(tag));
  PutU64(head + 4, length);
  status_ = sink_.Write(head, sizeof(head));
}

void SectionWriter::Append(const void* data, size_t size) {
  if (!status_.ok()) return;
  crc_ = crc32c::Extend(crc_, data, size);
  written_ += size;
  status_ = sink_.Write(data, size);
}

void SectionWriter::AppendU32(uint32_t v) {
  std::byte b[4];
  PutU32(b, v);
  Append(b, 4);
}

Status SectionWriter::Finish() {
  if (!status_.ok()) return status_;
  if (written_ != length_) {
    return Status::Internal("section length mismatch: declared " + std::to_string(length_) +
                            ", wrote " + std::to_string(written_));
  }
  std::byte b[kSectionCrcSize];
  PutU32(b, crc32c::Mask(crc_));
  return sink_.Write(b, sizeof b);
}

SectionReader::SectionReader(ByteSource& source, SectionTag tag) : source_(source) {
  start_ = source_.position();
  std::byte head[kSectionHeadSize];
  status_ = source_.Read(head, sizeof(head));
  if (!status_.ok()) return;
  uint32_t found = GetU32(head);
  if (found != static_cast<uint32_t>(tag)) {
    status_ = Corruption("expected section " + std::to_string(static_cast<uint32_t>(tag)) +
                         ", found tag " + std::to_string(found));
    return;
  }
  remaining_ = GetU64(head + 4);
}

Status SectionReader::ExpectLength(uint64_t expected) {
  if (status_.ok() && remaining_ != expected) {
    status_ = Corruption("section length " + std::to_string(remaining_) + ", expected " +
                         std::to_string(expected));
  }
  return status_;
}

Status SectionReader::Read(void* data, size_t size) {
  if (!status_.ok()) return status_;
  if (size > remaining_) {
    status_ = Corruption("record runs past the end of its section");
    return status_;
  }
  status_ = source_.Read(data, size);
  if (!status_.ok()) return status_;
  crc_ = crc32c::Extend(crc_, data, size);
  remaining_ -= size;
  return status_;
}

Status SectionReader::ReadU32(uint32_t* v) {
  std::byte b[4];
  VECTORD_RETURN_IF_ERROR(Read(b, 4));
  *v = GetU32(b);
  return Status::Ok();
}

Status SectionReader::ReadString(uint32_t size, std::string* out) {
  if (size > remaining_) {
    status_ = Corruption("string of " + std::to_string(size) + " bytes runs past its section");
    return status_;
  }
  out->clear();
  constexpr size_t kStep = 1 << 20;
  while (out->size() < size) {
    size_t step = std::min<size_t>(kStep, size - out->size());
    size_t old = out->size();
    out->resize(old + step);
    VECTORD_RETURN_IF_ERROR(Read(out->data() + old, step));
  }
  return Status::Ok();
}

Status SectionReader::Finish() {
  if (!status_.ok()) return status_;
  if (remaining_ != 0) return Corruption(std::to_string(remaining_) + " unread bytes in section");
  std::byte b[kSectionCrcSize];
  status_ = source_.Read(b, sizeof b);
  if (!status_.ok()) return status_;
  if (!crc32c::StoredMatches(GetU32(b), crc_)) {
    status_ = Corruption("checksum mismatch in section starting at byte " + std::to_string(start_));
  }
  return status_;
}

Status SectionReader::Corruption(const std::string& what) const {
  return Status::Corruption(what + " (at byte " + std::to_string(source_.position()) + ")");
}

}  // namespace vectord::engine::index_file
