#include "service/index_name.h"

#include <array>
#include <string>

namespace vectord::service {

Status ValidateIndexName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("invalid index params: empty name");
  if (name.size() > kMaxIndexNameLength) {
    return Status::InvalidArgument("invalid index params: name longer than " +
                                   std::to_string(kMaxIndexNameLength) + " characters");
  }
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name.front())) {
    return Status::InvalidArgument("invalid index params: name must start with a letter or digit");
  }
  for (char c : name) {
    if (!alnum(c) && c != '_' && c != '-' && c != '.') {
      return Status::InvalidArgument(
          "invalid index params: name may only contain letters, digits, '_', '-' and '.'");
    }
  }
  if (name.find("..") != std::string_view::npos) {
    return Status::InvalidArgument("invalid index params: name must not contain \"..\"");
  }
  static constexpr std::array<std::string_view, 4> kReserved = {".json", ".hnsw", ".wal", ".tmp"};
  for (std::string_view suffix : kReserved) {
    if (name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
      return Status::InvalidArgument("invalid index params: name must not end in \"" +
                                     std::string(suffix) + "\"");
    }
  }
  return Status::Ok();
}

}  // namespace vectord::service
