#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "kernels/input_split.h"
#include "kernels/kernel.h"
#include "kernels/kernel_testing.h"
#include "kernels/text_testing.h"

namespace shardex {
namespace {

using ::shardex::testing::LocalKernel;

using ::shardex::testing::RunJob;
using ::shardex::testing::RunShell;
using ::shardex::testing::ShellQuote;
using ::shardex::testing::ShellResult;
using ::shardex::testing::WriteTestFile;

std::unique_ptr<LocalKernel> WordCountJob(
    const std::vector<std::string>& paths) {
  absl::StatusOr<std::unique_ptr<LocalKernel>> job =
      LocalKernel::Create("wordcount", {{"files", absl::StrJoin(paths, "\n")}});
  EXPECT_TRUE(job.ok()) << job.status();
  return job.ok() ? *std::move(job) : nullptr;
}

// The coreutils answer, one file at a time (a file's end ends a word), with
// uniq's padding removed: "<count> <word>" lines joined by '\n'.
std::string CoreutilsWordCount(const std::vector<std::string>& paths) {
  std::string files;
  for (const std::string& p : paths)
    absl::StrAppend(&files, " ", ShellQuote(p));
  const std::string command =
      absl::StrCat("export LC_ALL=C; for f in", files,
                   "; do tr -s '[:space:]' '\\n' < \"$f\"; echo; done"
                   " | grep -v '^$' | sort | uniq -c");
  absl::StatusOr<ShellResult> r = RunShell(command);
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << command;
  std::vector<std::string> lines;
  for (absl::string_view line :
       absl::StrSplit(r->output, '\n', absl::SkipEmpty())) {
    lines.emplace_back(absl::StripLeadingAsciiWhitespace(line));
  }
  return absl::StrJoin(lines, "\n");
}

uint64_t SumOfCounts(const std::string& value) {
  uint64_t total = 0;
  for (absl::string_view line :
       absl::StrSplit(value, '\n', absl::SkipEmpty())) {
    total += std::stoull(std::string(line.substr(0, line.find(' '))));
  }
  return total;
}

void ExpectMatchesCoreutils(const std::vector<std::string>& paths,
                            const std::vector<uint64_t>& shard_counts) {
  std::unique_ptr<LocalKernel> job = WordCountJob(paths);
  ASSERT_NE(job, nullptr);
  const std::string expected = CoreutilsWordCount(paths);
  ASSERT_FALSE(expected.empty());
  const uint64_t lines = std::count(expected.begin(), expected.end(), '\n') + 1;
  for (uint64_t shards : shard_counts) {
    absl::StatusOr<KernelResult> r = RunJob(*job, shards);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->value == expected)  // not EXPECT_EQ: megabytes of diff
        << shards << " shards: " << r->value.size() << " bytes, expected "
        << expected.size();
    EXPECT_EQ(r->details.at("distinct"), absl::StrCat(lines));
    EXPECT_EQ(r->details.at("words"), absl::StrCat(SumOfCounts(expected)));
  }
}

TEST(WordCountKernelTest, MatchesCoreutilsOnMessyText) {
  const std::string text = testing::MixedLicenseText(12);
  ASSERT_GT(text.size(), 2u << 20) << "no /usr/share/common-licenses?";
  ExpectMatchesCoreutils({WriteTestFile("licenses", text)}, {1, 3, 17});
}

TEST(WordCountKernelTest, MatchesCoreutilsOverSeveralFiles) {
  const std::string text = testing::MixedLicenseText(2);
  ASSERT_GT(text.size(), 100u << 10);
  ExpectMatchesCoreutils(
      {WriteTestFile("a", text.substr(0, 200000)), WriteTestFile("empty", ""),
       WriteTestFile("b", text.substr(200000) + "tail\twithout newline"),
       WriteTestFile("c", "\n\n  \r\n")},
      {1, 3, 17});
}

TEST(WordCountKernelTest, WordsCutBetweenReadBlocksAreWhole) {
  // Words straddle the 1 MiB read blocks, in one very long line.
  std::string text;
  while (text.size() < 3 * kInputBlockBytes) {
    absl::StrAppend(&text, "w", text.size() % 1000, "xyzzy ");
  }
  ExpectMatchesCoreutils({WriteTestFile("blocks", text)}, {1, 2, 3, 7});
}

TEST(WordCountKernelTest, WordOnAShardBoundary) {
  // 20 bytes: with 4 shards the boundaries 5, 10, 15 fall exactly on the
  // first byte of "bbbb", "cccc" and "aaaa"; 3 shards cut at 6 and 13, in
  // the middle of words; every count from 1 to 20 is tried.
  const std::string path = WriteTestFile("boundary", "aaaa bbbb\ncccc aaaa\n");
  std::unique_ptr<LocalKernel> job = WordCountJob({path});
  ASSERT_NE(job, nullptr);
  ASSERT_EQ(job->domain().hi, 20u);
  for (uint64_t shards = 1; shards <= 20; ++shards) {
    absl::StatusOr<KernelResult> r = RunJob(*job, shards);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->value, "2 aaaa\n1 bbbb\n1 cccc") << shards << " shards";
    EXPECT_EQ(r->details.at("words"), "4");
    EXPECT_EQ(r->details.at("distinct"), "3");
  }
}

TEST(WordCountKernelTest, FileEndEndsAWord) {
  std::unique_ptr<LocalKernel> job = WordCountJob(
      {WriteTestFile("foo", "foo"), WriteTestFile("bar", "bar\n")});
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(RunJob(*job, 1).value().value, "1 bar\n1 foo");
  EXPECT_EQ(RunJob(*job, 4).value().value, "1 bar\n1 foo");
}

TEST(WordCountKernelTest, SortsByBytesAndKeepsEveryOtherByte) {
  // Byte order: uppercase < lowercase < bytes >= 0x80; punctuation is part
  // of words; NUL and DEL are not whitespace.
  std::unique_ptr<LocalKernel> job =
      WordCountJob({WriteTestFile("bytes",
                                  "b a\xe9 B, b a\t\xe9\x0b"
                                  "a\x0c"
                                  "B,\r\nx\x7fy x\xe9\x01")});
  ASSERT_NE(job, nullptr);
  absl::StatusOr<KernelResult> r = RunJob(*job, 3);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, "2 B,\n2 a\n1 a\xe9\n2 b\n1 x\x7fy\n1 x\xe9\x01\n1 \xe9");
}

TEST(WordCountKernelTest, EmptyInputHasAnEmptyAnswer) {
  std::unique_ptr<LocalKernel> job =
      WordCountJob({WriteTestFile("e1", ""), WriteTestFile("e2", "")});
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->domain().lo, 0u);
  EXPECT_EQ(job->domain().hi, 0u);
  absl::StatusOr<KernelResult> r = RunJob(*job, 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, "");
  EXPECT_EQ(r->details.at("words"), "0");
  EXPECT_EQ(r->details.at("distinct"), "0");
  std::unique_ptr<LocalKernel> blank =
      WordCountJob({WriteTestFile("sp", " \n\n\t")});
  ASSERT_NE(blank, nullptr);
  EXPECT_EQ(RunJob(*blank, 2).value().value, "");
}

TEST(WordCountKernelTest, PayloadIsSortedWordTabCountLines) {
  const std::string path = WriteTestFile("payload", "to be or not to be\n");
  std::unique_ptr<LocalKernel> job = WordCountJob({path});
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->RunShard({0, 19}).value(),
            "be\t2\nnot\t1\nor\t1\nto\t2\n");
  EXPECT_EQ(job->RunShard({1, 19}).value(), "");
}

TEST(WordCountKernelTest, ReduceMergesExactlyAndRejectsCorruptPayloads) {
  std::unique_ptr<LocalKernel> job = WordCountJob({WriteTestFile("r", "x")});
  ASSERT_NE(job, nullptr);
  const std::vector<std::string> fine = {"a\t1\nb\t2\n", "", "b\t3\nc\t1\n"};
  absl::StatusOr<KernelResult> r = job->Reduce(fine);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, "1 a\n5 b\n1 c");
  EXPECT_EQ(r->details.at("words"), "7");
  EXPECT_EQ(r->details.at("distinct"), "3");
  for (const char* bad :
       {"b\t1\na\t1\n", "a\t1\na\t1\n", "a\t0\n", "a b\t1\n", "a\t1", "a\tx\n",
        "\t1\n", "a\t01\n", "a1\n", "a\t18446744073709551616\n"}) {
    const std::vector<std::string> payloads = {"a\t1\n", bad};
    EXPECT_EQ(job->Reduce(payloads).status().code(),
              absl::StatusCode::kInvalidArgument)
        << absl::CHexEscape(bad);
  }
  const std::vector<std::string> overflow = {"a\t18446744073709551615\n",
                                             "a\t1\n"};
  EXPECT_EQ(job->Reduce(overflow).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(WordCountKernelTest, CancelledShardReturnsCancelled) {
  const std::string path =
      WriteTestFile("cancel", std::string(3 * kInputBlockBytes, 'x'));
  std::unique_ptr<LocalKernel> job = WordCountJob({path});
  ASSERT_NE(job, nullptr);
  testing::ExpectCancelledBeforeStarting(job->runner(), {0, job->domain().hi});
}

TEST(WordCountKernelTest, RunShardRejectsARangeOutsideTheJob) {
  std::unique_ptr<LocalKernel> job =
      WordCountJob({WriteTestFile("out", "abc")});
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->RunShard({0, 4}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(WordCountKernelTest, RejectsBadArguments) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  absl::StatusOr<std::unique_ptr<LocalKernel>> missing =
      LocalKernel::Create("wordcount", {});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.status().message(),
            "missing required argument --files for kernel wordcount");

  absl::StatusOr<std::unique_ptr<LocalKernel>> absent =
      LocalKernel::Create("wordcount", {{"files", dir + "/absent.txt"}});
  EXPECT_EQ(absent.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(absent.status().message().find("absent.txt"), std::string::npos)
      << absent.status();

  absl::StatusOr<std::unique_ptr<LocalKernel>> directory =
      LocalKernel::Create("wordcount", {{"files", dir}});
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument);

  absl::StatusOr<std::unique_ptr<LocalKernel>> unknown = LocalKernel::Create(
      "wordcount", {{"files", WriteTestFile("u", "x")}, {"lines", "1"}});
  EXPECT_EQ(unknown.status().message(),
            "unknown argument --lines for kernel wordcount");
}

TEST(WordCountKernelTest, DeclaresFilesAsARequiredPathList) {
  const KernelInfo* info = FindKernel("wordcount");
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->params.size(), 1u);
  EXPECT_EQ(info->params[0].name, "files");
  EXPECT_EQ(info->params[0].kind, KernelParam::Kind::kPositionalList);
  EXPECT_TRUE(info->params[0].is_path);
  EXPECT_TRUE(info->params[0].required);
}

}  // namespace
}  // namespace shardex
