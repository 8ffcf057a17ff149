// FaultInjectingObjectStore: a store::ObjectStore for tests that forwards to
// a real one (a LocalObjectStore directory standing in for the bucket) and
// fails or delays writes the way a remote store does: a store that is down
// (every write fails, nothing lands), a reply lost after the object landed
// (the write is stored, the caller sees Unavailable), and a PUT held in
// flight until the test releases it (to order an upload against a drop).
// Faults apply to the keys that start with the filter prefix ("" = all).
//
// Every knob may be flipped while other threads write.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/object_store.h"

namespace vectord::service::testing {

class FaultInjectingObjectStore final : public store::ObjectStore {
 public:
  explicit FaultInjectingObjectStore(store::ObjectStore* base) : base_(base) {}

  // Faults below apply only to keys starting with `prefix`.
  void SetFilter(std::string prefix) {
    std::lock_guard lock(mutex_);
    filter_ = std::move(prefix);
  }
  // Every write (and delete) fails with Unavailable, storing nothing.
  void SetDown(bool down) { down_.store(down); }
  // The next matching write lands, then reports Unavailable.
  void LoseNextReply() { lose_next_reply_.store(true); }
  // After the next matching write (whatever it reports), the store is down.
  void GoDownAfterNextWrite() { down_after_next_write_.store(true); }
  // Matching writes wait in Commit, before reaching the store, until
  // Release(); held_writes() counts those waiting.
  void Hold() {
    std::lock_guard lock(mutex_);
    holding_ = true;
  }
  void Release() {
    {
      std::lock_guard lock(mutex_);
      holding_ = false;
    }
    released_.notify_all();
  }
  int held_writes() const { return held_.load(); }
  // Keys written through this store, in order (all keys, not only matching).
  std::vector<std::string> written() const {
    std::lock_guard lock(mutex_);
    return written_;
  }

  Result<std::unique_ptr<store::ObjectWriter>> Create(std::string_view key) override {
    return std::unique_ptr<store::ObjectWriter>(new Writer(this, std::string(key)));
  }
  Result<std::unique_ptr<store::ObjectReader>> Open(std::string_view key) override {
    if (down_.load() && Matches(key)) return Status::Unavailable("test store is down");
    return base_->Open(key);
  }
  Status Delete(std::string_view key) override {
    if (down_.load() && Matches(key)) return Status::Unavailable("test store is down");
    return base_->Delete(key);
  }
  Result<std::vector<std::string>> List(std::string_view prefix) override {
    if (down_.load() && Matches(prefix)) return Status::Unavailable("test store is down");
    {
      // A listing of a large bucket, taking as long as the test wants.
      std::unique_lock lock(mutex_);
      released_.wait(lock, [&] { return !held_list_ || prefix != *held_list_; });
    }
    return base_->List(prefix);
  }
  // Lists of exactly `prefix` wait until ReleaseLists().
  void HoldListsOf(std::string prefix) {
    std::lock_guard lock(mutex_);
    held_list_ = std::move(prefix);
  }
  void ReleaseLists() {
    {
      std::lock_guard lock(mutex_);
      held_list_.reset();
    }
    released_.notify_all();
  }
  Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    if (down_.load() && Matches(key)) return Status::Unavailable("test store is down");
    return base_->GetRange(key, offset, length);
  }
  std::string Describe() const override { return "faulty:" + base_->Describe(); }

 private:
  class Writer final : public store::ObjectWriter {
   public:
    Writer(FaultInjectingObjectStore* store, std::string key)
        : store_(store), key_(std::move(key)) {}
    Status Write(const void* data, size_t size) override {
      bytes_.append(static_cast<const char*>(data), size);
      return Status::Ok();
    }
    Status Commit() override { return store_->Commit(key_, bytes_); }

   private:
    FaultInjectingObjectStore* const store_;
    const std::string key_;
    std::string bytes_;
  };

  bool Matches(std::string_view key) const {
    std::lock_guard lock(mutex_);
    return key.substr(0, filter_.size()) == filter_;
  }

  Status Commit(const std::string& key, const std::string& bytes) {
    const bool matches = Matches(key);
    if (matches) {
      std::unique_lock lock(mutex_);
      if (holding_) {
        ++held_;
        released_.wait(lock, [this] { return !holding_; });
        --held_;
      }
    }
    if (matches && down_.load()) return Status::Unavailable("test store is down");
    Status put = base_->Put(key, bytes);
    if (put.ok()) {
      std::lock_guard lock(mutex_);
      written_.push_back(key);
    }
    if (matches && down_after_next_write_.exchange(false)) down_.store(true);
    if (put.ok() && matches && lose_next_reply_.exchange(false)) {
      return Status::Unavailable("test store lost the reply (the object landed)");
    }
    return put;
  }

  store::ObjectStore* const base_;
  mutable std::mutex mutex_;
  std::condition_variable released_;
  std::string filter_;                    // guarded by mutex_
  bool holding_ = false;                  // guarded by mutex_
  std::optional<std::string> held_list_;  // guarded by mutex_
  std::vector<std::string> written_;      // guarded by mutex_
  std::atomic<int> held_{0};
  std::atomic<bool> down_{false};
  std::atomic<bool> lose_next_reply_{false};
  std::atomic<bool> down_after_next_write_{false};
};

}  // namespace vectord::service::testing
