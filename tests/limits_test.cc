// Limits end to end, through a real coordinator process: every malformed
// field of a job is refused with INVALID_ARGUMENT (or NOT_FOUND for an
// unknown kernel) naming the field, oversized requests and anything beyond
// a cap with RESOURCE_EXHAUSTED naming the flag to raise it, a message over
// gRPC's 64 MiB limit fails the call alone, WatchJob streams and worker
// sessions are capped, and a worker sending garbage is shrugged off. After
// each, the coordinator still runs a normal job correctly.
//
// Raw gRPC stubs (not CoordinatorClient, whose own checks would stop the
// worst requests before they leave) talk to the coordinator directly.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/token.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "proto/shardex.grpc.pb.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace {

std::string Trim(const std::string& s) {
  return std::string(absl::StripAsciiWhitespace(s));
}

std::unique_ptr<TestCluster> StartCluster(std::vector<std::string> flags,
                                          int workers) {
  auto c = TestCluster::Start(std::move(flags));
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return nullptr;
  for (int i = 0; i < workers; ++i) EXPECT_TRUE((*c)->AddWorker(1).ok());
  EXPECT_TRUE((*c)->WaitForWorkers(workers).ok()) << (*c)->LogTails();
  return std::move(c).value();
}

// The coordinator is alive and still runs a normal job correctly.
void ExpectStillServes(TestCluster& c) {
  ASSERT_TRUE(c.coordinator().running()) << c.LogTails();
  CliRun run = c.Cli("submit", {"primes", "--to", "1e6"});
  EXPECT_EQ(run.exit_code, 0) << run.err << c.LogTails();
  EXPECT_EQ(Trim(run.out), "78498");
}

// A channel with no message-size limits of its own, so the coordinator's
// limits are the ones tested; and the cluster's token for its calls.
class RawClient {
 public:
  explicit RawClient(TestCluster& c) {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(-1);
    args.SetMaxReceiveMessageSize(-1);
    channel_ = grpc::CreateCustomChannel(
        c.address(), grpc::InsecureChannelCredentials(), args);
    coordinator_ = v1::Coordinator::NewStub(channel_);
    gateway_ = v1::WorkerGateway::NewStub(channel_);
    absl::StatusOr<std::string> token = ReadTokenFile(c.token_file());
    EXPECT_TRUE(token.ok()) << token.status();
    token_ = token.value_or("");
  }

  // A context with the token and a deadline.
  std::unique_ptr<grpc::ClientContext> Context(
      absl::Duration deadline = absl::Seconds(30)) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    ctx->AddMetadata(kTokenMetadataKey, kTokenMetadataPrefix + token_);
    return ctx;
  }

  grpc::Status Submit(const v1::JobSpec& spec,
                      const std::string& request_id = "") {
    auto ctx = Context();
    v1::SubmitJobRequest req;
    *req.mutable_spec() = spec;
    req.set_request_id(request_id);
    v1::SubmitJobResponse resp;
    return coordinator_->SubmitJob(ctx.get(), req, &resp);
  }

  v1::Coordinator::Stub& coordinator() { return *coordinator_; }
  v1::WorkerGateway::Stub& gateway() { return *gateway_; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Coordinator::Stub> coordinator_;
  std::unique_ptr<v1::WorkerGateway::Stub> gateway_;
  std::string token_;
};

// One open WatchJob stream.
struct Watch {
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientReader<v1::JobStatus>> reader;
};

Watch OpenWatch(RawClient& raw, uint64_t job_id) {
  Watch w;
  w.ctx = raw.Context(absl::Seconds(60));
  v1::WatchJobRequest req;
  req.set_job_id(job_id);
  w.reader = raw.coordinator().WatchJob(w.ctx.get(), req);
  return w;
}

// A worker session driven by hand.
class FakeWorker {
 public:
  explicit FakeWorker(RawClient& raw) : ctx_(raw.Context()) {
    stream_ = raw.gateway().Session(ctx_.get());
  }
  bool Send(const v1::WorkerMessage& m) { return stream_->Write(m); }
  bool Read(v1::CoordinatorMessage* m) { return stream_->Read(m); }
  // Hangs up and returns how the coordinator ended the session.
  grpc::Status Finish() {
    stream_->WritesDone();
    return AwaitEnd();
  }
  // Waits, without hanging up, for the coordinator to end the session.
  grpc::Status AwaitEnd() {
    v1::CoordinatorMessage ignored;
    while (stream_->Read(&ignored)) {
    }
    return stream_->Finish();
  }
  // Registers with one slot and reads the answer.
  bool Register(const std::string& host) {
    v1::WorkerMessage m;
    m.mutable_register_()->set_host(host);
    m.mutable_register_()->set_slots(1);
    v1::CoordinatorMessage hello;
    return Send(m) && Read(&hello) && hello.has_registered();
  }
  // Reads until the coordinator assigns a task.
  std::optional<v1::ShardTask> NextTask() {
    v1::CoordinatorMessage m;
    while (Read(&m)) {
      if (m.assignments().tasks_size() > 0) return m.assignments().tasks(0);
    }
    return std::nullopt;
  }

 private:
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>>
      stream_;
};

// What a refused session or stream ended with.
void ExpectRefused(const grpc::Status& st, grpc::StatusCode code,
                   const std::string& words) {
  EXPECT_EQ(st.error_code(), code) << st.error_message();
  EXPECT_NE(st.error_message().find(words), std::string::npos)
      << "should say " << words << ": " << st.error_message();
}

v1::JobSpec Kernel(const std::string& kernel,
                   std::vector<std::pair<std::string, std::string>> args) {
  v1::JobSpec spec;
  spec.set_kernel(kernel);
  for (auto& [k, v] : args) (*spec.mutable_args())[k] = v;
  return spec;
}

v1::JobSpec Command(std::vector<std::string> argv) {
  v1::JobSpec spec;
  spec.mutable_command();  // present even with no argv
  for (std::string& a : argv) spec.mutable_command()->add_argv(std::move(a));
  return spec;
}

TEST(LimitsTest, EveryMalformedFieldIsRefusedNamingIt) {
  auto c = StartCluster({"--allow-commands"}, 1);
  ASSERT_NE(c, nullptr);
  RawClient raw(*c);
  using Code = grpc::StatusCode;
  const std::string nul("\0", 1);
  struct Case {
    std::string what;
    v1::JobSpec spec;
    Code code;
    std::string field;  // the message names it
  };
  std::vector<Case> cases;
  auto add = [&](std::string what, v1::JobSpec spec, Code code,
                 std::string field) {
    cases.push_back({std::move(what), std::move(spec), code, std::move(field)});
  };
  add("NUL in the kernel", Kernel("pri" + nul + "mes", {{"to", "10"}}),
      Code::INVALID_ARGUMENT, "kernel:");
  add("no kernel, no command", Kernel("", {}), Code::INVALID_ARGUMENT,
      "kernel:");
  add("unknown kernel", Kernel("nosuchkernel", {}), Code::NOT_FOUND,
      "unknown kernel 'nosuchkernel'");
  add("NUL in an argument value", Kernel("primes", {{"to", "10" + nul}}),
      Code::INVALID_ARGUMENT, "args[\"to\"]");
  add("NUL in an argument name", Kernel("primes", {{"t" + nul + "o", "10"}}),
      Code::INVALID_ARGUMENT, "argument name");
  add("unknown argument", Kernel("primes", {{"to", "10"}, {"colour", "x"}}),
      Code::INVALID_ARGUMENT, "--colour");
  add("number out of range", Kernel("primes", {{"to", "1e30"}}),
      Code::INVALID_ARGUMENT, "--to");
  add("zero samples", Kernel("pi", {{"samples", "0"}}), Code::INVALID_ARGUMENT,
      "--samples");
  v1::JobSpec spec = Kernel("primes", {{"to", "100"}});
  spec.set_shards(UINT64_MAX);  // "-1" from a careless client
  add("shards over --max-shards", spec, Code::RESOURCE_EXHAUSTED,
      "--max-shards");
  spec.set_shards(101);
  add("more shards than numbers", spec, Code::INVALID_ARGUMENT, "--shards");
  spec = Kernel("primes", {{"to", "100"}});
  spec.set_output_dir("/tmp/out" + nul);
  add("NUL in output_dir", spec, Code::INVALID_ARGUMENT, "output_dir");
  spec = Kernel("primes", {{"to", "100"}});
  spec.mutable_command()->add_argv("true");
  add("kernel and command", spec, Code::INVALID_ARGUMENT, "not both");

  add("empty argv", Command({}), Code::INVALID_ARGUMENT, "command.argv");
  add("NUL in argv", Command({"echo", "a", "b" + nul}), Code::INVALID_ARGUMENT,
      "command.argv[2]: contains a NUL byte");
  add("argv over --max-argv-bytes",
      Command({"echo", std::string(200 << 10, 'x')}), Code::RESOURCE_EXHAUSTED,
      "--max-argv-bytes");
  spec = Command({"cat"});
  spec.mutable_command()->add_inputs("/a");
  spec.mutable_command()->add_inputs("/b" + nul);
  add("NUL in an input", spec, Code::INVALID_ARGUMENT, "command.inputs[1]");
  spec = Command({"cat"});
  spec.mutable_command()->set_lines("/big" + nul);
  add("NUL in lines", spec, Code::INVALID_ARGUMENT, "command.lines");
  spec = Command({"cat"});
  spec.mutable_command()->set_reduce_command("sort" + nul);
  add("NUL in reduce_command", spec, Code::INVALID_ARGUMENT,
      "command.reduce_command");
  spec = Command({"cat"});
  spec.mutable_command()->set_reduce("median");
  add("unknown reduce mode", spec, Code::INVALID_ARGUMENT, "command.reduce");
  spec = Command({"cat"});
  spec.mutable_command()->set_has_range(true);
  spec.mutable_command()->set_range_begin(9);
  spec.mutable_command()->set_range_end(3);
  add("reversed range", spec, Code::INVALID_ARGUMENT, "command.range_begin");
  spec = Command({"cat"});
  spec.mutable_command()->add_no_retry_exit_codes(300);
  add("exit code out of range", spec, Code::INVALID_ARGUMENT,
      "command.no_retry_exit_codes[0]");
  spec = Command({"cat"});
  spec.mutable_command()->set_max_open_files(1);
  add("open files out of range", spec, Code::INVALID_ARGUMENT,
      "command.max_open_files");
  spec = Command({"cat"});
  spec.mutable_command()->set_timeout_ms(UINT64_MAX);
  add("timeout out of range", spec, Code::INVALID_ARGUMENT,
      "command.timeout_ms");
  spec = Command({"cat"});
  spec.mutable_command()->set_max_output_bytes(uint64_t{1} << 30);
  add("output over the result limit", spec, Code::RESOURCE_EXHAUSTED,
      "command.max_output_bytes");
  add("spec over --max-spec-bytes",
      Kernel("primes", {{"to", "10"}, {"pad", std::string(300 << 10, 'p')}}),
      Code::RESOURCE_EXHAUSTED, "--max-spec-bytes");

  for (const Case& k : cases) {
    grpc::Status st = raw.Submit(k.spec);
    EXPECT_EQ(st.error_code(), k.code) << k.what << ": " << st.error_message();
    EXPECT_NE(st.error_message().find(k.field), std::string::npos)
        << k.what << ": " << st.error_message();
    EXPECT_LE(st.error_message().size(), 1100u) << k.what;
  }
  ExpectRefused(
      raw.Submit(Kernel("primes", {{"to", "10"}}), std::string(500, 'r')),
      Code::INVALID_ARGUMENT, "request_id");
  EXPECT_TRUE(c->client().ListJobs()->empty());  // nothing half-made
  ExpectStillServes(*c);
}

TEST(LimitsTest, MessageOverTheSizeLimitFailsAloneAndTheCoordinatorServesOn) {
  auto c = StartCluster({}, 1);
  ASSERT_NE(c, nullptr);
  RawClient raw(*c);
  const std::string huge((64 << 20) + 1024, 'x');
  ExpectRefused(raw.Submit(Kernel("primes", {{"to", "10"}, {"pad", huge}})),
                grpc::StatusCode::RESOURCE_EXHAUSTED, "");
  // The same through a worker session: it ends, nothing else does.
  FakeWorker fake(raw);
  ASSERT_TRUE(fake.Register("huge"));
  v1::WorkerMessage m;
  m.mutable_results()->add_results()->set_payload(huge);
  fake.Send(m);
  // gRPC refuses the message; depending on timing the client sees that
  // (RESOURCE_EXHAUSTED) or the stream reset that follows (UNAVAILABLE).
  const grpc::StatusCode ended = fake.Finish().error_code();
  EXPECT_TRUE(ended == grpc::StatusCode::RESOURCE_EXHAUSTED ||
              ended == grpc::StatusCode::UNAVAILABLE)
      << ended;
  ExpectStillServes(*c);
  auto workers = c->client().ListWorkers();
  ASSERT_TRUE(workers.ok());
  EXPECT_EQ(workers->size(), 1u);  // the fake one is gone
}

TEST(LimitsTest, JobsBeyondMaxJobsAreRefusedUntilSomeEnd) {
  auto c = StartCluster({"--max-jobs", "3"}, 0);  // no worker: jobs wait
  ASSERT_NE(c, nullptr);
  std::vector<uint64_t> jobs;
  v1::JobSpec sleep = Kernel("sleep", {{"ms", "1"}});
  sleep.set_shards(2);
  for (int i = 0; i < 3; ++i) {
    auto s = c->client().Submit(sleep);
    ASSERT_TRUE(s.ok()) << s.status();
    jobs.push_back(s->job_id());
  }
  absl::Status refused = c->client().Submit(sleep).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_NE(refused.message().find("--max-jobs"), std::string::npos) << refused;
  CliRun cli = c->Cli("submit", {"--detach", "sleep", "--ms", "1"});
  EXPECT_EQ(cli.exit_code, 2) << cli.err;
  EXPECT_NE(cli.err.find("too many jobs in flight"), std::string::npos)
      << cli.err;
  // Other calls are served meanwhile.
  EXPECT_TRUE(c->client().GetJob(jobs[0]).ok());
  ASSERT_TRUE(c->client().Cancel(jobs[0]).ok());
  auto admitted = c->client().Submit(sleep);
  ASSERT_TRUE(admitted.ok()) << admitted.status();
  jobs.push_back(admitted->job_id());
  // A worker drains the queue; then there is room again.
  ASSERT_TRUE(c->AddWorker(1).ok());
  for (size_t i = 1; i < jobs.size(); ++i) {
    auto s = c->WaitForJob(jobs[i], [](const v1::JobStatus& s) {
      return s.state() == v1::JOB_SUCCEEDED;
    });
    EXPECT_TRUE(s.ok()) << s.status();
  }
  ExpectStillServes(*c);
}

TEST(LimitsTest, WatchStreamsBeyondTheCapAreRefusedAndClientsPollInstead) {
  // Two workers: a second job gets a thread whenever one frees up.
  auto c = StartCluster({"--max-watch-streams", "8"}, 2);
  ASSERT_NE(c, nullptr);
  RawClient raw(*c);
  // A job that runs until cancelled (400 x 100 ms on two threads), in
  // short shards so other jobs get a thread in turn.
  v1::JobSpec slow = Kernel("sleep", {{"ms", "100"}});
  slow.set_shards(400);
  auto job = c->client().Submit(slow);
  ASSERT_TRUE(job.ok()) << job.status();
  std::vector<Watch> watches;
  for (int i = 0; i < 8; ++i) {
    watches.push_back(OpenWatch(raw, job->job_id()));
    v1::JobStatus first;
    ASSERT_TRUE(watches.back().reader->Read(&first)) << "stream " << i;
    EXPECT_EQ(first.job_id(), job->job_id());
  }
  Watch refused = OpenWatch(raw, job->job_id());
  v1::JobStatus none;
  EXPECT_FALSE(refused.reader->Read(&none));
  ExpectRefused(refused.reader->Finish(), grpc::StatusCode::RESOURCE_EXHAUSTED,
                "--max-watch-streams");
  // Everyone else is still served: `submit` follows its job by polling.
  ExpectStillServes(*c);
  // A closed stream frees its place.
  watches.front().ctx->TryCancel();
  watches.front().reader->Finish();
  watches.erase(watches.begin());
  bool reopened = false;
  for (int i = 0; i < 50 && !reopened; ++i) {
    Watch again = OpenWatch(raw, job->job_id());
    v1::JobStatus first;
    reopened = again.reader->Read(&first);
    if (reopened) {
      watches.push_back(std::move(again));
    } else {
      again.reader->Finish();
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  EXPECT_TRUE(reopened);
  // Ending the job ends every stream with its terminal status.
  ASSERT_TRUE(c->client().Cancel(job->job_id()).ok());
  for (Watch& w : watches) {
    v1::JobStatus s;
    v1::JobStatus last;
    while (w.reader->Read(&s)) last = s;
    EXPECT_EQ(last.state(), v1::JOB_CANCELLED);
    EXPECT_TRUE(w.reader->Finish().ok());
  }
}

TEST(LimitsTest, WorkerSessionsBeyondTheCapAreRefusedAndSilentOnesClosed) {
  auto c = StartCluster(
      {"--max-worker-sessions", "3", "--heartbeat-timeout", "1s"}, 1);
  ASSERT_NE(c, nullptr);
  RawClient raw(*c);
  // With the real worker's, two silent sessions fill the cap; of three
  // opened, one is refused.
  std::vector<std::unique_ptr<FakeWorker>> silent;
  for (int i = 0; i < 3; ++i)
    silent.push_back(std::make_unique<FakeWorker>(raw));
  // Sessions that never register are closed after --heartbeat-timeout.
  const absl::Time start = absl::Now();
  int refused = 0, closed = 0;
  for (auto& w : silent) {
    grpc::Status st = w->AwaitEnd();
    if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
      ExpectRefused(st, st.error_code(), "--max-worker-sessions");
    } else {
      ++closed;
      ExpectRefused(st, grpc::StatusCode::DEADLINE_EXCEEDED, "no Register");
    }
  }
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(closed, 2);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  // Then a worker may join again (once the closed streams are done).
  bool joined = false;
  for (int i = 0; i < 50 && !joined; ++i) {
    FakeWorker late(raw);
    joined = late.Register("late");
    late.Finish();
    if (!joined) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(joined);
  ExpectStillServes(*c);
}

TEST(LimitsTest, GarbageFromAWorkerIsShruggedOff) {
  auto c = StartCluster({"--max-result-bytes", "4KiB"}, 0);
  ASSERT_NE(c, nullptr);
  RawClient raw(*c);
  // Sessions that do not start with a sane Register end alone.
  struct BadStart {
    v1::WorkerMessage first;
    grpc::StatusCode code;
    std::string words;
  };
  std::vector<BadStart> starts;
  v1::WorkerMessage m;
  m.mutable_heartbeat();
  starts.push_back({m, grpc::StatusCode::FAILED_PRECONDITION, "Register"});
  m.mutable_register_()->set_slots(0);
  starts.push_back({m, grpc::StatusCode::INVALID_ARGUMENT, "register.slots"});
  m.mutable_register_()->set_slots(1'000'000);
  starts.push_back({m, grpc::StatusCode::INVALID_ARGUMENT, "register.slots"});
  m.mutable_register_()->set_slots(1);
  m.mutable_register_()->set_host(std::string(100'000, 'h'));
  starts.push_back({m, grpc::StatusCode::INVALID_ARGUMENT, "register.host"});
  m.mutable_register_()->clear_host();
  for (int i = 0; i < 100'000; ++i) {
    m.mutable_register_()->add_running()->set_job_id(i);
  }
  starts.push_back({m, grpc::StatusCode::INVALID_ARGUMENT, "register.running"});
  for (const BadStart& s : starts) {
    FakeWorker w(raw);
    w.Send(s.first);
    ExpectRefused(w.Finish(), s.code, s.words);
  }

  // A registered worker sending results for nothing anyone asked for.
  {
    FakeWorker w(raw);
    ASSERT_TRUE(w.Register("garbage"));
    v1::WorkerMessage junk;
    for (int i = 0; i < 200'000; ++i) {
      v1::ShardResult* r = junk.mutable_results()->add_results();
      r->mutable_ref()->set_job_id(1'000'000 + i);
      r->mutable_ref()->set_shard(UINT64_MAX - i);
      r->mutable_ref()->set_attempt(i);
      r->set_ok(i % 2 == 0);
      r->set_handed_back(i % 3 == 0);
    }
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(w.Send(junk));
    v1::WorkerMessage empty;
    EXPECT_TRUE(w.Send(empty));  // a message with no body
    EXPECT_EQ(w.Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }

  // A result larger than --max-result-bytes fails its attempt, every time,
  // and then the job, saying why.
  {
    FakeWorker w(raw);
    ASSERT_TRUE(w.Register("big-results"));
    v1::JobSpec one = Kernel("sleep", {{"ms", "0"}});
    one.set_shards(1);
    auto job = c->client().Submit(one);
    ASSERT_TRUE(job.ok()) << job.status();
    for (int attempt = 1; attempt <= 3; ++attempt) {
      std::optional<v1::ShardTask> task = w.NextTask();
      ASSERT_TRUE(task.has_value()) << "attempt " << attempt;
      v1::WorkerMessage result;
      v1::ShardResult* r = result.mutable_results()->add_results();
      *r->mutable_ref() = task->ref();
      r->set_ok(true);
      r->set_payload(std::string(8 << 10, 'x'));
      ASSERT_TRUE(w.Send(result));
    }
    auto s = c->WaitForJob(job->job_id(), [](const v1::JobStatus& s) {
      return s.state() == v1::JOB_FAILED;
    });
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_NE(s->error().find("--max-result-bytes"), std::string::npos)
        << s->error();
    w.Finish();
  }
  ASSERT_TRUE(c->AddWorker(1).ok());
  ASSERT_TRUE(c->WaitForWorkers(1).ok());
  ExpectStillServes(*c);
}

}  // namespace
}  // namespace shardex
