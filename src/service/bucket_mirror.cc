#include "service/bucket_mirror.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "common/little_endian.h"
#include "common/log.h"
#include "engine/hnsw_index.h"
#include "engine/index_file.h"
#include "service/index_name.h"
#include "service/storage_keys.h"
#include "store/log_format.h"
#include "store/log_reader.h"
#include "store/log_writer.h"
#include "store/s3_object_store.h"

namespace vectord::service {

Status CheckStorageUrl(std::string_view url) {
  store::S3Options parsed;
  return store::ParseStorageUrl(url, &parsed);
}

namespace {

constexpr size_t kCopyChunk = size_t{4} << 20;

// Streams object `key` of `from` to `to_key` in `to`; `first_bytes` receives the first
// index-file header's worth of bytes when not null.
Status CopyObject(store::ObjectStore* from, store::ObjectStore* to, const std::string& key,
                  const std::string& to_key, std::string* first_bytes) {
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<store::ObjectReader> reader, from->Open(key));
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<store::ObjectWriter> writer, to->Create(to_key));
  std::string chunk;
  for (uint64_t left = reader->size(); left > 0;) {
    chunk.resize(static_cast<size_t>(std::min<uint64_t>(left, kCopyChunk)));
    VECTORD_RETURN_IF_ERROR(reader->Read(chunk.data(), chunk.size()));
    if (first_bytes != nullptr && first_bytes->size() < engine::index_file::kHeaderSize) {
      first_bytes->append(chunk, 0, engine::index_file::kHeaderSize - first_bytes->size());
    }
    VECTORD_RETURN_IF_ERROR(writer->Write(chunk.data(), chunk.size()));
    left -= chunk.size();
  }
  return writer->Commit();
}

// A segment object whose header is intact and names the sequence its key does.
bool LooksLikeSegment(std::string_view bytes, uint64_t first) {
  return bytes.size() >= store::log_format::kSegmentHeaderSize &&
         std::memcmp(bytes.data(), store::log_format::kMagic, 8) == 0 &&
         little_endian::GetU64(bytes.data() + 16) == first;
}

// Whether the object holds fewer whole records than its key says. (Zero
// bytes after all of them are a torn tail too, but lose nothing: only the
// whole records are ever copied.)
bool IsShort(const BucketSegment& segment, const store::SegmentContents& contents) {
  return contents.records == 0 || contents.last_sequence < segment.last;
}

// The last sequence of the object's whole records; first - 1 without one.
uint64_t WholeLast(const BucketSegment& segment, const store::SegmentContents& contents) {
  return contents.records > 0 ? contents.last_sequence : segment.first - 1;
}

}  // namespace

BucketMirror::BucketMirror(store::ObjectStore* bucket, store::LocalObjectStore* local,
                           store::LogShipperOptions shipper_options)
    : bucket_(bucket), local_(local), fs_(local->file_system()), shipper_options_(shipper_options) {
  shipper_options_.totals = &totals_;
  // One pool for every index's uploads: threads do not grow with indexes.
  if (shipper_options_.pool == nullptr) {
    shipper_options_.pool = std::make_shared<store::UploadPool>(kUploadThreads);
  }
}

std::string BucketMirror::SegmentPrefix(std::string_view name) {
  return storage_keys::LogDirectory(name) + "/";
}

namespace {

// What the keys of a listing say about each index. Keys that are not ours
// are left out.
std::map<std::string, BucketIndex> IndexesIn(const std::vector<std::string>& keys) {
  std::map<std::string, BucketIndex> indexes;
  for (const std::string& key : keys) {
    std::string_view rest = std::string_view(key).substr(storage_keys::kPrefix.size());
    auto with_suffix = [&](std::string_view file, std::string_view suffix) -> std::string {
      if (file.size() > suffix.size() && file.substr(file.size() - suffix.size()) == suffix) {
        std::string name(file.substr(0, file.size() - suffix.size()));
        if (ValidateIndexName(name).ok()) return name;
      }
      return "";
    };
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos) {
      if (std::string name = with_suffix(rest, ".json"); !name.empty()) {
        indexes[name].has_params = true;
      } else if (std::string name = with_suffix(rest, ".hnsw"); !name.empty()) {
        indexes[name].has_snapshot = true;
      }
      continue;
    }
    std::string name = with_suffix(rest.substr(0, slash), ".wal");
    BucketSegment segment;
    if (name.empty() || !store::LogShipper::ParseObjectName(rest.substr(slash + 1), &segment.first,
                                                            &segment.last)) {
      continue;  // not ours: left alone
    }
    segment.key = key;
    indexes[name].segments.push_back(std::move(segment));
  }
  for (auto& [name, index] : indexes) {
    // Two objects can share a first sequence only after a torn one was
    // repaired and the torn key's delete did not happen; the shorter (the
    // repaired one) goes first, and the torn one is then found redundant.
    std::sort(index.segments.begin(), index.segments.end(),
              [](const BucketSegment& a, const BucketSegment& b) {
                return a.first != b.first ? a.first < b.first : a.last < b.last;
              });
  }
  return indexes;
}

// Runs `attempt` until the store answers (anything but Unavailable), pausing
// 1 s doubling to 30 s between attempts and logging each failure, or until
// `keep_trying` says stop.
Status RetryUntilAnswered(const store::ObjectStore& bucket, const std::function<Status()>& attempt,
                          const std::function<bool()>& keep_trying) {
  auto pause = std::chrono::milliseconds(1000);
  while (true) {
    Status status = attempt();
    if (status.code() != StatusCode::kUnavailable) return status;
    LogError("object_store_unreachable", {{"store", bucket.Describe()},
                                          {"error", status.ToString()},
                                          {"retry_in_ms", pause.count()}});
    // Sleep in short steps so that a shutdown request is noticed quickly.
    const auto until = std::chrono::steady_clock::now() + pause;
    while (std::chrono::steady_clock::now() < until) {
      if (!keep_trying()) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    pause = std::min(pause * 2, std::chrono::milliseconds(30000));
  }
}

}  // namespace

Result<std::map<std::string, BucketIndex>> BucketMirror::Survey(
    const std::function<bool()>& keep_trying) {
  Result<std::vector<std::string>> keys = Status::Internal("not listed");
  VECTORD_RETURN_IF_ERROR(RetryUntilAnswered(
      *bucket_,
      [&] {
        keys = bucket_->List(storage_keys::kPrefix);
        return keys.status();
      },
      keep_trying));
  return IndexesIn(*keys);
}

Status BucketMirror::WaitAnswering(const std::function<bool()>& keep_trying) {
  // Any key will do: "not found" is an answer.
  const std::string probe = std::string(storage_keys::kPrefix) + ".probe";
  return RetryUntilAnswered(
      *bucket_,
      [&] {
        Status s = bucket_->GetRange(probe, 0, 1).status();
        return s.code() == StatusCode::kNotFound ? Status::Ok() : s;
      },
      keep_trying);
}

Result<std::optional<BucketIndex>> BucketMirror::ListOne(const std::string& name) {
  // "<name>." also lists "<name>.x"'s keys (names may hold dots): parsed,
  // they fall under another name.
  VECTORD_ASSIGN_OR_RETURN(const std::vector<std::string> keys,
                           bucket_->List(std::string(storage_keys::kPrefix) + name + "."));
  std::map<std::string, BucketIndex> indexes = IndexesIn(keys);
  auto it = indexes.find(name);
  if (it == indexes.end()) return std::optional<BucketIndex>();
  return std::optional<BucketIndex>(std::move(it->second));
}

Result<std::vector<BucketSegment>> BucketMirror::ListSegments(const std::string& name) {
  VECTORD_ASSIGN_OR_RETURN(const std::vector<std::string> keys, bucket_->List(SegmentPrefix(name)));
  std::vector<BucketSegment> segments;
  for (const std::string& key : keys) {
    BucketSegment segment;
    if (!store::LogShipper::ParseObjectName(
            std::string_view(key).substr(SegmentPrefix(name).size()), &segment.first,
            &segment.last)) {
      continue;
    }
    segment.key = key;
    segments.push_back(std::move(segment));
  }
  return segments;
}

Result<store::SegmentContents> BucketMirror::ParseObject(const BucketSegment& segment,
                                                         std::string_view bytes) const {
  const std::string where = bucket_->Describe() + " " + segment.key;
  VECTORD_ASSIGN_OR_RETURN(store::SegmentContents contents, store::ParseSegment(bytes, where));
  if (contents.first_sequence != segment.first) {
    return Status::Corruption(where + ": segment header does not match its key at byte 16");
  }
  if (contents.last_sequence > segment.last) {
    return Status::Corruption(where + ": holds sequence " + std::to_string(contents.last_sequence) +
                              ", past its key's last");
  }
  return contents;
}

Result<bool> BucketMirror::SettleShortObject(const std::string& name, BucketIndex* listed, size_t i,
                                             std::string_view bytes,
                                             const store::SegmentContents& contents,
                                             uint64_t held) {
  const BucketSegment segment = listed->segments[i];
  const uint64_t whole_last = WholeLast(segment, contents);
  std::string why = contents.torn.empty() ? "ends after sequence " + std::to_string(whole_last) +
                                                ", its key says " + std::to_string(segment.last)
                                          : contents.torn;
  if (contents.records == 0 || whole_last <= held) {
    // Nothing in it that the snapshot or the objects before it do not hold.
    LogWarn("bucket_torn_segment",
            {{"index", name},
             {"key", segment.key},
             {"bytes", bytes.size()},
             {"detail", why},
             {"note", contents.records == 0 ? "deleted: an upload that never completed"
                                            : "deleted: its whole records are held elsewhere"}});
    VECTORD_RETURN_IF_ERROR(bucket_->Delete(segment.key));
    listed->segments.erase(listed->segments.begin() + static_cast<ptrdiff_t>(i));
    return false;
  }
  // Its whole records stay, under a key that says what it holds, so that the
  // next object shipped (which starts after them) does not overlap it. The
  // new object lands before the torn key goes: a crash in between leaves
  // both, and the torn one is then redundant (above).
  BucketSegment repaired{
      segment.first, whole_last,
      SegmentPrefix(name) + store::LogShipper::ObjectName(segment.first, whole_last)};
  LogWarn("bucket_torn_segment", {{"index", name},
                                  {"key", segment.key},
                                  {"bytes", bytes.size()},
                                  {"detail", why},
                                  {"whole_records", contents.records},
                                  {"note", "repaired: its whole records kept as " + repaired.key}});
  VECTORD_RETURN_IF_ERROR(bucket_->Put(repaired.key, bytes.substr(0, contents.whole_bytes)));
  VECTORD_RETURN_IF_ERROR(bucket_->Delete(segment.key));
  listed->segments[i] = std::move(repaired);
  return true;
}

Result<BucketMirror::Coverage> BucketMirror::Covered(const std::string& name,
                                                     BucketIndex* listed_in) {
  const BucketIndex& listed = *listed_in;
  Coverage coverage;
  if (listed.has_snapshot) {
    VECTORD_ASSIGN_OR_RETURN(
        const std::string header,
        bucket_->GetRange(storage_keys::Snapshot(name), 0, engine::index_file::kHeaderSize));
    auto tag = engine::HnswIndex::PeekLogSequence(header);
    if (!tag.ok())
      return tag.status().WithContext(bucket_->Describe() + " " + storage_keys::Snapshot(name));
    coverage.snapshot_tag = *tag;
  }
  coverage.last = coverage.snapshot_tag;
  if (listed.segments.empty()) return coverage;
  for (size_t i = 0; i + 1 < listed.segments.size(); ++i) {
    coverage.last = std::max(coverage.last, listed.segments[i].last);
  }
  // The last object's key is trusted only once its records are counted: an
  // upload that never completed can leave it short (Hydrate, below).
  const BucketSegment last = listed.segments.back();
  if (last.last <= coverage.last) return coverage;
  VECTORD_ASSIGN_OR_RETURN(const std::string bytes, bucket_->Get(last.key));
  if (!LooksLikeSegment(bytes, last.first)) return coverage;  // Hydrate deletes it
  VECTORD_ASSIGN_OR_RETURN(const store::SegmentContents contents, ParseObject(last, bytes));
  if (IsShort(last, contents)) {
    VECTORD_ASSIGN_OR_RETURN(const bool kept,
                             SettleShortObject(name, listed_in, listed.segments.size() - 1, bytes,
                                               contents, coverage.last));
    if (!kept) return coverage;
  }
  coverage.last = std::max(coverage.last, listed.segments.back().last);
  return coverage;
}

Status BucketMirror::Hydrate(const std::string& name, BucketIndex* listed_in,
                             const std::string& local_log_dir) {
  const BucketIndex& listed = *listed_in;
  // Whatever the disk held for this name is replaced; the parameters go
  // first so that a crash half-way leaves leftovers, not a damaged index.
  VECTORD_RETURN_IF_ERROR(local_->Delete(storage_keys::Params(name)));
  VECTORD_RETURN_IF_ERROR(local_->Delete(storage_keys::Snapshot(name)));
  if (fs_->Exists(local_log_dir)) {
    VECTORD_ASSIGN_OR_RETURN(const std::vector<std::string> files,
                             fs_->ListDirectory(local_log_dir));
    for (const std::string& file : files) {
      VECTORD_RETURN_IF_ERROR(fs_->RemoveFile(local_log_dir + "/" + file));
    }
  }
  uint64_t tag = 0;
  if (listed.has_snapshot) {
    std::string header;
    VECTORD_RETURN_IF_ERROR(CopyObject(bucket_, local_, storage_keys::Snapshot(name),
                                       storage_keys::Snapshot(name), &header));
    auto peeked = engine::HnswIndex::PeekLogSequence(header);
    if (!peeked.ok()) return peeked.status().WithContext(storage_keys::Snapshot(name));
    tag = *peeked;
  }
  VECTORD_RETURN_IF_ERROR(fs_->CreateDirectories(local_log_dir));
  // The highest sequence the snapshot and the objects copied so far hold.
  uint64_t held = tag;
  uint64_t copied_last = 0;  // of the last object copied
  std::string copied_key;
  for (size_t i = 0; i < listed_in->segments.size();) {
    const BucketSegment segment = listed_in->segments[i];
    const bool last = i + 1 == listed_in->segments.size();
    if (segment.last <= tag) {  // covered by the snapshot; a checkpoint deletes it
      ++i;
      continue;
    }
    VECTORD_ASSIGN_OR_RETURN(const std::string bytes, bucket_->Get(segment.key));
    if (!LooksLikeSegment(bytes, segment.first)) {
      if (last) {
        // A PUT cut off by a crash of the store: its writes were never
        // acknowledged at the object-store level.
        LogWarn("bucket_torn_segment", {{"index", name},
                                        {"key", segment.key},
                                        {"bytes", bytes.size()},
                                        {"note", "skipped: an upload that never completed"}});
        // Gone from the bucket too, or the shipper's next object would
        // overlap its range.
        if (Status s = bucket_->Delete(segment.key); !s.ok()) return s;
        listed_in->segments.pop_back();
        break;
      }
      return Status::Corruption(bucket_->Describe() + " " + segment.key +
                                ": not a log segment (bad header), and later segments exist");
    }
    VECTORD_ASSIGN_OR_RETURN(const store::SegmentContents contents, ParseObject(segment, bytes));
    const uint64_t whole_last = WholeLast(segment, contents);
    const bool is_short = IsShort(segment, contents);
    // Objects never overlap, but for a torn one whose whole records are all
    // held already (what a repair cut short leaves): it is deleted below.
    if (copied_last != 0 && segment.first <= copied_last && !(is_short && whole_last <= held)) {
      return Status::Corruption(bucket_->Describe() + " " + segment.key + ": starts at sequence " +
                                std::to_string(segment.first) + ", inside " + copied_key);
    }
    if (is_short) {
      // Fewer whole records than its key says: a PUT that never completed,
      // cut off by a crash of a store that is not atomic (s3rver leaves what
      // it had received), so no write waiting for this object was
      // acknowledged at the object-store level. Its whole records may still have been
      // acknowledged at a local level, and a host that hydrated it before
      // replayed them and shipped on from the record after them: an object
      // that continues exactly there is the log going on. Anything else
      // after a torn object is damage.
      if (!last && whole_last > held && listed_in->segments[i + 1].first != whole_last + 1) {
        return Status::Corruption(bucket_->Describe() + " " + segment.key + ": torn at byte " +
                                  std::to_string(contents.whole_bytes) +
                                  " (whole records through sequence " + std::to_string(whole_last) +
                                  "), and the next segment object " +
                                  listed_in->segments[i + 1].key + " does not continue at " +
                                  std::to_string(whole_last + 1));
      }
      VECTORD_ASSIGN_OR_RETURN(const bool kept,
                               SettleShortObject(name, listed_in, i, bytes, contents, held));
      if (!kept) continue;  // erased from the list: `i` is the next object
    }
    if (segment.first > held + 1) {
      LogWarn("bucket_log_gap",
              {{"index", name}, {"expected_sequence", held + 1}, {"segment", segment.key}});
    }
    held = std::max(held, whole_last);
    copied_last = whole_last;
    copied_key = listed_in->segments[i].key;
    const std::string path = local_log_dir + "/" + store::LogWriter::SegmentName(segment.first);
    VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<store::WritableFile> file, fs_->OpenAppendable(path));
    VECTORD_RETURN_IF_ERROR(file->Truncate(0));
    VECTORD_RETURN_IF_ERROR(file->Append(std::string_view(bytes).substr(0, contents.whole_bytes)));
    VECTORD_RETURN_IF_ERROR(file->Sync());
    ++i;
  }
  VECTORD_RETURN_IF_ERROR(fs_->SyncDirectory(local_log_dir));
  VECTORD_ASSIGN_OR_RETURN(const std::string params, bucket_->Get(storage_keys::Params(name)));
  return local_->Put(storage_keys::Params(name), params);
}

Status BucketMirror::PutParams(const std::string& name, const std::string& json) {
  return bucket_->Put(storage_keys::Params(name), json);
}

Status BucketMirror::UploadSnapshot(const std::string& name) {
  return CopyObject(local_, bucket_, storage_keys::Snapshot(name), storage_keys::Snapshot(name),
                    nullptr);
}

Status BucketMirror::DeleteSegmentsThrough(const std::string& name, uint64_t covered) {
  VECTORD_ASSIGN_OR_RETURN(const std::vector<BucketSegment> segments, ListSegments(name));
  for (const BucketSegment& segment : segments) {
    if (segment.last <= covered) VECTORD_RETURN_IF_ERROR(bucket_->Delete(segment.key));
  }
  return Status::Ok();
}

Status BucketMirror::DeleteIndex(const std::string& name) {
  VECTORD_RETURN_IF_ERROR(DeleteParams(name));
  return DeleteData(name);
}

Status BucketMirror::DeleteParams(const std::string& name) {
  return bucket_->Delete(storage_keys::Params(name));
}

Result<bool> BucketMirror::HasParams(const std::string& name) {
  auto first_byte = bucket_->GetRange(storage_keys::Params(name), 0, 1);
  if (first_byte.ok()) return true;
  if (first_byte.status().code() == StatusCode::kNotFound) return false;
  return first_byte.status();
}

Result<BucketIndex> BucketMirror::ListIndex(const std::string& name) {
  BucketIndex listed;
  VECTORD_ASSIGN_OR_RETURN(listed.has_params, HasParams(name));
  auto first_byte = bucket_->GetRange(storage_keys::Snapshot(name), 0, 1);
  if (!first_byte.ok() && first_byte.status().code() != StatusCode::kNotFound) {
    return first_byte.status();
  }
  listed.has_snapshot = first_byte.ok();
  VECTORD_ASSIGN_OR_RETURN(listed.segments, ListSegments(name));
  std::sort(listed.segments.begin(), listed.segments.end(),
            [](const BucketSegment& a, const BucketSegment& b) { return a.first < b.first; });
  return listed;
}

Status BucketMirror::QuarantineIndex(const std::string& name, const std::string& folder) {
  VECTORD_ASSIGN_OR_RETURN(const BucketIndex listed, ListIndex(name));
  std::vector<std::string> keys;
  if (listed.has_params) keys.push_back(storage_keys::Params(name));
  if (listed.has_snapshot) keys.push_back(storage_keys::Snapshot(name));
  for (const BucketSegment& segment : listed.segments) keys.push_back(segment.key);
  for (const std::string& key : keys) {
    VECTORD_RETURN_IF_ERROR(CopyObject(
        bucket_, bucket_, key, folder + "/" + key.substr(storage_keys::kPrefix.size()), nullptr));
  }
  return DeleteIndex(name);
}

Status BucketMirror::DeleteData(const std::string& name) {
  VECTORD_RETURN_IF_ERROR(bucket_->Delete(storage_keys::Snapshot(name)));
  VECTORD_ASSIGN_OR_RETURN(const std::vector<BucketSegment> segments, ListSegments(name));
  for (const BucketSegment& segment : segments) {
    VECTORD_RETURN_IF_ERROR(bucket_->Delete(segment.key));
  }
  return Status::Ok();
}

std::unique_ptr<store::LogShipper> BucketMirror::MakeShipper(const std::string& name,
                                                             uint32_t dimension,
                                                             uint64_t shipped_through) {
  return std::make_unique<store::LogShipper>(bucket_, SegmentPrefix(name), dimension,
                                             shipped_through, shipper_options_);
}

}  // namespace vectord::service
