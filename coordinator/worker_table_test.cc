#include "coordinator/worker_table.h"

#include <memory>
#include <string>
#include <vector>

#include "coordinator/fake_worker_link.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

v1::Register Reg(uint32_t slots) {
  v1::Register reg;
  reg.set_host("test");
  reg.set_slots(slots);
  return reg;
}

TEST(WorkerTableTest, SessionsAreCappedAndSilentOnesExpire) {
  SchedulerOptions options;
  options.max_worker_sessions = 2;
  WorkerTable table(options);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  absl::StatusOr<uint64_t> s1 =
      table.OpenSession(std::make_shared<FakeWorkerLink>(), t0);
  absl::StatusOr<uint64_t> s2 =
      table.OpenSession(std::make_shared<FakeWorkerLink>(), t0);
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_EQ(
      table.OpenSession(std::make_shared<FakeWorkerLink>(), t0).status().code(),
      absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(table.ClaimSession(*s1));
  EXPECT_TRUE(table.TakeSilentSessions(t0 + absl::Seconds(1)).empty());
  EXPECT_EQ(table.TakeSilentSessions(t0 + absl::Seconds(4)).size(), 1u);
  EXPECT_FALSE(table.ClaimSession(*s2));  // closed for its silence
  table.CloseSession(*s2);
  EXPECT_TRUE(table.OpenSession(std::make_shared<FakeWorkerLink>(), t0).ok());
}

TEST(WorkerTableTest, WorkersAreAddedFoundAndTimedOut) {
  SchedulerOptions options;
  WorkerTable table(options);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  v1::Register reg = Reg(3);
  reg.add_running()->set_job_id(5);
  ConnectedWorker& w1 =
      table.Add(reg, "peer", std::make_shared<FakeWorkerLink>(), t0);
  ConnectedWorker& w2 =
      table.Add(Reg(2), "peer", std::make_shared<FakeWorkerLink>(), t0);
  EXPECT_EQ(w1.id, 1u);
  EXPECT_EQ(w2.id, 2u);
  EXPECT_EQ(w1.reg.running_size(), 0);
  EXPECT_EQ(table.TotalSlots(), 5u);
  w2.last_seen = t0 + absl::Seconds(3);
  EXPECT_EQ(table.Silent(t0 + absl::Seconds(4)), std::vector<uint64_t>{1});
  table.Remove(1);
  EXPECT_EQ(table.Find(1), nullptr);
  EXPECT_EQ(table.Find(2), &w2);
}

TEST(WorkerTableTest, HeldAttemptsCountTheirKindOfSlot) {
  ConnectedWorker w;
  w.Hold(1, 0, 1, /*command=*/true);
  w.Hold(1, 1, 1, /*command=*/true);
  w.Hold(2, 0, 1, /*command=*/false);
  EXPECT_EQ(w.running_commands, 2u);
  w.Hold(1, 1, 2, /*command=*/true);  // replaces attempt 1
  EXPECT_EQ(w.running_commands, 2u);
  EXPECT_EQ(w.running.at({1, 1}).attempt, 2u);
  EXPECT_EQ(w.ReleaseJob(1), 2u);
  EXPECT_EQ(w.running_commands, 0u);
  w.Release(2, 0);
  EXPECT_TRUE(w.running.empty());
}

TEST(WorkerTableTest, ReleaseAttemptLetsGoOnlyOfThatAttempt) {
  ConnectedWorker w;
  w.Hold(1, 0, 2, /*command=*/true);
  EXPECT_FALSE(w.ReleaseAttempt(1, 0, 1));  // an older attempt's result
  EXPECT_FALSE(w.ReleaseAttempt(1, 5, 2));  // a shard it does not hold
  EXPECT_EQ(w.running_commands, 1u);
  EXPECT_TRUE(w.ReleaseAttempt(1, 0, 2));
  EXPECT_TRUE(w.running.empty());
  EXPECT_EQ(w.running_commands, 0u);
  EXPECT_FALSE(w.ReleaseAttempt(1, 0, 2));  // already let go
}

std::vector<uint64_t> NotFull(const WorkerTable& table) {
  return {table.NotFull().begin(), table.NotFull().end()};
}

TEST(WorkerTableTest, NotFullListsTheWorkersWithAFreeSlot) {
  SchedulerOptions options;
  WorkerTable table(options);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  v1::Register two_by_one = Reg(2);
  two_by_one.set_processes(1);
  ConnectedWorker& w1 =
      table.Add(two_by_one, "peer", std::make_shared<FakeWorkerLink>(), t0);
  ConnectedWorker& w2 =
      table.Add(Reg(1), "peer", std::make_shared<FakeWorkerLink>(), t0);
  EXPECT_EQ(NotFull(table), (std::vector<uint64_t>{1, 2}));
  w2.Hold(7, 0, 1, /*command=*/false);  // its one thread slot (0 processes)
  EXPECT_EQ(NotFull(table), std::vector<uint64_t>{1});
  w1.Hold(7, 1, 1, /*command=*/false);
  w1.Hold(7, 2, 1, /*command=*/false);
  EXPECT_EQ(NotFull(table), std::vector<uint64_t>{1});  // its process slot
  w1.Hold(8, 0, 1, /*command=*/true);
  EXPECT_TRUE(NotFull(table).empty());
  w1.Hold(8, 0, 2, /*command=*/true);  // a new attempt in the same place
  EXPECT_TRUE(NotFull(table).empty());
  EXPECT_FALSE(w1.ReleaseAttempt(7, 1, 9));  // not the attempt it holds
  EXPECT_TRUE(NotFull(table).empty());
  EXPECT_TRUE(w1.ReleaseAttempt(7, 1, 1));
  EXPECT_EQ(NotFull(table), std::vector<uint64_t>{1});
  w1.Hold(7, 3, 1, /*command=*/false);
  w2.Release(7, 0);
  EXPECT_EQ(NotFull(table), std::vector<uint64_t>{2});
  EXPECT_EQ(w1.ReleaseJob(8), 1u);
  EXPECT_EQ(NotFull(table), (std::vector<uint64_t>{1, 2}));
  table.Remove(1);
  EXPECT_EQ(NotFull(table), std::vector<uint64_t>{2});
}

TEST(WorkerTableTest, RegisterNoWorkerWouldSendIsInvalid) {
  SchedulerOptions options;
  EXPECT_TRUE(CheckRegister(Reg(4), options).ok());
  EXPECT_EQ(CheckRegister(Reg(0), options).code(),
            absl::StatusCode::kInvalidArgument);
  v1::Register r = Reg(1);
  r.set_host(std::string(257, 'h'));
  absl::Status st = CheckRegister(r, options);
  EXPECT_NE(st.message().find("register.host"), std::string::npos) << st;
  r = Reg(1);
  r.set_processes(options.max_worker_slots + 1);
  st = CheckRegister(r, options);
  EXPECT_NE(st.message().find("register.processes"), std::string::npos) << st;
}

}  // namespace
}  // namespace shardex
