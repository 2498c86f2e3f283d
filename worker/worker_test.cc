// Worker against an in-process fake coordinator (a WorkerGateway service on
// 127.0.0.1): sessions that break, a coordinator that refuses new sessions
// for a while, and drains. Shards are /bin/sh commands gated on files, so
// the test decides when they finish; nothing asserts on durations.
#include "worker/worker.h"

#include <signal.h>
#include <sys/prctl.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "kernels/kernel.h"
#include "worker/test_files.h"
#include "common/file_util.h"
#include "proto/shardex.grpc.pb.h"
#include "worker/fake_store.h"

namespace shardex {
namespace {

// What the fake coordinator has seen.
struct Seen {
  std::vector<v1::Register> registers;      // of accepted sessions
  int refused = 0;                          // sessions turned away
  int ignored = 0;                          // Registers left unanswered
  std::vector<v1::WorkerMessage> messages;  // after Register, all sessions
  int ended = 0;                            // accepted sessions that ended
  bool last_end_clean = false;              // the worker half-closed

  std::vector<v1::ShardResult> Results() const {
    std::vector<v1::ShardResult> out;
    for (const v1::WorkerMessage& m : messages) {
      for (const v1::ShardResult& r : m.results().results()) out.push_back(r);
    }
    return out;
  }
  const v1::ShardResult* Result(uint64_t job, uint64_t shard) const {
    for (const v1::WorkerMessage& m : messages) {
      for (const v1::ShardResult& r : m.results().results()) {
        if (r.ref().job_id() == job && r.ref().shard() == shard) return &r;
      }
    }
    return nullptr;
  }
  bool Drained() const {
    for (const v1::WorkerMessage& m : messages) {
      if (m.has_drain()) return true;
    }
    return false;
  }
  bool Heartbeat(uint32_t running, uint32_t queued) const {
    for (const v1::WorkerMessage& m : messages) {
      if (m.has_heartbeat() && m.heartbeat().running() == running &&
          m.heartbeat().queued() == queued) {
        return true;
      }
    }
    return false;
  }
};

class FakeCoordinator final : public v1::WorkerGateway::Service {
 public:
  using Stream =
      grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::WorkerMessage>;

  grpc::Status Session(grpc::ServerContext* ctx, Stream* stream) override {
    v1::WorkerMessage first;
    if (!stream->Read(&first) || !first.has_register_()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no Register");
    }
    bool silent = false;
    {
      absl::MutexLock lock(&mu_);
      silent = silent_;
      if (silent) ++seen_.ignored;
    }
    if (silent) {  // a hung coordinator: read, never answer
      while (!ctx->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
      return grpc::Status(grpc::StatusCode::CANCELLED, "never answered");
    }
    {
      absl::MutexLock lock(&mu_);
      if (!accepting_) {
        ++seen_.refused;
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "not now");
      }
      seen_.registers.push_back(first.register_());
      v1::CoordinatorMessage hello;
      hello.mutable_registered()->set_worker_id(seen_.registers.size());
      hello.mutable_registered()->set_heartbeat_interval_ms(50);
      stream->Write(hello);
      stream_ = stream;
      ctx_ = ctx;
    }
    v1::WorkerMessage m;
    while (stream->Read(&m)) {
      absl::MutexLock lock(&mu_);
      seen_.messages.push_back(m);
    }
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
    ctx_ = nullptr;
    ++seen_.ended;
    seen_.last_end_clean = !ctx->IsCancelled();
    return grpc::Status::OK;
  }

  // Sends to the current session; false if there is none.
  bool Send(const v1::CoordinatorMessage& msg) {
    absl::MutexLock lock(&mu_);
    return stream_ != nullptr && stream_->Write(msg);
  }
  // Breaks the current session, as a lost connection would.
  void Break() {
    absl::MutexLock lock(&mu_);
    if (ctx_ != nullptr) ctx_->TryCancel();
  }
  void SetSilent(bool silent) {
    absl::MutexLock lock(&mu_);
    silent_ = silent;
  }
  void SetAccepting(bool accepting) {
    absl::MutexLock lock(&mu_);
    accepting_ = accepting;
  }
  // Waits (up to 30 s) until `pred(seen)` holds; returns whether it did.
  // (The test's sessions break after ~20 s: gRPC's keepalive pings.)
  bool Until(std::function<bool(const Seen&)> pred) {
    absl::MutexLock lock(&mu_);
    auto ready = [&]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pred(seen_); };
    return mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(30));
  }
  Seen seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  absl::Mutex mu_;
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;
  bool silent_ ABSL_GUARDED_BY(mu_) = false;
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  grpc::ServerContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  Seen seen_ ABSL_GUARDED_BY(mu_);
};


// A script that waits until the file `gate` exists, then prints `out`.
std::string Gated(const std::string& gate, const std::string& out) {
  return absl::StrCat("while [ ! -e ", gate, " ]; do sleep 0.01; done; echo ",
                      out);
}

v1::CoordinatorMessage CommandJob(uint64_t job, const std::string& script,
                                  int shards = 1) {
  v1::CoordinatorMessage msg;
  v1::AssignmentBatch* b = msg.mutable_assignments();
  v1::JobDefinition* def = b->add_jobs();
  def->set_job_id(job);
  def->set_shards(shards);
  v1::CommandSpec* cmd = def->mutable_command();
  cmd->add_argv("/bin/sh");
  cmd->add_argv("-c");
  cmd->add_argv(script);
  cmd->set_max_output_bytes(1 << 20);
  for (int i = 0; i < shards; ++i) {
    v1::ShardTask* t = b->add_tasks();
    t->mutable_ref()->set_job_id(job);
    t->mutable_ref()->set_shard(i);
    t->mutable_ref()->set_attempt(1);
    t->set_begin(i);
    t->set_end(i + 1);
  }
  return msg;
}

bool Holds(const v1::Register& reg, uint64_t job, uint64_t shard) {
  for (const v1::ShardRef& ref : reg.running()) {
    if (ref.job_id() == job && ref.shard() == shard && ref.attempt() == 1) {
      return true;
    }
  }
  return false;
}

// Makes this process the reaper of orphaned descendants, so that "the
// process group is gone" holds once the runner has returned.
class ScopedSubreaper {
 public:
  ScopedSubreaper() { prctl(PR_SET_CHILD_SUBREAPER, 1); }
  ~ScopedSubreaper() { prctl(PR_SET_CHILD_SUBREAPER, 0); }
};

bool GroupGone(pid_t pgid) {
  errno = 0;
  return kill(-pgid, 0) == -1 && errno == ESRCH;
}

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&fake_);
    builder.RegisterService(&store_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    worker_.reset();  // stops a worker a failed test left running
    if (runner_.joinable()) runner_.join();
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  }

  WorkerOptions Options() {
    WorkerOptions o;
    o.coordinator = absl::StrCat("127.0.0.1:", port_);
    o.threads = 1;
    o.processes = 1;
    o.host = "test-worker";
    o.backoff = {absl::Milliseconds(10), absl::Milliseconds(50)};
    return o;
  }
  void Start(WorkerOptions options) {
    worker_ = std::make_unique<Worker>(std::move(options));
    runner_ = std::thread([this] {
      run_status_ = worker_->Run();
      absl::MutexLock lock(&mu_);
      returned_ = true;
    });
  }
  // Starts a worker whose results would wait an hour for company
  // (worker/result_linger.h) and waits until it registers.
  void StartLingering() {
    WorkerOptions options = Options();
    options.result_linger = absl::Hours(1);
    Start(std::move(options));
    ASSERT_TRUE(
        fake_.Until([](const Seen& s) { return s.registers.size() == 1; }));
  }
  // Waits (up to 30 s) for Run to return; returns whether it did.
  bool WaitForRun() {
    {
      absl::MutexLock lock(&mu_);
      auto returned = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return returned_;
      };
      if (!mu_.AwaitWithTimeout(absl::Condition(&returned),
                                absl::Seconds(30))) {
        return false;
      }
    }
    runner_.join();
    return true;
  }

  FakeCoordinator fake_;
  FakeStore store_;  // the coordinator's Store, for staged files
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Worker> worker_;
  std::thread runner_;
  absl::Status run_status_;
  absl::Mutex mu_;
  bool returned_ ABSL_GUARDED_BY(mu_) = false;
};

TEST_F(WorkerTest, ShardsSurviveALostSessionAndReportAfterRegistering) {
  const std::string gate = TempPath("worker-test-survive-gate");
  const std::string finished = TempPath("worker-test-survive-finished");
  std::remove(gate.c_str());
  std::remove(finished.c_str());
  Start(Options());
  ASSERT_TRUE(
      fake_.Until([](const Seen& s) { return s.registers.size() == 1; }));
  EXPECT_EQ(fake_.seen().registers[0].running_size(), 0);
  ASSERT_TRUE(fake_.Send(
      CommandJob(1, absl::StrCat(Gated(gate, "ok"), "; echo 1 > ", finished))));
  ASSERT_TRUE(fake_.Until([](const Seen& s) { return s.Heartbeat(1, 0); }));

  // The connection breaks and the coordinator turns the worker away for a
  // while; meanwhile the shard finishes.
  fake_.SetAccepting(false);
  fake_.Break();
  ASSERT_TRUE(fake_.Until([](const Seen& s) { return s.refused >= 2; }));
  std::ofstream(gate) << "go\n";
  ASSERT_FALSE(WaitForLine(finished).empty());
  fake_.SetAccepting(true);

  // The next session learns that the worker still holds the attempt, then
  // gets its result.
  ASSERT_TRUE(
      fake_.Until([](const Seen& s) { return s.registers.size() == 2; }));
  EXPECT_TRUE(Holds(fake_.seen().registers[1], 1, 0));
  ASSERT_TRUE(
      fake_.Until([](const Seen& s) { return s.Result(1, 0) != nullptr; }));
  const Seen seen = fake_.seen();
  const v1::ShardResult* r = seen.Result(1, 0);
  EXPECT_TRUE(r->ok()) << r->error();
  EXPECT_EQ(r->payload(), "ok\n");
  EXPECT_EQ(seen.Results().size(), 1u);

  // A drain with nothing held: Drain, then a clean close, and Run is OK.
  worker_->Drain(absl::Seconds(30));
  ASSERT_TRUE(WaitForRun());
  EXPECT_TRUE(run_status_.ok()) << run_status_;
  ASSERT_TRUE(fake_.Until([](const Seen& s) { return s.ended == 2; }));
  EXPECT_TRUE(fake_.seen().Drained());
  EXPECT_TRUE(fake_.seen().last_end_clean);
}

// Results of a worker that still has attempts queued wait for company
// (worker/result_linger.h): with a linger far longer than the test, the
// job's results all come in the one message the last result (nothing
// queued behind it) sends at once.
TEST_F(WorkerTest, ResultsWaitForCompanyWhileWorkIsQueued) {
  StartLingering();
  constexpr int kShards = 5;
  ASSERT_TRUE(fake_.Send(CommandJob(1, "echo x", kShards)));
  ASSERT_TRUE(fake_.Until(
      [](const Seen& s) { return s.Results().size() == kShards; }));
  int batches = 0;
  for (const v1::WorkerMessage& m : fake_.seen().messages) {
    if (m.has_results()) ++batches;
  }
  EXPECT_EQ(batches, 1);
  worker_->Stop();
  ASSERT_TRUE(WaitForRun());
}

// A result with nothing queued behind it goes at once, linger or not: a
// slot is idle and the coordinator must hear.
TEST_F(WorkerTest, ResultWithNothingQueuedGoesAtOnce) {
  StartLingering();
  ASSERT_TRUE(fake_.Send(CommandJob(1, "echo x")));
  EXPECT_TRUE(
      fake_.Until([](const Seen& s) { return s.Result(1, 0) != nullptr; }));
  // In the first session: not flushed by a later Register.
  EXPECT_EQ(fake_.seen().registers.size(), 1u);
  worker_->Stop();
  ASSERT_TRUE(WaitForRun());
}

// A command job over a staged --lines file that runs an --upload program.
v1::CoordinatorMessage StagedJob(uint64_t job, FakeStore* store) {
  v1::CoordinatorMessage msg = CommandJob(job, "");
  v1::JobDefinition* def = msg.mutable_assignments()->mutable_jobs(0);
  v1::CommandSpec* cmd = def->mutable_command();
  cmd->clear_argv();
  cmd->add_argv("./count");
  cmd->set_lines("/on/the/client/lines.txt");
  const std::string lines = "a\nb\nc\n";
  const std::string program = "#!/bin/sh\necho lines: $(wc -l)\n";
  struct {
    std::string path, content, upload_name;
    uint32_t mode;
  } files[] = {{"/on/the/client/lines.txt", lines, "", 0644},
               {"/on/the/client/count.sh", program, "count", 0755}};
  for (const auto& f : files) {
    v1::StagedFile* staged = def->add_staged();
    staged->set_path(f.path);
    staged->set_sha256(store->Put(f.content));
    staged->set_size(f.content.size());
    staged->set_mode(f.mode);
    staged->set_upload_name(f.upload_name);
  }
  msg.mutable_assignments()->mutable_tasks(0)->set_begin(0);
  msg.mutable_assignments()->mutable_tasks(0)->set_end(lines.size());
  return msg;
}

TEST_F(WorkerTest, StagedFilesComeFromTheStoreOnceWithTheWorkersToken) {
  WorkerOptions options = Options();
  options.token = "worker-token";
  options.scratch_dir = TempPath("worker-test-staging");
  ASSERT_TRUE(RemoveTree(options.scratch_dir).ok());
  ASSERT_TRUE(MakeDirs(options.scratch_dir, 0755, "test").ok());
  Start(options);
  ASSERT_TRUE(
      fake_.Until([](const Seen& s) { return s.registers.size() == 1; }));
  ASSERT_TRUE(fake_.Send(StagedJob(1, &store_)));
  ASSERT_TRUE(
      fake_.Until([](const Seen& s) { return s.Result(1, 0) != nullptr; }));
  v1::ShardResult r = *fake_.seen().Result(1, 0);
  EXPECT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.payload(), "lines: 3\n");
  const std::vector<FakeStore::Call> calls = store_.calls();
  ASSERT_EQ(calls.size(), 2u);  // the lines and the program
  for (const FakeStore::Call& c : calls) {
    EXPECT_EQ(c.token, "Bearer worker-token");
  }

  // A second job on the same files reads them from the cache.
  ASSERT_TRUE(fake_.Send(StagedJob(2, &store_)));
  ASSERT_TRUE(
      fake_.Until([](const Seen& s) { return s.Result(2, 0) != nullptr; }));
  r = *fake_.seen().Result(2, 0);
  EXPECT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.payload(), "lines: 3\n");
  EXPECT_EQ(store_.calls().size(), 2u);
  worker_->Stop();
  ASSERT_TRUE(WaitForRun());
}

TEST_F(WorkerTest, UnansweredRegisterTimesOutAndRedials) {
  fake_.SetSilent(true);
  WorkerOptions options = Options();
  options.register_timeout = absl::Milliseconds(100);
  Start(options);
  // Without the handshake deadline the worker would wait on the first
  // session forever.
  ASSERT_TRUE(fake_.Until([](const Seen& s) { return s.ignored >= 2; }));
  fake_.SetSilent(false);
  ASSERT_TRUE(fake_.Until([](const Seen& s) { return !s.registers.empty(); }));
  worker_->Stop();
  EXPECT_TRUE(WaitForRun());
}

TEST_F(WorkerTest, DrainFinishesRunningShardsAndHandsBackTheRest) {
  const std::string gate = TempPath("worker-test-drain-gate");
  std::remove(gate.c_str());
  Start(Options());
  ASSERT_TRUE(
      fake_.Until([](const Seen& s) { return s.registers.size() == 1; }));
  // One process slot: shard 0 runs, shard 1 waits.
  ASSERT_TRUE(fake_.Send(CommandJob(2, Gated(gate, "done"), 2)));
  ASSERT_TRUE(fake_.Until([](const Seen& s) { return s.Heartbeat(1, 1); }));

  worker_->Drain(absl::Seconds(30));
  ASSERT_TRUE(fake_.Until(
      [](const Seen& s) { return s.Drained() && s.Result(2, 1) != nullptr; }));
  EXPECT_TRUE(fake_.seen().Result(2, 1)->handed_back());

  // Work that still arrives goes straight back.
  ASSERT_TRUE(fake_.Send(CommandJob(3, "echo never")));
  ASSERT_TRUE(
      fake_.Until([](const Seen& s) { return s.Result(3, 0) != nullptr; }));
  EXPECT_TRUE(fake_.seen().Result(3, 0)->handed_back());

  // The running shard finishes within the grace and is reported as usual.
  std::ofstream(gate) << "go\n";
  ASSERT_TRUE(WaitForRun());
  EXPECT_TRUE(run_status_.ok()) << run_status_;
  ASSERT_TRUE(fake_.Until([](const Seen& s) { return s.ended == 1; }));
  const Seen seen = fake_.seen();
  const v1::ShardResult* r = seen.Result(2, 0);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->ok()) << r->error();
  EXPECT_FALSE(r->handed_back());
  EXPECT_EQ(r->payload(), "done\n");
  EXPECT_EQ(seen.Results().size(), 3u);
  EXPECT_TRUE(seen.last_end_clean);
  EXPECT_EQ(seen.registers.size(), 1u);
}

TEST_F(WorkerTest, ShardOutlivingTheGraceIsHandedBackAndItsChildKilled) {
  ScopedSubreaper subreaper;
  const std::string pid_file = TempPath("worker-test-grace.pid");
  std::remove(pid_file.c_str());
  Start(Options());
  ASSERT_TRUE(
      fake_.Until([](const Seen& s) { return s.registers.size() == 1; }));
  ASSERT_TRUE(fake_.Send(CommandJob(
      4, absl::StrCat("echo $$ > ", pid_file, "; sleep 60 & wait"))));
  const std::string pgid = WaitForLine(pid_file);
  ASSERT_FALSE(pgid.empty());

  worker_->Drain(absl::Milliseconds(100));
  ASSERT_TRUE(WaitForRun());
  EXPECT_TRUE(run_status_.ok()) << run_status_;
  EXPECT_TRUE(GroupGone(std::stoi(pgid)));
  ASSERT_TRUE(fake_.Until([](const Seen& s) { return s.ended == 1; }));
  const Seen seen = fake_.seen();
  EXPECT_TRUE(seen.Drained());
  const v1::ShardResult* r = seen.Result(4, 0);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->handed_back());
  EXPECT_FALSE(r->ok());
  EXPECT_TRUE(seen.last_end_clean);
}

TEST_F(WorkerTest, DrainGivesUpOnAnUnreachableCoordinator) {
  ScopedSubreaper subreaper;
  const std::string pid_file = TempPath("worker-test-unreachable.pid");
  std::remove(pid_file.c_str());
  WorkerOptions options = Options();
  options.drain_close_timeout = absl::Milliseconds(100);
  Start(options);
  ASSERT_TRUE(
      fake_.Until([](const Seen& s) { return s.registers.size() == 1; }));
  ASSERT_TRUE(fake_.Send(CommandJob(
      5, absl::StrCat("echo $$ > ", pid_file, "; sleep 60 & wait"))));
  const std::string pgid = WaitForLine(pid_file);
  ASSERT_FALSE(pgid.empty());
  fake_.SetAccepting(false);
  fake_.Break();
  ASSERT_TRUE(fake_.Until([](const Seen& s) { return s.refused >= 1; }));

  worker_->Drain(absl::Milliseconds(100));
  ASSERT_TRUE(WaitForRun());
  EXPECT_TRUE(run_status_.ok()) << run_status_;
  EXPECT_TRUE(GroupGone(std::stoi(pgid)));
  EXPECT_EQ(fake_.seen().registers.size(), 1u);
}

TEST_F(WorkerTest, DrainWithNothingHeldAndNoCoordinatorEndsWithoutWaiting) {
  fake_.SetAccepting(false);
  Start(Options());
  ASSERT_TRUE(fake_.Until([](const Seen& s) { return s.refused >= 1; }));
  worker_->Drain(absl::Hours(1));  // nothing to wait for, nobody to tell
  ASSERT_TRUE(WaitForRun());
  EXPECT_TRUE(run_status_.ok()) << run_status_;
  EXPECT_TRUE(fake_.seen().registers.empty());
}

TEST_F(WorkerTest, StopDuringADrainEndsAtOnce) {
  ScopedSubreaper subreaper;
  const std::string pid_file = TempPath("worker-test-stop.pid");
  std::remove(pid_file.c_str());
  Start(Options());
  ASSERT_TRUE(
      fake_.Until([](const Seen& s) { return s.registers.size() == 1; }));
  ASSERT_TRUE(fake_.Send(CommandJob(
      6, absl::StrCat("echo $$ > ", pid_file, "; sleep 60 & wait"))));
  const std::string pgid = WaitForLine(pid_file);
  ASSERT_FALSE(pgid.empty());

  worker_->Drain(absl::Seconds(60));
  ASSERT_TRUE(fake_.Until([](const Seen& s) { return s.Drained(); }));
  worker_->Stop();  // the second SIGTERM
  ASSERT_TRUE(WaitForRun());
  EXPECT_TRUE(run_status_.ok()) << run_status_;
  EXPECT_TRUE(GroupGone(std::stoi(pgid)));
  EXPECT_EQ(fake_.seen().Result(6, 0), nullptr);  // cancelled, not reported
}

// Straggler splitting end to end: a long primes shard gets SplitShard; the
// worker answers ShardSplit ok with `at` before the attempt's result, which
// says end = at and carries the count of [0, at). A split of an unknown
// attempt is refused.
TEST_F(WorkerTest, SplitShardIsAnsweredBeforeTheResultWhichEndsThere) {
  Start(Options());
  ASSERT_TRUE(
      fake_.Until([](const Seen& s) { return s.registers.size() == 1; }));
  const uint64_t to = uint64_t{1} << 40;  // minutes of work unsplit
  v1::CoordinatorMessage assign;
  v1::JobDefinition* def = assign.mutable_assignments()->add_jobs();
  def->set_job_id(4);
  def->set_kernel("primes");
  def->set_shards(0);  // adaptive jobs say 0
  (*def->mutable_args())["to"] = std::to_string(to);
  v1::ShardTask* task = assign.mutable_assignments()->add_tasks();
  task->mutable_ref()->set_job_id(4);
  task->mutable_ref()->set_attempt(1);
  task->set_end(to);
  ASSERT_TRUE(fake_.Send(assign));
  ASSERT_TRUE(fake_.Until([](const Seen& s) { return s.Heartbeat(1, 0); }));

  v1::CoordinatorMessage unknown;
  unknown.mutable_split()->mutable_ref()->set_job_id(99);
  unknown.mutable_split()->mutable_ref()->set_attempt(1);
  unknown.mutable_split()->set_keep(0.5);
  ASSERT_TRUE(fake_.Send(unknown));
  v1::CoordinatorMessage split;
  *split.mutable_split()->mutable_ref() = task->ref();
  split.mutable_split()->set_keep(1e-9);  // keep almost none of the rest
  ASSERT_TRUE(fake_.Send(split));
  ASSERT_TRUE(
      fake_.Until([](const Seen& s) { return s.Result(4, 0) != nullptr; }));

  const Seen seen = fake_.seen();
  int answer_at = -1, result_at = -1, refused = 0;
  uint64_t at = 0;
  for (size_t i = 0; i < seen.messages.size(); ++i) {
    const v1::WorkerMessage& m = seen.messages[i];
    if (m.has_split() && m.split().ref().job_id() == 99) {
      EXPECT_FALSE(m.split().ok());
      ++refused;
    } else if (m.has_split() && m.split().ref().job_id() == 4) {
      EXPECT_TRUE(m.split().ok());
      answer_at = static_cast<int>(i);
      at = m.split().at();
    } else if (m.has_results() && result_at < 0) {
      for (const v1::ShardResult& r : m.results().results()) {
        if (r.ref().job_id() == 4) result_at = static_cast<int>(i);
      }
    }
  }
  EXPECT_EQ(refused, 1);
  ASSERT_GE(answer_at, 0);
  EXPECT_LT(answer_at, result_at);
  EXPECT_GT(at, 0u);
  EXPECT_LT(at, to);
  const v1::ShardResult* r = seen.Result(4, 0);
  EXPECT_TRUE(r->ok()) << r->error();
  EXPECT_EQ(r->end(), at);
  absl::StatusOr<std::unique_ptr<ShardRunner>> runner =
      CreateShardRunner("primes", {{"to", std::to_string(to)}});
  ASSERT_TRUE(runner.ok()) << runner.status();
  EXPECT_EQ(r->payload(), *RunWholeShard(**runner, {0, at}));
  worker_->Stop();
  ASSERT_TRUE(WaitForRun());
}

}  // namespace
}  // namespace shardex
