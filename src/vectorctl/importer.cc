#include "vectorctl/importer.h"

#include <simdjson.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include "common/json_writer.h"
#include "common/uri_encoding.h"

namespace vectord::vectorctl {
namespace {

struct Batch {
  std::vector<SourceItem> items;
};

// The reader's hand-off to the senders: bounded, so a fast reader cannot
// hold more than a few batches in memory ahead of the network.
class BatchQueue {
 public:
  explicit BatchQueue(size_t capacity) : capacity_(capacity) {}

  // False when the queue was closed (the import stopped) before it fitted.
  bool Push(Batch batch) {
    std::unique_lock lock(mutex_);
    space_.wait(lock, [&] { return closed_ || batches_.size() < capacity_; });
    if (closed_) return false;
    batches_.push_back(std::move(batch));
    ready_.notify_one();
    return true;
  }
  std::optional<Batch> Pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return closed_ || finished_ || !batches_.empty(); });
    if (closed_ || batches_.empty()) return std::nullopt;
    Batch batch = std::move(batches_.front());
    batches_.pop_front();
    space_.notify_one();
    return batch;
  }
  // No more batches will come; senders drain what is queued.
  void Finish() {
    std::lock_guard lock(mutex_);
    finished_ = true;
    ready_.notify_all();
  }
  // Stop now: queued batches are dropped, the reader's Push fails.
  void Close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    batches_.clear();
    ready_.notify_all();
    space_.notify_all();
  }

 private:
  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<Batch> batches_;
  bool finished_ = false;
  bool closed_ = false;
};

std::string RowRange(const std::vector<SourceItem>& items, const std::string& noun) {
  const uint64_t first = items.front().row, last = items.back().row;
  return first == last ? noun + " " + std::to_string(first)
                       : noun + "s " + std::to_string(first) + "-" + std::to_string(last);
}

// The server names a refused item as "items[3]: ..."; say which row of the
// file that was.
std::string RowOfRefusedItem(const std::vector<SourceItem>& items, std::string_view message,
                             const std::string& noun) {
  if (!message.starts_with("items[")) return {};
  size_t index = 0;
  size_t i = 6;
  for (; i < message.size() && message[i] >= '0' && message[i] <= '9'; ++i) {
    index = index * 10 + static_cast<size_t>(message[i] - '0');
    if (index > items.size()) return {};
  }
  if (i == 6 || i >= message.size() || message[i] != ']' || index >= items.size()) return {};
  return " (" + noun + " " + std::to_string(items[index].row) + ", id " + items[index].id + ")";
}

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

std::string AddRequestBody(const std::vector<SourceItem>& items) {
  JsonWriter w;
  w.BeginObject().Key("items").BeginArray();
  for (const SourceItem& item : items) {
    w.BeginObject().Key("id").String(item.id).Key("vector").FloatArray(item.vector);
    if (!item.metadata_json.empty()) w.Key("metadata").Raw(item.metadata_json);
    w.EndObject();
  }
  w.EndArray().EndObject();
  return std::move(w).Finish();
}

Result<std::vector<std::string>> ListIds(ApiClient& client, const std::string& index) {
  std::vector<std::string> ids;
  std::string cursor;
  simdjson::dom::parser parser;
  const std::string base = "/vectors/index/" + UriEncode(index) + "/items?limit=10000";
  while (true) {
    std::string target = base;
    if (!cursor.empty()) target += "&cursor=" + UriEncode(cursor);
    auto response = client.Send("GET", target);
    if (!response.ok()) return response.status();
    if (response->status == 404) return Status::NotFound("index " + index + " not found");
    if (response->status != 200) {
      return Status::Unavailable("listing the ids of " + index + ": HTTP " +
                                 std::to_string(response->status) + " " + Trimmed(response->body));
    }
    simdjson::dom::element page;
    if (parser.parse(response->body).get(page) != simdjson::SUCCESS) {
      return Status::Corruption("listing the ids of " + index +
                                ": the server's answer is not JSON");
    }
    simdjson::dom::array items;
    if (page["items"].get_array().get(items) != simdjson::SUCCESS) {
      return Status::Corruption("listing the ids of " + index + ": no items array");
    }
    for (simdjson::dom::element item : items) {
      std::string_view id;
      if (item["id"].get_string().get(id) != simdjson::SUCCESS) {
        return Status::Corruption("listing the ids of " + index + ": an item without an id");
      }
      ids.emplace_back(id);
    }
    std::string_view next;
    if (page["next_cursor"].get_string().get(next) != simdjson::SUCCESS) break;  // null: done
    cursor.assign(next);
  }
  return ids;
}

Result<ImportReport> Import(VectorSource& source, const std::string& source_name,
                            const ApiClientOptions& client_options, const ImportOptions& options,
                            ProgressLine* progress) {
  const auto start = std::chrono::steady_clock::now();
  ImportReport report;
  std::unordered_set<std::string> existing;
  if (options.resume) {
    ApiClient client(client_options);
    VECTORD_ASSIGN_OR_RETURN(std::vector<std::string> ids, ListIds(client, options.index));
    existing.reserve(ids.size());
    for (std::string& id : ids) existing.insert(std::move(id));
  }

  const std::string target = "/vectors/index/" + UriEncode(options.index) + "/add" +
                             (options.no_fsync_wait ? "?durability=none" : "");
  const int connections = std::max(1, options.connections);
  BatchQueue queue(static_cast<size_t>(connections) * 2);
  std::atomic<uint64_t> imported{0};
  std::atomic<int> retries{0};
  std::mutex failure_mutex;
  std::string failure;
  ImportFailure failure_kind = ImportFailure::kNone;
  // A batch the server refuses stops the senders at once; a bad row in the
  // file stops the reading, but the batches read before it are still sent,
  // so what was imported is exactly the rows before the bad one.
  auto fail = [&](ImportFailure kind, std::string message) {
    std::lock_guard lock(failure_mutex);
    if (failure.empty()) {
      failure = std::move(message);
      failure_kind = kind;
    }
    if (kind != ImportFailure::kBadInput) queue.Close();
  };

  std::vector<std::thread> senders;
  for (int c = 0; c < connections; ++c) {
    senders.emplace_back([&] {
      ApiClient client(client_options);
      while (std::optional<Batch> batch = queue.Pop()) {
        const std::string rows = RowRange(batch->items, options.position_noun);
        client.set_retry_observer([&](int attempt, const std::string& reason) {
          retries.fetch_add(1, std::memory_order_relaxed);
          if (progress != nullptr) {
            progress->Note(source_name + ": " + rows + ": " + reason + "; retry " +
                           std::to_string(attempt - 1));
          }
        });
        auto response = client.Send("POST", target, AddRequestBody(batch->items));
        if (!response.ok()) {
          fail(ImportFailure::kUnreachable,
               source_name + ": " + rows + ": " + response.status().message());
          return;
        }
        if (response->status / 100 != 2) {
          std::string message = Trimmed(response->body);
          if (response->status == 404) {
            message = "index " + options.index +
                      " not found (create it first, or pass --create DISTANCE)";
          }
          fail(ImportFailure::kRefused,
               source_name + ": " + rows + ": HTTP " + std::to_string(response->status) + " " +
                   message + RowOfRefusedItem(batch->items, message, options.position_noun));
          return;
        }
        imported.fetch_add(batch->items.size(), std::memory_order_relaxed);
        if (progress != nullptr) progress->Add(batch->items.size());
      }
    });
  }

  std::vector<SourceItem> items;
  while (true) {
    Status status = source.Next(options.batch_size, items);
    if (!status.ok()) {
      fail(ImportFailure::kBadInput, status.message());
      break;
    }
    if (items.empty()) break;
    report.read += items.size();
    if (!existing.empty()) {
      const size_t before = items.size();
      std::erase_if(items, [&](const SourceItem& item) { return existing.contains(item.id); });
      const size_t skipped = before - items.size();
      report.skipped += skipped;
      if (progress != nullptr && skipped > 0) progress->Add(skipped);
      if (items.empty()) continue;
    }
    if (!queue.Push(Batch{std::move(items)})) break;
    items = {};
  }
  queue.Finish();
  for (std::thread& t : senders) t.join();

  report.imported = imported.load();
  report.retries = retries.load();
  report.failure = std::move(failure);
  report.failure_kind = failure_kind;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace vectord::vectorctl
