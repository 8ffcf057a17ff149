#include "store/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vectord::store {
namespace {

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), size_(size) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(std::string_view data) override {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "write", path_);
      }
      size_ += static_cast<uint64_t>(n);
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }
  Status Sync() override {
    if (::fdatasync(fd_) != 0) return ErrnoStatus(errno, "fdatasync", path_);
    return Status::Ok();
  }
  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0)
      return ErrnoStatus(errno, "ftruncate", path_);
    if (::lseek(fd_, static_cast<off_t>(size), SEEK_SET) < 0)
      return ErrnoStatus(errno, "lseek", path_);
    size_ = size;
    return Status::Ok();
  }
  Status Close() override {
    const int fd = fd_;
    fd_ = -1;  // closed even when close(2) fails: retrying could close another file
    if (::close(fd) != 0) return ErrnoStatus(errno, "close", path_);
    return Status::Ok();
  }
  uint64_t size() const override { return size_; }

 private:
  int fd_;
  std::string path_;
  uint64_t size_;
};

class PosixSequentialFile final : public SequentialFile {
 public:
  PosixSequentialFile(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), size_(size) {}
  ~PosixSequentialFile() override { ::close(fd_); }
  Result<size_t> Read(void* out, size_t max) override {
    for (;;) {
      ssize_t n = ::read(fd_, out, max);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "read", path_);
      }
      return static_cast<size_t>(n);
    }
  }
  uint64_t size() const override { return size_; }

 private:
  int fd_;
  std::string path_;
  uint64_t size_;
};

Status MakeDirectories(const std::string& dir) {
  if (dir.empty() || dir == "/" || dir == ".") return Status::Ok();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::Ok();
    return Status::IOError(dir + " exists and is not a directory");
  }
  VECTORD_RETURN_IF_ERROR(MakeDirectories(ParentDirectory(dir)));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoStatus(errno, "mkdir", dir);
  return Status::Ok();
}

class Posix final : public FileSystem {
 public:
  Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus(errno, "open", path);
    off_t end = ::lseek(fd, 0, SEEK_END);
    if (end < 0) {
      int error = errno;
      ::close(fd);
      return ErrnoStatus(error, "lseek", path);
    }
    return std::unique_ptr<WritableFile>(
        new PosixWritableFile(fd, path, static_cast<uint64_t>(end)));
  }
  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus(errno, "create", path);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(fd, path, 0));
  }
  Result<std::unique_ptr<SequentialFile>> OpenSequential(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "open", path);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int error = errno;
      ::close(fd);
      return ErrnoStatus(error, "stat", path);
    }
    if (!S_ISREG(st.st_mode)) {  // a directory opens, but holds no bytes to read
      ::close(fd);
      return Status::NotFound("open " + path + ": not a regular file");
    }
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return std::unique_ptr<SequentialFile>(
        new PosixSequentialFile(fd, path, static_cast<uint64_t>(st.st_size)));
  }
  Result<std::vector<std::string>> ListDirectory(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return ErrnoStatus(errno, "opendir", dir);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }
  Status CreateDirectories(const std::string& dir) override { return MakeDirectories(dir); }
  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus(errno, "unlink", path);
    return Status::Ok();
  }
  Status RemoveDirectory(const std::string& dir) override {
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) return ErrnoStatus(errno, "rmdir", dir);
    return Status::Ok();
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus(errno, "rename", to);
    return Status::Ok();
  }
  Status SyncDirectory(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "open directory", dir);
    int rc = ::fsync(fd);
    int error = errno;
    ::close(fd);
    if (rc != 0) return ErrnoStatus(error, "fsync directory", dir);
    return Status::Ok();
  }
  bool Exists(const std::string& path) override {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
  }
  bool IsDirectory(const std::string& path) override {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }
};

}  // namespace

Status ErrnoStatus(int error, std::string_view operation, std::string_view path) {
  std::string msg = std::string(operation) + " " + std::string(path) + ": " + std::strerror(error);
  if (error == ENOSPC || error == EDQUOT) return Status::NoSpace(msg);
  if (error == ENOENT) return Status::NotFound(msg);
  // Out of descriptors is a passing shortage, not damage: 503, retry.
  if (error == EMFILE || error == ENFILE) {
    return Status::Unavailable(msg + " (out of file descriptors; raise ulimit -n)");
  }
  return Status::IOError(msg);
}

std::string ParentDirectory(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

FileSystem* PosixFileSystem() {
  static Posix fs;
  return &fs;
}

}  // namespace vectord::store
