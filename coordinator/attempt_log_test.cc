#include "coordinator/attempt_log.h"

#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

namespace v1 = ::shardex::v1;

const absl::Time kT0 = absl::FromUnixMillis(1'700'000'000'000);

AttemptLog::Ending Ended(v1::AttemptOutcome outcome, absl::Time end) {
  AttemptLog::Ending e;
  e.outcome = outcome;
  e.end = end;
  return e;
}

TEST(AttemptLogTest, RecordsAnAttemptFromStartToEnd) {
  AttemptLog log;
  const uint32_t i = log.Start(7, 1, 42, "hostA", kT0, /*speculative=*/false);
  v1::ListAttemptsResponse page = log.Page(0, 10);
  ASSERT_EQ(page.attempts_size(), 1);
  EXPECT_EQ(page.attempts(0).outcome(), v1::ATTEMPT_RUNNING);
  EXPECT_EQ(page.attempts(0).end_unix_ms(), 0);

  AttemptLog::Ending e = Ended(v1::ATTEMPT_SUCCEEDED, kT0 + absl::Seconds(2));
  e.runtime_us = 1'900'000;
  e.bytes_out = 123;
  e.exit_code = 0;
  log.End(i, e);
  page = log.Page(0, 10);
  const v1::AttemptRecord& r = page.attempts(0);
  EXPECT_EQ(r.shard(), 7u);
  EXPECT_EQ(r.attempt(), 1u);
  EXPECT_EQ(r.worker_id(), 42u);
  EXPECT_EQ(r.host(), "hostA");
  EXPECT_EQ(r.start_unix_ms(), absl::ToUnixMillis(kT0));
  EXPECT_EQ(r.end_unix_ms(), absl::ToUnixMillis(kT0) + 2000);
  EXPECT_EQ(r.runtime_us(), 1'900'000u);
  EXPECT_EQ(r.outcome(), v1::ATTEMPT_SUCCEEDED);
  EXPECT_TRUE(r.has_exit_code());
  EXPECT_EQ(r.bytes_out(), 123u);
  EXPECT_FALSE(r.speculative());
  EXPECT_TRUE(r.error().empty());
  EXPECT_EQ(page.total(), 1u);
  EXPECT_FALSE(page.more());
}

TEST(AttemptLogTest, OnlyTheFirstEndCounts) {
  AttemptLog log;
  const uint32_t i = log.Start(0, 1, 1, "h", kT0, false);
  log.End(i, Ended(v1::ATTEMPT_LOST, kT0));
  log.End(i, Ended(v1::ATTEMPT_SUCCEEDED, kT0));
  EXPECT_EQ(log.Page(0, 1).attempts(0).outcome(), v1::ATTEMPT_LOST);
}

TEST(AttemptLogTest, ErrorsAreKeptForFailuresOnlyWithTheirTail) {
  AttemptLog log;
  const uint32_t failed = log.Start(0, 1, 1, "h", kT0, false);
  const uint32_t cancelled = log.Start(1, 1, 1, "h", kT0, false);
  AttemptLog::Ending e = Ended(v1::ATTEMPT_FAILED, kT0);
  const std::string error = std::string(10000, 'x') + "THE TAIL";
  e.error = error;
  e.exit_code = 3;
  log.End(failed, e);
  e.outcome = v1::ATTEMPT_CANCELLED;
  e.exit_code.reset();
  log.End(cancelled, e);
  v1::ListAttemptsResponse page = log.Page(0, 10);
  EXPECT_EQ(page.attempts(0).error().size(), AttemptLog::kMaxErrorBytes);
  EXPECT_EQ(page.attempts(0).error().substr(AttemptLog::kMaxErrorBytes - 8),
            "THE TAIL");
  EXPECT_EQ(page.attempts(0).exit_code(), 3);
  EXPECT_TRUE(page.attempts(1).error().empty());
  EXPECT_FALSE(page.attempts(1).has_exit_code());
}

TEST(AttemptLogTest, PagesInStartOrder) {
  AttemptLog log;
  for (int i = 0; i < 25; ++i) log.Start(i, 1, i % 3, "h", kT0, false);
  uint64_t start = 0;
  int pages = 0;
  uint64_t expected_shard = 0;
  while (true) {
    v1::ListAttemptsResponse page = log.Page(start, 10);
    ++pages;
    for (const v1::AttemptRecord& r : page.attempts()) {
      EXPECT_EQ(r.shard(), expected_shard++);
    }
    EXPECT_EQ(page.total(), 25u);
    start = page.next();
    if (!page.more()) break;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(expected_shard, 25u);
  // Beyond the end: empty, no more.
  v1::ListAttemptsResponse past = log.Page(100, 10);
  EXPECT_EQ(past.attempts_size(), 0);
  EXPECT_FALSE(past.more());
}

TEST(AttemptLogTest, BeyondTheCapAttemptsAreCountedNotKept) {
  AttemptLog log(/*max_entries=*/2);
  log.Start(0, 1, 1, "h", kT0, false);
  log.Start(1, 1, 1, "h", kT0, false);
  const uint32_t third = log.Start(2, 1, 1, "h", kT0, false);
  EXPECT_EQ(third, AttemptLog::kNotLogged);
  log.End(third, Ended(v1::ATTEMPT_SUCCEEDED, kT0));  // ignored
  v1::ListAttemptsResponse page = log.Page(0, 10);
  EXPECT_EQ(page.attempts_size(), 2);
  EXPECT_EQ(page.dropped(), 1u);
  EXPECT_EQ(page.attempts(1).shard(), 1u);  // the oldest are kept
}

TEST(AttemptLogTest, ALateTwinBecomesDiscarded) {
  AttemptLog log;
  log.Start(5, 1, 1, "a", kT0, false);
  const uint32_t twin = log.Start(5, 2, 2, "b", kT0, /*speculative=*/true);
  log.End(twin, Ended(v1::ATTEMPT_CANCELLED, kT0 + absl::Seconds(1)));
  log.ExpectLate(twin);
  EXPECT_FALSE(log.Late(5, 1, kT0, 1, 1));  // not a cancelled twin
  EXPECT_TRUE(log.Late(5, 2, kT0 + absl::Seconds(3), 2'000'000, 9));
  EXPECT_FALSE(log.Late(5, 2, kT0, 1, 1));  // once
  const v1::AttemptRecord r = log.Page(1, 1).attempts(0);
  EXPECT_EQ(r.outcome(), v1::ATTEMPT_DISCARDED);
  EXPECT_TRUE(r.speculative());
  EXPECT_EQ(r.runtime_us(), 2'000'000u);
  EXPECT_EQ(r.bytes_out(), 9u);
  EXPECT_EQ(r.end_unix_ms(), absl::ToUnixMillis(kT0) + 3000);
}

TEST(AttemptLogTest, SerializeParseRoundTrip) {
  AttemptLog log(/*max_entries=*/3);
  log.Start(0, 1, 10, "alpha", kT0, false);
  const uint32_t i = log.Start(0, 2, 11, "beta", kT0, true);
  AttemptLog::Ending e = Ended(v1::ATTEMPT_FAILED, kT0 + absl::Seconds(1));
  e.exit_code = 1;
  e.error = "boom";
  e.runtime_us = 5;
  log.End(i, e);
  log.Start(1, 1, 10, "alpha", kT0, false);
  log.Start(2, 1, 10, "alpha", kT0, false);  // dropped
  const std::string bytes = log.Serialize();

  AttemptLog copy(/*max_entries=*/3);
  ASSERT_TRUE(copy.Parse(bytes));
  EXPECT_EQ(copy.Page(0, 10).SerializeAsString(),
            log.Page(0, 10).SerializeAsString());
  EXPECT_EQ(copy.dropped(), 1u);
  EXPECT_FALSE(copy.Parse("\xff\xff garbage"));
  EXPECT_EQ(copy.size(), 3u);  // unchanged
}

TEST(AttemptLogTest, HostsAreStoredOncePerWorker) {
  AttemptLog log;
  log.Start(0, 1, 1, std::string(1000, 'h'), kT0, false);
  const uint64_t one = log.bytes();
  for (int i = 1; i < 100; ++i) {
    log.Start(i, 1, 1, std::string(1000, 'h'), kT0, false);
  }
  EXPECT_LT(log.bytes() - one, 100 * 100u);  // entries, not 100 hosts
}

}  // namespace
}  // namespace shardex
