// What the Scheduler journals for accepted shards: one kShardsAccepted
// record per job per result batch (coordinator/shard_batch_codec.h), not a
// record per shard, so a batch of trivial shards costs one journal row.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "coordinator/journal.h"
#include "coordinator/scheduler_test_util.h"
#include "coordinator/shard_batch_codec.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

// Keeps every record appended.
class RecordingJournal : public Journal {
 public:
  absl::StatusOr<std::vector<JournaledJob>> Load() override {
    return std::vector<JournaledJob>();
  }
  void Append(std::vector<JournalRecord> records) override {
    absl::MutexLock lock(&mu_);
    for (JournalRecord& r : records) records_.push_back(std::move(r));
  }
  absl::Status Sync() override { return absl::OkStatus(); }

  std::vector<JournalRecord> Of(JournalRecord::Kind kind) {
    absl::MutexLock lock(&mu_);
    std::vector<JournalRecord> out;
    for (const JournalRecord& r : records_) {
      if (r.kind == kind) out.push_back(r);
    }
    return out;
  }

 private:
  absl::Mutex mu_;
  std::vector<JournalRecord> records_ ABSL_GUARDED_BY(mu_);
};

class SchedulerJournalBatchTest : public SchedulerTest {
 protected:
  // The scheduler writes to journal_ until it is gone.
  void TearDown() override { sched_.reset(); }
  RecordingJournal journal_;
};

TEST_F(SchedulerJournalBatchTest, OneRecordPerJobPerResultBatch) {
  Restart(Scheduler::Options{}, &journal_);
  ASSERT_TRUE(sched_->Recover().ok());
  auto [w, link] = AddWorker(8);
  const v1::JobSpec spec = Sleep(8);
  const uint64_t job = sched_->Submit(spec)->job_id();
  const std::vector<v1::ShardTask> tasks = link->TakeTasks();
  ASSERT_EQ(tasks.size(), 8u);
  RunAndReport(w, spec, tasks);  // all eight results in one ResultBatch
  ASSERT_EQ(WaitEnd(job).state(), v1::JOB_SUCCEEDED);
  ASSERT_TRUE(sched_->SyncJournal().ok());

  EXPECT_TRUE(journal_.Of(JournalRecord::Kind::kShardAccepted).empty());
  const std::vector<JournalRecord> batches =
      journal_.Of(JournalRecord::Kind::kShardsAccepted);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].job_id, job);
  std::vector<std::pair<uint64_t, std::string>> shards;
  ASSERT_TRUE(DecodeShardBatch(batches[0].data, &shards).ok());
  ASSERT_EQ(shards.size(), 8u);
  std::vector<uint64_t> ids;
  for (const auto& [shard, payload] : shards) ids.push_back(shard);
  std::sort(ids.begin(), ids.end());
  for (uint64_t i = 0; i < 8; ++i) EXPECT_EQ(ids[i], i);
}

}  // namespace
}  // namespace shardex
