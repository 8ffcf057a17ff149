#include "vectorctl/progress.h"

#include <cinttypes>
#include <cmath>

namespace vectord::vectorctl {

ProgressLine::ProgressLine(std::FILE* out, bool terminal, std::string verb,
                           std::optional<uint64_t> total, std::chrono::milliseconds plain_interval)
    : out_(out),
      terminal_(terminal),
      verb_(std::move(verb)),
      total_(total),
      interval_(terminal ? std::chrono::milliseconds(200) : plain_interval),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

void ProgressLine::Add(uint64_t done_items) {
  done_.fetch_add(done_items, std::memory_order_relaxed);
  MaybePrint(false);
}

void ProgressLine::Note(const std::string& message) {
  std::lock_guard lock(print_mutex_);
  if (line_open_) std::fputc('\n', out_);
  line_open_ = false;
  std::fprintf(out_, "%s\n", message.c_str());
  std::fflush(out_);
}

void ProgressLine::Finish() {
  MaybePrint(true);
  std::lock_guard lock(print_mutex_);
  if (line_open_) std::fputc('\n', out_);
  line_open_ = false;
  std::fflush(out_);
}

void ProgressLine::MaybePrint(bool force) {
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(print_mutex_, std::try_to_lock);
  if (!lock.owns_lock() && !force) return;  // someone else is printing now
  if (!lock.owns_lock()) lock.lock();
  if (!force && now - last_print_ < interval_) return;
  last_print_ = now;
  const std::string text = Render(now);
  if (terminal_) {
    // \x1b[K clears what a longer previous line left behind.
    std::fprintf(out_, "\r%s\x1b[K", text.c_str());
    line_open_ = true;
  } else {
    std::fprintf(out_, "%s\n", text.c_str());
  }
  std::fflush(out_);
}

std::string ProgressLine::Render(std::chrono::steady_clock::time_point now) const {
  const uint64_t done = done_.load(std::memory_order_relaxed);
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double rate = seconds > 0 ? done / seconds : 0;
  std::string text = verb_ + " " + Grouped(done);
  if (total_) {
    text += " / " + Grouped(*total_);
    if (*total_ > 0) {
      char percent[16];
      std::snprintf(percent, sizeof percent, " (%.0f%%)", 100.0 * done / *total_);
      text += percent;
    }
  }
  text += " items, " + Grouped(static_cast<uint64_t>(std::llround(rate))) + "/s, " +
          Duration(seconds) + " elapsed";
  if (total_ && rate > 0 && done < *total_) {
    text += ", ETA " + Duration((*total_ - done) / rate);
  }
  return text;
}

std::string ProgressLine::Grouped(uint64_t value) {
  std::string digits = std::to_string(value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string ProgressLine::Duration(double seconds) {
  const auto total = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%" PRId64 "h%02" PRId64 "m", total / 3600, total / 60 % 60);
  } else if (total >= 60) {
    std::snprintf(text, sizeof text, "%" PRId64 "m%02" PRId64 "s", total / 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%" PRId64 "s", total);
  }
  return text;
}

}  // namespace vectord::vectorctl
