// Kernel "grep": the lines of FILE... that match PATTERN, like `grep -E`.
//
// PATTERN is an RE2 regular expression (or, with --fixed, a literal string)
// matched against each line's bytes, as `LC_ALL=C grep` does: RE2 runs in
// Latin-1 mode, so every byte is one character and any byte sequence is
// searchable. RE2 matches in time linear in the text, so no pattern can
// hang a worker. The domain is the files' virtual byte stream, split by the
// input-split rule of kernels/input_split.h: each line is tested by exactly
// one shard. A shard's payload lists its matching lines (or per-file counts
// with --count); the reduce concatenates them in shard order, which is input
// order (docs/kernels.md).
// Thread-safety: GrepJob and GrepRunner are immutable after creation (RE2
// matching is const and thread-safe); shards may run concurrently.
#include <re2/re2.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "kernels/args.h"
#include "kernels/input_split.h"
#include "kernels/kernel.h"
#include "kernels/payload.h"
#include "kernels/split.h"

namespace shardex {
namespace {

constexpr char kName[] = "grep";

// A shard's payload and the job's answer travel in gRPC messages capped at
// 64 MiB (docs/protocol.md); past these sizes the kernel fails with a clear
// RESOURCE_EXHAUSTED instead of a broken stream.
constexpr size_t kMaxPayloadBytes = size_t{16} << 20;
constexpr size_t kMaxResultBytes = size_t{32} << 20;

// A `--name` switch: absent is "false", given is "true".
KernelParam Switch(std::string name, std::string help) {
  KernelParam p;
  p.name = std::move(name);
  p.help = std::move(help);
  p.default_value = "false";
  p.kind = KernelParam::Kind::kSwitch;
  return p;
}

KernelParam Positional(std::string name, std::string help,
                       KernelParam::Kind kind, bool is_path) {
  KernelParam p;
  p.name = std::move(name);
  p.help = std::move(help);
  p.required = true;
  p.kind = kind;
  p.is_path = is_path;
  return p;
}

std::vector<KernelParam> GrepParams() {
  return {
      Positional("pattern",
                 "RE2 regular expression (like grep -E; no backreferences), "
                 "or a literal string with --fixed",
                 KernelParam::Kind::kPositional, false),
      Positional("files", "input files, searched in order",
                 KernelParam::Kind::kPositionalList, true),
      Switch("count", "print the number of matching lines instead (grep -c)"),
      Switch("fixed", "PATTERN is a literal string, not a regex (grep -F)"),
      Switch("ignore-case", "ignore the case of letters (grep -i)"),
  };
}

absl::StatusOr<bool> GetBoolArg(const KernelArgs& args,
                                const std::string& name) {
  const std::string& value = args.at(name);
  if (value == "true") return true;
  if (value == "false") return false;
  return absl::InvalidArgumentError(
      absl::StrCat("--", name, ": '", value, "' is not true or false"));
}

// Index just past the bracket expression that starts at pattern[i] == '['.
size_t SkipBracket(const std::string& pattern, size_t i) {
  const size_t n = pattern.size();
  size_t j = i + 1;
  if (j < n && pattern[j] == '^') ++j;
  if (j < n && pattern[j] == ']') ++j;  // a leading ']' is a member
  while (j < n && pattern[j] != ']') {
    if (pattern[j] == '[' && j + 1 < n && pattern[j + 1] == ':') {
      const size_t close = pattern.find(":]", j + 2);
      j = close == std::string::npos ? n : close + 2;
    } else {
      j += pattern[j] == '\\' ? 2 : 1;
    }
  }
  return j + 1;
}

// RE2 reads a few common grep -E forms differently without complaint: `\<`
// and `\>` (word start and end in grep) as literal '<' and '>', and `{,n}`
// (0 to n repeats in GNU grep) as literal text. Rejecting them keeps the
// answer from silently differing from grep's.
absl::Status RejectGrepOnlySyntax(const std::string& pattern) {
  for (size_t i = 0; i < pattern.size();) {
    const char c = pattern[i];
    const char next = i + 1 < pattern.size() ? pattern[i + 1] : '\0';
    if (c == '\\' && (next == '<' || next == '>')) {
      return absl::InvalidArgumentError(
          absl::StrCat("pattern '", pattern, "': \\", std::string(1, next),
                       " (grep's word boundary) is not RE2 syntax; use \\b"));
    }
    if (c == '{' && next == ',') {
      return absl::InvalidArgumentError(absl::StrCat(
          "pattern '", pattern, "': {,n} is not RE2 syntax; use {0,n}"));
    }
    if (c == '[') {
      i = SkipBracket(pattern, i);
    } else {
      i += c == '\\' ? 2 : 1;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<const RE2>> CompilePattern(
    const std::string& pattern, bool fixed, bool ignore_case) {
  if (pattern.find('\n') != std::string::npos) {
    return absl::InvalidArgumentError(
        "pattern contains a newline, which no line can match (grep would "
        "read it as several patterns; write them as (a|b))");
  }
  if (!fixed) RETURN_IF_ERROR(RejectGrepOnlySyntax(pattern));
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_literal(fixed);
  options.set_case_sensitive(!ignore_case);
  options.set_log_errors(false);
  auto re = std::make_unique<const RE2>(pattern, options);
  if (!re->ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("pattern '", pattern,
                     "' is not a valid RE2 regular expression: ", re->error()));
  }
  return re;
}

// Collects one shard's matches in payload form (see GrepRunner::RunShard).
class MatchSink {
 public:
  explicit MatchSink(bool count_only) : count_only_(count_only) {}

  void Add(size_t file_index, std::string_view line) {
    ++matches_;
    if (count_only_) {
      if (counts_.empty() || counts_.back().first != file_index) {
        counts_.emplace_back(file_index, 0);
      }
      ++counts_.back().second;
      return;
    }
    if (payload_.size() + line.size() + 22 > kMaxPayloadBytes) {
      too_big_ = true;
      return;
    }
    absl::StrAppend(&payload_, file_index, "\t",
                    absl::string_view(line.data(), line.size()), "\n");
  }

  absl::StatusOr<std::string> Finish(ShardRange range) && {
    if (too_big_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "grep shard [", range.begin, ", ", range.end, ") matched ", matches_,
          " lines, more than one payload holds (", kMaxPayloadBytes,
          " bytes); use --count, a narrower pattern or more shards"));
    }
    for (const auto& [file, n] : counts_) {
      absl::StrAppend(&payload_, file, "\t", n, "\n");
    }
    return std::move(payload_);
  }

 private:
  const bool count_only_;
  uint64_t matches_ = 0;
  std::vector<std::pair<size_t, uint64_t>> counts_;
  std::string payload_;
  bool too_big_ = false;
};

// One payload record: "<file index>\t<rest>".
struct Record {
  size_t shard = 0;
  size_t file = 0;
  absl::string_view rest;
};

// Splits a payload into records, checking that file indices are valid and
// never go down (shards come in input order). `last_file` carries the
// order check from one payload to the next.
absl::StatusOr<std::vector<Record>> ParsePayload(absl::string_view payload,
                                                 size_t index, size_t files,
                                                 size_t& last_file) {
  std::vector<Record> records;
  if (payload.empty()) return records;
  auto bad = [index](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("grep payload of shard ", index, " ", why));
  };
  if (payload.back() != '\n') return bad("does not end in '\\n'");
  payload.remove_suffix(1);
  for (absl::string_view line : absl::StrSplit(payload, '\n')) {
    const size_t tab = line.find('\t');
    if (tab == absl::string_view::npos) return bad("has a record without tab");
    ASSIGN_OR_RETURN(const uint64_t file,
                     DecodeCount(line.substr(0, tab), index));
    if (file >= files) return bad("names a file that is not an input");
    if (file < last_file) return bad("lists files out of input order");
    last_file = file;
    records.push_back(
        Record{index, static_cast<size_t>(file), line.substr(tab + 1)});
  }
  return records;
}

// The validated arguments; both sides are built from them.
struct GrepArgs {
  InputFiles files;
  std::unique_ptr<const RE2> re;
  bool count_only = false;
};

class GrepJob final : public KernelJob {
 public:
  explicit GrepJob(GrepArgs args)
      : files_(std::move(args.files)), count_only_(args.count_only) {}

  Domain domain() const override { return files_.domain(); }

  absl::StatusOr<KernelResult> Reduce(
      absl::Span<const std::string> payloads) const override {
    std::vector<Record> records;
    size_t last_file = 0;
    for (size_t i = 0; i < payloads.size(); ++i) {
      ASSIGN_OR_RETURN(
          std::vector<Record> more,
          ParsePayload(payloads[i], i, files_.files().size(), last_file));
      records.insert(records.end(), more.begin(), more.end());
    }
    return count_only_ ? ReduceCounts(records) : ReduceLines(records);
  }

 private:
  // grep prefixes lines and counts with "FILE:" when given several files.
  std::string Prefix(size_t file) const {
    if (files_.files().size() < 2) return "";
    return absl::StrCat(files_.files()[file].name, ":");
  }

  absl::StatusOr<KernelResult> ReduceLines(
      const std::vector<Record>& records) const {
    KernelResult result;
    for (size_t i = 0; i < records.size(); ++i) {
      if (i > 0) result.value += '\n';
      absl::StrAppend(&result.value, Prefix(records[i].file), records[i].rest);
      if (result.value.size() > kMaxResultBytes) return TooBig();
    }
    result.details["matches"] = absl::StrCat(records.size());
    return result;
  }

  absl::StatusOr<KernelResult> ReduceCounts(
      const std::vector<Record>& records) const {
    std::vector<uint64_t> counts(files_.files().size(), 0);
    uint64_t total = 0;
    for (const Record& r : records) {
      ASSIGN_OR_RETURN(const uint64_t n, DecodeCount(r.rest, r.shard));
      if (__builtin_add_overflow(counts[r.file], n, &counts[r.file]) ||
          __builtin_add_overflow(total, n, &total)) {
        return absl::InvalidArgumentError("grep payloads overflow a count");
      }
    }
    KernelResult result;
    for (size_t f = 0; f < counts.size(); ++f) {
      if (f > 0) result.value += '\n';
      absl::StrAppend(&result.value, Prefix(f), counts[f]);
    }
    if (result.value.size() > kMaxResultBytes) return TooBig();
    result.details["matches"] = absl::StrCat(total);
    return result;
  }

  static absl::Status TooBig() {
    return absl::ResourceExhaustedError(
        absl::StrCat("grep result exceeds ", kMaxResultBytes,
                     " bytes; use --count or a narrower pattern"));
  }

  const InputFiles files_;
  const bool count_only_;
};

class GrepRunner final : public ShardRunner {
 public:
  explicit GrepRunner(GrepArgs args) : args_(std::move(args)) {}

  // Payload: one "<file index>\t<line>\n" record per matching line, in input
  // order; with --count, one "<file index>\t<count>\n" per file with matches.
  absl::StatusOr<std::string> RunShard(
      ShardRange range, ShardControl& control) const override {
    const CancelFlag& cancel = control.cancel_flag();
    RETURN_IF_ERROR(ValidateShardRange(args_.files.domain(), range));
    MatchSink sink(args_.count_only);
    const RE2& re = *args_.re;
    RETURN_IF_ERROR(ForEachLine(
        args_.files, range, cancel,
        [&re, &sink](size_t file_index, std::string_view line) {
          const re2::StringPiece text(line.data(), line.size());
          if (re.Match(text, 0, text.size(), RE2::UNANCHORED, nullptr, 0)) {
            sink.Add(file_index, line);
          }
        }));
    return std::move(sink).Finish(range);
  }

 private:
  const GrepArgs args_;
};

absl::StatusOr<GrepArgs> ParseGrepArgs(const KernelArgs& args) {
  ASSIGN_OR_RETURN(const KernelArgs resolved,
                   ResolveArgs(kName, GrepParams(), args));
  ASSIGN_OR_RETURN(const bool count_only, GetBoolArg(resolved, "count"));
  ASSIGN_OR_RETURN(const bool fixed, GetBoolArg(resolved, "fixed"));
  ASSIGN_OR_RETURN(const bool ignore_case, GetBoolArg(resolved, "ignore-case"));
  ASSIGN_OR_RETURN(std::unique_ptr<const RE2> re,
                   CompilePattern(resolved.at("pattern"), fixed, ignore_case));
  ASSIGN_OR_RETURN(InputFiles files,
                   InputFiles::OpenFilesArg(resolved.at("files"),
                                            AsSubmitted(resolved, "files")));
  return GrepArgs{std::move(files), std::move(re), count_only};
}

KernelInfo GrepKernelInfo() {
  KernelInfo info;
  info.name = kName;
  info.summary = "print the lines of FILE... matching PATTERN (like grep -E)";
  info.params = GrepParams();
  SetKernelSides<GrepJob, GrepRunner>(ParseGrepArgs, &info);
  return info;
}

}  // namespace

SHARDEX_REGISTER_KERNEL(grep, GrepKernelInfo);

}  // namespace shardex
