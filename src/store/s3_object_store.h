// S3ObjectStore: an ObjectStore in a bucket of any S3-compatible service
// (AWS S3, MinIO, Ceph RGW, the lakehouse's storaged), spoken to over HTTP
// with libcurl, requests signed by libcurl's AWS Signature V4.
//
// Keys map to "<key_prefix><key>" in the bucket, addressed path-style
// (http://host:port/bucket/key). Every request carries
// `x-amz-content-sha256: UNSIGNED-PAYLOAD` (S3 requires the header; the data
// vectord stores carries its own CRCs) and is signed over it.
//
// Objects up to `multipart_threshold` are written with one PUT from memory;
// a larger one switches to a multipart upload as the writer passes the
// threshold, holding one part in memory at a time, so a multi-GB snapshot
// streams. Readers fetch `read_chunk_bytes` at a time with Range GETs pinned
// to the ETag seen at open (a concurrent overwrite fails the read instead of
// mixing two versions).
//
// Completing a multipart upload is retried like any request, so a Complete
// the store carried out but whose reply was lost comes back as NoSuchUpload
// (or, from stores that fail on a finished upload, as a 5xx). The writer then
// HEADs the key and commits only when the object there is this upload: its
// size, and its ETag equal to S3's multipart ETag of our parts or to the MD5
// of all our bytes; anything else stays an error naming what the key holds.
//
// Failures: a network error or a 5xx is retried with exponential backoff and
// full jitter, up to `max_attempts` tries; a 4xx is not retried. Errors come
// back as Status: NotFound for a missing key, Unavailable when the store
// could not be reached or kept failing, IOError for a refusal (403, 400...)
// with the S3 error code and message. Credentials never appear in messages
// or in Describe().
//
// Thread safety: as ObjectStore. Connections (curl handles) are pooled and
// reused across calls from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/object_store.h"

namespace vectord::store {

struct S3Options {
  std::string endpoint;    // "http://127.0.0.1:9000" (scheme, host, optional port)
  std::string bucket;      // "lakehouse"
  std::string key_prefix;  // "" or ending in '/': "tenants/a/"
  std::string access_key;
  std::string secret_key;
  std::string region = "us-east-1";

  std::chrono::milliseconds connect_timeout{3000};
  // A transfer that moves less than 1 KiB/s for this long is abandoned.
  std::chrono::milliseconds stall_timeout{15000};
  int max_attempts = 4;
  std::chrono::milliseconds backoff_base{100};
  std::chrono::milliseconds backoff_max{3000};

  uint64_t multipart_threshold = uint64_t{64} << 20;
  uint64_t part_bytes = uint64_t{16} << 20;  // S3's minimum is 5 MiB (except the last)
  uint64_t read_chunk_bytes = uint64_t{8} << 20;
};

// Splits a storaged_url, "http://host:port/bucket[/key/prefix]", into the
// endpoint, bucket and key prefix of `options` (other fields untouched).
Status ParseStorageUrl(std::string_view url, S3Options* options);

struct ObjectInfo {
  uint64_t size = 0;
  std::string etag;
};

// The ETag S3 gives an object completed from parts with these ETags: the hex
// MD5 of the parts' binary MD5s concatenated, then "-<part count>". Empty when
// a part's ETag is not a hex MD5 (quotes allowed) or there are no parts.
std::string MultipartETag(const std::vector<std::string>& part_etags);

class S3ObjectStore final : public ObjectStore {
 public:
  static Result<std::unique_ptr<S3ObjectStore>> Open(S3Options options);
  ~S3ObjectStore() override;

  Result<std::unique_ptr<ObjectWriter>> Create(std::string_view key) override;
  Result<std::unique_ptr<ObjectReader>> Open(std::string_view key) override;
  Status Delete(std::string_view key) override;
  Result<std::vector<std::string>> List(std::string_view prefix) override;
  std::string Describe() const override;

  // HEAD: NotFound when absent.
  Result<ObjectInfo> Stat(std::string_view key);
  // GET of bytes [offset, offset + length) (fewer at the end of the object).
  Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) override;
  // Checks that the bucket answers (a one-key listing): start-up readiness.
  Status Ping();

  const S3Options& options() const { return options_; }

  // One HTTP exchange, retried as described above. Public for the writer and
  // reader in the .cc; not part of the interface callers should use.
  struct Request;
  struct Response;
  Result<Response> Perform(const Request& request);

 private:
  explicit S3ObjectStore(S3Options options) : options_(std::move(options)) {}
  Result<Response> PerformOnce(const Request& request, void* handle);
  void* TakeHandle();
  void ReturnHandle(void* handle);

  const S3Options options_;
  std::mutex pool_mutex_;
  std::vector<void*> idle_handles_;  // CURL*; guarded by pool_mutex_
};

struct S3ObjectStore::Request {
  std::string method;     // GET, PUT, HEAD, DELETE, POST
  std::string key;        // object key without the prefix; empty: the bucket
  std::string query;      // canonical: sorted, encoded, '&'-joined; may be empty
  std::string_view body;  // PUT / POST payload
  std::string range;      // "bytes=0-99" or empty
  std::string if_match;   // ETag or empty
  bool head = false;      // no response body expected
};

struct S3ObjectStore::Response {
  long status = 0;
  std::string body;
  std::string etag;
  uint64_t content_length = 0;
};

}  // namespace vectord::store
