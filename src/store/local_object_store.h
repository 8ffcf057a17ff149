// LocalObjectStore: an ObjectStore in a directory of the local disk, the
// embedded default. Key "a/b" is the file <root>/a/b.
//
// Commit publishes atomically and durably: the bytes go to a temporary file
// beside the target, which is fsynced, renamed over the target, and then the
// directory is fsynced so the rename itself survives a power loss. With
// `sync = false` (tests, ephemeral benchmarks) the fsyncs are skipped.
//
// Thread safety: as ObjectStore. Two writers of the same key race; the last
// Commit wins, and neither is torn.
#pragma once

#include <string>

#include "store/object_store.h"

namespace vectord::store {

class LocalObjectStore final : public ObjectStore {
 public:
  // Creates `root` if it does not exist.
  static Result<std::unique_ptr<LocalObjectStore>> OpenRoot(std::string root, bool sync = true);

  Result<std::unique_ptr<ObjectWriter>> Create(std::string_view key) override;
  Result<std::unique_ptr<ObjectReader>> Open(std::string_view key) override;
  Status Delete(std::string_view key) override;
  Result<std::vector<std::string>> List(std::string_view prefix) override;
  std::string Describe() const override { return "local:" + root_; }

  const std::string& root() const { return root_; }

 private:
  LocalObjectStore(std::string root, bool sync) : root_(std::move(root)), sync_(sync) {}
  std::string PathOf(std::string_view key) const { return root_ + "/" + std::string(key); }

  const std::string root_;
  const bool sync_;
};

// Maps an errno from a file operation to a Status naming the operation and path.
Status ErrnoStatus(int error, std::string_view operation, std::string_view path);
// fsyncs the directory `dir`, so that entries created or removed in it last.
Status SyncDirectoryAt(const std::string& dir);
// fsyncs the directory that holds `path`.
Status SyncParentDirectory(const std::string& path);
// Creates every missing directory on the way to `dir`.
Status MakeDirectories(const std::string& dir);

}  // namespace vectord::store
