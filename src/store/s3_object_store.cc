#include "store/s3_object_store.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <mutex>
#include <random>
#include <thread>

#include "common/log.h"
#include "common/uri_encoding.h"
#include "store/s3_xml.h"

// Requests are written as designated initializers naming only the fields
// they use; the rest keep their defaults on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace vectord::store {
namespace {

// Replies we read whole (listings, errors, range chunks) are bounded; a
// server that sends more is not one we should trust.
constexpr size_t kMaxReplyBytes = size_t{256} << 20;

bool ValidBucketName(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  return std::all_of(bucket.begin(), bucket.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

struct TransferState {
  std::string_view upload;
  size_t upload_offset = 0;
  std::string* body = nullptr;
  bool overflow = false;
  std::string etag;
  uint64_t content_length = 0;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<TransferState*>(user);
  const size_t bytes = size * count;
  if (state->body->size() + bytes > kMaxReplyBytes) {
    state->overflow = true;
    return 0;  // aborts the transfer
  }
  state->body->append(data, bytes);
  return bytes;
}

size_t OnUpload(char* buffer, size_t size, size_t count, void* user) {
  auto* state = static_cast<TransferState*>(user);
  const size_t n = std::min(size * count, state->upload.size() - state->upload_offset);
  std::memcpy(buffer, state->upload.data() + state->upload_offset, n);
  state->upload_offset += n;
  return n;
}

int OnSeek(void* user, curl_off_t offset, int origin) {
  auto* state = static_cast<TransferState*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > state->upload.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  state->upload_offset = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == '\r' || text.back() == '\n' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  return text;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<TransferState*>(user);
  std::string_view line(data, size * count);
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = Trim(line.substr(colon + 1));
    if (name == "etag") state->etag = value;
    if (name == "content-length") {
      uint64_t length = 0;
      for (char c : value) {
        if (c < '0' || c > '9') break;
        length = length * 10 + static_cast<uint64_t>(c - '0');
      }
      state->content_length = length;
    }
  }
  return size * count;
}

std::string DescribeRequest(const S3ObjectStore::Request& request) {
  std::string what = request.method + " ";
  what += request.key.empty() ? std::string("(bucket)") : request.key;
  return what;
}

// The Status for a reply that is not the success the caller wanted.
Status ReplyError(const S3ObjectStore::Request& request, const S3ObjectStore::Response& reply) {
  if (reply.status == 404 && !request.key.empty()) {
    return Status::NotFound("object not found: " + request.key);
  }
  std::string message = "object store answered HTTP " + std::to_string(reply.status) + " to " +
                        DescribeRequest(request);
  if (auto error = s3_xml::ParseError(reply.body)) {
    message += ": " + error->code;
    if (!error->message.empty()) message += " (" + error->message + ")";
  }
  if (reply.status >= 500) return Status::Unavailable(message);
  return Status::IOError(message);
}

Status ExpectStatus(const S3ObjectStore::Request& request,
                    const Result<S3ObjectStore::Response>& reply, long low, long high) {
  if (!reply.ok()) return reply.status();
  if (reply->status < low || reply->status > high) return ReplyError(request, *reply);
  return Status::Ok();
}

std::once_flag curl_global_once;

std::string_view Unquoted(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag.remove_prefix(1);
    etag.remove_suffix(1);
  }
  return etag;
}

std::string LowerHex(const unsigned char* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    hex += kDigits[bytes[i] >> 4];
    hex += kDigits[bytes[i] & 15];
  }
  return hex;
}

// An ETag as compared: without quotes, lower case.
std::string NormalizedETag(std::string_view etag) {
  std::string normal(Unquoted(etag));
  std::transform(normal.begin(), normal.end(), normal.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return normal;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The MD5 of everything a multipart writer uploaded, fed part by part.
class Md5 {
 public:
  Md5() : context_(EVP_MD_CTX_new()) {
    if (context_ != nullptr && EVP_DigestInit_ex(context_.get(), EVP_md5(), nullptr) != 1) {
      context_.reset();
    }
  }
  void Update(std::string_view bytes) {
    if (context_ != nullptr && EVP_DigestUpdate(context_.get(), bytes.data(), bytes.size()) != 1) {
      context_.reset();
    }
  }
  // Lower-case hex; empty when OpenSSL failed (the digest is then unknown).
  // Ends the digest: call once.
  std::string FinishHex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (context_ == nullptr || EVP_DigestFinal_ex(context_.get(), digest, &size) != 1) return "";
    context_.reset();
    return LowerHex(digest, size);
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> context_;
};

class S3Writer final : public ObjectWriter {
 public:
  S3Writer(S3ObjectStore* store, std::string key) : store_(store), key_(std::move(key)) {}
  ~S3Writer() override {
    if (!upload_id_.empty() && !committed_) {
      // Best effort: a bucket lifecycle rule would clean up otherwise.
      S3ObjectStore::Request abort{
          .method = "DELETE", .key = key_, .query = "uploadId=" + UriEncode(upload_id_, false)};
      (void)store_->Perform(abort);
    }
  }

  Status Write(const void* data, size_t size) override {
    if (!status_.ok()) return status_;
    if (committed_) return status_ = Status::Internal("write after commit: " + key_);
    buffer_.append(static_cast<const char*>(data), size);
    const S3Options& options = store_->options();
    if (upload_id_.empty() && buffer_.size() > options.multipart_threshold) {
      status_ = StartMultipart();
      if (!status_.ok()) return status_;
    }
    while (!upload_id_.empty() && buffer_.size() >= options.part_bytes) {
      status_ = UploadPart(std::string_view(buffer_).substr(0, options.part_bytes));
      if (!status_.ok()) return status_;
      buffer_.erase(0, options.part_bytes);
    }
    return Status::Ok();
  }

  Status Commit() override {
    if (!status_.ok()) return status_;
    if (committed_) return Status::Ok();
    if (upload_id_.empty()) {
      S3ObjectStore::Request put{.method = "PUT", .key = key_, .body = buffer_};
      status_ = ExpectStatus(put, store_->Perform(put), 200, 299);
    } else {
      if (!buffer_.empty() || parts_.empty()) status_ = UploadPart(buffer_);
      if (status_.ok()) status_ = CompleteMultipart();
    }
    if (!status_.ok()) return status_;
    committed_ = true;
    buffer_.clear();
    buffer_.shrink_to_fit();
    return Status::Ok();
  }

 private:
  Status StartMultipart() {
    S3ObjectStore::Request start{.method = "POST", .key = key_, .query = "uploads="};
    auto reply = store_->Perform(start);
    VECTORD_RETURN_IF_ERROR(ExpectStatus(start, reply, 200, 200));
    auto upload_id = s3_xml::ParseUploadId(reply->body);
    if (!upload_id.ok()) return upload_id.status().WithContext("starting upload of " + key_);
    upload_id_ = std::move(*upload_id);
    return Status::Ok();
  }

  Status UploadPart(std::string_view bytes) {
    const size_t number = parts_.size() + 1;
    S3ObjectStore::Request part{.method = "PUT",
                                .key = key_,
                                .query = "partNumber=" + std::to_string(number) +
                                         "&uploadId=" + UriEncode(upload_id_, false),
                                .body = bytes};
    auto reply = store_->Perform(part);
    VECTORD_RETURN_IF_ERROR(ExpectStatus(part, reply, 200, 299));
    if (reply->etag.empty()) {
      return Status::IOError("object store sent no ETag for part " + std::to_string(number) +
                             " of " + key_);
    }
    parts_.push_back(reply->etag);
    uploaded_bytes_ += bytes.size();
    content_md5_.Update(bytes);
    return Status::Ok();
  }

  Status CompleteMultipart() {
    std::string xml = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < parts_.size(); ++i) {
      xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
             s3_xml::EscapeText(parts_[i]) + "</ETag></Part>";
    }
    xml += "</CompleteMultipartUpload>";
    S3ObjectStore::Request complete{.method = "POST",
                                    .key = key_,
                                    .query = "uploadId=" + UriEncode(upload_id_, false),
                                    .body = xml};
    auto reply = store_->Perform(complete);
    Status status = ExpectStatus(complete, reply, 200, 200);
    if (status.ok()) {
      // S3 may answer 200 and then report a failure in the body.
      if (auto error = s3_xml::ParseError(reply->body)) {
        return Status::IOError("completing the upload of " + key_ + " failed: " + error->code +
                               " (" + error->message + ")");
      }
      LogInfo("object_store_multipart_upload", {{"key", key_}, {"parts", parts_.size()}});
      return Status::Ok();
    }
    // An attempt the store carried out may have lost its reply, and Perform
    // retried it: the retry then finds the upload gone (NoSuchUpload: S3,
    // MinIO) or fails as the store fails on a finished upload (s3rver: 500).
    // Either way the object may be ours already; only the object can tell.
    if (reply.ok() && reply->status == 404) {
      auto error = s3_xml::ParseError(reply->body);
      if (!error || error->code != "NoSuchUpload") return status;
      return ResolveByTheObject(Status::IOError("completing the upload of " + key_ +
                                                ": the store no longer knows the upload "
                                                "(NoSuchUpload)"),
                                "NoSuchUpload");
    }
    if (status.code() == StatusCode::kUnavailable) {
      return ResolveByTheObject(status, "unavailable");
    }
    return status;
  }

  // After a Complete whose outcome is unknown: Ok when the object at the key
  // is the one this upload makes — its size, and an ETag equal to S3's
  // multipart ETag of our parts or to the MD5 of all our bytes (stores that
  // hash the assembled object, as s3rver does); otherwise `failure`, saying
  // what the key holds.
  Status ResolveByTheObject(const Status& failure, std::string_view answer) {
    const std::string multipart_etag = MultipartETag(parts_);
    const std::string content_etag = content_md5_.FinishHex();
    const std::string ours = "ETag \"" + (multipart_etag.empty() ? "?" : multipart_etag) +
                             "\" or \"" + (content_etag.empty() ? "?" : content_etag) + "\", " +
                             std::to_string(uploaded_bytes_) + " bytes";
    auto explain = [&](const std::string& found) {
      const std::string message = failure.message() + "; " + found + "; this upload is " + ours;
      return failure.code() == StatusCode::kUnavailable ? Status::Unavailable(message)
                                                        : Status::IOError(message);
    };
    auto info = store_->Stat(key_);
    if (!info.ok()) {
      if (info.status().code() == StatusCode::kNotFound) return explain("the key holds no object");
      return explain("checking the object failed: " + info.status().message());
    }
    const std::string found = NormalizedETag(info->etag);
    const bool same_etag = !found.empty() && (found == multipart_etag || found == content_etag);
    if (!same_etag || info->size != uploaded_bytes_) {
      return explain("the key holds another object: ETag \"" + found + "\", " +
                     std::to_string(info->size) + " bytes");
    }
    LogWarn("object_store_multipart_complete_resolved", {{"key", key_},
                                                         {"parts", parts_.size()},
                                                         {"bytes", uploaded_bytes_},
                                                         {"etag", found},
                                                         {"complete_answer", answer}});
    return Status::Ok();
  }

  S3ObjectStore* const store_;
  const std::string key_;
  std::string buffer_;
  std::string upload_id_;
  std::vector<std::string> parts_;  // ETags, part i + 1 at index i
  uint64_t uploaded_bytes_ = 0;     // in parts_
  Md5 content_md5_;                 // of the bytes in parts_, in order
  bool committed_ = false;
  Status status_;
};

class S3Reader final : public ObjectReader {
 public:
  S3Reader(S3ObjectStore* store, std::string key, ObjectInfo info)
      : store_(store), key_(std::move(key)), info_(std::move(info)) {}

  uint64_t size() const override { return info_.size; }
  uint64_t position() const override { return position_; }

  Status Read(void* data, size_t size) override {
    if (size > info_.size - position_) {
      return Status::Corruption("object " + key_ + " ends at byte " + std::to_string(info_.size) +
                                " (needed " + std::to_string(size) + " more at offset " +
                                std::to_string(position_) + ")");
    }
    char* out = static_cast<char*>(data);
    while (size > 0) {
      if (chunk_offset_ == chunk_.size()) VECTORD_RETURN_IF_ERROR(Refill());
      const size_t n = std::min(size, chunk_.size() - chunk_offset_);
      std::memcpy(out, chunk_.data() + chunk_offset_, n);
      chunk_offset_ += n;
      position_ += n;
      out += n;
      size -= n;
    }
    return Status::Ok();
  }

 private:
  Status Refill() {
    const uint64_t length =
        std::min<uint64_t>(store_->options().read_chunk_bytes, info_.size - position_);
    S3ObjectStore::Request get{.method = "GET",
                               .key = key_,
                               .range = "bytes=" + std::to_string(position_) + "-" +
                                        std::to_string(position_ + length - 1),
                               .if_match = info_.etag};
    auto reply = store_->Perform(get);
    if (reply.ok() && reply->status == 412) {
      return Status::IOError("object " + key_ + " changed while it was being read");
    }
    VECTORD_RETURN_IF_ERROR(ExpectStatus(get, reply, 200, 299));
    // A server that ignores Range answers 200 with the whole object.
    if (reply->status == 200 && reply->body.size() == info_.size && info_.size != length) {
      reply->body = reply->body.substr(position_, length);
    }
    if (reply->body.size() != length) {
      return Status::Corruption("object " + key_ + ": asked for " + std::to_string(length) +
                                " bytes at offset " + std::to_string(position_) + ", got " +
                                std::to_string(reply->body.size()));
    }
    chunk_ = std::move(reply->body);
    chunk_offset_ = 0;
    return Status::Ok();
  }

  S3ObjectStore* const store_;
  const std::string key_;
  const ObjectInfo info_;
  std::string chunk_;
  size_t chunk_offset_ = 0;
  uint64_t position_ = 0;
};

}  // namespace

std::string MultipartETag(const std::vector<std::string>& part_etags) {
  std::string digests;
  digests.reserve(part_etags.size() * 16);
  for (const std::string& etag : part_etags) {
    const std::string_view hex = Unquoted(etag);
    if (hex.size() != 32) return "";
    for (size_t i = 0; i < hex.size(); i += 2) {
      const int high = HexDigit(hex[i]);
      const int low = HexDigit(hex[i + 1]);
      if (high < 0 || low < 0) return "";
      digests += static_cast<char>(high * 16 + low);
    }
  }
  Md5 md5;
  md5.Update(digests);
  const std::string hex = md5.FinishHex();
  if (hex.empty() || part_etags.empty()) return "";
  return hex + "-" + std::to_string(part_etags.size());
}

Status ParseStorageUrl(std::string_view url, S3Options* options) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos ||
      (url.substr(0, scheme_end) != "http" && url.substr(0, scheme_end) != "https")) {
    return Status::InvalidArgument("storaged_url must start with http:// or https://");
  }
  if (url.find_first_of("?#") != std::string_view::npos) {
    return Status::InvalidArgument("storaged_url must not have a query or fragment");
  }
  const size_t host_start = scheme_end + 3;
  const size_t path_start = url.find('/', host_start);
  if (path_start == std::string_view::npos || path_start == host_start) {
    return Status::InvalidArgument(
        "storaged_url must name a host and a bucket: http://host:port/bucket[/prefix]");
  }
  std::string_view path = url.substr(path_start + 1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  const size_t bucket_end = path.find('/');
  std::string_view bucket = path.substr(0, bucket_end);
  if (!ValidBucketName(bucket)) {
    return Status::InvalidArgument("storaged_url: \"" + std::string(bucket) +
                                   "\" is not a bucket name (3-63 of a-z 0-9 . -)");
  }
  std::string prefix;
  if (bucket_end != std::string_view::npos) {
    prefix = std::string(path.substr(bucket_end + 1)) + "/";
    if (Status valid = ValidateKey(prefix.substr(0, prefix.size() - 1)); !valid.ok()) {
      return Status::InvalidArgument("storaged_url: bad key prefix: " + valid.message());
    }
  }
  options->endpoint = std::string(url.substr(0, path_start));
  options->bucket = std::string(bucket);
  options->key_prefix = std::move(prefix);
  return Status::Ok();
}

Result<std::unique_ptr<S3ObjectStore>> S3ObjectStore::Open(S3Options options) {
  if (options.endpoint.empty() || !ValidBucketName(options.bucket)) {
    return Status::InvalidArgument("object store needs an endpoint and a valid bucket name");
  }
  if (!options.key_prefix.empty() && options.key_prefix.back() != '/') options.key_prefix += '/';
  if (options.part_bytes == 0 || options.read_chunk_bytes == 0 || options.max_attempts < 1) {
    return Status::InvalidArgument("object store: part size, read chunk and attempts must be > 0");
  }
  std::call_once(curl_global_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return std::unique_ptr<S3ObjectStore>(new S3ObjectStore(std::move(options)));
}

S3ObjectStore::~S3ObjectStore() {
  for (void* handle : idle_handles_) curl_easy_cleanup(static_cast<CURL*>(handle));
}

std::string S3ObjectStore::Describe() const {
  return "s3:" + options_.endpoint + "/" + options_.bucket +
         (options_.key_prefix.empty() ? "" : "/" + options_.key_prefix);
}

void* S3ObjectStore::TakeHandle() {
  {
    std::lock_guard lock(pool_mutex_);
    if (!idle_handles_.empty()) {
      void* handle = idle_handles_.back();
      idle_handles_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void S3ObjectStore::ReturnHandle(void* handle) {
  std::lock_guard lock(pool_mutex_);
  idle_handles_.push_back(handle);
}

Result<S3ObjectStore::Response> S3ObjectStore::PerformOnce(const Request& request, void* handle) {
  CURL* curl = static_cast<CURL*>(handle);
  curl_easy_reset(curl);  // keeps the connection cache: the point of pooling handles

  std::string url = options_.endpoint + "/" + options_.bucket;
  if (!request.key.empty()) url += "/" + UriEncode(options_.key_prefix + request.key, true);
  if (!request.query.empty()) url += "?" + request.query;

  Response response;
  TransferState state;
  state.upload = request.body;
  state.body = &response.body;

  curl_slist* headers = nullptr;
  auto add_header = [&](const std::string& header) {
    headers = curl_slist_append(headers, header.c_str());
  };
  add_header("x-amz-content-sha256: UNSIGNED-PAYLOAD");
  add_header("Expect:");  // no 100-continue round trip on loopback-sized bodies
  if (!request.range.empty()) add_header("Range: " + request.range);
  if (!request.if_match.empty()) add_header("If-Match: " + request.if_match);

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   std::max(1L, static_cast<long>(options_.stall_timeout.count() / 1000)));
  const std::string sigv4 = "aws:amz:" + options_.region + ":s3";
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(curl, CURLOPT_USERNAME, options_.access_key.c_str());
  curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.secret_key.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &state);

  if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &OnUpload);
    curl_easy_setopt(curl, CURLOPT_READDATA, &state);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, &OnSeek);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &state);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "POST") {
    add_header("Content-Type: application/xml");
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (state.overflow) {
    return Status::IOError("object store reply to " + DescribeRequest(request) + " exceeds " +
                           std::to_string(kMaxReplyBytes >> 20) + " MiB");
  }
  if (code != CURLE_OK) {
    return Status::Unavailable("object store " + options_.endpoint + " unreachable for " +
                               DescribeRequest(request) + ": " + curl_easy_strerror(code));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  response.etag = std::move(state.etag);
  response.content_length = state.content_length;
  return response;
}

Result<S3ObjectStore::Response> S3ObjectStore::Perform(const Request& request) {
  thread_local std::minstd_rand jitter(std::random_device{}());
  Result<Response> result = Status::Internal("no attempt made");
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    if (attempt > 0) {
      // Full jitter: a random pause up to an exponentially growing cap, so
      // that many writers retrying after one outage do not retry in step.
      const int64_t cap = std::min<int64_t>(options_.backoff_max.count(),
                                            options_.backoff_base.count() << (attempt - 1));
      std::uniform_int_distribution<int64_t> pause(0, std::max<int64_t>(cap, 1));
      std::this_thread::sleep_for(std::chrono::milliseconds(pause(jitter)));
    }
    void* handle = TakeHandle();
    if (handle == nullptr) return Status::Internal("curl_easy_init failed");
    result = PerformOnce(request, handle);
    ReturnHandle(handle);
    const bool retry =
        !result.ok() ? result.status().code() == StatusCode::kUnavailable : result->status >= 500;
    if (!retry) break;
  }
  return result;
}

Result<std::unique_ptr<ObjectWriter>> S3ObjectStore::Create(std::string_view key) {
  VECTORD_RETURN_IF_ERROR(ValidateKey(key));
  return std::unique_ptr<ObjectWriter>(new S3Writer(this, std::string(key)));
}

Result<ObjectInfo> S3ObjectStore::Stat(std::string_view key) {
  VECTORD_RETURN_IF_ERROR(ValidateKey(key));
  Request head{.method = "HEAD", .key = std::string(key), .head = true};
  auto reply = Perform(head);
  VECTORD_RETURN_IF_ERROR(ExpectStatus(head, reply, 200, 200));
  return ObjectInfo{reply->content_length, reply->etag};
}

Result<std::unique_ptr<ObjectReader>> S3ObjectStore::Open(std::string_view key) {
  VECTORD_ASSIGN_OR_RETURN(ObjectInfo info, Stat(key));
  return std::unique_ptr<ObjectReader>(new S3Reader(this, std::string(key), std::move(info)));
}

Result<std::string> S3ObjectStore::GetRange(std::string_view key, uint64_t offset,
                                            uint64_t length) {
  VECTORD_RETURN_IF_ERROR(ValidateKey(key));
  if (length == 0) return std::string();
  Request get{
      .method = "GET",
      .key = std::string(key),
      .range = "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1)};
  auto reply = Perform(get);
  if (reply.ok() && reply->status == 416) return std::string();  // offset past the end
  VECTORD_RETURN_IF_ERROR(ExpectStatus(get, reply, 200, 299));
  if (reply->status == 200 && offset > 0) {
    // The server ignored Range: cut the window out of the whole object.
    if (offset >= reply->body.size()) return std::string();
    reply->body = reply->body.substr(offset, length);
  }
  if (reply->body.size() > length) reply->body.resize(length);
  return std::move(reply->body);
}

Status S3ObjectStore::Delete(std::string_view key) {
  VECTORD_RETURN_IF_ERROR(ValidateKey(key));
  Request remove{.method = "DELETE", .key = std::string(key)};
  auto reply = Perform(remove);
  if (reply.ok() && reply->status == 404) return Status::Ok();
  return ExpectStatus(remove, reply, 200, 299);
}

Result<std::vector<std::string>> S3ObjectStore::List(std::string_view prefix) {
  std::vector<std::string> keys;
  std::string token;
  const std::string full_prefix = options_.key_prefix + std::string(prefix);
  while (true) {
    // SigV4 signs the query as sent: parameters sorted by name, values encoded.
    std::string query;
    if (!token.empty()) query += "continuation-token=" + UriEncode(token, false) + "&";
    query += "list-type=2&prefix=" + UriEncode(full_prefix, false);
    Request list{.method = "GET", .query = query};
    auto reply = Perform(list);
    VECTORD_RETURN_IF_ERROR(ExpectStatus(list, reply, 200, 200));
    auto page = s3_xml::ParseListObjectsV2(reply->body);
    if (!page.ok()) return page.status().WithContext("listing " + Describe());
    for (auto& object : page->objects) {
      if (object.key.compare(0, full_prefix.size(), full_prefix) != 0) {
        return Status::Corruption("listing " + Describe() + " returned a key outside prefix " +
                                  full_prefix);
      }
      keys.push_back(object.key.substr(options_.key_prefix.size()));
    }
    if (!page->truncated) break;
    if (page->next_continuation_token == token) {
      return Status::Corruption("listing " + Describe() + " repeats its continuation token");
    }
    token = std::move(page->next_continuation_token);
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

Status S3ObjectStore::Ping() {
  Request list{.method = "GET",
               .query = "list-type=2&max-keys=1&prefix=" + UriEncode(options_.key_prefix, false)};
  return ExpectStatus(list, Perform(list), 200, 200);
}

}  // namespace vectord::store
