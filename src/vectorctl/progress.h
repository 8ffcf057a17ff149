// ProgressLine: the "items, rate, ETA" line of a long vectorctl command.
//
// On a terminal it rewrites one line in place (carriage return) at most five
// times a second; otherwise (a pipe, a log file, CI) it prints a plain line
// every `plain_interval`, so logs stay readable. Finish() prints the last
// state on its own line in both cases.
//
// Thread safety: Update() and Note() may be called from any thread; the
// counters are atomics and printing takes a mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>

namespace vectord::vectorctl {

class ProgressLine {
 public:
  // `total`: items expected, when known (for the percentage and ETA).
  ProgressLine(std::FILE* out, bool terminal, std::string verb, std::optional<uint64_t> total,
               std::chrono::milliseconds plain_interval = std::chrono::seconds(5));

  void Add(uint64_t done_items);
  // A message on its own line (a retry, a skipped batch) without losing the
  // progress line.
  void Note(const std::string& message);
  void Finish();

  // "12,345"
  static std::string Grouped(uint64_t value);
  // "1h02m", "3m05s", "42s"
  static std::string Duration(double seconds);

 private:
  std::string Render(std::chrono::steady_clock::time_point now) const;
  void MaybePrint(bool force);

  std::FILE* out_;
  const bool terminal_;
  const std::string verb_;
  const std::optional<uint64_t> total_;
  const std::chrono::milliseconds interval_;
  const std::chrono::steady_clock::time_point start_;
  std::atomic<uint64_t> done_{0};
  std::mutex print_mutex_;
  std::chrono::steady_clock::time_point last_print_;
  bool line_open_ = false;  // a terminal line without its newline yet
};

}  // namespace vectord::vectorctl
