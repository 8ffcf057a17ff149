// SnapshotPersister: writes each changed index to the object store in the
// background, coalescing bursts of writes, and loads every stored index at
// start-up.
//
// Layout (docs/storage-layout.md): `_vectors/<name>.hnsw` is the engine file
// (docs/index-file-format.md) and `_vectors/<name>.json` the parameters. The
// .hnsw is written first and the .json last, so a .json always has its .hnsw;
// a drop deletes the .json first. Each object is published atomically by the
// store.
//
// Durability: a change reaches storage within `delay` plus the time of the
// snapshots before it. Until the write-ahead log exists, a crash loses the
// changes not yet snapshotted; a clean shutdown (Stop + Flush) loses nothing.
//
// Thread safety: OnChanged/OnDropped may be called from any thread. One
// background thread does all writes and deletes, in the order they were
// asked for, so a drop followed by a create of the same name cannot have its
// deletes and writes reordered.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "service/index_registry.h"
#include "store/object_store.h"

namespace vectord::service {

struct PersisterOptions {
  // How long a change waits for others to join it in one snapshot.
  std::chrono::milliseconds delay{500};
};

struct PersisterStats {
  uint64_t snapshots = 0;
  uint64_t failures = 0;
  uint64_t bytes_written = 0;
  double last_snapshot_seconds = 0;
};

class SnapshotPersister final : public ChangeListener {
 public:
  SnapshotPersister(store::ObjectStore* store, PersisterOptions options);
  ~SnapshotPersister() override;

  void Start();
  // Ends the background thread after its current snapshot; pending work
  // stays queued for Flush().
  void Stop();
  // Does every queued write and delete now, on the calling thread. Returns
  // the first error; failed work stays queued.
  Status Flush();

  void OnChanged(const std::shared_ptr<Index>& index) override;
  void OnDropped(const std::string& name) override;

  struct LoadReport {
    size_t loaded = 0;
    size_t failed = 0;
  };
  // Loads every stored index into the registry. An index that fails to load
  // is logged with the reason and skipped.
  LoadReport LoadAll(Registry& registry);

  PersisterStats stats() const;

  static std::string SnapshotKey(std::string_view name);
  static std::string ParamsKey(std::string_view name);

 private:
  struct Pending {
    bool delete_first = false;     // remove stored files of an earlier index of this name
    std::shared_ptr<Index> index;  // save this one (unless dropped meanwhile)
  };

  void Run();
  Status Process(const std::string& name, Pending& work);
  Status Save(Index& index);
  Status DeleteStored(const std::string& name);
  Result<std::shared_ptr<Index>> LoadOne(const std::string& name);

  store::ObjectStore* const store_;
  const PersisterOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, Pending> pending_;  // guarded by mutex_
  bool stopping_ = false;                   // guarded by mutex_
  PersisterStats stats_;                    // guarded by mutex_
  std::mutex process_mutex_;                // one Process at a time (thread or Flush)
  std::thread thread_;
};

}  // namespace vectord::service
