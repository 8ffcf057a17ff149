// Status and Result<T>: how errors cross module boundaries in vectord.
//
// Every fallible call between layers returns one of these instead of throwing.
// The code says what kind of failure it was (the HTTP layer maps codes to
// status codes at the edge); the message says what happened in words a user
// can act on. Both types are [[nodiscard]] so an ignored error is a warning.
#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace vectord {

enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument = 1,
  kNotFound = 2,
  kAlreadyExists = 3,
  kCorruption = 4,
  kIOError = 5,
  kNoSpace = 6,
  kUnavailable = 7,
  kInternal = 8,
  kTimedOut = 9,  // waited for something (a replica to catch up) past a bound
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return Status(StatusCode::kInvalidArgument, std::move(msg));
  }
  static Status NotFound(std::string msg) { return Status(StatusCode::kNotFound, std::move(msg)); }
  static Status AlreadyExists(std::string msg) {
    return Status(StatusCode::kAlreadyExists, std::move(msg));
  }
  static Status Corruption(std::string msg) {
    return Status(StatusCode::kCorruption, std::move(msg));
  }
  static Status IOError(std::string msg) { return Status(StatusCode::kIOError, std::move(msg)); }
  static Status NoSpace(std::string msg) { return Status(StatusCode::kNoSpace, std::move(msg)); }
  static Status Unavailable(std::string msg) {
    return Status(StatusCode::kUnavailable, std::move(msg));
  }
  static Status Internal(std::string msg) { return Status(StatusCode::kInternal, std::move(msg)); }
  static Status TimedOut(std::string msg) { return Status(StatusCode::kTimedOut, std::move(msg)); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "corruption: bad crc at offset 12" — for logs; API responses use message().
  std::string ToString() const;

  // Returns a copy whose message is "context: message"; ok stays ok.
  Status WithContext(std::string_view context) const;
  // Returns a copy whose message is followed by `more`; ok stays ok.
  Status WithSuffix(std::string_view more) const;

 private:
  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : state_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(state_).ok() && "Result built from an ok Status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(state_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(state_);
  }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace vectord

// Returns early from the enclosing function when expr yields a non-ok Status.
#define VECTORD_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::vectord::Status vectord_status_ = (expr);        \
    if (!vectord_status_.ok()) return vectord_status_; \
  } while (false)

// Declares `lhs` from the value of a Result expression, or returns its Status
// from the enclosing function when it holds an error:
//   VECTORD_ASSIGN_OR_RETURN(auto file, fs.Open(path));
//   VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<Index> index, Load(source));
// `lhs` may be any declaration or an existing variable.
#define VECTORD_ASSIGN_OR_RETURN(lhs, expr) \
  VECTORD_ASSIGN_OR_RETURN_IMPL_(VECTORD_STATUS_CONCAT_(vectord_result_, __LINE__), lhs, expr)
#define VECTORD_ASSIGN_OR_RETURN_IMPL_(result, lhs, expr) \
  auto result = (expr);                                   \
  if (!result.ok()) return result.status();               \
  lhs = std::move(result).value()
#define VECTORD_STATUS_CONCAT_(a, b) VECTORD_STATUS_CONCAT_INNER_(a, b)
#define VECTORD_STATUS_CONCAT_INNER_(a, b) a##b
