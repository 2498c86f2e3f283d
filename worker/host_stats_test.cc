#include "worker/host_stats.h"

#include <string>

#include "common/file_util.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

class HostStatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(getenv("TEST_TMPDIR")) + "/proc";
    ASSERT_TRUE(MakeDirs(dir_, 0700, "fake /proc").ok());
  }
  void TearDown() override { RemoveTree(dir_).IgnoreError(); }
  void Write(const std::string& name, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomically(dir_ + "/" + name, text).ok());
  }
  std::string dir_;
};

TEST_F(HostStatsTest, ReadsProcFiles) {
  Write("meminfo",
        "MemTotal:        1000 kB\nMemFree:          100 kB\n"
        "MemAvailable:     400 kB\n");
  Write("loadavg", "1.50 0.80 0.40 2/300 12345\n");
  Write("stat", "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n");
  ProcHostStats source(dir_);
  HostStats first = source.Sample();
  EXPECT_EQ(first.memory_total_bytes, 1000u * 1024);
  EXPECT_EQ(first.memory_available_bytes, 400u * 1024);
  EXPECT_DOUBLE_EQ(first.load1, 1.5);
  EXPECT_DOUBLE_EQ(first.cpu_utilization, 0.2);  // since boot: 200 of 1000

  // 100 more busy ticks, 300 more idle: 25% since the last sample.
  Write("stat", "cpu  150 0 150 1000 100 0 0 0 0 0\n");
  EXPECT_DOUBLE_EQ(source.Sample().cpu_utilization, 0.25);
}

TEST_F(HostStatsTest, MissingFilesGiveZeros) {
  ProcHostStats source(dir_ + "/absent");
  HostStats s = source.Sample();
  EXPECT_EQ(s.memory_total_bytes, 0u);
  EXPECT_EQ(s.load1, 0);
  EXPECT_EQ(s.cpu_utilization, 0);
}

TEST(HostStatsHeartbeatTest, FillsTheFields) {
  HostStats s;
  s.cpu_utilization = 0.5;
  s.memory_total_bytes = 8;
  s.memory_available_bytes = 4;
  s.load1 = 2;
  shardex::v1::Heartbeat hb;
  s.FillHeartbeat(&hb);
  EXPECT_EQ(hb.cpu_utilization(), 0.5);
  EXPECT_EQ(hb.memory_total_bytes(), 8u);
  EXPECT_EQ(hb.memory_available_bytes(), 4u);
  EXPECT_EQ(hb.load1(), 2);
}

}  // namespace
}  // namespace shardex
