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

}  // namespace

BucketMirror::BucketMirror(store::ObjectStore* bucket, store::LocalObjectStore* local,
                           store::LogShipperOptions shipper_options)
    : bucket_(bucket), local_(local), fs_(local->file_system()), shipper_options_(shipper_options) {
  shipper_options_.totals = &totals_;
}

std::string BucketMirror::SegmentPrefix(std::string_view name) {
  return storage_keys::LogDirectory(name) + "/";
}

Result<std::map<std::string, BucketIndex>> BucketMirror::Survey(
    const std::function<bool()>& keep_trying) {
  auto pause = std::chrono::milliseconds(1000);
  Result<std::vector<std::string>> keys = Status::Internal("not listed");
  while (true) {
    keys = bucket_->List(storage_keys::kPrefix);
    if (keys.ok()) break;
    LogError("object_store_unreachable", {{"store", bucket_->Describe()},
                                          {"error", keys.status().ToString()},
                                          {"retry_in_ms", pause.count()}});
    // Sleep in short steps so that a shutdown request is noticed quickly.
    const auto until = std::chrono::steady_clock::now() + pause;
    while (std::chrono::steady_clock::now() < until) {
      if (!keep_trying()) return keys.status();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    pause = std::min(pause * 2, std::chrono::milliseconds(30000));
  }
  std::map<std::string, BucketIndex> indexes;
  for (const std::string& key : *keys) {
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
    std::sort(index.segments.begin(), index.segments.end(),
              [](const BucketSegment& a, const BucketSegment& b) { return a.first < b.first; });
  }
  return indexes;
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

Result<BucketMirror::Coverage> BucketMirror::Covered(const std::string& name,
                                                     const BucketIndex& listed) {
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
  if (!listed.segments.empty())
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
  uint64_t expected = tag + 1;
  for (size_t i = 0; i < listed.segments.size(); ++i) {
    const BucketSegment& segment = listed.segments[i];
    if (segment.last <= tag) continue;  // covered by the snapshot; a checkpoint deletes it
    VECTORD_ASSIGN_OR_RETURN(const std::string bytes, bucket_->Get(segment.key));
    if (!LooksLikeSegment(bytes, segment.first)) {
      if (i + 1 == listed.segments.size()) {
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
    if (segment.first > expected) {
      LogWarn("bucket_log_gap",
              {{"index", name}, {"expected_sequence", expected}, {"segment", segment.key}});
    }
    expected = segment.last + 1;
    const std::string path = local_log_dir + "/" + store::LogWriter::SegmentName(segment.first);
    VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<store::WritableFile> file, fs_->OpenAppendable(path));
    VECTORD_RETURN_IF_ERROR(file->Truncate(0));
    VECTORD_RETURN_IF_ERROR(file->Append(bytes));
    VECTORD_RETURN_IF_ERROR(file->Sync());
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
