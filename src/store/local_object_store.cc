#include "store/local_object_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

namespace vectord::store {
namespace {

std::string ParentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

class LocalWriter final : public ObjectWriter {
 public:
  LocalWriter(int fd, std::string temp_path, std::string final_path, bool sync)
      : fd_(fd),
        temp_path_(std::move(temp_path)),
        final_path_(std::move(final_path)),
        sync_(sync) {}
  ~LocalWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_path_.c_str());
  }

  Status Write(const void* data, size_t size) override {
    if (!status_.ok()) return status_;
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      ssize_t n = ::write(fd_, p, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        status_ = ErrnoStatus(errno, "write", temp_path_);
        return status_;
      }
      p += n;
      size -= static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  Status Commit() override {
    if (!status_.ok()) return status_;
    if (sync_ && ::fsync(fd_) != 0) return status_ = ErrnoStatus(errno, "fsync", temp_path_);
    if (::close(fd_) != 0) {
      fd_ = -1;
      return status_ = ErrnoStatus(errno, "close", temp_path_);
    }
    fd_ = -1;
    if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
      return status_ = ErrnoStatus(errno, "rename", final_path_);
    }
    committed_ = true;
    if (sync_) return SyncParentDirectory(final_path_);
    return Status::Ok();
  }

 private:
  int fd_;
  std::string temp_path_;
  std::string final_path_;
  bool sync_;
  bool committed_ = false;
  Status status_;
};

class LocalReader final : public ObjectReader {
 public:
  LocalReader(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), size_(size) {}
  ~LocalReader() override { ::close(fd_); }

  // Readers such as HnswIndex::Load ask for millions of small pieces (an id's
  // length, then the id): those come out of a buffer, one read(2) per
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
      ssize_t n = ::read(fd_, out + done, room - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "read", path_);
      }
      if (n == 0) {
        return Status::Corruption(path_ + ": unexpected end of file at byte " +
                                  std::to_string(position_ + done));
      }
      done += static_cast<size_t>(n);
    }
    if (got != nullptr) {
      *got = done;
    } else {
      position_ += done;
    }
    return Status::Ok();
  }

  int fd_;
  std::string path_;
  uint64_t size_;
  uint64_t position_ = 0;
  std::vector<char> buffer_;
  size_t buffer_begin_ = 0, buffer_end_ = 0;  // unread bytes of buffer_
};

std::atomic<uint64_t> temp_counter{0};

}  // namespace

Status ErrnoStatus(int error, std::string_view operation, std::string_view path) {
  std::string msg = std::string(operation) + " " + std::string(path) + ": " + std::strerror(error);
  if (error == ENOSPC || error == EDQUOT) return Status::NoSpace(msg);
  if (error == ENOENT) return Status::NotFound(msg);
  return Status::IOError(msg);
}

Status SyncDirectoryAt(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open directory", dir);
  int rc = ::fsync(fd);
  int error = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(error, "fsync directory", dir);
  return Status::Ok();
}

Status SyncParentDirectory(const std::string& path) { return SyncDirectoryAt(ParentOf(path)); }

Status MakeDirectories(const std::string& dir) {
  if (dir.empty() || dir == "/" || dir == ".") return Status::Ok();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::Ok();
    return Status::IOError(dir + " exists and is not a directory");
  }
  VECTORD_RETURN_IF_ERROR(MakeDirectories(ParentOf(dir)));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoStatus(errno, "mkdir", dir);
  return Status::Ok();
}

Result<std::unique_ptr<LocalObjectStore>> LocalObjectStore::OpenRoot(std::string root, bool sync) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (root.empty()) return Status::InvalidArgument("empty data directory");
  VECTORD_RETURN_IF_ERROR(MakeDirectories(root));
  return std::unique_ptr<LocalObjectStore>(new LocalObjectStore(std::move(root), sync));
}

Result<std::unique_ptr<ObjectWriter>> LocalObjectStore::Create(std::string_view key) {
  VECTORD_RETURN_IF_ERROR(ValidateKey(key));
  std::string path = PathOf(key);
  VECTORD_RETURN_IF_ERROR(MakeDirectories(ParentOf(path)));
  // The temporary name ends in ".tmp" so List never reports it as an object.
  std::string temp = path + "." + std::to_string(::getpid()) + "-" +
                     std::to_string(temp_counter.fetch_add(1)) + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "create", temp);
  return std::unique_ptr<ObjectWriter>(
      new LocalWriter(fd, std::move(temp), std::move(path), sync_));
}

Result<std::unique_ptr<ObjectReader>> LocalObjectStore::Open(std::string_view key) {
  VECTORD_RETURN_IF_ERROR(ValidateKey(key));
  std::string path = PathOf(key);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int error = errno;
    ::close(fd);
    return ErrnoStatus(error, "stat", path);
  }
  if (!S_ISREG(st.st_mode)) {  // a directory on the way to other keys is not an object
    ::close(fd);
    return Status::NotFound("open " + path + ": not an object");
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<ObjectReader>(
      new LocalReader(fd, std::move(path), static_cast<uint64_t>(st.st_size)));
}

Status LocalObjectStore::Delete(std::string_view key) {
  VECTORD_RETURN_IF_ERROR(ValidateKey(key));
  std::string path = PathOf(key);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return ErrnoStatus(errno, "unlink", path);
  }
  if (sync_) return SyncParentDirectory(path);
  return Status::Ok();
}

Result<std::vector<std::string>> LocalObjectStore::List(std::string_view prefix) {
  std::vector<std::string> keys;
  // Walk from the deepest directory the prefix names completely.
  std::string base_key;
  size_t slash = prefix.rfind('/');
  if (slash != std::string_view::npos) base_key = std::string(prefix.substr(0, slash + 1));
  std::function<Status(const std::string&)> walk = [&](const std::string& rel) -> Status {
    std::string dir = rel.empty() ? root_ : root_ + "/" + rel.substr(0, rel.size() - 1);
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT || errno == ENOTDIR) return Status::Ok();
      return ErrnoStatus(errno, "opendir", dir);
    }
    Status status;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      std::string key = rel + name;
      struct stat st;
      if (::stat((root_ + "/" + key).c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        std::string sub = key + "/";
        if (sub.compare(0, std::min(sub.size(), prefix.size()), prefix.substr(0, sub.size())) ==
            0) {
          status = walk(sub);
          if (!status.ok()) break;
        }
      } else if (key.size() >= 4 && key.compare(key.size() - 4, 4, ".tmp") == 0) {
        continue;  // an unfinished write
      } else if (key.compare(0, prefix.size(), prefix) == 0) {
        keys.push_back(key);
      }
    }
    ::closedir(d);
    return status;
  };
  VECTORD_RETURN_IF_ERROR(walk(base_key));
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace vectord::store
