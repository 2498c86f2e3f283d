// Command jobs end to end: a real coordinator started with --allow-commands,
// real workers, real child processes, driven through `shardex submit --`.
#include <dirent.h>
#include <signal.h>

#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "gtest/gtest.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace {

std::string Trim(const std::string& s) {
  return std::string(absl::StripAsciiWhitespace(s));
}

std::string TempPath(const std::string& name) {
  const char* d = getenv("TEST_TMPDIR");
  return absl::StrCat(d ? d : "/tmp", "/", name);
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

class CommandTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto c = TestCluster::Start({"--allow-commands"});
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = c->release();
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(cluster_->AddWorker(1).ok());
    ASSERT_TRUE(cluster_->WaitForWorkers(2).ok());
  }
  static void TearDownTestSuite() { delete cluster_; }

  CliRun Submit(std::vector<std::string> args) {
    return cluster_->Cli("submit", std::move(args));
  }

  static TestCluster* cluster_;
};
TestCluster* CommandTest::cluster_ = nullptr;

TEST_F(CommandTest, RangeSplitsIntoBeginEndAndSumsExactly) {
  CliRun run = Submit({"--range", "1:101", "--shards", "7", "--reduce", "sum",
                       "--", "awk",
                       "BEGIN { s = 0; for (i = {begin}; i < {end}; i++) s += i;"
                       " print s }"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "5050");
}

TEST_F(CommandTest, ConcatKeepsShardOrderAndArgvIntact) {
  CliRun run = Submit({"--shards", "5", "--", "/usr/bin/printf",
                       "%s|%s|%s\\n", "{shard}/{shards}", "a b 'c' \"d\"",
                       "$HOME"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  std::string expected;
  for (int i = 0; i < 5; ++i) {
    absl::StrAppend(&expected, i, "/5|a b 'c' \"d\"|$HOME\n");
  }
  EXPECT_EQ(run.out, expected);
}

TEST_F(CommandTest, InputsGiveOneShardPerFile) {
  std::vector<std::string> args = {"--reduce", "sum", "--inputs"};
  for (int i = 0; i < 3; ++i) {
    const std::string path = TempPath(absl::StrCat("input-", i, ".txt"));
    WriteText(path, std::string(i + 1, '\n'));  // 1, 2 and 3 lines
    args.push_back(path);
  }
  args.insert(args.end(), {"--", "awk", "END { print NR }", "{input}"});
  CliRun run = Submit(args);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "6");
}

TEST_F(CommandTest, LinesAreSplitOnLineBoundariesAndFedOnStdin) {
  const std::string path = TempPath("numbers.txt");
  std::string text;
  uint64_t sum = 0;
  for (int i = 1; i <= 5000; ++i) {
    absl::StrAppend(&text, i * 7, "\n");
    sum += i * 7;
  }
  WriteText(path, text);
  CliRun run = Submit({"--lines", path, "--shards", "13", "--reduce", "sum",
                       "--", "awk", "{ s += $1 } END { print s + 0 }"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), std::to_string(sum));
  // cat of every part, in order, is the file itself: no line lost or doubled.
  CliRun cat = Submit({"--lines", path, "--shards", "13", "--", "cat"});
  EXPECT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_TRUE(cat.out == text) << "cat of the parts differs from the file ("
                               << cat.out.size() << " vs " << text.size()
                               << " bytes)";
}

TEST_F(CommandTest, SortAndReduceCommand) {
  CliRun sorted = Submit({"--shards", "3", "--reduce", "sort", "--shell", "--",
                          "echo z{shard}; echo a{shard}"});
  EXPECT_EQ(sorted.exit_code, 0) << sorted.err;
  EXPECT_EQ(sorted.out, "a0\na1\na2\nz0\nz1\nz2\n");
  CliRun reduced = Submit(
      {"--shards", "4", "--reduce-command", "wc -l", "--", "echo", "x"});
  EXPECT_EQ(reduced.exit_code, 0) << reduced.err;
  EXPECT_EQ(Trim(reduced.out), "4");
}

TEST_F(CommandTest, OutputDirectoryHasOnePartPerShardEvenAfterARetry) {
  const std::string dir = TempPath("out-retry");
  // Shard 1 fails its first attempt, then succeeds.
  CliRun run = Submit(
      {"--shards", "3", "--output", dir, "--shell", "--",
       "if [ \"$SHARDEX_ATTEMPT\" = 1 ] && [ {shard} = 1 ]; then exit 3; fi; "
       "echo part {shard}"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("1 retries"), std::string::npos) << run.err;
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"_SUCCESS", "part-00000",
                                             "part-00001", "part-00002",
                                             "result"}));
  EXPECT_EQ(*ReadFile(dir + "/part-00001"), "part 1\n");
  EXPECT_EQ(*ReadFile(dir + "/result"), "part 0\npart 1\npart 2\n");
  // The same directory again is refused: jobs never mix their files.
  CliRun again = Submit({"--output", dir, "--", "true"});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("not empty"), std::string::npos) << again.err;
}

TEST_F(CommandTest, FailuresNameTheirCause) {
  CliRun exit5 = Submit({"--shell", "--", "echo oh no >&2; exit 5"});
  EXPECT_EQ(exit5.exit_code, 1);
  EXPECT_NE(exit5.err.find("exit code 5"), std::string::npos) << exit5.err;
  EXPECT_NE(exit5.err.find("oh no"), std::string::npos) << exit5.err;
  EXPECT_NE(exit5.err.find("failed 3 attempts"), std::string::npos);

  CliRun missing = Submit({"--", "no-such-program-shardex"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("not found"), std::string::npos) << missing.err;

  CliRun slow = Submit({"--shard-timeout", "300ms", "--", "sleep", "30"});
  EXPECT_EQ(slow.exit_code, 1);
  EXPECT_NE(slow.err.find("timed out"), std::string::npos) << slow.err;

  CliRun big = Submit({"--max-output", "1000", "--shell", "--",
                       "head -c 100000 /dev/zero"});
  EXPECT_EQ(big.exit_code, 1);
  EXPECT_NE(big.err.find("output cap"), std::string::npos) << big.err;
}

// Rows of RFC 4180 CSV (quoted fields may hold commas, quotes, newlines).
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
    } else {
      field += c;
    }
  }
  return rows;
}

// `status JOB --shards` in its three forms, for a command shard that fails
// its first attempt.
TEST_F(CommandTest, ShardLogShowsTheFailedAttemptAndItsRetry) {
  CliRun run = Submit(
      {"--shards", "2", "--shell", "--",
       "if [ \"$SHARDEX_ATTEMPT\" = 1 ] && [ {shard} = 1 ]; then "
       "echo first try broke >&2; exit 7; fi; echo ok {shard}"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // "job N succeeded: ..."
  const size_t at = run.err.find("job ");
  ASSERT_NE(at, std::string::npos) << run.err;
  const std::string job =
      run.err.substr(at + 4, run.err.find(' ', at + 4) - (at + 4));
  uint64_t job_id = 0;
  ASSERT_TRUE(absl::SimpleAtoi(job, &job_id)) << run.err;

  CliRun table = cluster_->Cli("status", {job, "--shards"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("SHARD   ATTEMPT  WORKER"), std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("FAILED      7"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("first try broke"), std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("shard 1 attempt 1"), std::string::npos)
      << table.out;

  CliRun csv = cluster_->Cli("status", {job, "--shards", "--csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  std::vector<std::vector<std::string>> rows = ParseCsv(csv.out);
  ASSERT_EQ(rows.size(), 4u) << csv.out;  // header + 3 attempts
  EXPECT_EQ(absl::StrJoin(rows[0], ","),
            "shard,attempt,worker_id,host,start_unix_ms,end_unix_ms,"
            "runtime_us,outcome,exit_code,bytes_out,speculative,error");
  int failed = 0;
  int retried = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), 12u) << csv.out;
    if (rows[i][0] == "1" && rows[i][1] == "1") {
      ++failed;
      EXPECT_EQ(rows[i][7], "failed");
      EXPECT_EQ(rows[i][8], "7");
      EXPECT_NE(rows[i][11].find("first try broke"), std::string::npos);
    } else {
      EXPECT_EQ(rows[i][7], "succeeded") << csv.out;
      EXPECT_EQ(rows[i][8], "0");
      EXPECT_EQ(rows[i][9], "5");  // "ok N\n"
      if (rows[i][0] == "1") {
        ++retried;
        EXPECT_EQ(rows[i][1], "2");
      }
    }
  }
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(retried, 1);

  CliRun json = cluster_->Cli("status", {job, "--shards", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  absl::StrCat("{\"a\": ", json.out, "}"), &parsed)
                  .ok())
      << json.out;
  const google::protobuf::ListValue& list =
      parsed.fields().at("a").list_value();
  ASSERT_EQ(list.values_size(), 3);
  int json_failed = 0;
  for (const google::protobuf::Value& v : list.values()) {
    const auto& f = v.struct_value().fields();
    EXPECT_EQ(f.at("worker_id").kind_case(), google::protobuf::Value::kNumberValue);
    if (f.at("outcome").string_value() == "failed") {
      ++json_failed;
      EXPECT_EQ(f.at("shard").number_value(), 1);
      EXPECT_EQ(f.at("attempt").number_value(), 1);
      EXPECT_EQ(f.at("exit_code").number_value(), 7);
      EXPECT_NE(f.at("error").string_value().find("first try broke"),
                std::string::npos);
    }
  }
  EXPECT_EQ(json_failed, 1);

  CliRun both = cluster_->Cli("status", {job, "--shards", "--csv", "--json"});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("choose one"), std::string::npos) << both.err;
  CliRun unknown = cluster_->Cli("status", {"9999", "--shards"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("no job 9999"), std::string::npos)
      << unknown.err;
}

// True if any process's command line contains `marker`.
bool ProcessWithArgExists(const std::string& marker) {
  DIR* proc = opendir("/proc");
  bool found = false;
  while (struct dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    auto cmdline = ReadFile(absl::StrCat("/proc/", e->d_name, "/cmdline"));
    if (cmdline.ok() && cmdline->find(marker) != std::string::npos &&
        cmdline->find("/bin/sh") == std::string::npos) {
      found = true;
    }
  }
  closedir(proc);
  return found;
}

TEST_F(CommandTest, CancelKillsWholeProcessGroups) {
  const std::string marker = "1000.4242";  // a sleep nobody else runs
  CliRun run = Submit({"--detach", "--shards", "2", "--shell", "--",
                       absl::StrCat("sleep ", marker, " & sleep ", marker,
                                    " & wait")});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string job = Trim(run.out);
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!ProcessWithArgExists(marker) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(ProcessWithArgExists(marker)) << "grandchildren never started";
  CliRun cancel = cluster_->Cli("cancel", {job});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  deadline = absl::Now() + absl::Seconds(10);
  while (ProcessWithArgExists(marker) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_FALSE(ProcessWithArgExists(marker)) << "a grandchild survived";
}

TEST(CommandRefusalTest, CoordinatorWithoutAllowCommandsRefuses) {
  auto c = TestCluster::Start();
  ASSERT_TRUE(c.ok());
  CliRun run = (*c)->Cli("submit", {"--", "echo", "hi"});
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("--allow-commands"), std::string::npos) << run.err;
  EXPECT_TRUE((*c)->client().ListJobs()->empty());
}

TEST(CommandLocalTest, LocalRunsCommandsOnItsPrivateCluster) {
  CliRun run = RunCli({"local", "--workers", "2", "--shards", "4", "--reduce",
                       "sum", "--", "echo", "{shard}"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "6");
}

}  // namespace
}  // namespace shardex
