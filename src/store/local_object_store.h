// LocalObjectStore: an ObjectStore in a directory of the local disk, the
// embedded default. Key "a/b" is the file <root>/a/b. Every operation goes
// through a store::FileSystem — the same one under the write-ahead log — so
// that tests can fail any step of a publish.
//
// Commit publishes atomically and durably: the bytes go to a temporary file
// beside the target ("<file>.<pid>-<n>.tmp"), which is fsynced, closed,
// renamed over the target, and then the directory is fsynced so the rename
// itself survives a power loss. A step that fails leaves the target as it
// was (or, when only the directory fsync fails, already replaced but maybe
// not durably) and is reported by Commit; the temporary file is removed.
// With `sync = false` (tests, ephemeral benchmarks) the fsyncs are skipped.
//
// Thread safety: as ObjectStore. Two writers of the same key race; the last
// Commit wins, and neither is torn.
#pragma once

#include <string>

#include "store/file_system.h"
#include "store/object_store.h"

namespace vectord::store {

class LocalObjectStore final : public ObjectStore {
 public:
  // Creates `root` if it does not exist. `fs` must outlive the store.
  static Result<std::unique_ptr<LocalObjectStore>> OpenRoot(std::string root, bool sync = true,
                                                            FileSystem* fs = PosixFileSystem());

  Result<std::unique_ptr<ObjectWriter>> Create(std::string_view key) override;
  Result<std::unique_ptr<ObjectReader>> Open(std::string_view key) override;
  Status Delete(std::string_view key) override;
  // Moves an object to another key in the same directory, atomically, and
  // makes the move durable. NotFound when there is nothing at `from`.
  Status Rename(std::string_view from, std::string_view to);
  Result<std::vector<std::string>> List(std::string_view prefix) override;
  std::string Describe() const override { return "local:" + root_; }

  // Whether an object (or a directory on the way to other keys) is at `key`.
  bool Exists(std::string_view key) const { return fs_->Exists(PathOf(key)); }
  // The one place a key becomes a path: the file of an object, or the
  // directory of a key prefix ("a/b" -> "<root>/a/b").
  std::string PathOf(std::string_view key) const { return root_ + "/" + std::string(key); }
  const std::string& root() const { return root_; }
  FileSystem* file_system() const { return fs_; }

 private:
  LocalObjectStore(std::string root, bool sync, FileSystem* fs)
      : root_(std::move(root)), sync_(sync), fs_(fs) {}

  const std::string root_;
  const bool sync_;
  FileSystem* const fs_;
};

}  // namespace vectord::store
