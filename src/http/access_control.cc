#include "http/access_control.h"

#include <algorithm>

namespace vectord::http {
namespace {

// Equal in time that depends only on the lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

}  // namespace

std::string_view AccessName(Access access) {
  switch (access) {
    case Access::kRead: return "read";
    case Access::kWrite: return "write";
    case Access::kAdmin: return "admin";
  }
  return "read";
}

Result<Access> ParseAccess(std::string_view name) {
  if (name == "read") return Access::kRead;
  if (name == "write") return Access::kWrite;
  if (name == "admin") return Access::kAdmin;
  return Status::InvalidArgument("access must be read, write or admin, got '" + std::string(name) +
                                 "'");
}

bool IndexPatternMatches(std::string_view pattern, std::string_view name) {
  // Greedy, going back only to the last star: a later star makes every
  // earlier one's choice final, which bounds the work.
  size_t p = 0, n = 0;
  size_t star = std::string_view::npos, star_name = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_name = n;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++star_name;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Status ValidateScopedTokens(const std::vector<ScopedToken>& tokens, std::string_view full_token) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    const ScopedToken& t = tokens[i];
    const std::string which = "auth.tokens[" + std::to_string(i) + "]";
    if (t.token.empty()) return Status::InvalidArgument(which + ": token is empty");
    if (t.indexes.empty()) {
      return Status::InvalidArgument(which + ": indexes names no pattern");
    }
    for (const std::string& pattern : t.indexes) {
      if (pattern.empty()) return Status::InvalidArgument(which + ": an indexes pattern is empty");
    }
    if (!full_token.empty() && t.token == full_token) {
      return Status::InvalidArgument(which + ": token is the same as auth.token");
    }
    for (size_t j = 0; j < i; ++j) {
      if (tokens[j].token == t.token) {
        return Status::InvalidArgument(which + ": token is the same as auth.tokens[" +
                                       std::to_string(j) + "]'s");
      }
    }
  }
  return Status::Ok();
}

bool Grant::Allows(std::string_view name, Access needed) const {
  if (scope_ == nullptr) return true;
  if (static_cast<uint8_t>(scope_->access) < static_cast<uint8_t>(needed)) return false;
  return std::any_of(
      scope_->indexes.begin(), scope_->indexes.end(),
      [&](const std::string& pattern) { return IndexPatternMatches(pattern, name); });
}

TokenTable::TokenTable(std::string full_token, std::vector<ScopedToken> scoped)
    : full_token_(std::move(full_token)), scoped_(std::move(scoped)) {}

std::optional<Grant> TokenTable::Find(std::string_view presented) const {
  if (presented.empty()) return std::nullopt;
  // Every entry is compared whatever matched before it.
  bool full = !full_token_.empty() && ConstantTimeEquals(presented, full_token_);
  const ScopedToken* scoped = nullptr;
  for (const ScopedToken& t : scoped_) {
    const bool equal = ConstantTimeEquals(presented, t.token);
    scoped = equal ? &t : scoped;
  }
  if (full) return Grant::Full();
  if (scoped != nullptr) return Grant::Scoped(*scoped);
  return std::nullopt;
}

}  // namespace vectord::http
