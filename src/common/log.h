// Structured logging: one line per event on stderr, as logfmt
// (`ts=... level=info event=listening addr=127.0.0.1:8090`), so operators can
// grep it and log shippers can parse it.
//
// Thread safety: Log() may be called from any thread; each line is written
// with a single write(2), so lines never interleave.
#pragma once

#include <cstdio>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace vectord {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  template <typename Number, typename = std::enable_if_t<std::is_arithmetic_v<Number>>>
  LogField(std::string_view k, Number v) : key(k), value(FormatNumber(v)) {}

  std::string_view key;
  std::string value;

 private:
  template <typename Number>
  static std::string FormatNumber(Number v) {
    if constexpr (std::is_same_v<Number, bool>) {
      return v ? "true" : "false";
    } else if constexpr (std::is_floating_point_v<Number>) {
      char buffer[32];
      int n = std::snprintf(buffer, sizeof(buffer), "%.3f", static_cast<double>(v));
      return std::string(buffer, static_cast<size_t>(n));
    } else {
      return std::to_string(v);
    }
  }
};

void SetLogLevel(LogLevel level);
void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});

inline void LogInfo(std::string_view event, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kInfo, event, fields);
}
inline void LogWarn(std::string_view event, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kWarn, event, fields);
}
inline void LogError(std::string_view event, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kError, event, fields);
}

}  // namespace vectord
