// Fuzz target: the write-ahead-log reader and the record payload decoders
// (docs/wal-format.md), as start-up replay runs them on whatever is on disk.
//
// The input is split on the first 0xff 0xff 0xff 0xff into up to two segment
// files, so torn and damaged records show up both mid-log and at its tail.
// Every outcome must be a record, the end, or a Corruption status; each
// record's payload goes through the decoder its type names.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>

#include "service/log_records.h"
#include "store/file_system.h"
#include "store/log_reader.h"

namespace {

using vectord::Result;
using vectord::Status;

// Just enough of a file system to hold a log directory in memory.
class MemoryFileSystem final : public vectord::store::FileSystem {
 public:
  std::map<std::string, std::string> files;  // name -> contents, one directory

  Result<std::unique_ptr<vectord::store::WritableFile>> OpenAppendable(
      const std::string&) override {
    return Status::InvalidArgument("read-only");
  }
  Result<std::unique_ptr<vectord::store::WritableFile>> OpenWritable(const std::string&) override {
    return Status::InvalidArgument("read-only");
  }
  Result<std::unique_ptr<vectord::store::SequentialFile>> OpenSequential(
      const std::string& path) override {
    auto it = files.find(path.substr(path.rfind('/') + 1));
    if (it == files.end()) return Status::NotFound(path);
    return std::unique_ptr<vectord::store::SequentialFile>(new File(it->second));
  }
  Result<std::vector<std::string>> ListDirectory(const std::string&) override {
    std::vector<std::string> names;
    for (const auto& [name, contents] : files) names.push_back(name);
    return names;
  }
  Status CreateDirectories(const std::string&) override { return Status::Ok(); }
  Status RemoveFile(const std::string&) override { return Status::Ok(); }
  Status RemoveDirectory(const std::string&) override { return Status::Ok(); }
  Status RenameFile(const std::string&, const std::string&) override {
    return Status::InvalidArgument("read-only");
  }
  Status SyncDirectory(const std::string&) override { return Status::Ok(); }
  bool Exists(const std::string&) override { return true; }
  bool IsDirectory(const std::string& path) override { return path == "log"; }

 private:
  class File final : public vectord::store::SequentialFile {
   public:
    explicit File(std::string_view contents) : rest_(contents), size_(contents.size()) {}
    Result<size_t> Read(void* out, size_t max) override {
      // Short reads on purpose: the reader must stitch records together.
      std::string_view piece = rest_.substr(0, std::min<size_t>(max, 4093));
      std::memcpy(out, piece.data(), piece.size());
      rest_.remove_prefix(piece.size());
      return piece.size();
    }
    uint64_t size() const override { return size_; }

   private:
    std::string_view rest_;
    uint64_t size_;
  };
};

constexpr uint32_t kDimension = 4;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  MemoryFileSystem fs;
  const size_t split = input.find(std::string_view("\xff\xff\xff\xff", 4));
  fs.files["00000000000000000001.log"] = std::string(input.substr(0, split));
  if (split != std::string_view::npos) {
    fs.files["00000000000000000002.log"] = std::string(input.substr(split + 4));
  }
  auto reader = vectord::store::LogReader::Open(&fs, "log", kDimension);
  if (!reader.ok()) return 0;
  for (int records = 0; records < 10000; ++records) {
    auto next = (*reader)->Next();
    if (!next.ok() || !next->has_value()) break;
    const vectord::store::LogRecord& record = **next;
    using vectord::store::log_format::RecordType;
    switch (record.type) {
      case RecordType::kUpsert:
        (void)vectord::service::DecodeUpsert(record.payload, kDimension);
        break;
      case RecordType::kDelete: (void)vectord::service::DecodeDelete(record.payload); break;
      case RecordType::kCancel: (void)vectord::service::DecodeCancel(record.payload); break;
      default: break;
    }
  }
  return 0;
}
