// Who may do what: the bearer tokens a server accepts, and what each one
// grants.
//
// There are two kinds of token:
// - the full-access token (`[auth] token`): every route, as before scoped
//   tokens existed;
// - scoped tokens (`[[auth.tokens]]`): each limited to the indexes whose
//   names match one of its patterns, and to an access level on them. `read`
//   is searches and reads; `write` adds add and delete of items; `admin`
//   adds create, drop and recover. Server-wide routes (/metrics, /cluster)
//   are for the full-access token only; the index list shows a scoped token
//   the indexes it may read.
//
// A server with no token of either kind asks for none. The table of routes
// and statuses is in docs/API.md ("Tokens").
//
// Thread safety: a TokenTable is immutable after construction; Find and
// the Grants it returns may be used from any number of threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace vectord::http {

// Ordered: each level includes the ones below it.
enum class Access : uint8_t { kRead = 1, kWrite = 2, kAdmin = 3 };

// "read" | "write" | "admin".
std::string_view AccessName(Access access);
Result<Access> ParseAccess(std::string_view name);

// A token limited to some indexes and an access level.
struct ScopedToken {
  std::string token;
  // Index name patterns: `*` stands for any run of characters (also none),
  // `?` for one character; anything else matches itself.
  std::vector<std::string> indexes;
  Access access = Access::kRead;
};

// Whether `name` matches `pattern` (see ScopedToken::indexes). At most
// pattern length x name length steps, however many stars: no exponential
// backtracking.
bool IndexPatternMatches(std::string_view pattern, std::string_view name);

// Checks a token list on its own and against the full-access token: no
// empty token, no empty pattern, no token listed twice (or equal to the
// full-access one). The error names the entry by position, never by token.
Status ValidateScopedTokens(const std::vector<ScopedToken>& tokens, std::string_view full_token);

// What the presenter of a known token may do.
class Grant {
 public:
  static Grant Full() { return Grant(nullptr); }
  static Grant Scoped(const ScopedToken& token) { return Grant(&token); }

  bool full() const { return scope_ == nullptr; }
  // Whether the routes of index `name` that need `needed` are allowed.
  bool Allows(std::string_view name, Access needed) const;
  // Whether the index appears in lists: read access to it.
  bool MaySee(std::string_view name) const { return Allows(name, Access::kRead); }

 private:
  explicit Grant(const ScopedToken* scope) : scope_(scope) {}
  const ScopedToken* scope_;  // null: full access; else owned by the TokenTable
};

class TokenTable {
 public:
  TokenTable() = default;
  TokenTable(std::string full_token, std::vector<ScopedToken> scoped);

  // Whether any token is configured (else every request is let in).
  bool enabled() const { return !full_token_.empty() || !scoped_.empty(); }
  // The grant of `presented`, or nothing for an unknown token. Compares
  // against every token in full, in time that depends only on the lengths,
  // so neither a token nor which entry matched can be learnt from timing.
  std::optional<Grant> Find(std::string_view presented) const;

 private:
  std::string full_token_;
  std::vector<ScopedToken> scoped_;
};

}  // namespace vectord::http
