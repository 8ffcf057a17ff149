#include "common/status.h"

#include <gtest/gtest.h>

#include <memory>

namespace vectord {
namespace {

TEST(Status, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(Status, CarriesCodeAndMessage) {
  Status s = Status::Corruption("bad crc");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_EQ(s.message(), "bad crc");
  EXPECT_EQ(s.ToString(), "corruption: bad crc");
  EXPECT_EQ(s.WithContext("index.hnsw").message(), "index.hnsw: bad crc");
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
}

Status FailsWhenNegative(int x) {
  if (x < 0) return Status::InvalidArgument("negative");
  return Status::Ok();
}

Status Chain(int x) {
  VECTORD_RETURN_IF_ERROR(FailsWhenNegative(x));
  return Status::NotFound("reached the end");
}

TEST(Status, ReturnIfErrorStopsAtTheFirstError) {
  EXPECT_EQ(Chain(-1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Chain(1).code(), StatusCode::kNotFound);
}

TEST(Result, HoldsValueOrStatus) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  EXPECT_TRUE(good.status().ok());
  Result<int> bad = Status::NotFound("nope");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
}

Result<std::unique_ptr<int>> Boxed(int x) {
  if (x < 0) return Status::InvalidArgument("negative");
  return std::make_unique<int>(x);
}

// Two unwraps in one function (distinct hidden names), a move-only value, and
// an assignment to an existing variable.
Result<int> SumOfBoxes(int a, int b) {
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<int> first, Boxed(a));
  std::unique_ptr<int> second;
  VECTORD_ASSIGN_OR_RETURN(second, Boxed(b));
  return *first + *second;
}

TEST(Result, AssignOrReturnUnwrapsOrStopsAtTheFirstError) {
  Result<int> sum = SumOfBoxes(2, 3);
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(*sum, 5);
  Result<int> failed = SumOfBoxes(2, -1);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().message(), "negative");
}

}  // namespace
}  // namespace vectord
