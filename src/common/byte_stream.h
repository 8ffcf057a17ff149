// ByteSink / ByteSource: where index serialization writes and reads bytes.
//
// The engine knows nothing of files or object stores; the store layer adapts
// its files to these interfaces. The in-memory versions here serve tests and
// benchmarks. Implementations need not be thread-safe: one (de)serializer
// uses one stream at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vectord {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Appends all `size` bytes or fails.
  virtual Status Write(const void* data, size_t size) = 0;
};

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads exactly `size` bytes, or fails (Corruption when the input ends early).
  virtual Status Read(void* data, size_t size) = 0;
  // Bytes consumed so far: error messages name this offset.
  virtual uint64_t position() const = 0;
};

class StringSink final : public ByteSink {
 public:
  Status Write(const void* data, size_t size) override {
    buffer_.append(static_cast<const char*>(data), size);
    return Status::Ok();
  }
  const std::string& buffer() const { return buffer_; }
  std::string& buffer() { return buffer_; }

 private:
  std::string buffer_;
};

class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string_view bytes) : bytes_(bytes) {}
  Status Read(void* data, size_t size) override {
    if (size > bytes_.size() - offset_) {
      return Status::Corruption("truncated input at byte " + std::to_string(bytes_.size()) +
                                " (needed " + std::to_string(size) + " more at offset " +
                                std::to_string(offset_) + ")");
    }
    std::memcpy(data, bytes_.data() + offset_, size);
    offset_ += size;
    return Status::Ok();
  }
  uint64_t position() const override { return offset_; }

 private:
  std::string_view bytes_;
  size_t offset_ = 0;
};

}  // namespace vectord
