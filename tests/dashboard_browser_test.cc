// The dashboard in a real browser: a real cluster (tests/test_cluster.h,
// two workers, the coordinator with --http-listen) runs a job that is held
// in progress, and Debian's headless Chromium, driven by
// tests/browser/dashboard.mjs (playwright-core from npm), logs in through
// the form, reads the overview and a job's page, and cancels a second job
// with the page's button. The test compares what the browser read with
// what the CLI says (`shardex jobs|workers|status --json`) and keeps the
// screenshots in $TEST_UNDECLARED_OUTPUTS_DIR (bazel-testlogs/.../
// test.outputs) and, when set, $SHARDEX_SCREENSHOT_DIR
// (scripts/dashboard_screenshots.sh points it at docs/img).
//
// Needs /usr/bin/chromium, node, and `npm ci` in tests/browser
// (scripts/setup.sh does both); skips, naming the fix, without them.
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/subprocess.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "proto/shardex.pb.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace {

namespace fs = std::filesystem;
using google::protobuf::Value;

constexpr char kChromium[] = "/usr/bin/chromium";
constexpr int kShards = 40;
// Shards from kGatedFrom on wait for the gate file before they finish: the
// job stays in progress, at a fixed point, for as long as the browser looks.
constexpr int kGatedFrom = 24;
constexpr char kFailedStderr[] = "fails its first attempt";

// Job A: shards 0 and 1 fail their first attempt (the failed-attempts
// table), each shard prints its index, and the sum of 0..39 is 780.
std::string JobCommand() {
  return absl::StrCat(
      "if [ {shard} -ge ", kGatedFrom,
      " ]; then while [ ! -e \"$TMPDIR/gate\" ]; do sleep 0.1; done; fi; "
      "sleep 0.3; "
      "if [ {shard} -lt 2 ] && [ \"$SHARDEX_ATTEMPT\" = 1 ]; then "
      "echo \"shard {shard} ",
      kFailedStderr, "\" >&2; exit 3; fi; echo {shard}");
}

std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path == nullptr ? "/usr/bin:/bin" : path, ':')) {
    const std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// ---- reading the browser's JSON (google.protobuf.Struct)

const Value& Get(const Value& v, const std::string& key) {
  static const Value* const kNull = new Value();
  if (!v.has_struct_value()) return *kNull;
  auto it = v.struct_value().fields().find(key);
  return it == v.struct_value().fields().end() ? *kNull : it->second;
}
std::string Str(const Value& v) {
  if (v.kind_case() == Value::kNumberValue) {
    return absl::StrCat(v.number_value());
  }
  return v.string_value();
}
double Num(const Value& v) { return v.number_value(); }
const google::protobuf::RepeatedPtrField<Value>& List(const Value& v) {
  return v.list_value().values();
}

std::string FirstLine(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

// A report that says only that the browser could not run.
Value ErrorReport(const std::string& error) {
  Value report;
  (*report.mutable_struct_value()->mutable_fields())["error"].set_string_value(
      error);
  return report;
}

// A message the CLI printed with --json.
template <typename Message>
Message FromCliJson(const CliRun& run) {
  Message m;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(
      google::protobuf::util::JsonStringToMessage(run.out, &m, options).ok())
      << run.out;
  return m;
}

// "JOB_RUNNING" -> "RUNNING", as the page shows it.
std::string ShownState(v1::JobState state) {
  return std::string(absl::StripPrefix(v1::JobState_Name(state), "JOB_"));
}

uint64_t Done(const v1::JobStatus& s) {
  return s.shards_succeeded() + s.shards_skipped();
}

class DashboardBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path runfiles =
        fs::path(std::getenv("TEST_SRCDIR")) / std::getenv("TEST_WORKSPACE");
    // The script's real place in the source tree: node finds node_modules
    // beside it (scripts/setup.sh runs `npm ci` there).
    script_ = fs::canonical(runfiles / "tests/browser/dashboard.mjs").string();
    const fs::path modules =
        fs::path(script_).parent_path() / "node_modules/playwright-core";
    if (access(kChromium, X_OK) != 0) {
      GTEST_SKIP() << kChromium
                   << " is missing: apt-get install chromium "
                      "(scripts/setup.sh)";
    }
    if (FindOnPath("node").empty()) {
      GTEST_SKIP() << "node is missing: apt-get install nodejs npm "
                      "(scripts/setup.sh)";
    }
    if (!fs::exists(modules)) {
      GTEST_SKIP() << "no " << modules
                   << ": run npm ci --prefix tests/browser --no-audit "
                      "--no-fund (scripts/setup.sh)";
    }
    absl::StatusOr<std::unique_ptr<TestCluster>> c =
        TestCluster::Start({"--allow-commands", "--http-listen", "127.0.0.1:0"});
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = *std::move(c);
    for (int i = 0; i < 2; ++i) {
      // 3 threads and 3 processes: a worker's slots are 3 either way.
      ASSERT_TRUE(cluster_->AddWorker(3, 3).ok());
    }
    ASSERT_TRUE(cluster_->WaitForWorkers(2).ok()) << cluster_->LogTails();
    http_port_ = HttpPort();
    ASSERT_NE(http_port_, 0) << "no \"(port N)\" for --http-listen in the "
                                "coordinator's log\n"
                             << cluster_->LogTails();
  }

  // --http-listen 127.0.0.1:0 picks a free port; the coordinator logs the
  // one it bound, as "http://127.0.0.1:PORT/..." (or "... (port PORT)").
  int HttpPort() {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      const std::string log =
          ReadFile(cluster_->dir() + "/coordinator.log").value_or("");
      for (const std::string marker : {"http://127.0.0.1:", "(port "}) {
        for (size_t at = log.find(marker); at != std::string::npos;
             at = log.find(marker, at + 1)) {
          const size_t begin = at + marker.size();
          const size_t end = log.find_first_not_of("0123456789", begin);
          int port = 0;
          if (absl::SimpleAtoi(log.substr(begin, end - begin), &port) &&
              port != 0) {
            return port;
          }
        }
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return 0;
  }

  uint64_t SubmitDetached(const std::string& command, int shards,
                          std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--detach", "--shards",
                                     absl::StrCat(shards)};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"--shell", "--", command});
    CliRun run = cluster_->Cli("submit", args);
    uint64_t id = 0;
    EXPECT_EQ(run.exit_code, 0) << run.err;
    EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(run.out), &id))
        << run.out;
    return id;
  }

  v1::JobStatus CliStatus(uint64_t id) {
    return FromCliJson<v1::JobStatus>(
        cluster_->Cli("status", {absl::StrCat(id), "--json"}));
  }

  // `shardex status JOB --shards --json` (the shard log): "shard/attempt"
  // -> outcome ("running", "failed", ...), as the page's bars say them.
  std::map<std::string, std::string> CliAttempts(uint64_t id) {
    CliRun run =
        cluster_->Cli("status", {absl::StrCat(id), "--shards", "--json"});
    google::protobuf::ListValue list;
    EXPECT_EQ(run.exit_code, 0) << run.err;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(run.out, &list).ok())
        << run.out;
    std::map<std::string, std::string> attempts;
    for (const Value& a : list.values()) {
      attempts[absl::StrCat(Str(Get(a, "shard")), "/",
                            Str(Get(a, "attempt")))] = Str(Get(a, "outcome"));
    }
    return attempts;
  }

  // Runs the browser script; its JSON report (parsed), or a failure.
  Value RunBrowser(uint64_t job, uint64_t cancel_job, uint64_t adaptive_job) {
    // A short TMPDIR: Chromium's profile holds a unix socket, whose path
    // must fit in 108 bytes (TEST_TMPDIR's does not).
    char tmp_template[] = "/tmp/shardex-browser-XXXXXX";
    const char* made = mkdtemp(tmp_template);
    if (made == nullptr) return ErrorReport(strerror(errno));
    const std::string tmp = made;
    absl::Cleanup remove_tmp = [tmp] {
      std::error_code ignored;
      fs::remove_all(tmp, ignored);
    };
    const std::string token_file = tmp + "/token";
    // The coordinator's token file, copied: the script reads it from there.
    fs::copy_file(cluster_->token_file(), token_file,
                  fs::copy_options::overwrite_existing);
    // Node and every process it starts (Chromium's) carry this tag in
    // their environment: whatever is left is killed below, on every path.
    const std::string tag = absl::StrCat("SHARDEX_BROWSER_TEST=", tmp);
    std::vector<std::string> argv = {
        "/usr/bin/env", tag, absl::StrCat("TMPDIR=", tmp), "node", script_,
        "--url", absl::StrCat("http://127.0.0.1:", http_port_),
        "--token-file", token_file, "--job", absl::StrCat(job),
        "--cancel-job", absl::StrCat(cancel_job), "--adaptive-job",
        absl::StrCat(adaptive_job), "--timeout-ms", "100000"};
    for (const char* var :
         {"TEST_UNDECLARED_OUTPUTS_DIR", "SHARDEX_SCREENSHOT_DIR"}) {
      const char* dir = std::getenv(var);
      if (dir != nullptr && *dir != '\0') {
        fs::create_directories(dir);
        argv.insert(argv.end(), {"--out", dir});
      }
    }
    Subprocess::Options options;
    options.stdout_file = tmp + "/stdout";
    options.stderr_file = tmp + "/stderr";
    absl::StatusOr<std::unique_ptr<Subprocess>> node =
        Subprocess::Start(argv, options);
    absl::Cleanup kill_browser = [&tag] {
      for (const ClusterProcess& p : TaggedProcesses({tag})) {
        kill(p.pid, SIGKILL);
      }
    };
    if (!node.ok()) return ErrorReport(node.status().ToString());
    // Past the script's own deadline (100 s): it hangs, kill it.
    absl::StatusOr<int> status = (*node)->Wait(absl::Seconds(130));
    if (!status.ok()) (*node)->Stop(absl::ZeroDuration());
    const std::string out = ReadFile(tmp + "/stdout").value_or("");
    const std::string err = ReadFile(tmp + "/stderr").value_or("");
    std::cout << "browser report: " << out << std::flush;
    Value report;
    const bool parsed =
        google::protobuf::util::JsonStringToMessage(
            out, report.mutable_struct_value())
            .ok();
    EXPECT_TRUE(status.ok() && WIFEXITED(*status) &&
                WEXITSTATUS(*status) == 0)
        << "node " << script_ << " failed: "
        << (parsed ? Str(Get(report, "error")) : out) << "\nstderr: " << err
        << "\n"
        << cluster_->LogTails();
    return parsed ? report : ErrorReport("not JSON: " + out);
  }

  std::string script_;
  std::unique_ptr<TestCluster> cluster_;
  int http_port_ = 0;
};

TEST_F(DashboardBrowserTest, LoginOverviewJobPageAndCancel) {
  // Job C, adaptive (no --shards: ranges cut as it runs), run to its end:
  // its bars count units of its range, not shards.
  const v1::JobStatus c = FromCliJson<v1::JobStatus>(
      cluster_->Cli("submit", {"--json", "primes", "--to", "1000000"}));
  ASSERT_EQ(c.state(), v1::JOB_SUCCEEDED) << c.error();
  ASSERT_TRUE(c.adaptive());
  ASSERT_EQ(c.units_total(), 1000000u);
  ASSERT_EQ(c.units_done(), c.units_total());
  ASSERT_NE(c.shards_total(), c.units_total());
  // Job B, to be cancelled from its page: one shard that runs until then.
  // Submitted first, so it gets a slot before job A takes the others.
  const uint64_t b =
      SubmitDetached("while [ ! -e \"$TMPDIR/never\" ]; do sleep 0.1; done", 1);
  ASSERT_NE(b, 0);
  ASSERT_TRUE(cluster_
                  ->WaitForJob(b, [](const v1::JobStatus& s) {
                    return s.shards_running() == 1;
                  })
                  .ok())
      << cluster_->LogTails();
  const uint64_t a = SubmitDetached(JobCommand(), kShards, {"--reduce", "sum"});
  ASSERT_NE(a, 0);
  absl::Cleanup open_gate = [this] {
    (void)WriteFileAtomically(cluster_->dir() + "/tmp/gate", "");
  };
  // Some progress, and the failed first attempts, before the browser looks.
  ASSERT_TRUE(cluster_
                  ->WaitForJob(a, [](const v1::JobStatus& s) {
                    return s.shards_succeeded() >= 10 && s.retries() >= 2;
                  })
                  .ok())
      << cluster_->LogTails();

  const auto jobs_before = FromCliJson<v1::ListJobsResponse>(
      cluster_->Cli("jobs", {"--json"}));
  const auto workers = FromCliJson<v1::ListWorkersResponse>(
      cluster_->Cli("workers", {"--json"}));
  const v1::JobStatus a_before = CliStatus(a);
  const std::map<std::string, std::string> log_before = CliAttempts(a);
  const Value report = RunBrowser(a, b, c.job_id());
  const v1::JobStatus a_after = CliStatus(a);
  const std::map<std::string, std::string> log_after = CliAttempts(a);
  const v1::JobStatus b_after = CliStatus(b);
  ASSERT_EQ(Get(report, "error").kind_case(), Value::KIND_NOT_SET)
      << "the browser stopped early (details above): "
      << FirstLine(Str(Get(report, "error")));

  // ---- login: a 303 to /login, the wrong token refused, the right one
  // sets an HttpOnly, SameSite=Strict session cookie that is not the token.
  const Value& login = Get(report, "login");
  EXPECT_EQ(Str(Get(login, "landedOn")), "/login");
  EXPECT_EQ(Num(Get(login, "redirectStatus")), 303);
  EXPECT_EQ(Num(Get(login, "wrongStatus")), 401);
  EXPECT_NE(Str(Get(login, "wrongError")), "");
  EXPECT_EQ(Num(Get(login, "rightStatus")), 303);
  EXPECT_EQ(Str(Get(login, "afterPath")), "/");
  EXPECT_EQ(Str(Get(login, "documentCookie")).find("shardex_session"),
            std::string::npos);
  const Value& cookie = Get(login, "cookie");
  ASSERT_TRUE(cookie.has_struct_value()) << "no shardex_session cookie";
  EXPECT_TRUE(Get(cookie, "httpOnly").bool_value());
  EXPECT_EQ(Str(Get(cookie, "sameSite")), "Strict");
  EXPECT_EQ(Str(Get(cookie, "path")), "/");
  EXPECT_FALSE(Get(cookie, "holdsToken").bool_value());
  EXPECT_FALSE(Get(report, "tokenInUrl").bool_value());
  EXPECT_EQ(List(Get(report, "pageErrors")).size(), 0);
  for (const Value& error : List(Get(report, "consoleErrors"))) {
    ADD_FAILURE() << "console error on the page: " << Str(error);
  }

  // ---- overview: the same jobs in the same states as `shardex jobs`; job
  // A's progress lies between the counts read before and after.
  const Value& overview = Get(report, "overview");
  std::set<std::string> cli_jobs, page_jobs;
  for (const v1::JobStatus& j : jobs_before.jobs()) {
    cli_jobs.insert(absl::StrCat(j.job_id()));
  }
  for (const Value& row : List(Get(overview, "jobs"))) {
    const std::string id = Str(Get(row, "id"));
    page_jobs.insert(id);
    EXPECT_EQ(Str(Get(row, "href")), "#/job/" + id);
    if (id == absl::StrCat(b)) {
      EXPECT_EQ(Str(Get(row, "state")), "RUNNING");  // not cancelled yet
      continue;
    }
    if (id == absl::StrCat(c.job_id())) {
      EXPECT_EQ(Str(Get(row, "state")), "SUCCEEDED");
      EXPECT_EQ(Num(Get(row, "max")), c.units_total());
      EXPECT_EQ(Num(Get(row, "value")), c.units_done());
      EXPECT_EQ(Str(Get(row, "done")),
                absl::StrCat(c.shards_succeeded(), " · 100%"));
      continue;
    }
    ASSERT_EQ(id, absl::StrCat(a));
    const std::string state = Str(Get(row, "state"));
    EXPECT_TRUE(state == ShownState(a_before.state()) ||
                state == ShownState(a_after.state()))
        << state;
    const double value = Num(Get(row, "value"));
    EXPECT_GE(value, static_cast<double>(Done(a_before)));
    EXPECT_LE(value, static_cast<double>(Done(a_after)));
    EXPECT_EQ(Num(Get(row, "max")), kShards);
    EXPECT_EQ(Str(Get(row, "done")), absl::StrCat(value, "/", kShards));
  }
  EXPECT_EQ(page_jobs, cli_jobs);

  // Workers: ids and hosts as `shardex workers` lists them, "busy/slots".
  std::set<std::string> cli_workers, page_workers;
  for (const v1::WorkerInfo& w : workers.workers()) {
    cli_workers.insert(absl::StrCat(w.worker_id(), " ", w.host()));
  }
  for (const Value& row : List(Get(overview, "workers"))) {
    page_workers.insert(
        absl::StrCat(Str(Get(row, "id")), " ", Str(Get(row, "host"))));
    std::vector<std::string> slots =
        absl::StrSplit(Str(Get(row, "slots")), '/');
    int busy = -1, total = -1;
    EXPECT_TRUE(slots.size() == 2 && absl::SimpleAtoi(slots[0], &busy) &&
                absl::SimpleAtoi(slots[1], &total))
        << Str(Get(row, "slots"));
    EXPECT_EQ(total, 3);
    EXPECT_GE(busy, 0);
    EXPECT_LE(busy, total);
    for (const char* meter : {"cpu", "mem"}) {
      EXPECT_GE(Num(Get(row, meter)), 0) << meter;
      EXPECT_LE(Num(Get(row, meter)), 1) << meter;
    }
    const std::string state = Str(Get(row, "state"));
    EXPECT_TRUE(state == "idle" || state == "busy") << state;
  }
  EXPECT_EQ(page_workers, cli_workers);

  // ---- job A's page.
  const Value& job = Get(report, "job");
  EXPECT_EQ(Str(Get(job, "id")), absl::StrCat(a));
  EXPECT_EQ(Str(Get(job, "state")), ShownState(a_before.state()));
  EXPECT_GE(Num(Get(job, "value")), static_cast<double>(Done(a_before)));
  EXPECT_LE(Num(Get(job, "value")), static_cast<double>(Done(a_after)));
  EXPECT_EQ(Num(Get(job, "max")), kShards);
  EXPECT_NE(Str(Get(job, "spec")).find("gate"), std::string::npos)
      << Str(Get(job, "spec"));
  EXPECT_EQ(Str(Get(job, "result")), "");  // still running
  EXPECT_TRUE(Get(job, "cancelButton").bool_value());
  // Whatever the task stream shows is consistent with the cluster...
  for (const Value& lane : List(Get(job, "lanes"))) {
    bool known = false;
    for (const v1::WorkerInfo& w : workers.workers()) {
      known |= Str(Get(lane, "worker")) == absl::StrCat(w.worker_id());
    }
    EXPECT_TRUE(known) << "lane of unknown worker " << Str(Get(lane, "worker"));
  }
  const std::set<std::string> outcomes = {
      "running", "succeeded", "failed",   "cancelled",
      "handed_back", "lost",  "discarded"};
  int failed_bars = 0, running_bars = 0;
  for (const Value& bar : List(Get(job, "attempts"))) {
    const std::string outcome = Str(Get(bar, "outcome"));
    EXPECT_EQ(outcomes.count(outcome), 1) << outcome;
    failed_bars += outcome == "failed";
    running_bars += outcome == "running";
  }
  int failed_rows = 0;
  for (const Value& row : List(Get(job, "failed"))) {
    EXPECT_NE(Str(Get(row, "stderr")).find(kFailedStderr), std::string::npos)
        << Str(Get(row, "text"));
    ++failed_rows;
  }
  // ... with a lane per worker slot (2 workers x 3) ...
  EXPECT_GE(List(Get(job, "lanes")).size(), 6);
  // ... and, from the shard log, the two failed first attempts (bars and
  // rows) and the running shards.
  // The bars lie between the shard log read before and after: every
  // attempt of before is drawn, every bar is in after, and an attempt
  // that had ended keeps its outcome.
  std::map<std::string, std::string> bars;
  for (const Value& bar : List(Get(job, "attempts"))) {
    bars[absl::StrCat(Str(Get(bar, "shard")), "/",
                      Str(Get(bar, "attempt")))] = Str(Get(bar, "outcome"));
  }
  for (const auto& [key, outcome] : log_before) {
    ASSERT_EQ(bars.count(key), 1) << "no bar for attempt " << key;
    if (outcome != "running") {
      EXPECT_EQ(bars[key], outcome) << key;
    }
  }
  for (const auto& [key, outcome] : bars) {
    ASSERT_EQ(log_after.count(key), 1) << "bar of no attempt " << key;
    if (outcome != "running") {
      EXPECT_EQ(log_after.at(key), outcome) << key;
    }
  }
  EXPECT_EQ(failed_bars, 2);
  EXPECT_EQ(failed_rows, 2);
  EXPECT_GE(running_bars, 1);

  // ---- job C's page: the range done, and how it was cut.
  const Value& adaptive = Get(report, "adaptive");
  EXPECT_EQ(Str(Get(adaptive, "id")), absl::StrCat(c.job_id()));
  EXPECT_EQ(Str(Get(adaptive, "state")), "SUCCEEDED");
  EXPECT_EQ(Num(Get(adaptive, "max")), c.units_total());
  EXPECT_EQ(Num(Get(adaptive, "value")), c.units_done());
  EXPECT_EQ(Str(Get(adaptive, "progressText")),
            absl::StrCat("100% of the range · ", c.shards_succeeded(),
                         " shards (adaptive, ", c.splits(),
                         c.splits() == 1 ? " split)" : " splits)"));
  EXPECT_NE(Str(Get(adaptive, "result")).find(c.result().value()),
            std::string::npos)
      << Str(Get(adaptive, "result"));

  // ---- job B cancelled from its page, with the confirm and the header.
  const Value& cancel = Get(report, "cancel");
  EXPECT_EQ(Str(Get(cancel, "before")), "RUNNING");
  EXPECT_EQ(Str(Get(Get(cancel, "dialog"), "type")), "confirm");
  EXPECT_EQ(Str(Get(cancel, "after")), "CANCELLED");
  EXPECT_FALSE(Get(cancel, "buttonAfter").bool_value());
  EXPECT_EQ(Str(Get(Get(report, "cancelRequest"), "action")), "cancel");
  EXPECT_EQ(b_after.state(), v1::JOB_CANCELLED);

  // ---- job A, released, still ends right: 0 + 1 + ... + 39.
  std::move(open_gate).Invoke();
  absl::StatusOr<v1::JobStatus> end = cluster_->WaitForJob(
      a, [](const v1::JobStatus& s) { return s.end_time_unix_ms() != 0; });
  ASSERT_TRUE(end.ok()) << end.status() << cluster_->LogTails();
  EXPECT_EQ(end->state(), v1::JOB_SUCCEEDED) << end->error();
  EXPECT_EQ(end->result().value(), "780");
  EXPECT_TRUE(cluster_->WaitForNoShardProcesses().ok());
}

}  // namespace
}  // namespace shardex
