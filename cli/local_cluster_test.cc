#include "cli/local_cluster.h"

#include "gtest/gtest.h"

namespace shardex {
namespace {

LocalClusterOptions Options(int workers, int threads, int processes) {
  LocalClusterOptions o;
  o.workers = workers;
  o.threads = threads;
  o.processes = processes;
  return o;
}

TEST(ResolveLocalSlotsTest, DefaultsShareTheCoresAmongWorkers) {
  LocalSlots s = ResolveLocalSlots(Options(2, 0, 0), 8);
  EXPECT_EQ(s.threads, 4);
  EXPECT_EQ(s.processes, 4);
  s = ResolveLocalSlots(Options(1, 0, 0), 2);
  EXPECT_EQ(s.threads, 2);
  EXPECT_EQ(s.processes, 2);
}

TEST(ResolveLocalSlotsTest, AtLeastOneSlotWhenWorkersOutnumberCores) {
  LocalSlots s = ResolveLocalSlots(Options(3, 0, 0), 2);
  EXPECT_EQ(s.threads, 1);
  EXPECT_EQ(s.processes, 1);
  s = ResolveLocalSlots(Options(2, 0, 0), 0);  // cores unknown
  EXPECT_EQ(s.threads, 1);
}

TEST(ResolveLocalSlotsTest, GivenValuesWinAndProcessesFollowThreads) {
  LocalSlots s = ResolveLocalSlots(Options(2, 3, 0), 8);
  EXPECT_EQ(s.threads, 3);
  EXPECT_EQ(s.processes, 3);
  s = ResolveLocalSlots(Options(1, 1, 5), 8);
  EXPECT_EQ(s.threads, 1);
  EXPECT_EQ(s.processes, 5);
}

}  // namespace
}  // namespace shardex
