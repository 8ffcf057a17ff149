// FaultInjectingFileSystem: a store::FileSystem for tests that forwards to a
// real one (PosixFileSystem() by default) and fails writes where real disks
// fail them: an Append that fails outright or after a short write, an fsync
// that fails, a full disk (Status::NoSpace, as ENOSPC maps), and a Truncate
// that fails (so a roll-back cannot happen). It also counts calls and can
// slow fsyncs down, which makes group commit observable on fast disks.
//
// Every knob is an atomic, so a test may flip it while other threads write.
// One-shot knobs (FailNextAppend, FailNextSync) fire once, for whichever file
// gets there first; the others hold until cleared (ClearFaults()).
//
// The files it opens keep a reference to its state, so they may outlive it.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
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
  }

  // --- Counters ----------------------------------------------------------

  uint64_t appends() const { return state_->appends.load(); }  // successful
  uint64_t syncs() const { return state_->syncs.load(); }      // successful
  uint64_t failed_appends() const { return state_->failed_appends.load(); }
  uint64_t failed_syncs() const { return state_->failed_syncs.load(); }
  void ResetCounters() {
    state_->appends.store(0);
    state_->syncs.store(0);
    state_->failed_appends.store(0);
    state_->failed_syncs.store(0);
  }

  // --- FileSystem --------------------------------------------------------

  Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) override {
    auto file = base_->OpenAppendable(path);
    if (!file.ok()) return file.status();
    return std::unique_ptr<WritableFile>(new File(std::move(file).value(), path, state_));
  }
  Result<std::unique_ptr<SequentialFile>> OpenSequential(const std::string& path) override {
    return base_->OpenSequential(path);
  }
  Result<std::vector<std::string>> ListDirectory(const std::string& dir) override {
    return base_->ListDirectory(dir);
  }
  Status CreateDirectories(const std::string& dir) override {
    return base_->CreateDirectories(dir);
  }
  Status RemoveFile(const std::string& path) override { return base_->RemoveFile(path); }
  Status RemoveDirectory(const std::string& dir) override { return base_->RemoveDirectory(dir); }
  Status SyncDirectory(const std::string& dir) override { return base_->SyncDirectory(dir); }
  bool Exists(const std::string& path) override { return base_->Exists(path); }

 private:
  struct State {
    std::atomic<bool> fail_next_append{false};
    std::atomic<size_t> append_prefix{0};
    std::atomic<bool> fail_next_sync{false};
    std::atomic<bool> fail_sync{false};
    std::atomic<bool> no_space{false};
    std::atomic<size_t> no_space_prefix{0};
    std::atomic<bool> fail_truncate{false};
    std::atomic<int64_t> sync_delay_us{0};

    std::atomic<uint64_t> appends{0};
    std::atomic<uint64_t> syncs{0};
    std::atomic<uint64_t> failed_appends{0};
    std::atomic<uint64_t> failed_syncs{0};
  };

  class File final : public WritableFile {
   public:
    File(std::unique_ptr<WritableFile> base, std::string path, std::shared_ptr<State> state)
        : base_(std::move(base)), path_(std::move(path)), state_(std::move(state)) {}

    Status Append(std::string_view data) override {
      if (state_->no_space.load()) {
        WritePrefix(data, state_->no_space_prefix.load());
        ++state_->failed_appends;
        return Status::NoSpace("write " + path_ + ": No space left on device (injected)");
      }
      if (state_->fail_next_append.exchange(false)) {
        WritePrefix(data, state_->append_prefix.load());
        ++state_->failed_appends;
        return Status::IOError("write " + path_ + ": Input/output error (injected)");
      }
      Status s = base_->Append(data);
      if (s.ok()) ++state_->appends;
      return s;
    }
    Status Sync() override {
      if (state_->fail_sync.load() || state_->fail_next_sync.exchange(false)) {
        ++state_->failed_syncs;
        return Status::IOError("fdatasync " + path_ + ": Input/output error (injected)");
      }
      if (int64_t us = state_->sync_delay_us.load(); us > 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(us));
      }
      Status s = base_->Sync();
      if (s.ok()) ++state_->syncs;
      return s;
    }
    Status Truncate(uint64_t size) override {
      if (state_->fail_truncate.load()) {
        return Status::IOError("ftruncate " + path_ + ": Input/output error (injected)");
      }
      return base_->Truncate(size);
    }
    uint64_t size() const override { return base_->size(); }

   private:
    // The part of a failing write that reached the file anyway.
    void WritePrefix(std::string_view data, size_t prefix) {
      prefix = std::min(prefix, data.size());
      if (prefix > 0) (void)base_->Append(data.substr(0, prefix));
    }

    std::unique_ptr<WritableFile> base_;
    const std::string path_;
    const std::shared_ptr<State> state_;
  };

  FileSystem* const base_;
  const std::shared_ptr<State> state_;
};

}  // namespace vectord::store::testing
