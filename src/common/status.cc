#include "common/status.h"

namespace vectord {
namespace {

std::string_view CodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kAlreadyExists: return "already exists";
    case StatusCode::kCorruption: return "corruption";
    case StatusCode::kIOError: return "io error";
    case StatusCode::kNoSpace: return "no space";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kTimedOut: return "timed out";
    case StatusCode::kInternal: return "internal";
  }
  return "unknown";
}

}  // namespace

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out(CodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message_;
  return Status(code_, std::move(msg));
}

Status Status::WithSuffix(std::string_view more) const {
  if (ok()) return *this;
  return Status(code_, message_ + std::string(more));
}

}  // namespace vectord
