#include "http/access_control.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vectord::http {
namespace {

TEST(IndexPatternMatches, StarsQuestionMarksAndLiterals) {
  struct Case {
    const char* pattern;
    const char* name;
    bool matches;
  };
  const Case cases[] = {
      {"team-a-*", "team-a-docs", true},
      {"team-a-*", "team-a-", true},
      {"team-a-*", "team-b-docs", false},
      {"team-a-*", "xteam-a-docs", false},
      {"*", "", true},
      {"*", "anything", true},
      {"docs", "docs", true},
      {"docs", "docs2", false},
      {"docs", "doc", false},
      {"d?cs", "docs", true},
      {"d?cs", "dcs", false},
      {"*-shared", "team-a-shared", true},
      {"*-shared", "team-a-shared-not", false},
      {"a*b*c", "axxbyyc", true},
      {"a*b*c", "axxbyy", false},
      {"a*b*c", "abcbc", true},
      {"*a", "*ba", true},  // a star in the name is a character like any other
      {"**", "x", true},
      {"a**", "a", true},
      {"?", "", false},
      {"Docs", "docs", false},  // names are case-sensitive
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IndexPatternMatches(c.pattern, c.name), c.matches) << c.pattern << " vs " << c.name;
  }
}

// Many stars against a long name that almost matches: the greedy match
// keeps this quadratic at worst, where plain backtracking is exponential.
TEST(IndexPatternMatches, ManyStarsStayCheap) {
  const std::string name(4000, 'a');
  std::string pattern;
  for (int i = 0; i < 100; ++i) pattern += "*a";
  EXPECT_TRUE(IndexPatternMatches(pattern, name));
  EXPECT_FALSE(IndexPatternMatches(pattern + "b", name));
}

TEST(Grant, AccessLevelsIncludeTheOnesBelow) {
  const ScopedToken reader{"r", {"team-a-*"}, Access::kRead};
  const ScopedToken writer{"w", {"team-a-*", "shared"}, Access::kWrite};
  const ScopedToken admin{"a", {"team-a-*"}, Access::kAdmin};
  const Grant r = Grant::Scoped(reader), w = Grant::Scoped(writer), a = Grant::Scoped(admin);
  EXPECT_TRUE(r.Allows("team-a-x", Access::kRead));
  EXPECT_FALSE(r.Allows("team-a-x", Access::kWrite));
  EXPECT_FALSE(r.Allows("team-a-x", Access::kAdmin));
  EXPECT_TRUE(w.Allows("team-a-x", Access::kWrite));
  EXPECT_TRUE(w.Allows("shared", Access::kRead));
  EXPECT_FALSE(w.Allows("shared", Access::kAdmin));
  EXPECT_TRUE(a.Allows("team-a-x", Access::kAdmin));
  for (const Grant& g : {r, w, a}) {
    EXPECT_FALSE(g.full());
    EXPECT_FALSE(g.MaySee("team-b-x"));
    EXPECT_FALSE(g.Allows("team-b-x", Access::kRead));
  }
  EXPECT_TRUE(Grant::Full().full());
  EXPECT_TRUE(Grant::Full().Allows("anything", Access::kAdmin));
}

TEST(TokenTable, FindsEachTokenAndNothingElse) {
  const TokenTable table("full-token", {{"reader-token", {"a*"}, Access::kRead},
                                        {"admin-token", {"b*"}, Access::kAdmin}});
  EXPECT_TRUE(table.enabled());
  ASSERT_TRUE(table.Find("full-token").has_value());
  EXPECT_TRUE(table.Find("full-token")->full());
  const std::optional<Grant> reader = table.Find("reader-token");
  ASSERT_TRUE(reader.has_value());
  EXPECT_FALSE(reader->full());
  EXPECT_TRUE(reader->Allows("abc", Access::kRead));
  EXPECT_FALSE(reader->Allows("bcd", Access::kRead));
  const std::optional<Grant> admin = table.Find("admin-token");
  ASSERT_TRUE(admin.has_value());
  EXPECT_TRUE(admin->Allows("bcd", Access::kAdmin));
  for (const char* unknown : {"", "full-toke", "full-tokenx", "reader", "READER-TOKEN", " "}) {
    EXPECT_FALSE(table.Find(unknown).has_value()) << "'" << unknown << "'";
  }
  // Scoped tokens alone turn authentication on.
  EXPECT_TRUE(TokenTable("", {{"t", {"*"}, Access::kRead}}).enabled());
  EXPECT_FALSE(TokenTable().enabled());
  EXPECT_FALSE(TokenTable().Find("anything").has_value());
}

TEST(Access, NamesRoundTrip) {
  for (Access a : {Access::kRead, Access::kWrite, Access::kAdmin}) {
    Result<Access> parsed = ParseAccess(AccessName(a));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, a);
  }
  EXPECT_FALSE(ParseAccess("Read").ok());
  EXPECT_FALSE(ParseAccess("").ok());
}

}  // namespace
}  // namespace vectord::http
