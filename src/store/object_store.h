// ObjectStore: the narrow interface through which vectord persists bytes.
//
// A flat namespace of keys such as "_vectors/docs.hnsw" mapping to byte
// strings, with the operations both a local directory and an S3 bucket can
// offer: write a whole object atomically (readers see the old bytes or the
// new, never a mix), read it as a stream, delete, and list by prefix. Keys
// use '/' as a separator, never start with '/', and have no empty, "." or
// ".." components (ValidateKey).
//
// Thread safety: implementations allow concurrent calls on different keys;
// a writer or reader object is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/byte_stream.h"
#include "common/status.h"

namespace vectord::store {

// Bytes written through a writer become visible under the key only on
// Commit(); destroying an uncommitted writer discards them.
class ObjectWriter : public ByteSink {
 public:
  virtual Status Commit() = 0;
};

class ObjectReader : public ByteSource {
 public:
  virtual uint64_t size() const = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  virtual Result<std::unique_ptr<ObjectWriter>> Create(std::string_view key) = 0;
  // NotFound when the key does not exist.
  virtual Result<std::unique_ptr<ObjectReader>> Open(std::string_view key) = 0;
  // Deleting an absent key succeeds.
  virtual Status Delete(std::string_view key) = 0;
  // Every key that starts with prefix, sorted.
  virtual Result<std::vector<std::string>> List(std::string_view prefix) = 0;
  // For logs: "local:/var/lib/vectord" or "s3:http://host:9000/bucket".
  virtual std::string Describe() const = 0;

  // Bytes [offset, offset + length) of an object, fewer at its end. The
  // default reads through Open(); stores with ranged reads override it.
  virtual Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length);

  // Whole-object conveniences over Create/Open.
  Status Put(std::string_view key, std::string_view bytes);
  Result<std::string> Get(std::string_view key);
};

Status ValidateKey(std::string_view key);

}  // namespace vectord::store
