#include "coordinator/watch_hub.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/fake_clock.h"
#include "coordinator/scheduler.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

// Keeps every status posted to it.
class RecordingWatcher : public JobWatcher {
 public:
  void Post(const v1::JobStatus& status) override {
    absl::MutexLock lock(&mu_);
    posted_.push_back(status);
  }
  void End(const absl::Status& status) override {
    absl::MutexLock lock(&mu_);
    ended_ = status;
  }
  std::vector<v1::JobStatus> posted() const {
    absl::MutexLock lock(&mu_);
    return posted_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<v1::JobStatus> posted_ ABSL_GUARDED_BY(mu_);
  absl::Status ended_ ABSL_GUARDED_BY(mu_);
};

TEST(WatchHubTest, FirstMessageCarriesTheSpecLaterOnesAreSmall) {
  FakeClock clock;
  Scheduler::Options options;
  options.allow_commands = true;
  Scheduler scheduler(options, &clock);
  WatchHub hub(&scheduler, absl::Milliseconds(5));
  scheduler.SetJobListener([&hub](uint64_t job_id, bool terminal) {
    hub.OnJobChanged(job_id, terminal);
  });
  v1::JobSpec spec;  // a 100 KiB spec
  spec.mutable_command()->add_argv("echo");
  spec.mutable_command()->add_argv(std::string(100'000, 'x'));
  spec.set_shards(2);
  absl::StatusOr<v1::JobStatus> submitted = scheduler.Submit(spec);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  const uint64_t job = submitted->job_id();

  auto watcher = std::make_shared<RecordingWatcher>();
  ASSERT_TRUE(hub.Subscribe(job, watcher).ok());
  ASSERT_TRUE(scheduler.Cancel(job).ok());
  std::vector<v1::JobStatus> posted;
  for (int i = 0; i < 5000; ++i) {
    posted = watcher->posted();
    if (!posted.empty() && IsTerminal(posted.back().state())) break;
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_GE(posted.size(), 2u);
  EXPECT_EQ(posted[0].spec().command().argv(1).size(), 100'000u);
  EXPECT_EQ(posted.back().state(), v1::JOB_CANCELLED);
  for (size_t i = 1; i < posted.size(); ++i) {
    EXPECT_FALSE(posted[i].has_spec()) << i;
    EXPECT_LT(posted[i].ByteSizeLong(), 1024u) << i;
    EXPECT_EQ(posted[i].summary().rfind("command: echo xxx", 0), 0u)
        << posted[i].summary();
  }
}

TEST(WatchHubTest, UnknownJobIsNotFound) {
  FakeClock clock;
  Scheduler scheduler(Scheduler::Options{}, &clock);
  WatchHub hub(&scheduler, absl::Milliseconds(5));
  auto watcher = std::make_shared<RecordingWatcher>();
  EXPECT_EQ(hub.Subscribe(42, watcher).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(watcher->posted().empty());
}

}  // namespace
}  // namespace shardex
