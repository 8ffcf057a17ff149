// FileSystem: the file operations the write-ahead log needs, behind an
// interface so tests can inject failures (a failing or short write, a failing
// fsync, a full disk) exactly where real disks fail.
//
// Thread safety: FileSystem methods may be called from any thread; a
// WritableFile or SequentialFile is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace vectord::store {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends all of `data` or fails; after a failure the file may hold any
  // prefix of it (the caller truncates back).
  virtual Status Append(std::string_view data) = 0;
  // Makes everything appended so far durable (fdatasync).
  virtual Status Sync() = 0;
  virtual Status Truncate(uint64_t size) = 0;
  virtual uint64_t size() const = 0;
};

class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Reads up to `max` bytes; an empty result means the end of the file.
  virtual Result<std::string> Read(size_t max) = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Opens for appending at the end, creating the file if needed.
  virtual Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) = 0;
  virtual Result<std::unique_ptr<SequentialFile>> OpenSequential(const std::string& path) = 0;
  // File names (not paths) in `dir`, sorted; NotFound if it does not exist.
  virtual Result<std::vector<std::string>> ListDirectory(const std::string& dir) = 0;
  virtual Status CreateDirectories(const std::string& dir) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;      // absent: ok
  virtual Status RemoveDirectory(const std::string& dir) = 0;  // must be empty; absent: ok
  virtual Status SyncDirectory(const std::string& dir) = 0;
  virtual bool Exists(const std::string& path) = 0;
};

// The real thing: POSIX calls on the local disk.
FileSystem* PosixFileSystem();

}  // namespace vectord::store
