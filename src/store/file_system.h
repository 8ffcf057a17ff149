// FileSystem: every file operation vectord performs under its data directory
// — the write-ahead log's segments and the whole files (snapshots, params)
// that LocalObjectStore publishes — behind one narrow interface, so tests can
// inject failures (a failing or short write, a failing fsync, rename or
// directory fsync, a full disk) exactly where real disks fail, under the log
// and the snapshots alike. The model is leveldb's Env: a handful of file
// handles and directory calls, nothing about formats.
//
// Thread safety: FileSystem methods may be called from any thread; a
// WritableFile or SequentialFile is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace vectord::store {

class WritableFile {
 public:
  // Closes the file if Close() was not called (ignoring its result).
  virtual ~WritableFile() = default;
  // Appends all of `data` or fails; after a failure the file may hold any
  // prefix of it (the caller truncates back).
  virtual Status Append(std::string_view data) = 0;
  // Makes everything appended so far durable (fdatasync: the data and the
  // metadata needed to read it back, such as the size).
  virtual Status Sync() = 0;
  virtual Status Truncate(uint64_t size) = 0;
  // Closes the file, reporting what close(2) reports: some file systems
  // (NFS) only tell of a failed write then. No call may follow.
  virtual Status Close() = 0;
  virtual uint64_t size() const = 0;
};

class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Reads up to `max` bytes into `out` and returns how many; 0 means the end
  // of the file. Reads straight into the caller's memory, so that large
  // reads (snapshot loads) cost no second copy.
  virtual Result<size_t> Read(void* out, size_t max) = 0;
  // The file's size when it was opened.
  virtual uint64_t size() const = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Opens for appending at the end, creating the file if needed.
  virtual Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) = 0;
  // Creates the file, or empties it if it exists, for writing from the start.
  virtual Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path) = 0;
  // NotFound when `path` does not exist or is not a regular file.
  virtual Result<std::unique_ptr<SequentialFile>> OpenSequential(const std::string& path) = 0;
  // File names (not paths) in `dir`, sorted; NotFound if it does not exist.
  virtual Result<std::vector<std::string>> ListDirectory(const std::string& dir) = 0;
  virtual Status CreateDirectories(const std::string& dir) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;      // absent: ok
  virtual Status RemoveDirectory(const std::string& dir) = 0;  // must be empty; absent: ok
  // Replaces `to` with `from` atomically (rename(2)): readers see the old
  // file or the new one. Durable only once their directory is synced.
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // Makes the entries created, renamed or removed in `dir` durable.
  virtual Status SyncDirectory(const std::string& dir) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual bool IsDirectory(const std::string& path) = 0;
};

// The real thing: POSIX calls on the local disk.
FileSystem* PosixFileSystem();

// Maps an errno from a file operation to a Status naming the operation and
// path: ENOSPC and EDQUOT are NoSpace, ENOENT NotFound, the rest IOError.
Status ErrnoStatus(int error, std::string_view operation, std::string_view path);

// The directory that holds `path` ("." for a bare name).
std::string ParentDirectory(const std::string& path);

}  // namespace vectord::store
