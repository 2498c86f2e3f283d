#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
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

struct Options {
  bool count = false;
  bool fixed = false;
  bool ignore_case = false;
};

constexpr Options kCount{/*count=*/true, /*fixed=*/false,
                         /*ignore_case=*/false};
constexpr Options kFixed{/*count=*/false, /*fixed=*/true,
                         /*ignore_case=*/false};
constexpr Options kIgnoreCase{/*count=*/false, /*fixed=*/false,
                              /*ignore_case=*/true};

KernelArgs GrepArgs(const std::string& pattern,
                    const std::vector<std::string>& paths, Options o) {
  return {{"pattern", pattern},
          {"files", absl::StrJoin(paths, "\n")},
          {"count", o.count ? "true" : "false"},
          {"fixed", o.fixed ? "true" : "false"},
          {"ignore-case", o.ignore_case ? "true" : "false"}};
}

std::unique_ptr<LocalKernel> GrepJob(const std::string& pattern,
                                     const std::vector<std::string>& paths,
                                     Options o = {}) {
  absl::StatusOr<std::unique_ptr<LocalKernel>> job =
      LocalKernel::Create("grep", GrepArgs(pattern, paths, o));
  EXPECT_TRUE(job.ok()) << job.status();
  return job.ok() ? *std::move(job) : nullptr;
}

// What `LC_ALL=C grep -E` (or -F) prints, without the final '\n' (the CLI adds
// one to the kernel's value). Exit code 1 (no match) is fine; 2 is not.
std::string RealGrep(const std::string& pattern,
                     const std::vector<std::string>& paths, Options o) {
  std::string command = o.fixed ? "LC_ALL=C grep -F" : "LC_ALL=C grep -E";
  if (o.count) command += " -c";
  if (o.ignore_case) command += " -i";
  absl::StrAppend(&command, " -e ", ShellQuote(pattern));
  for (const std::string& p : paths)
    absl::StrAppend(&command, " ", ShellQuote(p));
  absl::StatusOr<ShellResult> r = RunShell(command);
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->exit_code == 0 || r->exit_code == 1)
      << command << " exited " << r->exit_code;
  std::string out = r->output;
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

uint64_t Lines(const std::string& text) {
  return text.empty() ? 0 : std::count(text.begin(), text.end(), '\n') + 1;
}

void ExpectMatchesGrep(const std::string& pattern,
                       const std::vector<std::string>& paths, Options o,
                       const std::vector<uint64_t>& shard_counts) {
  const std::string expected = RealGrep(pattern, paths, o);
  std::unique_ptr<LocalKernel> job = GrepJob(pattern, paths, o);
  ASSERT_NE(job, nullptr);
  for (uint64_t shards : shard_counts) {
    const std::string where =
        absl::StrCat("pattern '", absl::CHexEscape(pattern),
                     "' count=", o.count, " fixed=", o.fixed,
                     " ignore-case=", o.ignore_case, " in ", shards, " shards");
    absl::StatusOr<KernelResult> r = RunJob(*job, shards);
    ASSERT_TRUE(r.ok()) << where << ": " << r.status();
    EXPECT_TRUE(r->value == expected)  // not EXPECT_EQ: megabytes of diff
        << where << ": " << Lines(r->value) << " lines, grep has "
        << Lines(expected);
    if (!o.count) {
      EXPECT_EQ(r->details.at("matches"), absl::StrCat(Lines(expected)))
          << where;
    }
  }
}

class GrepOnLicensesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string text = testing::MixedLicenseText(8);
    ASSERT_GT(text.size(), 2u << 20) << "no /usr/share/common-licenses?";
    big_ = new std::string(WriteTestFile("licenses", text));
    small_ = new std::string(WriteTestFile("small", text.substr(0, 50000)));
    empty_ = new std::string(WriteTestFile("empty", ""));
  }
  static void TearDownTestSuite() {
    delete big_;
    delete small_;
    delete empty_;
  }
  static std::string* big_;
  static std::string* small_;
  static std::string* empty_;
};

std::string* GrepOnLicensesTest::big_ = nullptr;
std::string* GrepOnLicensesTest::small_ = nullptr;
std::string* GrepOnLicensesTest::empty_ = nullptr;

TEST_F(GrepOnLicensesTest, RegexesMatchGrepE) {
  for (const std::string pattern :
       {"licen[cs]e", "^[A-Z][a-z]+ ", "(GNU|Free) Software", "[0-9]+\\.[0-9]+",
        "s$", "^$", "^[[:space:]]+$", "caf.", "\\bcopy", "[aeiou]{3,}|l{2}",
        "[^[:print:]]", "zzzqqq", ""}) {
    ExpectMatchesGrep(pattern, {*big_}, {}, {1, 3, 17});
  }
}

TEST_F(GrepOnLicensesTest, CountMatchesGrepC) {
  for (const std::string pattern : {"licen[cs]e", "^$", "zzzqqq"}) {
    ExpectMatchesGrep(pattern, {*big_}, kCount, {1, 3, 17});
  }
}

TEST_F(GrepOnLicensesTest, FixedMatchesGrepF) {
  for (const std::string pattern : {"(c)", "a.b", "[GNU]", "Software\r"}) {
    ExpectMatchesGrep(pattern, {*big_}, kFixed, {1, 3, 17});
  }
  ExpectMatchesGrep("gnu", {*big_}, Options{true, true, true}, {1, 3, 17});
}

TEST_F(GrepOnLicensesTest, IgnoreCaseMatchesGrepI) {
  for (const std::string pattern : {"copyright", "^the [a-z]+ ", "gnu|FSF"}) {
    ExpectMatchesGrep(pattern, {*big_}, kIgnoreCase, {1, 3, 17});
  }
}

TEST_F(GrepOnLicensesTest, SeveralFilesArePrefixedLikeGrep) {
  const std::vector<std::string> files = {*small_, *empty_, *big_, *small_};
  ExpectMatchesGrep("Copyright", files, {}, {1, 3, 17});
  ExpectMatchesGrep("Copyright", files, kCount, {1, 3, 17});
  ExpectMatchesGrep("zzzqqq", files, kCount, {1, 3});
}

// Staged files are read from local copies but named as the user named them.
TEST(GrepKernelTest, PrefixesShowTheAsSubmittedNames) {
  const std::string a = WriteTestFile("copy_a", "x1\ny\n");
  const std::string b = WriteTestFile("copy_b", "x2\n");
  KernelArgs args = {{"pattern", "x"},
                     {"files", a + "\n" + b},
                     {"files@as-submitted", "/home/u/a.txt\n/home/u/b.txt"}};
  absl::StatusOr<std::unique_ptr<LocalKernel>> job =
      LocalKernel::Create("grep", args);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(RunJob(**job, 2).value().value,
            "/home/u/a.txt:x1\n/home/u/b.txt:x2");
  args["files@as-submitted"] = "/only/one";
  EXPECT_FALSE(LocalKernel::Create("grep", args).ok());
}

TEST(GrepKernelTest, MatchOnALineCrossingEveryBoundary) {
  // The matching line spans bytes 4..26; every shard count cuts it
  // somewhere (or not at all), and it must come out exactly once.
  const std::string path =
      WriteTestFile("cross", "foo\nneedle in a haystack\nbar\n");
  std::unique_ptr<LocalKernel> job = GrepJob("hay", {path});
  ASSERT_NE(job, nullptr);
  for (uint64_t shards = 1; shards <= job->domain().hi; ++shards) {
    absl::StatusOr<KernelResult> r = RunJob(*job, shards);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->value, "needle in a haystack") << shards << " shards";
    EXPECT_EQ(r->details.at("matches"), "1");
  }
  ExpectMatchesGrep("stack$", {path}, {}, {1, 2, 3, 5, 17});
}

TEST(GrepKernelTest, LinesKeepEveryByteButNewline) {
  const std::string text = std::string("a\0b\xff\r\n", 6) + "\x01zz\n";
  const std::string path = WriteTestFile("bytes", text);
  std::unique_ptr<LocalKernel> job = GrepJob("a.b\\xff", {path});
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(RunJob(*job, 2).value().value, std::string("a\0b\xff\r", 5));
  EXPECT_EQ(job->RunShard({0, 10}).value(),
            std::string("0\ta\0b\xff\r\n", 8));
}

TEST(GrepKernelTest, ALinearTimePatternCannotHangAShard) {
  // Catastrophic for a backtracking matcher; RE2 takes milliseconds.
  const std::string path =
      WriteTestFile("hostile", std::string(200000, 'a') + "\n");
  std::unique_ptr<LocalKernel> job = GrepJob("(a|aa)*(a*)*b", {path});
  ASSERT_NE(job, nullptr);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(RunJob(*job, 1).value().details.at("matches"), "0");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(GrepKernelTest, InvalidPatternsAreRejectedAtCreation) {
  const std::string path = WriteTestFile("p", "x\n");
  for (const std::string pattern : {"a(b", "(a)\\1", "x{2,1}", "[z-a]"}) {
    absl::StatusOr<std::unique_ptr<LocalKernel>> job =
        LocalKernel::Create("grep", GrepArgs(pattern, {path}, {}));
    ASSERT_FALSE(job.ok()) << pattern;
    EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(job.status().message().find(absl::StrCat("'", pattern, "'")),
              std::string::npos)
        << job.status();
    EXPECT_NE(job.status().message().find("not a valid RE2"), std::string::npos)
        << job.status();
  }
  absl::StatusOr<std::unique_ptr<LocalKernel>> missing_paren =
      LocalKernel::Create("grep", GrepArgs("a(b", {path}, {}));
  EXPECT_NE(missing_paren.status().message().find("missing )"),
            std::string::npos)
      << missing_paren.status();
  // With --fixed the same text is a literal.
  EXPECT_TRUE(
      LocalKernel::Create("grep", GrepArgs("a(b", {path}, kFixed)).ok());
  EXPECT_EQ(
      LocalKernel::Create("grep", GrepArgs("a\nb", {path}, {})).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(GrepKernelTest, GrepSyntaxThatRE2WouldMisreadIsRejected) {
  const std::string path = WriteTestFile("syntax", "<word> {,\n");
  for (const std::string pattern : {"\\<word", "word\\>", "a{,2}"}) {
    absl::StatusOr<std::unique_ptr<LocalKernel>> job =
        LocalKernel::Create("grep", GrepArgs(pattern, {path}, {}));
    EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument)
        << pattern;
    EXPECT_NE(job.status().message().find("not RE2 syntax"), std::string::npos)
        << job.status();
    // As a fixed string it is plain text.
    std::unique_ptr<LocalKernel> fixed = GrepJob(pattern, {path}, kFixed);
    ASSERT_NE(fixed, nullptr);
    EXPECT_EQ(RunJob(*fixed, 1).value().details.at("matches"), "0") << pattern;
  }
  // The same characters inside brackets or escaped are fine.
  for (const std::string pattern :
       {"[{,]", "[\\<]w", "[[:alpha:]{,]", "\\{,"}) {
    std::unique_ptr<LocalKernel> job = GrepJob(pattern, {path});
    ASSERT_NE(job, nullptr) << pattern;
    EXPECT_EQ(RunJob(*job, 1).value().details.at("matches"), "1") << pattern;
  }
}

TEST(GrepKernelTest, RejectsBadArguments) {
  const std::string path = WriteTestFile("args", "x\n");
  KernelArgs bad_flag = GrepArgs("x", {path}, {});
  bad_flag["count"] = "yes";
  EXPECT_EQ(LocalKernel::Create("grep", bad_flag).status().message(),
            "--count: 'yes' is not true or false");
  EXPECT_EQ(LocalKernel::Create("grep", {{"files", path}}).status().message(),
            "missing required argument --pattern for kernel grep");
  EXPECT_EQ(LocalKernel::Create("grep", {{"pattern", "x"}}).status().message(),
            "missing required argument --files for kernel grep");
  absl::StatusOr<std::unique_ptr<LocalKernel>> absent = LocalKernel::Create(
      "grep", {{"pattern", "x"},
               {"files", std::string(std::getenv("TEST_TMPDIR")) + "/nope"}});
  EXPECT_EQ(absent.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(absent.status().message().find("nope"), std::string::npos);
  // Defaults: all three flags false.
  absl::StatusOr<std::unique_ptr<LocalKernel>> plain =
      LocalKernel::Create("grep", {{"pattern", "X"}, {"files", path}});
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(RunJob(**plain, 1).value().value, "");
}

TEST(GrepKernelTest, ReduceRejectsCorruptPayloads) {
  const std::string a = WriteTestFile("ra", "x\n");
  const std::string b = WriteTestFile("rb", "y\n");
  std::unique_ptr<LocalKernel> job = GrepJob("x", {a, b});
  ASSERT_NE(job, nullptr);
  const std::vector<std::string> fine = {"0\tx1\n", "", "0\tx2\n1\tx3\n"};
  absl::StatusOr<KernelResult> r = job->Reduce(fine);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, absl::StrCat(a, ":x1\n", a, ":x2\n", b, ":x3"));
  EXPECT_EQ(r->details.at("matches"), "3");
  for (const std::vector<std::string>& bad :
       std::vector<std::vector<std::string>>{{"0\tx"},
                                             {"x\tfoo\n"},
                                             {"2\tfoo\n"},
                                             {"no tab\n"},
                                             {"1\tb\n", "0\ta\n"},
                                             {"01\tfoo\n"}}) {
    EXPECT_EQ(job->Reduce(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << absl::CHexEscape(bad[0]);
  }
  std::unique_ptr<LocalKernel> counting = GrepJob("x", {a, b}, kCount);
  ASSERT_NE(counting, nullptr);
  const std::vector<std::string> counts = {"0\t2\n", "0\t1\n1\t4\n"};
  EXPECT_EQ(counting->Reduce(counts).value().value,
            absl::StrCat(a, ":3\n", b, ":4"));
  const std::vector<std::string> bad_count = {"0\tmany\n"};
  EXPECT_EQ(counting->Reduce(bad_count).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GrepKernelTest, CancelledShardReturnsCancelled) {
  const std::string path = WriteTestFile("cancel", "x\ny\n");
  std::unique_ptr<LocalKernel> job = GrepJob("x", {path});
  ASSERT_NE(job, nullptr);
  testing::ExpectCancelledBeforeStarting(job->runner(), {0, 4});
}

TEST(GrepKernelTest, TooManyMatchesForOnePayloadIsResourceExhausted) {
  // 20 MiB of matching lines in one shard: more than a payload may carry.
  std::string text;
  while (text.size() < (20u << 20)) text += "matching line of text\n";
  const std::string path = WriteTestFile("many", text);
  std::unique_ptr<LocalKernel> job = GrepJob("match", {path});
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->RunShard({0, job->domain().hi}).status().code(),
            absl::StatusCode::kResourceExhausted);
  std::unique_ptr<LocalKernel> counting = GrepJob("match", {path}, kCount);
  ASSERT_NE(counting, nullptr);
  EXPECT_EQ(RunJob(*counting, 1).value().value, absl::StrCat(text.size() / 22));
}

}  // namespace
}  // namespace shardex
