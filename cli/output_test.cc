#include "cli/output.h"

#include "gtest/gtest.h"

namespace shardex {
namespace {

TEST(OutputTest, JobShowsFaultCounters) {
  v1::JobStatus s;
  s.set_job_id(7);
  s.set_state(v1::JOB_SUCCEEDED);
  EXPECT_EQ(FormatJob(s).find("speculative"), std::string::npos);
  s.set_speculative_attempts(2);
  s.set_discarded_results(3);
  s.set_result_mismatches(1);
  s.set_mismatch("shard 4: differs");
  s.add_quarantined_workers(9);
  const std::string out = FormatJob(s);
  EXPECT_NE(out.find("2 speculative attempts, 3 late or duplicate results"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("WARNING:  1 late results differed"), std::string::npos);
  EXPECT_NE(out.find("shard 4: differs"), std::string::npos);
  EXPECT_NE(out.find("quarantined workers: 9"), std::string::npos);
}

// WatchJob updates and ListJobs entries leave out the spec and carry the
// coordinator's summary instead; `status` and `jobs` show what the job runs
// either way.
TEST(OutputTest, JobWithoutSpecShowsItsSummary) {
  v1::JobStatus full;
  full.set_job_id(3);
  full.mutable_spec()->set_kernel("primes");
  (*full.mutable_spec()->mutable_args())["to"] = "1e11";
  full.set_summary("primes --to 1e11");
  v1::JobStatus listed;
  listed.set_job_id(4);
  listed.set_summary("command: ./simulate --seed {shard}");

  EXPECT_NE(FormatJob(full).find("kernel:   primes --to 1e11\n"),
            std::string::npos)
      << FormatJob(full);
  EXPECT_NE(FormatJob(listed).find(
                "kernel:   command: ./simulate --seed {shard}\n"),
            std::string::npos)
      << FormatJob(listed);
  const std::string table = FormatJobTable({full, listed});
  EXPECT_NE(table.find("primes --to 1e11\n"), std::string::npos) << table;
  EXPECT_NE(table.find("command: ./simulate --seed {shard}\n"),
            std::string::npos)
      << table;
}

TEST(OutputTest, WorkersShowVersionDrainingAndQuarantine) {
  v1::WorkerInfo a;
  a.set_worker_id(1);
  v1::WorkerInfo b;
  b.set_worker_id(2);
  b.set_draining(true);
  b.add_quarantined_jobs(5);
  a.set_version("0.7.1");  // mid-upgrade: versions differ
  b.set_version("0.8.0");
  const std::string out = FormatWorkerTable({a, b});
  EXPECT_NE(out.find("VERSION"), std::string::npos) << out;
  EXPECT_NE(out.find("0.7.1"), std::string::npos) << out;
  EXPECT_NE(out.find("0.8.0"), std::string::npos) << out;
  EXPECT_NE(out.find("ready"), std::string::npos) << out;
  EXPECT_NE(out.find("draining, quarantined for job 5"), std::string::npos)
      << out;
}

}  // namespace
}  // namespace shardex
