#include "coordinator/retention.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace shardex {
namespace {

bool Names(const absl::Status& st, absl::StatusCode code,
           const std::string& text) {
  return st.code() == code && st.message().find(text) != std::string::npos;
}

// An ended job holding `bytes`, counted by `retention`.
Job& EndJob(Retention& retention, JobMap& jobs, uint64_t id, uint64_t bytes,
            std::string request_id = "") {
  Job& job = jobs[id];
  job.id = id;
  job.request_id = std::move(request_id);
  retention.SetHeld(job, bytes);
  retention.MarkEnded(job);
  return job;
}

TEST(RetentionTest, AdmissionCountsJobsInFlightAndHeldBytes) {
  SchedulerOptions options;
  options.max_jobs_in_flight = 2;
  options.max_held_bytes = 1000;
  Retention retention(options);
  EXPECT_TRUE(retention.CheckAdmission(1, 100).ok());
  retention.Reserve("");  // a submit being planned counts
  EXPECT_TRUE(Names(retention.CheckAdmission(1, 100),
                    absl::StatusCode::kResourceExhausted, "--max-jobs"));
  retention.Unreserve("");
  EXPECT_TRUE(retention.CheckAdmission(1, 100).ok());
  JobMap jobs;
  Job& job = jobs[1];
  retention.SetHeld(job, 950);
  EXPECT_EQ(retention.held_bytes(), 950u);
  EXPECT_TRUE(Names(retention.CheckAdmission(0, 100),
                    absl::StatusCode::kResourceExhausted, "--max-held-bytes"));
  EXPECT_TRUE(Names(retention.CheckRoomFor(10, 100),
                    absl::StatusCode::kResourceExhausted, "10 shards"));
  EXPECT_TRUE(Names(retention.CheckRoomFor(10, UINT64_MAX),
                    absl::StatusCode::kResourceExhausted, "10 shards"));
  retention.SetHeld(job, 100);
  EXPECT_TRUE(retention.CheckRoomFor(10, 900).ok());
}

TEST(RetentionTest, RequestIdsAreReservedThenBound) {
  Retention retention(SchedulerOptions{});
  EXPECT_EQ(retention.FindRequest("a"), std::nullopt);
  EXPECT_EQ(retention.FindRequest(""), std::nullopt);
  retention.Reserve("a");
  EXPECT_EQ(retention.FindRequest("a"), 0u);  // in progress
  retention.Bind("a", 7);
  EXPECT_EQ(retention.FindRequest("a"), 7u);
  retention.Reserve("b");
  retention.Unreserve("b");
  EXPECT_EQ(retention.FindRequest("b"), std::nullopt);
  retention.Recovered("c", 3);
  EXPECT_EQ(retention.FindRequest("c"), 3u);
}

TEST(RetentionTest, OldestEndedJobsGoBeyondTheRecordLimit) {
  SchedulerOptions options;
  options.max_job_records = 2;
  Retention retention(options);
  JobMap jobs;
  for (uint64_t id = 1; id <= 4; ++id) {
    retention.Recovered("r" + std::to_string(id), id);
    EndJob(retention, jobs, id, 10, "r" + std::to_string(id));
  }
  EXPECT_EQ(retention.held_bytes(), 40u);
  EXPECT_EQ(retention.TakeJobsToForget(), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(retention.held_bytes(), 20u);
  EXPECT_EQ(retention.FindRequest("r1"), std::nullopt);  // went with its job
  EXPECT_EQ(retention.FindRequest("r3"), 3u);
  EXPECT_TRUE(retention.TakeJobsToForget().empty());
}

TEST(RetentionTest, EndedJobsGoToMakeRoomOnlyIfThatHelps) {
  SchedulerOptions options;
  options.max_held_bytes = 100;
  Retention retention(options);
  JobMap jobs;
  EndJob(retention, jobs, 1, 40);
  EndJob(retention, jobs, 2, 40);
  EndJob(retention, jobs, 3, 40);
  // 120 held: forgetting the oldest brings it under; `keep` is spared.
  EXPECT_EQ(retention.TakeJobsToForget(/*keep=*/1), (std::vector<uint64_t>{2}));
  EXPECT_EQ(retention.held_bytes(), 80u);
  // A running job holding more than the limit: forgetting cannot help.
  Job& running = jobs[9];
  retention.SetHeld(running, 150);
  EXPECT_TRUE(retention.TakeJobsToForget().empty());
  EXPECT_EQ(retention.held_bytes(), 230u);
  retention.SetHeld(running, 50);  // 130: the ended ones go, oldest first
  EXPECT_EQ(retention.TakeJobsToForget(), (std::vector<uint64_t>{1}));
  EXPECT_EQ(retention.held_bytes(), 90u);
}

}  // namespace
}  // namespace shardex
