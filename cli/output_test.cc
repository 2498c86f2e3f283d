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

TEST(OutputTest, WorkersShowCpuMemoryAndLoad) {
  v1::WorkerInfo fresh;  // no heartbeat yet
  fresh.set_worker_id(1);
  v1::WorkerInfo busy;
  busy.set_worker_id(2);
  busy.set_cpu_utilization(0.375);
  busy.set_memory_total_bytes(uint64_t{8} << 30);
  busy.set_memory_available_bytes(uint64_t{6} << 30);
  busy.set_load1(1.25);
  EXPECT_EQ(FormatCpu(fresh), "-");
  EXPECT_EQ(FormatMemory(fresh), "-");
  EXPECT_EQ(FormatCpu(busy), "38%");
  EXPECT_EQ(FormatMemory(busy), "2.0/8.0G");
  const std::string out = FormatWorkerTable({fresh, busy});
  EXPECT_NE(out.find("CPU"), std::string::npos) << out;
  EXPECT_NE(out.find("LOAD1"), std::string::npos) << out;
  EXPECT_NE(out.find("2.0/8.0G"), std::string::npos) << out;
  EXPECT_NE(out.find("1.25"), std::string::npos) << out;
}

std::vector<v1::AttemptRecord> TwoAttempts() {
  v1::AttemptRecord failed;
  failed.set_shard(3);
  failed.set_attempt(1);
  failed.set_worker_id(9);
  failed.set_host("h,1");
  failed.set_start_unix_ms(1'700'000'000'000);
  failed.set_end_unix_ms(1'700'000'001'500);
  failed.set_outcome(v1::ATTEMPT_FAILED);
  failed.set_exit_code(2);
  failed.set_error("said \"no\"\nline\ttwo\x01");
  v1::AttemptRecord backup;
  backup.set_shard(3);
  backup.set_attempt(2);
  backup.set_worker_id(10);
  backup.set_host("h2");
  backup.set_start_unix_ms(1'700'000'000'100);
  backup.set_runtime_us(250'000);
  backup.set_outcome(v1::ATTEMPT_RUNNING);
  backup.set_speculative(true);
  return {failed, backup};
}

TEST(OutputTest, AttemptTableMarksBackupsAndShowsErrors) {
  const std::string out = FormatAttemptTable(TwoAttempts(), /*dropped=*/4);
  EXPECT_NE(out.find("2023-11-14T22:13:20.000Z 1.500s     FAILED      2"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("2*"), std::string::npos) << out;
  EXPECT_NE(out.find("RUNNING     -"), std::string::npos) << out;
  EXPECT_NE(out.find("* a speculative backup"), std::string::npos) << out;
  EXPECT_NE(out.find("4 later attempts not kept"), std::string::npos) << out;
  EXPECT_NE(out.find("shard 3 attempt 1 on worker 9 (h,1) failed with exit "
                     "code 2:\n  said \"no\"\n  line"),
            std::string::npos)
      << out;
}

TEST(OutputTest, AttemptsAsJsonHaveNumbersAndEscapedStrings) {
  EXPECT_EQ(AttemptsToJson({}), "[]\n");
  const std::string out = AttemptsToJson(TwoAttempts());
  EXPECT_NE(out.find("{\"shard\":3,\"attempt\":1,\"worker_id\":9,"
                     "\"host\":\"h,1\",\"start_unix_ms\":1700000000000,"
                     "\"end_unix_ms\":1700000001500,\"runtime_us\":0,"
                     "\"outcome\":\"failed\",\"exit_code\":2,"
                     "\"bytes_out\":0,\"speculative\":false,"
                     "\"error\":\"said \\\"no\\\"\\nline\\ttwo\\u0001\"}"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\"outcome\":\"running\",\"exit_code\":null"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\"speculative\":true"), std::string::npos) << out;
}

TEST(OutputTest, AttemptsAsCsvQuoteWhatNeedsIt) {
  const std::string out = AttemptsToCsv(TwoAttempts());
  EXPECT_EQ(out,
            "shard,attempt,worker_id,host,start_unix_ms,end_unix_ms,"
            "runtime_us,outcome,exit_code,bytes_out,speculative,error\n"
            "3,1,9,\"h,1\",1700000000000,1700000001500,0,failed,2,0,false,"
            "\"said \"\"no\"\"\nline\ttwo\x01\"\n"
            "3,2,10,h2,1700000000100,0,250000,running,,0,true,\n");
}

}  // namespace
}  // namespace shardex
