// Staging (issue 11, docs/staging.md), the data paths: a job over files only
// the submitting host (d) has, run by workers on hosts b and c that can reach
// them only through the coordinator's store. wordcount and grep of a staged
// file, --lines with a reduce, an --inputs glob over a directory, --upload of
// scripts and their data (and a symlink out of an upload refused), --output
// written back on the submitting host. The hosts, the fixture and the
// helpers: tests/staging_fixture.h.
//
// Every test ends with an exact answer: word counts and grep lines against
// coreutils run on the submitting host, sums computed here, files compared
// byte for byte; and the store's own account (Store.StatBlobs) where the
// contract says something is uploaded once.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_util.h"
#include "gtest/gtest.h"
#include "proto/shardex.pb.h"
#include "tests/netns_hosts.h"
#include "tests/staging_fixture.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace staging {
namespace {

// ------------------------------------------------------------ kernels

TEST_F(StagingTest, WordcountAndGrepOfAFileOnlyTheSubmittingHostHas) {
  const std::string path = Local("words.txt");
  WriteLocalText(kD, "words.txt", 3 * kMiB, 11);
  const uint64_t size = FileSize(Backing(kD, "words.txt"));
  const std::string sha = Sha256Of(Backing(kD, "words.txt"));
  const std::string expected = ExpectedWordcount(kD, path);
  ASSERT_FALSE(expected.empty());

  CliRun wc = Cli(kD, "submit", {"--shards=7", "wordcount", path});
  ASSERT_EQ(wc.exit_code, 0) << wc.err;
  EXPECT_TRUE(wc.out == expected)
      << "wordcount differs from coreutils on host d: " << wc.out.size()
      << " vs " << expected.size() << " bytes; first of each:\n"
      << wc.out.substr(0, 200) << "\n---\n" << expected.substr(0, 200);
  StagedLine staged = ParseStagedLine(wc.err);
  ASSERT_TRUE(staged.found) << "no 'shardex: staged ...' line: " << wc.err;
  EXPECT_EQ(staged.files, 1u) << wc.err;
  EXPECT_EQ(staged.bytes, size) << wc.err;
  EXPECT_EQ(staged.uploaded, 1u) << wc.err;
  EXPECT_EQ(staged.stored, 0u) << wc.err;

  // grep, lines and counts, against grep on host d.
  const std::string pattern = "needle7|w4(2|3)1[0-9]";
  CliRun lines = Cli(kD, "submit", {"--shards=5", "grep", pattern, path});
  ASSERT_EQ(lines.exit_code, 0) << lines.err;
  const std::string grep_lines =
      HostShell(kD, "LC_ALL=C grep -E '" + pattern + "' " + path);
  ASSERT_FALSE(grep_lines.empty());
  EXPECT_TRUE(lines.out == grep_lines)
      << lines.out.size() << " vs " << grep_lines.size() << " bytes";

  CliRun count =
      Cli(kD, "submit", {"--shards=3", "grep", "--count", "needle7", path});
  ASSERT_EQ(count.exit_code, 0) << count.err;
  const std::string grep_count =
      Trim(HostShell(kD, "LC_ALL=C grep -c needle7 " + path));
  EXPECT_NE(grep_count, "0");
  EXPECT_EQ(Trim(count.out), grep_count);

  // The coordinator holds the file once, complete.
  auto stat = StatBlob(sha);
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_TRUE(stat->stored());
  EXPECT_EQ(stat->size(), size);
  EXPECT_EQ(stat->uploads(), 1u);
  EXPECT_GE(stat->served_bytes(), size) << "every byte was read by a worker";
}

TEST_F(StagingTest, LinesWithReduceSumOverAFileOnlyTheSubmittingHostHas) {
  const std::string name = "numbers.txt";
  std::string text;
  uint64_t sum = 0;
  for (uint64_t i = 1; text.size() < 2 * kMiB; ++i) {
    const uint64_t v = i * 7919 % 1000003;
    absl::StrAppend(&text, v, "\n");
    sum += v;
  }
  ASSERT_TRUE(WriteFileAtomically(Backing(kD, name), text).ok());
  CliRun hidden = hosts_->Run(kB, {"/bin/sh", "-c", "test -e " + Local(name)});
  ASSERT_NE(hidden.exit_code, 0) << "host b sees host d's file";

  CliRun run = Cli(kD, "submit",
                   {"--lines", Local(name), "--shards", "9", "--reduce", "sum",
                    "--", "awk", "{ s += $1 } END { printf \"%.0f\\n\", s }"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), absl::StrCat(sum));
  EXPECT_TRUE(ParseStagedLine(run.err).found) << run.err;

  // cat of every part, in order, is the file itself.
  CliRun cat = Cli(kD, "submit",
                   {"--lines", Local(name), "--shards", "9", "--", "cat"});
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_TRUE(cat.out == text) << "cat of the parts differs from the file ("
                               << cat.out.size() << " vs " << text.size()
                               << " bytes)";
  StagedLine again = ParseStagedLine(cat.err);
  EXPECT_TRUE(again.found && again.uploaded == 0 && again.stored == 1)
      << cat.err;
}

TEST_F(StagingTest, InputsGlobOverADirectoryOfTheSubmittingHost) {
  mkdir(Backing(kD, "in").c_str(), 0755);
  std::string all;
  uint64_t lines = 0;
  for (int i = 0; i < 6; ++i) {
    std::string text;
    for (int j = 0; j < 100 * (i + 1) + i; ++j) {
      absl::StrAppend(&text, "file ", i, " line ", j, "\n");
    }
    lines += 100 * (i + 1) + i;
    all += text;
    ASSERT_TRUE(
        WriteFileAtomically(Backing(kD, absl::StrCat("in/part-", i, ".txt")), text)
            .ok());
  }
  // Not an input: the glob must not match it.
  ASSERT_TRUE(WriteFileAtomically(Backing(kD, "in/skip.log"), "x\n").ok());
  const std::string glob = Local("in") + "/*.txt";

  CliRun count = Cli(kD, "submit",
                     {"--inputs", glob, "--reduce", "sum", "--", "sh", "-c",
                      "wc -l < {input}"});
  ASSERT_EQ(count.exit_code, 0) << count.err;
  EXPECT_EQ(Trim(count.out), absl::StrCat(lines));
  StagedLine staged = ParseStagedLine(count.err);
  ASSERT_TRUE(staged.found) << count.err;
  EXPECT_EQ(staged.files, 6u) << count.err;
  EXPECT_EQ(staged.uploaded, 6u) << count.err;

  // One shard per file, in the glob's (sorted) order: the concatenation.
  CliRun cat = Cli(kD, "submit", {"--inputs", glob, "--", "cat", "{input}"});
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_TRUE(cat.out == all) << cat.out.size() << " vs " << all.size()
                              << " bytes:\n" << cat.out.substr(0, 300);
  StagedLine again = ParseStagedLine(cat.err);
  EXPECT_TRUE(again.found && again.uploaded == 0 && again.stored == 6)
      << cat.err;
}

// ------------------------------------------------------------ --upload

TEST_F(StagingTest, UploadedScriptsRunInEachShardsWorkingDirectory) {
  // A directory: a script that reads a data file beside it.
  mkdir(Backing(kD, "tools").c_str(), 0755);
  mkdir(Backing(kD, "tools/data").c_str(), 0755);
  ASSERT_TRUE(WriteFileAtomically(
                  Backing(kD, "tools/prog.sh"),
                  "#!/bin/sh\n"
                  "k=$(cat \"$(dirname \"$0\")/data/factor.txt\")\n"
                  "echo \"shard $1 times $k is $(( $1 * k ))\"\n")
                  .ok());
  chmod(Backing(kD, "tools/prog.sh").c_str(), 0755);
  ASSERT_TRUE(
      WriteFileAtomically(Backing(kD, "tools/data/factor.txt"), "7\n").ok());
  CliRun dir = Cli(kD, "submit",
                   {"--upload", Local("tools"), "--shards", "4", "--",
                    "./tools/prog.sh", "{shard}"});
  ASSERT_EQ(dir.exit_code, 0) << dir.err;
  EXPECT_EQ(dir.out,
            "shard 0 times 7 is 0\nshard 1 times 7 is 7\n"
            "shard 2 times 7 is 14\nshard 3 times 7 is 21\n");
  StagedLine staged = ParseStagedLine(dir.err);
  ASSERT_TRUE(staged.found) << dir.err;
  EXPECT_EQ(staged.files, 2u) << dir.err;

  // A single file, run by its name in the working directory (exec bit kept:
  // it is exec'd directly, no shell).
  ASSERT_TRUE(WriteFileAtomically(Backing(kD, "prog.sh"),
                                  "#!/bin/sh\necho \"single $1\"\n"
                                  "[ -x ./prog.sh ] && echo exec-bit-kept\n")
                  .ok());
  chmod(Backing(kD, "prog.sh").c_str(), 0755);
  CliRun file = Cli(kD, "submit",
                    {"--upload", Local("prog.sh"), "--shards", "3", "--",
                     "./prog.sh", "{shard}"});
  ASSERT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(file.out,
            "single 0\nexec-bit-kept\nsingle 1\nexec-bit-kept\n"
            "single 2\nexec-bit-kept\n");
}

TEST_F(StagingTest, SymlinkOutOfAnUploadDirectoryIsRefused) {
  mkdir(Backing(kD, "up").c_str(), 0755);
  ASSERT_TRUE(
      WriteFileAtomically(Backing(kD, "up/run.sh"), "#!/bin/sh\necho ok\n").ok());
  chmod(Backing(kD, "up/run.sh").c_str(), 0755);
  const std::vector<std::string> args = {"--upload", Local("up"), "--shards",
                                         "1", "--", "./up/run.sh"};

  ASSERT_EQ(symlink("/etc/passwd", Backing(kD, "up/escape-abs").c_str()), 0);
  CliRun abs = Cli(kD, "submit", args);
  EXPECT_NE(abs.exit_code, 0) << abs.out << abs.err;
  EXPECT_NE(abs.exit_code, -1) << "timed out: " << abs.err;
  EXPECT_NE(abs.err.find("escape-abs"), std::string::npos)
      << "the error does not name the link: " << abs.err;
  EXPECT_EQ(abs.out.find("root:"), std::string::npos) << abs.out;
  unlink(Backing(kD, "up/escape-abs").c_str());

  ASSERT_TRUE(WriteFileAtomically(Backing(kD, "outside.txt"), "secret\n").ok());
  ASSERT_EQ(symlink("../outside.txt", Backing(kD, "up/escape-rel").c_str()), 0);
  CliRun rel = Cli(kD, "submit", args);
  EXPECT_NE(rel.exit_code, 0) << rel.out << rel.err;
  EXPECT_NE(rel.exit_code, -1) << "timed out: " << rel.err;
  EXPECT_NE(rel.err.find("escape-rel"), std::string::npos)
      << "the error does not name the link: " << rel.err;
  unlink(Backing(kD, "up/escape-rel").c_str());

  ASSERT_NO_FATAL_FAILURE(ExpectJobCount(0, "a refused upload submits nothing"));

  // Without the links the same submit runs: the refusals were the links'.
  CliRun ok = Cli(kD, "submit", args);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "ok\n");
}

// ------------------------------------------------------------ outputs

TEST_F(StagingTest, OutputDirectoryIsWrittenOnTheSubmittingHost) {
  const std::string out = Local("out");
  CliRun run = Cli(kD, "submit",
                   {"--json", "--shards", "4", "--output", out, "--", "echo",
                    "part", "{shard}"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto job = FromJson<v1::JobStatus>(run.out);
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_NE(job->job_id(), 0u);
  const std::string result = "part 0\npart 1\npart 2\npart 3\n";
  EXPECT_EQ(job->result().value(), result);

  const std::vector<std::string> names = {"_SUCCESS", "part-00000",
                                          "part-00001", "part-00002",
                                          "part-00003", "result"};
  auto expect_outputs = [&](const std::string& dir) {
    EXPECT_EQ(ListDir(dir), names) << dir;
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(ReadFile(absl::StrFormat("%s/part-%05d", dir, i)).value_or("?"),
                absl::StrCat("part ", i, "\n"))
          << dir;
    }
    EXPECT_EQ(ReadFile(dir + "/result").value_or("?"), result) << dir;
    EXPECT_EQ(ReadFile(dir + "/_SUCCESS").value_or("?"), "") << dir;
  };
  expect_outputs(Backing(kD, "out"));
  // Not on the coordinator's host, nor on the workers'.
  for (int h : {kA, kB, kC}) {
    EXPECT_FALSE(Exists(Backing(h, "out")))
        << "an output directory on host " << hosts_->name(h);
  }

  // `shardex fetch` gets the same files again, on the submitting host.
  CliRun fetch =
      Cli(kD, "fetch", {absl::StrCat(job->job_id()), Local("again")});
  ASSERT_EQ(fetch.exit_code, 0) << fetch.err;
  expect_outputs(Backing(kD, "again"));

  // A kernel's output file (mandelbrot's --out) lands there too.
  CliRun png = Cli(kD, "submit",
                   {"mandelbrot", "--width", "64", "--height", "48", "--out",
                    Local("m.png")});
  ASSERT_EQ(png.exit_code, 0) << png.err;
  auto bytes = ReadFile(Backing(kD, "m.png"));
  ASSERT_TRUE(bytes.ok()) << "no m.png on host d: " << bytes.status();
  ASSERT_GE(bytes->size(), 24u);
  EXPECT_EQ(bytes->substr(1, 3), "PNG");
  const auto* h = reinterpret_cast<const unsigned char*>(bytes->data());
  EXPECT_EQ(h[16] << 24 | h[17] << 16 | h[18] << 8 | h[19], 64);
  EXPECT_EQ(h[20] << 24 | h[21] << 16 | h[22] << 8 | h[23], 48);
  EXPECT_FALSE(Exists(Backing(kA, "m.png")));
}

}  // namespace
}  // namespace staging
}  // namespace shardex
