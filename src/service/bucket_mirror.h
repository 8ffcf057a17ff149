// BucketMirror: the object-store tier of IndexStorage — the copy of every
// index in an S3-compatible bucket from which a new host rebuilds it.
//
// Bucket layout (docs/storage-layout.md, "Object store"), under the store's
// key prefix:
//   _vectors/<name>.json                 parameters; the index exists iff present
//   _vectors/<name>.hnsw                 latest snapshot uploaded, tagged T
//   _vectors/<name>.wal/<first>-<last>.log   log records shipped after it
//
// IndexStorage drives it: parameters are put after a local create and
// deleted before a local drop; a checkpoint uploads the new snapshot, then
// deletes the segment objects it covers; each index's LogWriter gets a
// LogShipper that puts records as they are written. At start-up Survey()
// says what the bucket holds, Hydrate() rebuilds an index's local files
// from it, and BucketLast() tells whether bucket or disk is ahead.
//
// Thread safety: methods may be called from any thread; IndexStorage
// serialises the calls for one index (its checkpoint mutex).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/file_system.h"
#include "store/local_object_store.h"
#include "store/log_reader.h"
#include "store/log_shipper.h"
#include "store/object_store.h"

namespace vectord::service {

// Whether `url` names a bucket vectord can use
// (http[s]://host:port/bucket[/key/prefix]); the reason when not.
Status CheckStorageUrl(std::string_view url);

struct BucketSegment {
  uint64_t first = 0;
  uint64_t last = 0;
  std::string key;
};

// What the bucket holds for one index name.
struct BucketIndex {
  bool has_params = false;
  bool has_snapshot = false;
  std::vector<BucketSegment> segments;  // sorted by first sequence
};

class BucketMirror {
 public:
  // Threads that upload log records for every index (store/upload_pool.h):
  // enough to keep several PUTs in flight to a remote store.
  static constexpr size_t kUploadThreads = 8;

  // Local files go through `local` and its FileSystem.
  BucketMirror(store::ObjectStore* bucket, store::LocalObjectStore* local,
               store::LogShipperOptions shipper_options = {});

  store::ObjectStore* bucket() const { return bucket_; }
  std::string Describe() const { return bucket_->Describe(); }

  // Start-up: lists the bucket until it answers, pausing between attempts
  // (1 s doubling to 30 s) and logging each failure; gives up only when
  // `keep_trying` returns false.
  Result<std::map<std::string, BucketIndex>> Survey(const std::function<bool()>& keep_trying);
  // Start-up without the whole listing: waits, as Survey does, until the
  // bucket answers one small request.
  Status WaitAnswering(const std::function<bool()>& keep_trying);
  // What the bucket holds for one index, in one listing request (nullopt:
  // nothing). Survey's entry for it, for an index loaded before Survey ran.
  Result<std::optional<BucketIndex>> ListOne(const std::string& name);

  // What the bucket's copy of an index covers: its snapshot's tag (0 without
  // one) and the highest log sequence it holds (that tag or its last
  // segment's last record, whichever is larger). The last segment object is
  // read to count its whole records rather than trust its key; when it holds
  // fewer than its key says (a torn upload), it is repaired as Hydrate does,
  // in the bucket and in `listed`, so that the shipper's next object cannot
  // overlap it.
  struct Coverage {
    uint64_t snapshot_tag = 0;
    uint64_t last = 0;
  };
  Result<Coverage> Covered(const std::string& name, BucketIndex* listed);

  // Replaces the index's local files with the bucket's: the snapshot, then
  // the whole records of every segment object after its tag as a local log
  // segment, then the parameters (the local commit point). Each object is
  // parsed with the log reader's checksum rules. A segment object that holds
  // fewer whole records than its key says — a PUT that never completed, on a
  // store that is not atomic, so never acknowledged at the object-store
  // level — is logged (`bucket_torn_segment`) and repaired: its whole records
  // are put back as `<first>-<actual last>` and the torn key deleted, or the
  // object is just deleted when it holds no whole record (or a bad header)
  // or nothing that the snapshot and the objects before it do not hold;
  // `listed` follows, so that neither the coverage nor a later hydrate counts
  // what it lacked. Such an object may be followed only by one that starts
  // right after its whole records (the log as a host that hydrated it went
  // on); any other damage, or objects that overlap, is Corruption naming the
  // key.
  Status Hydrate(const std::string& name, BucketIndex* listed, const std::string& local_log_dir);

  Status PutParams(const std::string& name, const std::string& json);
  // Uploads the local snapshot file (multipart when large).
  Status UploadSnapshot(const std::string& name);
  // Deletes the segment objects whose records are all <= covered.
  Status DeleteSegmentsThrough(const std::string& name, uint64_t covered);
  // Parameters first (from then on the index is gone from the bucket), then
  // the snapshot and the segments.
  Status DeleteIndex(const std::string& name);
  // The two halves of DeleteIndex: the commit point, and the rest.
  Status DeleteParams(const std::string& name);
  Status DeleteData(const std::string& name);
  // Whether the bucket holds the index's parameters.
  Result<bool> HasParams(const std::string& name);
  // What the bucket holds for one index (Survey's entry for it).
  Result<BucketIndex> ListIndex(const std::string& name);
  // Moves every object of the index (parameters, snapshot, segments) under
  // `folder` + "/" (e.g. "_quarantine/docs.1765000000000"), outside the
  // prefix anything is served or hydrated from: a copy of each, then the
  // deletes, parameters first: a crash half-way leaves the index as it was,
  // plus a partial copy.
  Status QuarantineIndex(const std::string& name, const std::string& folder);

  std::unique_ptr<store::LogShipper> MakeShipper(const std::string& name, uint32_t dimension,
                                                 uint64_t shipped_through);
  // Totals over every shipper made here.
  const store::ShippingTotals& shipping_totals() const { return totals_; }

  static std::string SegmentPrefix(std::string_view name);

 private:
  Result<std::vector<BucketSegment>> ListSegments(const std::string& name);
  // The segment object's records by the log reader's rules, checked
  // against its key.
  Result<store::SegmentContents> ParseObject(const BucketSegment& segment,
                                             std::string_view bytes) const;
  // For `listed->segments[i]`, found short: deletes it when it holds no whole
  // record or none above `held` (the highest sequence held before it), else
  // puts its whole records back as <first>-<actual last> and deletes the torn
  // key; updates `listed`. Whether the object was kept.
  Result<bool> SettleShortObject(const std::string& name, BucketIndex* listed, size_t i,
                                 std::string_view bytes, const store::SegmentContents& contents,
                                 uint64_t held);

  store::ObjectStore* const bucket_;
  store::LocalObjectStore* const local_;
  store::FileSystem* const fs_;  // local_'s
  store::LogShipperOptions shipper_options_;
  store::ShippingTotals totals_;
};

}  // namespace vectord::service
