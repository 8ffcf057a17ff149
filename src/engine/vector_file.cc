#include "engine/vector_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace vectord::engine {
namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

// O_TMPFILE where the file system has it; otherwise a unique name,
// unlinked as soon as it is open.
Result<int> OpenUnnamed(const std::string& directory) {
  int fd = open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
    return Status::IOError("cannot make a vector file in " + directory + ": " + ErrnoText(errno));
  }
  static std::atomic<uint64_t> counter{0};
  const std::string path = directory + "/.vectors." + std::to_string(getpid()) + "-" +
                           std::to_string(counter.fetch_add(1)) + ".tmp";
  fd = open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::IOError("cannot make a vector file in " + directory + ": " + ErrnoText(errno));
  }
  unlink(path.c_str());
  return fd;
}

}  // namespace

Result<std::unique_ptr<VectorFile>> VectorFile::Create(const std::string& directory) {
  VECTORD_ASSIGN_OR_RETURN(const int fd, OpenUnnamed(directory));
  return std::unique_ptr<VectorFile>(new VectorFile(fd, directory));
}

VectorFile::~VectorFile() { close(fd_); }

Result<std::byte*> VectorFile::MapRegion(uint64_t offset, size_t bytes) {
  const uint64_t end = offset + bytes;
  if (end > size_bytes_) {
    // Reserve real blocks: a store into a mapped hole on a full disk would
    // be a SIGBUS, not an error.
    int err =
        fallocate(fd_, 0, static_cast<off_t>(size_bytes_), static_cast<off_t>(end - size_bytes_));
    if (err != 0 && (errno == EOPNOTSUPP || errno == ENOSYS)) {
      err = ftruncate(fd_, static_cast<off_t>(end));  // no reservation to be had
    }
    if (err != 0) {
      const int saved = errno;
      std::string message = "cannot grow the vector file in " + directory_ + " to " +
                            std::to_string(end) + " bytes: " + ErrnoText(saved);
      if (saved == ENOSPC || saved == EFBIG) return Status::NoSpace(std::move(message));
      return Status::IOError(std::move(message));
    }
    size_bytes_ = end;
  }
  void* p =
      mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, static_cast<off_t>(offset));
  if (p == MAP_FAILED) {
    return Status::NoSpace("cannot map " + std::to_string(bytes) +
                           " bytes of the vector file: " + ErrnoText(errno));
  }
  // The build reads rows in graph order, at random: read-ahead would fetch
  // pages nobody asked for.
  madvise(p, bytes, MADV_RANDOM);
  return static_cast<std::byte*>(p);
}

Status VectorFile::ReadRows(std::span<const uint32_t> rows, size_t row_bytes,
                            std::byte* out) const {
  for (size_t i = 0; i < rows.size(); ++i) {
    std::byte* dest = out + i * row_bytes;
    const uint64_t offset = uint64_t{rows[i]} * row_bytes;
    size_t done = 0;
    while (done < row_bytes) {
      const ssize_t n =
          pread(fd_, dest + done, row_bytes - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return Status::IOError(
            "reading vector row " + std::to_string(rows[i]) + ": " +
            (n == 0 ? std::string("past the end of the file") : ErrnoText(errno)));
      }
      done += static_cast<size_t>(n);
    }
  }
  return Status::Ok();
}

void ReleaseResident(std::byte* p, size_t bytes) {
  if (p != nullptr && bytes != 0) madvise(p, bytes, MADV_DONTNEED);
}

}  // namespace vectord::engine
