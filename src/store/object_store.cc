#include "store/object_store.h"

#include <algorithm>

namespace vectord::store {

Status ValidateKey(std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("empty object key");
  if (key.front() == '/') return Status::InvalidArgument("object key starts with '/'");
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    std::string_view part = key.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return Status::InvalidArgument("object key has an empty, '.' or '..' component: " +
                                     std::string(key));
    }
    start = end + 1;
  }
  for (char c : key) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("object key has a control character");
    }
  }
  return Status::Ok();
}

Status ObjectStore::Put(std::string_view key, std::string_view bytes) {
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<ObjectWriter> writer, Create(key));
  VECTORD_RETURN_IF_ERROR(writer->Write(bytes.data(), bytes.size()));
  return writer->Commit();
}

Result<std::string> ObjectStore::GetRange(std::string_view key, uint64_t offset, uint64_t length) {
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<ObjectReader> reader, Open(key));
  const uint64_t size = reader->size();
  if (offset >= size) return std::string();
  std::string skipped(static_cast<size_t>(std::min<uint64_t>(offset, 1 << 20)), '\0');
  for (uint64_t left = offset; left > 0;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, skipped.size()));
    VECTORD_RETURN_IF_ERROR(reader->Read(skipped.data(), n));
    left -= n;
  }
  std::string out(static_cast<size_t>(std::min(length, size - offset)), '\0');
  VECTORD_RETURN_IF_ERROR(reader->Read(out.data(), out.size()));
  return out;
}

Result<std::string> ObjectStore::Get(std::string_view key) {
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<ObjectReader> reader, Open(key));
  std::string out(reader->size(), '\0');
  VECTORD_RETURN_IF_ERROR(reader->Read(out.data(), out.size()));
  return out;
}

}  // namespace vectord::store
