#include "kernels/input_split.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kernels/kernel.h"
#include "kernels/split.h"

namespace shardex {
namespace {

using Line = std::pair<size_t, std::string>;  // (file index, text)

// Writes `contents` to fresh files under TEST_TMPDIR; returns their paths.
std::vector<std::string> WriteFiles(const std::string& name,
                                    const std::vector<std::string>& contents) {
  static int counter = 0;
  std::vector<std::string> paths;
  for (const std::string& text : contents) {
    const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name,
                                          "_", counter++, ".txt");
    std::ofstream(path, std::ios::binary) << text;
    paths.push_back(path);
  }
  return paths;
}

// The oracle: every line of every file, split the obvious way.
std::vector<Line> ExpectedLines(const std::vector<std::string>& contents) {
  std::vector<Line> lines;
  for (size_t i = 0; i < contents.size(); ++i) {
    size_t start = 0;
    while (start < contents[i].size()) {
      size_t nl = contents[i].find('\n', start);
      if (nl == std::string::npos) nl = contents[i].size();
      lines.emplace_back(i, contents[i].substr(start, nl - start));
      start = nl + 1;
    }
  }
  return lines;
}

InputFiles OpenOrDie(const std::vector<std::string>& paths) {
  absl::StatusOr<InputFiles> files = InputFiles::Open(paths);
  EXPECT_TRUE(files.ok()) << files.status();
  return *std::move(files);
}

std::vector<Line> LinesOf(const InputFiles& files, ShardRange r) {
  const CancelFlag not_cancelled{false};
  std::vector<Line> lines;
  const absl::Status st = ForEachLine(
      files, r, not_cancelled, [&lines](size_t index, std::string_view line) {
        lines.emplace_back(index, std::string(line));
      });
  EXPECT_TRUE(st.ok()) << st;
  return lines;
}

// Runs the shards with the given boundaries (begin of shard 0 is 0, end of
// the last is total_bytes) and checks every view of the split against the
// oracle: lines, raw blocks, pieces, and AlignToLines for single files.
void CheckCuts(const std::vector<std::string>& contents,
               const std::vector<std::string>& paths, const InputFiles& files,
               const std::vector<uint64_t>& cuts) {
  const CancelFlag not_cancelled{false};
  std::vector<Line> lines;
  std::vector<std::string> rebuilt(contents.size());
  for (size_t s = 0; s + 1 < cuts.size(); ++s) {
    const ShardRange r{cuts[s], cuts[s + 1]};
    const std::string where =
        absl::StrCat("shard [", r.begin, ", ", r.end, ")");
    for (Line& l : LinesOf(files, r)) lines.push_back(std::move(l));
    ASSERT_TRUE(ForEachBlock(files, r, not_cancelled,
                             [&](size_t index, std::string_view bytes) {
                               EXPECT_LE(bytes.size(), kInputBlockBytes);
                               rebuilt[index].append(bytes);
                             })
                    .ok())
        << where;
    absl::StatusOr<std::vector<FilePiece>> pieces =
        OwnedPieces(files, r, not_cancelled);
    ASSERT_TRUE(pieces.ok()) << pieces.status();
    for (const FilePiece& p : *pieces) {
      EXPECT_LT(p.begin, p.end) << where;
      EXPECT_TRUE(p.begin == 0 || contents[p.file_index][p.begin - 1] == '\n')
          << where << " piece starts mid-line";
    }
  }
  EXPECT_EQ(lines, ExpectedLines(contents))
      << "cuts " << ::testing::PrintToString(cuts);
  EXPECT_EQ(rebuilt, contents) << "cuts " << ::testing::PrintToString(cuts);
  if (contents.size() != 1) return;
  // One file: the aligned ranges tile it and hold exactly the shard's lines.
  uint64_t next = 0;
  for (size_t s = 0; s + 1 < cuts.size(); ++s) {
    const ShardRange r{cuts[s], cuts[s + 1]};
    absl::StatusOr<ShardRange> aligned = AlignToLines(paths[0], r);
    ASSERT_TRUE(aligned.ok()) << aligned.status();
    ASSERT_LE(aligned->begin, aligned->end);
    if (aligned->begin == aligned->end) continue;
    EXPECT_EQ(aligned->begin, next) << "shard " << s;
    next = aligned->end;
    const std::string bytes =
        contents[0].substr(aligned->begin, aligned->end - aligned->begin);
    EXPECT_EQ(ExpectedLines({bytes}), LinesOf(files, r)) << "shard " << s;
  }
  EXPECT_EQ(next, contents[0].size());
}

void CheckShardCount(const std::vector<std::string>& contents,
                     uint64_t shards) {
  const std::vector<std::string> paths = WriteFiles("count", contents);
  const InputFiles files = OpenOrDie(paths);
  const Domain d{Domain::Kind::kRange, 0, files.total_bytes()};
  std::vector<uint64_t> cuts;
  for (uint64_t i = 0; i < shards; ++i) {
    cuts.push_back(ShardRangeOf(d, shards, i).begin);
  }
  cuts.push_back(files.total_bytes());
  SCOPED_TRACE(absl::StrCat(shards, " shards of ", files.total_bytes(),
                            " bytes in ", contents.size(), " files"));
  CheckCuts(contents, paths, files, cuts);
}

// Every way to cut the stream into two and three shards.
void CheckEveryCut(const std::vector<std::string>& contents) {
  const std::vector<std::string> paths = WriteFiles("cut", contents);
  const InputFiles files = OpenOrDie(paths);
  const uint64_t n = files.total_bytes();
  for (uint64_t a = 0; a <= n; ++a) {
    CheckCuts(contents, paths, files, {0, a, n});
    for (uint64_t b = a; b <= n; ++b)
      CheckCuts(contents, paths, files, {0, a, b, n});
  }
}

TEST(InputSplitTest, OpenRecordsSizesAndOffsets) {
  const std::vector<std::string> paths =
      WriteFiles("open", {"abc\n", "", "hello\nworld"});
  const InputFiles files = OpenOrDie(paths);
  EXPECT_EQ(files.total_bytes(), 15u);
  ASSERT_EQ(files.files().size(), 3u);
  EXPECT_EQ(files.files()[0].path, paths[0]);
  EXPECT_EQ(files.files()[2].path, paths[2]);
  EXPECT_EQ(files.files()[0].size, 4u);
  EXPECT_EQ(files.files()[1].size, 0u);
  EXPECT_EQ(files.files()[2].size, 11u);
  EXPECT_EQ(files.files()[0].offset, 0u);
  EXPECT_EQ(files.files()[1].offset, 4u);
  EXPECT_EQ(files.files()[2].offset, 4u);
}

TEST(InputSplitTest, HandPickedBoundaries) {
  // "ab\ncd\nef": cut at 3 is right after '\n', at 2 is on the '\n', at 4 is
  // mid-line, at 6 is the start of a last line without '\n'.
  const std::vector<std::string> text = {"ab\ncd\nef"};
  const std::vector<std::string> paths = WriteFiles("hand", text);
  const InputFiles files = OpenOrDie(paths);
  using Lines = std::vector<Line>;
  EXPECT_EQ(LinesOf(files, {0, 3}), (Lines{{0, "ab"}}));
  EXPECT_EQ(LinesOf(files, {3, 8}), (Lines{{0, "cd"}, {0, "ef"}}));
  EXPECT_EQ(LinesOf(files, {0, 2}), (Lines{{0, "ab"}}));
  EXPECT_EQ(LinesOf(files, {2, 8}), (Lines{{0, "cd"}, {0, "ef"}}));
  EXPECT_EQ(LinesOf(files, {0, 4}), (Lines{{0, "ab"}, {0, "cd"}}));
  EXPECT_EQ(LinesOf(files, {4, 8}), (Lines{{0, "ef"}}));
  EXPECT_EQ(LinesOf(files, {4, 6}), Lines{});
  EXPECT_EQ(LinesOf(files, {6, 7}), (Lines{{0, "ef"}}));
  EXPECT_EQ(LinesOf(files, {7, 8}), Lines{});
  EXPECT_EQ(AlignToLines(paths[0], {2, 8}).value().begin, 3u);
  EXPECT_EQ(AlignToLines(paths[0], {0, 4}).value().end, 6u);
  const ShardRange none = AlignToLines(paths[0], {4, 6}).value();
  EXPECT_EQ(none.begin, none.end);
}

TEST(InputSplitTest, EveryCutOfSmallTexts) {
  CheckEveryCut({"ab\ncd\nef"});
  CheckEveryCut({"ab\ncd\nef\n"});
  CheckEveryCut({"\n\n\nx\n\n"});
  CheckEveryCut({"one line, no newline"});
  CheckEveryCut({"\r\n\r\nab\r\n"});
  CheckEveryCut({""});
}

TEST(InputSplitTest, EveryCutAcrossFiles) {
  // Empty files among the inputs; files with and without a final '\n'; a
  // file that is one newline; a file ending mid-line before the next one.
  CheckEveryCut({"a\n", "", "bc", "\n\n", "", "d", "ef\ngh"});
  CheckEveryCut({"", "", "x"});
  CheckEveryCut({"", ""});
}

std::string RandomText(std::mt19937_64& rng, size_t max_len) {
  static const char kBytes[] = {'a',  'b',  ' ',  '\t',   '\r', '\n',
                                '\n', '\n', '\0', '\xff', 'z',  'Q'};
  const size_t len = rng() % (max_len + 1);
  std::string text;
  for (size_t i = 0; i < len; ++i) text += kBytes[rng() % sizeof(kBytes)];
  return text;
}

TEST(InputSplitTest, RandomTextsAnyShardCount) {
  std::mt19937_64 rng(424242);  // fixed: failures must reproduce
  for (int trial = 0; trial < 60; ++trial) {
    std::vector<std::string> contents;
    const size_t files = 1 + rng() % 5;
    for (size_t f = 0; f < files; ++f) {
      contents.push_back(rng() % 5 == 0 ? "" : RandomText(rng, 300));
    }
    uint64_t bytes = 0;
    for (const std::string& c : contents) bytes += c.size();
    for (uint64_t shards :
         {uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{17}, bytes + 5}) {
      CheckShardCount(contents, shards);
    }
  }
}

TEST(InputSplitTest, HugeLineLongerThanSeveralShardsAndBlocks) {
  // 3.5 blocks of one line between short ones, and a huge last line
  // without '\n' in a second file.
  const std::string huge(3 * kInputBlockBytes + kInputBlockBytes / 2, 'y');
  const std::vector<std::string> contents = {"x\n" + huge + "\nz\n",
                                             "\n" + huge.substr(17)};
  uint64_t bytes = 0;
  for (const std::string& c : contents) bytes += c.size();
  for (uint64_t shards :
       {uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{17}, uint64_t{64}}) {
    CheckShardCount(contents, shards);
  }
  CheckShardCount({contents[0]}, 5);
}

TEST(InputSplitTest, OpenErrorsNameTheFile) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  absl::StatusOr<InputFiles> missing =
      InputFiles::Open({dir + "/no_such_file.txt"});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("no_such_file.txt"),
            std::string::npos)
      << missing.status();

  absl::StatusOr<InputFiles> directory = InputFiles::Open({dir});
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(directory.status().message().find("is a directory"),
            std::string::npos)
      << directory.status();

  absl::StatusOr<InputFiles> device = InputFiles::Open({"/dev/null"});
  EXPECT_EQ(device.status().code(), absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(InputFiles::Open({}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> ok = WriteFiles("errs", {"a"});
  EXPECT_EQ(InputFiles::Open({ok[0], ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AlignToLines(dir + "/no_such_file.txt", {0, 0}).status().code(),
            absl::StatusCode::kNotFound);
}

// The status code of InputFiles::Open(paths), as an exit code.
int OpenExitCode(const std::vector<std::string>& paths) {
  return static_cast<int>(InputFiles::Open(paths).status().code());
}

TEST(InputSplitTest, UnreadableFileIsPermissionDenied) {
  const std::vector<std::string> paths = WriteFiles("secret", {"x\n"});
  ASSERT_EQ(chmod(paths[0].c_str(), 0), 0);
  if (geteuid() != 0) {
    absl::StatusOr<InputFiles> files = InputFiles::Open(paths);
    EXPECT_EQ(files.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_NE(files.status().message().find(paths[0]), std::string::npos);
    return;
  }
  // Root reads every file: try as user nobody in a child process.
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(100);
    _exit(OpenExitCode(paths));
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 100) GTEST_SKIP() << "cannot become nobody";
  EXPECT_EQ(WEXITSTATUS(status),
            static_cast<int>(absl::StatusCode::kPermissionDenied));
}

TEST(InputSplitTest, RangesOutsideTheInputAreRejected) {
  const std::vector<std::string> paths = WriteFiles("range", {"abc\n"});
  const InputFiles files = OpenOrDie(paths);
  const CancelFlag not_cancelled{false};
  auto ignore = [](size_t, std::string_view) {};
  EXPECT_EQ(ForEachLine(files, {0, 5}, not_cancelled, ignore).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ForEachLine(files, {3, 2}, not_cancelled, ignore).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AlignToLines(paths[0], {0, 5}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ForEachLine(files, {4, 4}, not_cancelled, ignore).ok());
}

TEST(InputSplitTest, FileThatChangedSizeFailsTheShard) {
  const std::vector<std::string> paths = WriteFiles("grow", {"abc\n"});
  const InputFiles files = OpenOrDie(paths);
  std::ofstream(paths[0], std::ios::app) << "more\n";
  const CancelFlag not_cancelled{false};
  const absl::Status st = ForEachLine(files, {0, 4}, not_cancelled,
                                      [](size_t, std::string_view) {});
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_NE(st.message().find(paths[0]), std::string::npos) << st;
}

TEST(InputSplitTest, CancelStopsBetweenBlocks) {
  const std::vector<std::string> paths =
      WriteFiles("cancel", {std::string(4 * kInputBlockBytes, 'w') + "\n"});
  const InputFiles files = OpenOrDie(paths);
  const ShardRange all{0, files.total_bytes()};
  const CancelFlag cancelled{true};
  EXPECT_EQ(ForEachLine(files, all, cancelled, [](size_t, std::string_view) {})
                .code(),
            absl::StatusCode::kCancelled);
  CancelFlag cancel{false};
  int blocks = 0;
  const absl::Status st =
      ForEachBlock(files, all, cancel, [&](size_t, std::string_view) {
        ++blocks;
        cancel = true;
      });
  EXPECT_EQ(st.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(blocks, 1);
}

TEST(InputSplitTest, LineLongerThanTheLimitIsResourceExhausted) {
  // A sparse file of zero bytes: one line of kMaxLineBytes + 1 bytes.
  const std::vector<std::string> paths = WriteFiles("sparse", {""});
  ASSERT_EQ(truncate(paths[0].c_str(), kMaxLineBytes + 1), 0);
  const InputFiles files = OpenOrDie(paths);
  const CancelFlag not_cancelled{false};
  int lines = 0;
  const absl::Status st =
      ForEachLine(files, {0, files.total_bytes()}, not_cancelled,
                  [&lines](size_t, std::string_view) { ++lines; });
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_EQ(lines, 0);
}

}  // namespace
}  // namespace shardex
