#include "store/local_object_store.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <vector>

namespace vectord::store {
namespace {

class LocalWriter final : public ObjectWriter {
 public:
  LocalWriter(FileSystem* fs, std::unique_ptr<WritableFile> file, std::string temp_path,
              std::string final_path, bool sync)
      : fs_(fs),
        file_(std::move(file)),
        temp_path_(std::move(temp_path)),
        final_path_(std::move(final_path)),
        sync_(sync) {}
  ~LocalWriter() override {
    file_.reset();
    // Nothing unfinished is left behind; a failed removal only leaves a
    // ".tmp" file, which is never read.
    if (!committed_) (void)fs_->RemoveFile(temp_path_);
  }

  Status Write(const void* data, size_t size) override {
    if (!status_.ok()) return status_;
    status_ = file_->Append(std::string_view(static_cast<const char*>(data), size));
    return status_;
  }

  // The order is the protocol (docs/storage-layout.md): the bytes must be
  // durable before the rename makes them the object, and the rename must be
  // durable before the caller acts on it (a checkpoint deletes the log
  // segments the snapshot covers only after this returns).
  Status Commit() override {
    if (!status_.ok()) return status_;
    if (file_ == nullptr) return status_ = Status::Internal("commit of a committed object");
    if (sync_) VECTORD_RETURN_IF_ERROR(status_ = file_->Sync());
    status_ = file_->Close();
    file_.reset();
    VECTORD_RETURN_IF_ERROR(status_);
    VECTORD_RETURN_IF_ERROR(status_ = fs_->RenameFile(temp_path_, final_path_));
    committed_ = true;
    if (sync_) return fs_->SyncDirectory(ParentDirectory(final_path_));
    return Status::Ok();
  }

 private:
  FileSystem* const fs_;
  std::unique_ptr<WritableFile> file_;
  const std::string temp_path_;
  const std::string final_path_;
  const bool sync_;
  bool committed_ = false;
  Status status_;
};

class LocalReader final : public ObjectReader {
 public:
  LocalReader(std::unique_ptr<SequentialFile> file, std::string path)
      : file_(std::move(file)), path_(std::move(path)), size_(file_->size()) {}

  // Readers such as HnswIndex::Load ask for millions of small pieces (an id's
  // length, then the id): those come out of a buffer, one file read per
  // kBufferBytes; large requests (Load's steps of rows, sized to stay in
  // cache) go straight to the file rather than through a second copy.
  Status Read(void* data, size_t size) override {
    char* p = static_cast<char*>(data);
    if (size == 0) return Status::Ok();
    const size_t buffered = std::min(size, buffer_end_ - buffer_begin_);
    if (buffered > 0) {
      std::memcpy(p, buffer_.data() + buffer_begin_, buffered);
      buffer_begin_ += buffered;
      p += buffered;
      size -= buffered;
      position_ += buffered;
      if (size == 0) return Status::Ok();
    }
    if (size >= kDirectReadBytes) return ReadFile(p, size, size);
    buffer_.resize(kBufferBytes);
    buffer_begin_ = buffer_end_ = 0;
    size_t got = 0;
    VECTORD_RETURN_IF_ERROR(ReadFile(buffer_.data(), size, kBufferBytes, &got));
    buffer_end_ = got;
    std::memcpy(p, buffer_.data(), size);
    buffer_begin_ = size;
    position_ += size;
    return Status::Ok();
  }
  uint64_t position() const override { return position_; }
  uint64_t size() const override { return size_; }

 private:
  static constexpr size_t kBufferBytes = size_t{1} << 20;
  static constexpr size_t kDirectReadBytes = size_t{64} << 10;

  // Reads at least `need` and at most `room` bytes into `out`; `got` (when
  // given) receives the count, else exactly `need` are read and counted in
  // position_. Running out before `need` is a Corruption.
  Status ReadFile(char* out, size_t need, size_t room, size_t* got = nullptr) {
    size_t done = 0;
    while (done < need) {
      VECTORD_ASSIGN_OR_RETURN(const size_t n, file_->Read(out + done, room - done));
      if (n == 0) {
        return Status::Corruption(path_ + ": unexpected end of file at byte " +
                                  std::to_string(position_ + done));
      }
      done += n;
    }
    if (got != nullptr) {
      *got = done;
    } else {
      position_ += done;
    }
    return Status::Ok();
  }

  std::unique_ptr<SequentialFile> file_;
  std::string path_;
  uint64_t size_;
  uint64_t position_ = 0;
  std::vector<char> buffer_;
  size_t buffer_begin_ = 0, buffer_end_ = 0;  // unread bytes of buffer_
};

std::atomic<uint64_t> temp_counter{0};

}  // namespace

Result<std::unique_ptr<LocalObjectStore>> LocalObjectStore::OpenRoot(std::string root, bool sync,
                                                                     FileSystem* fs) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (root.empty()) return Status::InvalidArgument("empty data directory");
  VECTORD_RETURN_IF_ERROR(fs->CreateDirectories(root));
  return std::unique_ptr<LocalObjectStore>(new LocalObjectStore(std::move(root), sync, fs));
}

Result<std::unique_ptr<ObjectWriter>> LocalObjectStore::Create(std::string_view key) {
  VECTORD_RETURN_IF_ERROR(ValidateKey(key));
  std::string path = PathOf(key);
  VECTORD_RETURN_IF_ERROR(fs_->CreateDirectories(ParentDirectory(path)));
  // The temporary name ends in ".tmp" so List never reports it as an object.
  std::string temp = path + "." + std::to_string(::getpid()) + "-" +
                     std::to_string(temp_counter.fetch_add(1)) + ".tmp";
  VECTORD_ASSIGN_OR_RETURN(auto file, fs_->OpenWritable(temp));
  return std::unique_ptr<ObjectWriter>(
      new LocalWriter(fs_, std::move(file), std::move(temp), std::move(path), sync_));
}

Result<std::unique_ptr<ObjectReader>> LocalObjectStore::Open(std::string_view key) {
  VECTORD_RETURN_IF_ERROR(ValidateKey(key));
  std::string path = PathOf(key);
  // NotFound for a directory too: one on the way to other keys is not an object.
  VECTORD_ASSIGN_OR_RETURN(auto file, fs_->OpenSequential(path));
  return std::unique_ptr<ObjectReader>(new LocalReader(std::move(file), std::move(path)));
}

Status LocalObjectStore::Delete(std::string_view key) {
  VECTORD_RETURN_IF_ERROR(ValidateKey(key));
  std::string path = PathOf(key);
  // An absent object costs no directory fsync: nothing changed.
  if (!fs_->Exists(path)) return Status::Ok();
  VECTORD_RETURN_IF_ERROR(fs_->RemoveFile(path));
  if (sync_) return fs_->SyncDirectory(ParentDirectory(path));
  return Status::Ok();
}

Status LocalObjectStore::Rename(std::string_view from, std::string_view to) {
  VECTORD_RETURN_IF_ERROR(ValidateKey(from));
  VECTORD_RETURN_IF_ERROR(ValidateKey(to));
  const std::string from_path = PathOf(from);
  if (!fs_->Exists(from_path)) return Status::NotFound("no object " + std::string(from));
  VECTORD_RETURN_IF_ERROR(fs_->RenameFile(from_path, PathOf(to)));
  if (sync_) return fs_->SyncDirectory(ParentDirectory(from_path));
  return Status::Ok();
}

Result<std::vector<std::string>> LocalObjectStore::List(std::string_view prefix) {
  std::vector<std::string> keys;
  // Walk from the deepest directory the prefix names completely.
  std::string base_key;
  size_t slash = prefix.rfind('/');
  if (slash != std::string_view::npos) base_key = std::string(prefix.substr(0, slash + 1));
  std::function<Status(const std::string&)> walk = [&](const std::string& rel) -> Status {
    std::string dir = rel.empty() ? root_ : PathOf(rel.substr(0, rel.size() - 1));
    if (!fs_->IsDirectory(dir)) return Status::Ok();  // nothing under this prefix
    VECTORD_ASSIGN_OR_RETURN(const std::vector<std::string> names, fs_->ListDirectory(dir));
    for (const std::string& name : names) {
      std::string key = rel + name;
      if (fs_->IsDirectory(PathOf(key))) {
        std::string sub = key + "/";
        if (sub.compare(0, std::min(sub.size(), prefix.size()), prefix.substr(0, sub.size())) ==
            0) {
          VECTORD_RETURN_IF_ERROR(walk(sub));
        }
      } else if (key.size() >= 4 && key.compare(key.size() - 4, 4, ".tmp") == 0) {
        continue;  // an unfinished write
      } else if (key.compare(0, prefix.size(), prefix) == 0) {
        keys.push_back(key);
      }
    }
    return Status::Ok();
  };
  VECTORD_RETURN_IF_ERROR(walk(base_key));
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace vectord::store
