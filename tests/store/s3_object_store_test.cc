// S3ObjectStore against a real S3-protocol server (s3rver on loopback), also
// behind a proxy that loses its replies, plus a canned-reply server for the
// failure paths s3rver cannot produce (5xx, 403 from a store that checks
// credentials).
#include "store/s3_object_store.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "store/s3_xml.h"
#include "support/s3_server.h"
#include "support/tcp_proxy.h"

namespace vectord::store {
namespace {

using testing::S3Server;
using testing::TcpProxy;

TEST(StorageUrl, SplitsEndpointBucketAndPrefix) {
  S3Options options;
  ASSERT_TRUE(ParseStorageUrl("http://127.0.0.1:9000/lakehouse", &options).ok());
  EXPECT_EQ(options.endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(options.bucket, "lakehouse");
  EXPECT_EQ(options.key_prefix, "");
  ASSERT_TRUE(ParseStorageUrl("https://s3.example.com/my-bucket/tenants/a/", &options).ok());
  EXPECT_EQ(options.endpoint, "https://s3.example.com");
  EXPECT_EQ(options.bucket, "my-bucket");
  EXPECT_EQ(options.key_prefix, "tenants/a/");
}

TEST(StorageUrl, RefusesWhatIsNotAnEndpointAndBucket) {
  S3Options options;
  for (const char* bad : {"", "127.0.0.1:9000/lakehouse", "ftp://h/bucket", "http://h", "http://h/",
                          "http:///bucket", "http://h/UPPER", "http://h/ab", "http://h/bucket?x=1",
                          "http://h/bucket/../x", "http://h/bu_cket"}) {
    EXPECT_FALSE(ParseStorageUrl(bad, &options).ok()) << bad;
  }
}

TEST(S3Xml, ParsesAListingPage) {
  auto page = s3_xml::ParseListObjectsV2(
      "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Name>b</Name><Contents><Key>a&amp;b</Key><Size>12</Size></Contents>"
      "<Contents><Key>c</Key><Size>0</Size></Contents>"
      "<IsTruncated>true</IsTruncated><NextContinuationToken>tok+/=</NextContinuationToken>"
      "</ListBucketResult>");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "a&b");
  EXPECT_EQ(page->objects[0].size, 12u);
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_continuation_token, "tok+/=");
}

TEST(S3Xml, RefusesBrokenListings) {
  for (const char* bad :
       {"", "not xml", "<Other/>", "<ListBucketResult><Contents><Key>a</Key>",
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
        "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
        "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><ListBucketResult><Contents><Key>&a;</Key>"
        "</Contents></ListBucketResult>"}) {
    EXPECT_FALSE(s3_xml::ParseListObjectsV2(bad).ok()) << bad;
  }
}

TEST(S3Xml, ReadsErrorDocumentsAndUploadIds) {
  auto error = s3_xml::ParseError(
      "<Error><Code>AccessDenied</Code><Message>no &lt;way&gt;</Message></Error>");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, "AccessDenied");
  EXPECT_EQ(error->message, "no <way>");
  EXPECT_FALSE(s3_xml::ParseError("<CompleteMultipartUploadResult/>").has_value());
  EXPECT_FALSE(s3_xml::ParseError("garbage").has_value());
  auto id = s3_xml::ParseUploadId(
      "<InitiateMultipartUploadResult><UploadId>u-1</UploadId></InitiateMultipartUploadResult>");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "u-1");
  EXPECT_FALSE(s3_xml::ParseUploadId("<InitiateMultipartUploadResult/>").ok());
}

class S3ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = S3Server::Start();
    ASSERT_NE(server_, nullptr) << "s3rver is needed for this test (scripts/install-deps.sh)";
    auto store = S3ObjectStore::Open(server_->Options());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  std::unique_ptr<S3Server> server_;
  std::unique_ptr<S3ObjectStore> store_;
};

TEST_F(S3ObjectStoreTest, RoundTripsEveryOperation) {
  ASSERT_TRUE(store_->Ping().ok());
  EXPECT_EQ(store_->Get("_vectors/none.json").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Stat("_vectors/none.json").status().code(), StatusCode::kNotFound);

  const std::string bytes = "{\"dimension\":3}";
  ASSERT_TRUE(store_->Put("_vectors/docs.json", bytes).ok());
  auto got = store_->Get("_vectors/docs.json");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, bytes);

  auto info = store_->Stat("_vectors/docs.json");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, bytes.size());
  EXPECT_FALSE(info->etag.empty());

  auto range = store_->GetRange("_vectors/docs.json", 2, 9);
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_EQ(*range, bytes.substr(2, 9));
  auto tail = store_->GetRange("_vectors/docs.json", bytes.size() - 3, 100);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(*tail, bytes.substr(bytes.size() - 3));

  ASSERT_TRUE(store_->Put("_vectors/docs.json", "replaced").ok());
  EXPECT_EQ(*store_->Get("_vectors/docs.json"), "replaced");

  ASSERT_TRUE(store_->Put("_vectors/empty", "").ok());
  EXPECT_EQ(*store_->Get("_vectors/empty"), "");

  auto keys = store_->List("_vectors/");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, (std::vector<std::string>{"_vectors/docs.json", "_vectors/empty"}));

  ASSERT_TRUE(store_->Delete("_vectors/docs.json").ok());
  EXPECT_EQ(store_->Get("_vectors/docs.json").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->Delete("_vectors/docs.json").ok()) << "deleting an absent key succeeds";
  EXPECT_FALSE(store_->Put("/abs", "x").ok());
  EXPECT_FALSE(store_->Put("a/../b", "x").ok());
}

TEST_F(S3ObjectStoreTest, KeysWithSpecialCharactersRoundTripAndList) {
  const std::vector<std::string> keys = {
      "k/a b",         "k/plus+sign", "k/eq=amp&q?",        "k/\xc3\xa9t\xc3\xa9/\xe6\x97\xa5",
      "k/pct%20",      "k/tilde~(x)", "k/semi;colon,comma", "k/star*'quote'",
      "k/deep/er/path"};
  for (const auto& key : keys) {
    ASSERT_TRUE(store_->Put(key, "value of " + key).ok()) << key;
  }
  for (const auto& key : keys) {
    auto got = store_->Get(key);
    ASSERT_TRUE(got.ok()) << key << ": " << got.status().ToString();
    EXPECT_EQ(*got, "value of " + key);
  }
  auto listed = store_->List("k/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  std::vector<std::string> expected = keys;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(*listed, expected);
  auto narrow = store_->List("k/plus+");
  ASSERT_TRUE(narrow.ok());
  EXPECT_EQ(*narrow, std::vector<std::string>{"k/plus+sign"});
}

TEST_F(S3ObjectStoreTest, ListingFollowsContinuationTokensPastOneThousandKeys) {
  constexpr int kKeys = 1037;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kKeys; i += 8) {
        char key[32];
        std::snprintf(key, sizeof(key), "many/%05d", i);
        if (!store_->Put(key, "x").ok()) failures.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_TRUE(store_->Put("other/1", "y").ok());
  auto listed = store_->List("many/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), static_cast<size_t>(kKeys));
  for (int i = 0; i < kKeys; ++i) {
    char key[32];
    std::snprintf(key, sizeof(key), "many/%05d", i);
    EXPECT_EQ((*listed)[static_cast<size_t>(i)], key);
  }
}

TEST_F(S3ObjectStoreTest, KeyPrefixIsolatesTenantsOfOneBucket) {
  S3Options options = server_->Options();
  options.key_prefix = "tenants/a/";
  auto tenant = S3ObjectStore::Open(options);
  ASSERT_TRUE(tenant.ok());
  ASSERT_TRUE((*tenant)->Put("_vectors/x.json", "a").ok());
  ASSERT_TRUE(store_->Put("_vectors/x.json", "root").ok());
  EXPECT_EQ(*store_->Get("tenants/a/_vectors/x.json"), "a");
  EXPECT_EQ(*(*tenant)->Get("_vectors/x.json"), "a");
  auto listed = (*tenant)->List("_vectors/");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, std::vector<std::string>{"_vectors/x.json"});
  EXPECT_NE((*tenant)->Describe().find("tenants/a/"), std::string::npos);
  EXPECT_EQ((*tenant)->Describe().find(S3Server::kSecretKey), std::string::npos);
}

TEST_F(S3ObjectStoreTest, LargeObjectsStreamThroughMultipartUploadAndRangedReads) {
  S3Options options = server_->Options();
  options.multipart_threshold = uint64_t{5} << 20;
  options.part_bytes = uint64_t{5} << 20;
  options.read_chunk_bytes = uint64_t{1} << 20;
  auto store = S3ObjectStore::Open(options);
  ASSERT_TRUE(store.ok());

  std::string bytes(13 * 1024 * 1024 + 12345, '\0');
  std::mt19937_64 random(7);
  for (size_t i = 0; i + 8 <= bytes.size(); i += 8) {
    const uint64_t r = random();
    std::memcpy(&bytes[i], &r, 8);
  }
  auto writer = (*store)->Create("_vectors/big.hnsw");
  ASSERT_TRUE(writer.ok());
  // Uneven writes, as a serializer makes them.
  size_t offset = 0;
  for (size_t step = 1; offset < bytes.size(); step = step * 3 % 1000003 + 1) {
    const size_t n = std::min(step, bytes.size() - offset);
    ASSERT_TRUE((*writer)->Write(bytes.data() + offset, n).ok());
    offset += n;
  }
  ASSERT_TRUE((*writer)->Commit().ok());

  auto reader = (*store)->Open("_vectors/big.hnsw");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_EQ((*reader)->size(), bytes.size());
  std::string back(bytes.size(), '\0');
  size_t read = 0;
  for (size_t step = 7; read < back.size(); step = step * 5 % 2000003 + 1) {
    const size_t n = std::min(step, back.size() - read);
    ASSERT_TRUE((*reader)->Read(back.data() + read, n).ok());
    read += n;
  }
  EXPECT_TRUE(back == bytes) << "multipart object differs from what was written";
  char extra;
  EXPECT_EQ((*reader)->Read(&extra, 1).code(), StatusCode::kCorruption);
}

TEST(S3MultipartETag, IsTheMd5OfThePartMd5sThenTheCount) {
  // Parts "aaaaaaaaaa" and "bbbbbbb"; the expected value computed apart
  // (Python hashlib) the way S3 documents it.
  EXPECT_EQ(
      MultipartETag({"\"e09c80c42fda55f9d992e59ca6b3307d\"", "E1FAFFE9C3C801F2F8C3FBE7CB032CB2"}),
      "30e57f64e284aca6fd268ecbac8a42dc-2");
  EXPECT_EQ(MultipartETag({}), "");
  EXPECT_EQ(MultipartETag({"e09c80c42fda55f9d992e59ca6b3307d", "not-an-md5"}), "");
  EXPECT_EQ(MultipartETag({"e09c80c42fda55f9d992e59ca6b3307z"}), "");
}

std::string RandomBytes(size_t size, uint64_t seed) {
  std::string bytes(size, '\0');
  std::mt19937_64 random(seed);
  for (size_t i = 0; i + 8 <= bytes.size(); i += 8) {
    const uint64_t r = random();
    std::memcpy(&bytes[i], &r, 8);
  }
  return bytes;
}

// CompleteMultipartUpload, not the `?uploads` that starts one.
bool IsComplete(const std::string& request_line) {
  return request_line.rfind("POST ", 0) == 0 &&
         request_line.find("?uploadId=") != std::string::npos;
}

const std::string kNoSuchUpload =
    testing::HttpReply(404,
                       "<Error><Code>NoSuchUpload</Code><Message>The specified upload does not "
                       "exist.</Message></Error>");

// Lost replies to CompleteMultipartUpload, between S3ObjectStore and s3rver.
class S3LostCompleteTest : public S3ObjectStoreTest {
 protected:
  // Options for 5 MiB parts, through `proxy` or straight to s3rver.
  S3Options MultipartOptions(const TcpProxy* proxy) const {
    S3Options options = server_->Options();
    if (proxy != nullptr) options.endpoint = "http://127.0.0.1:" + std::to_string(proxy->port());
    options.multipart_threshold = uint64_t{5} << 20;
    options.part_bytes = uint64_t{5} << 20;
    return options;
  }

  // Writes `bytes` (3 parts) to `key` through a writer of `store`.
  static Status WriteObject(S3ObjectStore* store, const std::string& key,
                            const std::string& bytes) {
    auto writer = store->Create(key);
    if (!writer.ok()) return writer.status();
    for (size_t offset = 0; offset < bytes.size(); offset += 1 << 20) {
      const size_t n = std::min<size_t>(1 << 20, bytes.size() - offset);
      VECTORD_RETURN_IF_ERROR((*writer)->Write(bytes.data() + offset, n));
    }
    return (*writer)->Commit();
  }

  static size_t Count(const std::vector<std::string>& lines, const std::string& prefix) {
    return static_cast<size_t>(std::count_if(
        lines.begin(), lines.end(), [&](const auto& line) { return line.rfind(prefix, 0) == 0; }));
  }

  // A proxy to s3rver that loses the reply to the first Complete, after
  // running `while_lost`; a retried Complete goes on to s3rver, or with
  // `no_such_upload` is answered NoSuchUpload. completes_ counts them all.
  std::unique_ptr<TcpProxy> LoseTheFirstCompleteReply(bool no_such_upload,
                                                      std::function<void()> while_lost = {}) {
    completes_ = 0;
    return std::make_unique<TcpProxy>(server_->port(),
                                      [this, no_such_upload, while_lost](const std::string& line) {
                                        TcpProxy::Verdict verdict;
                                        if (!IsComplete(line)) return verdict;
                                        if (completes_.fetch_add(1) == 0) {
                                          verdict.action = TcpProxy::Verdict::Action::kLoseReply;
                                          verdict.while_lost = while_lost;
                                        } else if (no_such_upload) {
                                          verdict.action = TcpProxy::Verdict::Action::kAnswer;
                                          verdict.reply = kNoSuchUpload;
                                        }
                                        return verdict;
                                      });
  }

  // Writes bytes_ to key_ with a store that goes through `proxy`.
  Status WriteThrough(const TcpProxy& proxy) {
    auto store = S3ObjectStore::Open(MultipartOptions(&proxy));
    if (!store.ok()) {
      ADD_FAILURE() << "open: " << store.status().ToString();
      return store.status();
    }
    return WriteObject(store->get(), key_, bytes_);
  }

  // key_ holds `expected`, read straight from s3rver.
  void ExpectTheObjectIs(const std::string& expected, const char* otherwise) {
    auto back = store_->Get(key_);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(*back == expected) << otherwise;
  }

  const std::string key_ = "_vectors/big.hnsw";
  const std::string bytes_ = RandomBytes(13 * 1024 * 1024 + 12345, 11);
  std::atomic<int> completes_{0};
};

TEST_F(S3LostCompleteTest, ACompleteWhoseReplyWasLostCommitsWhenTheObjectIsOurs) {
  // s3rver completes the upload; its reply never reaches the writer, whose
  // retry finds the upload finished (s3rver answers that with a 500).
  auto proxy = LoseTheFirstCompleteReply(/*no_such_upload=*/false);

  Status committed = WriteThrough(*proxy);
  ASSERT_TRUE(committed.ok()) << committed.ToString();
  EXPECT_GE(completes_.load(), 2) << "the lost reply was not retried";
  EXPECT_EQ(Count(proxy->RequestLines(), "PUT /lakehouse/" + key_ + "?partNumber="), 3u);
  EXPECT_GE(Count(proxy->RequestLines(), "HEAD /lakehouse/" + key_), 1u)
      << "the object was not checked";
  ExpectTheObjectIs(bytes_, "the object differs from what was written");
}

TEST_F(S3LostCompleteTest, ARetriedCompleteAnsweredNoSuchUploadCommitsWhenTheObjectIsOurs) {
  // As S3 and MinIO answer a retried Complete of a finished upload.
  auto proxy = LoseTheFirstCompleteReply(/*no_such_upload=*/true);

  Status committed = WriteThrough(*proxy);
  ASSERT_TRUE(committed.ok()) << committed.ToString();
  EXPECT_GE(completes_.load(), 2);
  ExpectTheObjectIs(bytes_, "the object differs from what was written");
}

TEST_F(S3LostCompleteTest, ALostCompleteFailsWhenTheKeyHoldsAnotherObject) {
  // While the writer waits for the lost reply, another writer replaces the
  // object with different bytes of the same size and part count: only the
  // ETag tells them apart.
  auto other_store = S3ObjectStore::Open(MultipartOptions(nullptr));
  ASSERT_TRUE(other_store.ok());
  const std::string other = RandomBytes(bytes_.size(), 12);
  for (const bool no_such_upload : {true, false}) {
    SCOPED_TRACE(no_such_upload ? "retry answered NoSuchUpload" : "retry answered by s3rver");
    // Written on the proxy's thread; the socket orders it before the read
    // below, but only the mutex tells ThreadSanitizer so.
    std::mutex overwritten_mutex;
    Status overwritten = Status::Internal("the other writer did not run");
    auto proxy = LoseTheFirstCompleteReply(no_such_upload, [&] {
      Status s = WriteObject(other_store->get(), key_, other);
      std::lock_guard lock(overwritten_mutex);
      overwritten = s;
    });

    Status committed = WriteThrough(*proxy);
    {
      std::lock_guard lock(overwritten_mutex);
      ASSERT_TRUE(overwritten.ok()) << overwritten.ToString();
    }
    EXPECT_FALSE(committed.ok()) << "another writer's object was taken for ours";
    EXPECT_EQ(committed.code(), no_such_upload ? StatusCode::kIOError : StatusCode::kUnavailable)
        << committed.ToString();
    if (no_such_upload) {
      EXPECT_NE(committed.message().find("NoSuchUpload"), std::string::npos) << committed.message();
    }
    auto found = store_->Stat(key_);
    ASSERT_TRUE(found.ok());
    std::string found_etag = found->etag;
    found_etag.erase(std::remove(found_etag.begin(), found_etag.end(), '"'), found_etag.end());
    EXPECT_NE(committed.message().find("another object: ETag \"" + found_etag + "\", " +
                                       std::to_string(other.size()) + " bytes"),
              std::string::npos)
        << committed.message();
    ExpectTheObjectIs(other, "the other writer's object was changed");
  }
}

TEST_F(S3ObjectStoreTest, AnUncommittedWriterLeavesNoObject) {
  S3Options options = server_->Options();
  options.multipart_threshold = uint64_t{5} << 20;
  options.part_bytes = uint64_t{5} << 20;
  auto store = S3ObjectStore::Open(options);
  ASSERT_TRUE(store.ok());
  {
    auto small = (*store)->Create("_vectors/small");
    ASSERT_TRUE((*small)->Write("abc", 3).ok());
    auto large = (*store)->Create("_vectors/large");
    std::string chunk(uint64_t{6} << 20, 'z');
    ASSERT_TRUE((*large)->Write(chunk.data(), chunk.size()).ok());
  }
  auto listed = (*store)->List("_vectors/");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

TEST_F(S3ObjectStoreTest, ComesBackAfterTheServerRestarts) {
  ASSERT_TRUE(store_->Put("a", "1").ok());
  server_->Stop();
  auto down = store_->Put("b", "2");
  EXPECT_EQ(down.code(), StatusCode::kUnavailable) << down.ToString();
  EXPECT_EQ(store_->Get("a").status().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(server_->Restart()) << server_->Log();
  // Pooled connections to the old process are dead; the client reconnects.
  EXPECT_TRUE(store_->Put("b", "2").ok());
  EXPECT_EQ(*store_->Get("a"), "1");
}

TEST_F(S3ObjectStoreTest, AnUnknownAccessKeyIsRefusedWithoutRetries) {
  // s3rver checks the access key (not the secret): the 403 path end to end.
  S3Options options = server_->Options();
  options.access_key = "NOT-A-KEY";
  options.backoff_base = std::chrono::milliseconds(2000);
  auto store = S3ObjectStore::Open(options);
  ASSERT_TRUE(store.ok());
  const auto start = std::chrono::steady_clock::now();
  Status put = (*store)->Put("_vectors/a.json", "{}");
  EXPECT_EQ(put.code(), StatusCode::kIOError) << put.ToString();
  EXPECT_NE(put.message().find("403"), std::string::npos) << put.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500))
      << "a refusal must not be retried";
  EXPECT_EQ(store_->Get("_vectors/a.json").status().code(), StatusCode::kNotFound);
}

// Answers every request with a reply computed from its head (request line
// and headers), after reading its body; counts the requests.
class CannedServer {
 public:
  using Responder = std::function<std::pair<int, std::string>(const std::string& head)>;

  CannedServer(int status, std::string body)
      : CannedServer([status, body](const std::string&) {
          return std::pair{status, body};
        }) {}
  explicit CannedServer(Responder responder) : responder_(std::move(responder)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] { Serve(); });
  }
  ~CannedServer() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  int requests() const { return requests_.load(); }

 private:
  void Serve() {
    while (!stopping_) {
      int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(client, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        request.append(buffer, static_cast<size_t>(n));
      }
      const size_t head_end = request.find("\r\n\r\n");
      const std::string head = request.substr(0, head_end);
      std::string lower = head;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t body_bytes = 0;
      if (size_t at = lower.find("\r\ncontent-length:"); at != std::string::npos) {
        body_bytes = std::stoul(lower.substr(at + 17));
      }
      size_t have = head_end == std::string::npos ? 0 : request.size() - head_end - 4;
      while (have < body_bytes) {
        ssize_t n = ::recv(client, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        have += static_cast<size_t>(n);
      }
      requests_.fetch_add(1);
      auto [status, body] = responder_(head);
      std::string reply = "HTTP/1.1 " + std::to_string(status) +
                          " Canned\r\nContent-Type: application/xml\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
      if (head.rfind("HEAD ", 0) != 0) reply += body;
      (void)::send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }

  Responder responder_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

S3Options OptionsFor(uint16_t port) {
  S3Options options;
  options.endpoint = "http://127.0.0.1:" + std::to_string(port);
  options.bucket = "lakehouse";
  options.access_key = "AKIDEXAMPLE";
  options.secret_key = "wrong-secret";
  options.max_attempts = 4;
  options.backoff_base = std::chrono::milliseconds(5);
  options.backoff_max = std::chrono::milliseconds(20);
  return options;
}

// An independent AWS Signature V4 check (OpenSSL for SHA-256 and HMAC), so
// that what libcurl signs — with our key encoding and query order — is
// verified the way S3 verifies it. s3rver checks the access key only.
std::string Hex(const unsigned char* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 15];
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return Hex(digest, size);
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t size = 0;
  EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, sizeof(mac),
            &size);
  return std::string(reinterpret_cast<const char*>(mac), size);
}

// "" when the request head carries a valid signature for `secret`, else why not.
std::string VerifySigV4(const std::string& head, const std::string& secret) {
  std::istringstream lines(head);
  std::string line;
  std::getline(lines, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::istringstream request_line(line);
  std::string method, target;
  request_line >> method >> target;
  std::map<std::string, std::string> headers;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    while (!value.empty() && value.back() == ' ') value.pop_back();
    headers[name] = value;
  }
  const std::string& auth = headers["authorization"];
  auto field = [&](const std::string& key) {
    size_t at = auth.find(key + "=");
    if (at == std::string::npos) return std::string();
    at += key.size() + 1;
    return auth.substr(at, auth.find_first_of(", ", at) - at);
  };
  if (auth.rfind("AWS4-HMAC-SHA256 ", 0) != 0) return "no SigV4 Authorization header";
  const std::string credential = field("Credential");  // AKID/date/region/s3/aws4_request
  const std::string signed_headers = field("SignedHeaders");
  const std::string signature = field("Signature");
  std::vector<std::string> scope;
  for (size_t start = 0; start <= credential.size();) {
    size_t slash = credential.find('/', start);
    if (slash == std::string::npos) slash = credential.size();
    scope.push_back(credential.substr(start, slash - start));
    start = slash + 1;
  }
  if (scope.size() != 5 || scope[3] != "s3" || scope[4] != "aws4_request") return "bad scope";

  const size_t question = target.find('?');
  const std::string path = target.substr(0, question);
  std::vector<std::pair<std::string, std::string>> params;
  if (question != std::string::npos) {
    std::string query = target.substr(question + 1);
    for (size_t start = 0; start <= query.size();) {
      size_t amp = query.find('&', start);
      if (amp == std::string::npos) amp = query.size();
      std::string param = query.substr(start, amp - start);
      const size_t eq = param.find('=');
      params.emplace_back(param.substr(0, eq), eq == std::string::npos ? "" : param.substr(eq + 1));
      start = amp + 1;
    }
  }
  std::sort(params.begin(), params.end());
  std::string canonical_query;
  for (const auto& [name, value] : params) {
    canonical_query += (canonical_query.empty() ? "" : "&") + name + "=" + value;
  }
  std::string canonical_headers;
  for (size_t start = 0; start <= signed_headers.size();) {
    size_t semi = signed_headers.find(';', start);
    if (semi == std::string::npos) semi = signed_headers.size();
    const std::string name = signed_headers.substr(start, semi - start);
    canonical_headers += name + ":" + headers[name] + "\n";
    start = semi + 1;
  }
  const std::string canonical = method + "\n" + path + "\n" + canonical_query + "\n" +
                                canonical_headers + "\n" + signed_headers + "\n" +
                                headers["x-amz-content-sha256"];
  const std::string string_to_sign = "AWS4-HMAC-SHA256\n" + headers["x-amz-date"] + "\n" +
                                     scope[1] + "/" + scope[2] + "/s3/aws4_request\n" +
                                     Sha256Hex(canonical);
  std::string key = HmacSha256("AWS4" + secret, scope[1]);
  key = HmacSha256(key, scope[2]);
  key = HmacSha256(key, "s3");
  key = HmacSha256(key, "aws4_request");
  const std::string mac = HmacSha256(key, string_to_sign);
  const std::string expected = Hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
  if (expected != signature) return "signature mismatch for canonical request:\n" + canonical;
  return "";
}

TEST(S3ObjectStoreSigning, RequestsCarryAValidSignatureV4) {
  const std::string secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  std::mutex mutex;
  std::vector<std::string> failures;
  std::vector<std::string> methods;
  CannedServer server([&](const std::string& head) -> std::pair<int, std::string> {
    const std::string why = VerifySigV4(head, secret);
    std::lock_guard lock(mutex);
    methods.push_back(head.substr(0, head.find(' ')));
    if (!why.empty()) {
      failures.push_back(head.substr(0, head.find('\r')) + ": " + why);
      return {403, "<Error><Code>SignatureDoesNotMatch</Code><Message>x</Message></Error>"};
    }
    if (head.rfind("GET /lakehouse?", 0) == 0) {
      // A listing: the first page is truncated with a token that needs encoding.
      if (head.find("continuation-token=") == std::string::npos) {
        return {200,
                "<ListBucketResult><Contents><Key>p/a b+1</Key><Size>1</Size></Contents>"
                "<IsTruncated>true</IsTruncated><NextContinuationToken>t+k/n=="
                "</NextContinuationToken></ListBucketResult>"};
      }
      return {200,
              "<ListBucketResult><Contents><Key>p/z</Key><Size>1</Size></Contents>"
              "<IsTruncated>false</IsTruncated></ListBucketResult>"};
    }
    if (head.rfind("DELETE ", 0) == 0) return {204, ""};
    return {200, ""};
  });
  S3Options options = OptionsFor(server.port());
  options.secret_key = secret;
  options.region = "eu-central-1";
  auto store = S3ObjectStore::Open(options);
  ASSERT_TRUE(store.ok());
  const std::string key = "p/a b+c=d&e~(x)*;\xc3\xa9'%2F";
  EXPECT_TRUE((*store)->Put(key, "payload").ok());
  auto listed = (*store)->List("p/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(*listed, (std::vector<std::string>{"p/a b+1", "p/z"}));
  EXPECT_TRUE((*store)->Stat(key).ok());
  EXPECT_TRUE((*store)->GetRange(key, 0, 1).ok());
  EXPECT_TRUE((*store)->Delete(key).ok());
  EXPECT_TRUE(failures.empty()) << failures.front();
  EXPECT_EQ(methods.size(), 6u);

  // The check can fail: a wrong secret is refused.
  failures.clear();
  options.secret_key = "not-the-secret";
  auto wrong = S3ObjectStore::Open(options);
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ((*wrong)->Put(key, "payload").code(), StatusCode::kIOError);
  EXPECT_EQ(failures.size(), 1u);
}

TEST(S3ObjectStoreFailures, RefusalsAreNotRetriedAndNameTheS3Error) {
  CannedServer server(403,
                      "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature "
                      "we calculated does not match</Message></Error>");
  auto store = S3ObjectStore::Open(OptionsFor(server.port()));
  ASSERT_TRUE(store.ok());
  Status put = (*store)->Put("_vectors/a.json", "{}");
  EXPECT_EQ(put.code(), StatusCode::kIOError);
  EXPECT_NE(put.message().find("403"), std::string::npos) << put.message();
  EXPECT_NE(put.message().find("SignatureDoesNotMatch"), std::string::npos) << put.message();
  EXPECT_EQ(put.message().find("wrong-secret"), std::string::npos) << "secret leaked";
  EXPECT_EQ(server.requests(), 1);
}

TEST(S3ObjectStoreFailures, ServerErrorsAreRetriedThenReportedUnavailable) {
  CannedServer server(503, "<Error><Code>SlowDown</Code><Message>later</Message></Error>");
  auto store = S3ObjectStore::Open(OptionsFor(server.port()));
  ASSERT_TRUE(store.ok());
  auto listed = (*store)->List("_vectors/");
  EXPECT_EQ(listed.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(listed.status().message().find("SlowDown"), std::string::npos)
      << listed.status().message();
  EXPECT_EQ(server.requests(), 4);
}

TEST(S3ObjectStoreFailures, AnUnreachableStoreIsUnavailableWithinTheRetryBudget) {
  const uint16_t port = testing::FreeLoopbackPort();
  auto store = S3ObjectStore::Open(OptionsFor(port));
  ASSERT_TRUE(store.ok());
  const auto start = std::chrono::steady_clock::now();
  Status put = (*store)->Put("x", "y");
  EXPECT_EQ(put.code(), StatusCode::kUnavailable);
  EXPECT_NE(put.message().find("unreachable"), std::string::npos) << put.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(S3ObjectStoreFailures, ACompleteThatFailsInsideA200IsAnError) {
  CannedServer server(200, "<Error><Code>InternalError</Code><Message>oops</Message></Error>");
  S3Options options = OptionsFor(server.port());
  options.multipart_threshold = 10;
  options.part_bytes = 8;
  auto store = S3ObjectStore::Open(options);
  ASSERT_TRUE(store.ok());
  auto writer = (*store)->Create("k");
  ASSERT_TRUE(writer.ok());
  // The canned reply has no UploadId, so starting the upload already fails
  // cleanly; either way nothing is reported as committed.
  Status wrote = (*writer)->Write("0123456789abcdef", 16);
  Status committed = wrote.ok() ? (*writer)->Commit() : wrote;
  EXPECT_FALSE(committed.ok());
}

}  // namespace
}  // namespace vectord::store
