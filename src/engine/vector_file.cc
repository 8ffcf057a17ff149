#include "engine/vector_file.h"

#include <fcntl.h>
#include <liburing.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bitset>
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

// An io_uring per thread that reads rows: a search runs on one thread, and
// a ring costs a descriptor and a few pages. Rows in the page cache are
// copied at submission; the others are read by the kernel's workers all
// at once, so a query that misses the cache waits for about one disk
// round trip instead of one per row.
class ReadRing {
 public:
  static constexpr unsigned kDepth = 64;

  ReadRing() { ok_ = io_uring_queue_init(kDepth, &ring_, 0) == 0; }
  ~ReadRing() {
    if (ok_) io_uring_queue_exit(&ring_);
  }
  ReadRing(const ReadRing&) = delete;
  ReadRing& operator=(const ReadRing&) = delete;

  // Null where io_uring cannot be had (an old kernel, a sandbox that
  // forbids it): the caller reads with pread.
  static ReadRing* ForThisThread() {
    thread_local ReadRing ring;
    return ring.ok_ && !ring.retired_ ? &ring : nullptr;
  }

  // Reads rows [first, first + count) (count <= kDepth); a row the ring
  // could not read whole is left to `fallback`, a pread. Anything unusual
  // from the ring itself (a submission cut short, a failed wait) retires it
  // for this thread, since SQEs or completions of this batch could then
  // surface in a later one: the rest of the batch, and every later read, go
  // to `fallback`.
  template <typename Fallback>
  Status Read(int fd, std::span<const uint32_t> rows, size_t first, size_t count, size_t row_bytes,
              std::byte* out, Fallback&& fallback) {
    for (size_t i = first; i < first + count; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);  // never null: the ring is empty here
      io_uring_prep_read(sqe, fd, out + i * row_bytes, static_cast<unsigned>(row_bytes),
                         uint64_t{rows[i]} * row_bytes);
      io_uring_sqe_set_data64(sqe, i);
    }
    // One system call submits the batch and waits for all of it. A signal
    // may cut it short before or after the kernel took the SQEs: what it
    // took is what the submission queue no longer holds.
    int rc = io_uring_submit_and_wait(&ring_, static_cast<unsigned>(count));
    while (rc == -EINTR && io_uring_sq_ready(&ring_) > 0) rc = io_uring_submit(&ring_);
    const size_t submitted = count - io_uring_sq_ready(&ring_);
    if (submitted != count || (rc < 0 && rc != -EINTR)) retired_ = true;
    std::bitset<kDepth> done;  // on the stack: this runs for every query
    Status status;
    for (size_t reaped = 0; reaped < submitted; ++reaped) {
      io_uring_cqe* cqe = nullptr;
      int waited = io_uring_wait_cqe(&ring_, &cqe);
      while (waited == -EINTR) waited = io_uring_wait_cqe(&ring_, &cqe);
      if (waited != 0) {
        retired_ = true;
        break;
      }
      const size_t i = static_cast<size_t>(io_uring_cqe_get_data64(cqe));
      const int res = cqe->res;
      io_uring_cqe_seen(&ring_, cqe);
      if (i < first || i >= first + count) continue;  // not this batch's: cannot happen
      done[i - first] = res == static_cast<int>(row_bytes);
    }
    for (size_t i = first; i < first + count && status.ok(); ++i) {
      if (!done[i - first]) status = fallback(i);
    }
    return status;
  }

 private:
  io_uring ring_;
  bool ok_ = false;
  bool retired_ = false;
};

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

Status VectorFile::ReadRow(uint32_t row, size_t row_bytes, std::byte* dest) const {
  const uint64_t offset = uint64_t{row} * row_bytes;
  size_t done = 0;
  while (done < row_bytes) {
    const ssize_t n = pread(fd_, dest + done, row_bytes - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Status::IOError("reading vector row " + std::to_string(row) + ": " +
                             (n == 0 ? std::string("past the end of the file") : ErrnoText(errno)));
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status VectorFile::ReadRows(std::span<const uint32_t> rows, size_t row_bytes,
                            std::byte* out) const {
  rows_read_.fetch_add(rows.size(), std::memory_order_relaxed);
  ReadRing* ring = rows.size() > 1 ? ReadRing::ForThisThread() : nullptr;
  if (ring == nullptr) {
    for (size_t i = 0; i < rows.size(); ++i) {
      VECTORD_RETURN_IF_ERROR(ReadRow(rows[i], row_bytes, out + i * row_bytes));
    }
    return Status::Ok();
  }
  // A short or failed read (a signal, a full queue) is read again by pread,
  // which says what went wrong if it fails too.
  auto again = [&](size_t i) { return ReadRow(rows[i], row_bytes, out + i * row_bytes); };
  for (size_t first = 0; first < rows.size(); first += ReadRing::kDepth) {
    const size_t count = std::min<size_t>(ReadRing::kDepth, rows.size() - first);
    VECTORD_RETURN_IF_ERROR(ring->Read(fd_, rows, first, count, row_bytes, out, again));
  }
  return Status::Ok();
}

void ReleaseResident(std::byte* p, size_t bytes) {
  if (p != nullptr && bytes != 0) madvise(p, bytes, MADV_DONTNEED);
}

}  // namespace vectord::engine
