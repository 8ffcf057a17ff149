// FaultInjectingFileSystem: a store::FileSystem for tests that forwards to a
// real one (PosixFileSystem() by default) and fails operations where real
// disks fail them: an Append that fails outright or after a short write, an
// fsync that fails, a full disk (Status::NoSpace, as ENOSPC maps), a Truncate
// that fails (so a roll-back cannot happen), a rename that fails, and a
// directory fsync that fails. The same file system is under the log and the
// whole files LocalObjectStore publishes (snapshots, params), so the faults
// reach both. It also counts calls, can slow fsyncs down (which makes group
// commit observable on fast disks), and can record the order of the calls
// that change the disk (the publish protocol's steps).
//
// Every knob is an atomic, so a test may flip it while other threads write.
// One-shot knobs (FailNextAppend, FailNextSync, FailNextRename,
// FailNextSyncDirectory) fire once, for whichever file gets there first; the
// others hold until cleared (ClearFaults()). SetFaultFilter narrows every
// fault to the paths it accepts (a rename is judged by its target).
//
// The files it opens keep a reference to its state, so they may outlive it.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"
#include "store/file_system.h"

namespace vectord::store::testing {

class FaultInjectingFileSystem final : public FileSystem {
 public:
  explicit FaultInjectingFileSystem(FileSystem* base = PosixFileSystem())
      : base_(base), state_(std::make_shared<State>()) {}

  // --- Knobs -------------------------------------------------------------

  // The next Append (on any file) writes the first `prefix_bytes` of its data
  // (clamped to the data's size; 0 = nothing) and then fails with IOError.
  void FailNextAppend(size_t prefix_bytes = 0) {
    state_->append_prefix.store(prefix_bytes);
    state_->fail_next_append.store(true);
  }
  // The next Sync fails with IOError (after doing nothing).
  void FailNextSync() { state_->fail_next_sync.store(true); }
  // Every Sync fails while set.
  void SetFailSync(bool fail) { state_->fail_sync.store(fail); }
  // Every Append fails with Status::NoSpace while set, after writing the
  // first `prefix_bytes` of its data (a full disk may take part of a write).
  void SetNoSpace(bool full, size_t prefix_bytes = 0) {
    state_->no_space_prefix.store(prefix_bytes);
    state_->no_space.store(full);
  }
  // Every Truncate fails with IOError while set.
  void SetFailTruncate(bool fail) { state_->fail_truncate.store(fail); }
  // The next RenameFile fails with IOError (after doing nothing).
  void FailNextRename() { state_->fail_next_rename.store(true); }
  // Every RenameFile fails while set.
  void SetFailRename(bool fail) { state_->fail_rename.store(fail); }
  // The next SyncDirectory fails with IOError (after doing nothing).
  void FailNextSyncDirectory() { state_->fail_next_sync_directory.store(true); }
  // Every SyncDirectory fails while set.
  void SetFailSyncDirectory(bool fail) { state_->fail_sync_directory.store(fail); }
  // Faults fire only for paths (files, directories, rename targets) that
  // `accept` returns true for; a path it refuses passes untouched, and a
  // one-shot knob stays armed for the next accepted path. Empty: every path.
  void SetFaultFilter(std::function<bool(const std::string& path)> accept) {
    std::lock_guard lock(state_->filter_mutex);
    state_->filter = std::move(accept);
  }
  // Every successful Sync first sleeps this long (a slow disk).
  void SetSyncDelay(std::chrono::microseconds delay) { state_->sync_delay_us.store(delay.count()); }
  void ClearFaults() {
    state_->fail_next_append.store(false);
    state_->append_prefix.store(0);
    state_->fail_next_sync.store(false);
    state_->fail_sync.store(false);
    state_->no_space.store(false);
    state_->no_space_prefix.store(0);
    state_->fail_truncate.store(false);
    state_->fail_next_rename.store(false);
    state_->fail_rename.store(false);
    state_->fail_next_sync_directory.store(false);
    state_->fail_sync_directory.store(false);
    SetFaultFilter(nullptr);
  }

  // --- Call order --------------------------------------------------------

  // From now on, remembers each call that changes the disk as one line:
  // "create P", "append P", "sync P", "close P", "truncate P", "rename F T",
  // "syncdir D", "remove P" (paths as given; failed calls marked " failed"),
  // and each read as "read P <bytes asked for>".
  void StartRecording() {
    std::lock_guard lock(state_->events_mutex);
    state_->events.clear();
    state_->recording.store(true);
  }
  std::vector<std::string> events() const {
    std::lock_guard lock(state_->events_mutex);
    return state_->events;
  }

  // --- Counters ----------------------------------------------------------

  uint64_t appends() const { return state_->appends.load(); }  // successful
  uint64_t syncs() const { return state_->syncs.load(); }      // successful
  uint64_t failed_appends() const { return state_->failed_appends.load(); }
  uint64_t failed_syncs() const { return state_->failed_syncs.load(); }
  uint64_t renames() const { return state_->renames.load(); }                  // successful
  uint64_t directory_syncs() const { return state_->directory_syncs.load(); }  // successful
  void ResetCounters() {
    state_->appends.store(0);
    state_->syncs.store(0);
    state_->failed_appends.store(0);
    state_->failed_syncs.store(0);
    state_->renames.store(0);
    state_->directory_syncs.store(0);
  }

  // --- FileSystem --------------------------------------------------------

  Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) override {
    auto file = base_->OpenAppendable(path);
    if (!file.ok()) return file.status();
    return std::unique_ptr<WritableFile>(new File(std::move(file).value(), path, state_));
  }
  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path) override {
    auto file = base_->OpenWritable(path);
    state_->Record("create", path, file.status());
    if (!file.ok()) return file.status();
    return std::unique_ptr<WritableFile>(new File(std::move(file).value(), path, state_));
  }
  Result<std::unique_ptr<SequentialFile>> OpenSequential(const std::string& path) override {
    auto file = base_->OpenSequential(path);
    if (!file.ok()) return file.status();
    return std::unique_ptr<SequentialFile>(new Reader(std::move(file).value(), path, state_));
  }
  Result<std::vector<std::string>> ListDirectory(const std::string& dir) override {
    return base_->ListDirectory(dir);
  }
  Status CreateDirectories(const std::string& dir) override {
    return base_->CreateDirectories(dir);
  }
  Status RemoveFile(const std::string& path) override {
    Status s = base_->RemoveFile(path);
    state_->Record("remove", path, s);
    return s;
  }
  Status RemoveDirectory(const std::string& dir) override { return base_->RemoveDirectory(dir); }
  Status RenameFile(const std::string& from, const std::string& to) override {
    Status s;
    if (state_->Fires(to, state_->fail_rename, state_->fail_next_rename)) {
      s = Status::IOError("rename " + to + ": Input/output error (injected)");
    } else {
      s = base_->RenameFile(from, to);
      if (s.ok()) ++state_->renames;
    }
    state_->Record("rename", from + " " + to, s);
    return s;
  }
  Status SyncDirectory(const std::string& dir) override {
    Status s;
    if (state_->Fires(dir, state_->fail_sync_directory, state_->fail_next_sync_directory)) {
      s = Status::IOError("fsync directory " + dir + ": Input/output error (injected)");
    } else {
      s = base_->SyncDirectory(dir);
      if (s.ok()) ++state_->directory_syncs;
    }
    state_->Record("syncdir", dir, s);
    return s;
  }
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  bool IsDirectory(const std::string& path) override { return base_->IsDirectory(path); }

 private:
  struct State {
    std::atomic<bool> fail_next_append{false};
    std::atomic<size_t> append_prefix{0};
    std::atomic<bool> fail_next_sync{false};
    std::atomic<bool> fail_sync{false};
    std::atomic<bool> no_space{false};
    std::atomic<size_t> no_space_prefix{0};
    std::atomic<bool> fail_truncate{false};
    std::atomic<bool> fail_next_rename{false};
    std::atomic<bool> fail_rename{false};
    std::atomic<bool> fail_next_sync_directory{false};
    std::atomic<bool> fail_sync_directory{false};
    std::atomic<int64_t> sync_delay_us{0};

    std::atomic<uint64_t> appends{0};
    std::atomic<uint64_t> syncs{0};
    std::atomic<uint64_t> failed_appends{0};
    std::atomic<uint64_t> failed_syncs{0};
    std::atomic<uint64_t> renames{0};
    std::atomic<uint64_t> directory_syncs{0};

    std::mutex filter_mutex;
    std::function<bool(const std::string&)> filter;  // guarded by filter_mutex

    std::atomic<bool> recording{false};
    mutable std::mutex events_mutex;
    std::vector<std::string> events;  // guarded by events_mutex

    bool Accepts(const std::string& path) {
      std::lock_guard lock(filter_mutex);
      return !filter || filter(path);
    }
    // Whether a fault fires for `path`: `hold` set, or `once` set (then
    // consumed), and the filter accepts the path.
    bool Fires(const std::string& path, const std::atomic<bool>& hold, std::atomic<bool>& once) {
      if (!hold.load() && !once.load()) return false;
      if (!Accepts(path)) return false;
      return hold.load() || once.exchange(false);
    }
    // Appends "<what> <path>" (" failed" when it did) while recording.
    void Record(std::string_view what, std::string_view path, const Status& status) {
      if (!recording.load()) return;  // no lock on the log's hot path
      std::string event = std::string(what) + " " + std::string(path);
      if (!status.ok()) event += " failed";
      std::lock_guard lock(events_mutex);
      events.push_back(std::move(event));
    }
  };

  class File final : public WritableFile {
   public:
    File(std::unique_ptr<WritableFile> base, std::string path, std::shared_ptr<State> state)
        : base_(std::move(base)), path_(std::move(path)), state_(std::move(state)) {}

    Status Append(std::string_view data) override {
      Status s = DoAppend(data);
      state_->Record("append", path_, s);
      return s;
    }
    Status Sync() override {
      Status s;
      if (state_->Fires(path_, state_->fail_sync, state_->fail_next_sync)) {
        ++state_->failed_syncs;
        s = Status::IOError("fdatasync " + path_ + ": Input/output error (injected)");
      } else {
        if (int64_t us = state_->sync_delay_us.load(); us > 0) {
          std::this_thread::sleep_for(std::chrono::microseconds(us));
        }
        s = base_->Sync();
        if (s.ok()) ++state_->syncs;
      }
      state_->Record("sync", path_, s);
      return s;
    }
    Status Truncate(uint64_t size) override {
      Status s = state_->fail_truncate.load() && state_->Accepts(path_)
                     ? Status::IOError("ftruncate " + path_ + ": Input/output error (injected)")
                     : base_->Truncate(size);
      state_->Record("truncate", path_, s);
      return s;
    }
    Status Close() override {
      Status s = base_->Close();
      state_->Record("close", path_, s);
      return s;
    }
    uint64_t size() const override { return base_->size(); }

   private:
    Status DoAppend(std::string_view data) {
      if (state_->no_space.load() && state_->Accepts(path_)) {
        WritePrefix(data, state_->no_space_prefix.load());
        ++state_->failed_appends;
        return Status::NoSpace("write " + path_ + ": No space left on device (injected)");
      }
      if (state_->Fires(path_, no_hold_, state_->fail_next_append)) {
        WritePrefix(data, state_->append_prefix.load());
        ++state_->failed_appends;
        return Status::IOError("write " + path_ + ": Input/output error (injected)");
      }
      Status s = base_->Append(data);
      if (s.ok()) ++state_->appends;
      return s;
    }
    // The part of a failing write that reached the file anyway.
    void WritePrefix(std::string_view data, size_t prefix) {
      prefix = std::min(prefix, data.size());
      if (prefix > 0) (void)base_->Append(data.substr(0, prefix));
    }

    std::unique_ptr<WritableFile> base_;
    const std::string path_;
    const std::shared_ptr<State> state_;
    const std::atomic<bool> no_hold_{false};  // FailNextAppend has no holding twin
  };

  // Reads pass through; recorded, they show how a reader asks for its bytes.
  class Reader final : public SequentialFile {
   public:
    Reader(std::unique_ptr<SequentialFile> base, std::string path, std::shared_ptr<State> state)
        : base_(std::move(base)), path_(std::move(path)), state_(std::move(state)) {}
    Result<size_t> Read(void* out, size_t max) override {
      auto got = base_->Read(out, max);
      if (state_->recording.load()) {  // no string building on the log's replay path
        state_->Record("read", path_ + " " + std::to_string(max), got.status());
      }
      return got;
    }
    uint64_t size() const override { return base_->size(); }

   private:
    std::unique_ptr<SequentialFile> base_;
    const std::string path_;
    const std::shared_ptr<State> state_;
  };

  FileSystem* const base_;
  const std::shared_ptr<State> state_;
};

}  // namespace vectord::store::testing
