// Kernel "wordcount": how often each distinct word occurs in FILE...
//
// A word is a maximal run of bytes that are not C-locale whitespace (' ',
// '\t', '\n', '\v', '\f', '\r'); the end of a file also ends a word. The
// domain is the files' virtual byte stream, split by the input-split rule of
// kernels/input_split.h, so each word is counted by exactly one shard. A
// shard's payload is its counts as sorted "word\tcount\n" lines; the reduce
// merges them exactly. The answer equals
//   LC_ALL=C tr -s '[:space:]' '\n' | grep -v '^$' | sort | uniq -c
// applied to each file, up to uniq's padding (docs/kernels.md).
// Thread-safety: WordCountJob and WordCountRunner are immutable after
// creation; RunShard and Reduce keep their state on the stack and may run
// concurrently.
#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
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

constexpr char kName[] = "wordcount";

// A shard's payload and the job's answer travel in gRPC messages capped at
// 64 MiB (docs/protocol.md); past these sizes the kernel fails with a clear
// RESOURCE_EXHAUSTED instead of a broken stream.
constexpr size_t kMaxPayloadBytes = size_t{16} << 20;
constexpr size_t kMaxResultBytes = size_t{32} << 20;

constexpr std::array<bool, 256> SpaceTable() {
  std::array<bool, 256> table{};
  for (unsigned char c : {' ', '\t', '\n', '\v', '\f', '\r'}) table[c] = true;
  return table;
}
constexpr std::array<bool, 256> kIsSpace = SpaceTable();

inline bool IsSpace(char c) { return kIsSpace[static_cast<unsigned char>(c)]; }

std::vector<KernelParam> WordCountParams() {
  KernelParam files;
  files.name = "files";
  files.help = "input files; every word of every file is counted";
  files.required = true;
  files.kind = KernelParam::Kind::kPositionalList;
  files.is_path = true;
  return {files};
}

// Counts the words of a stream of blocks. A word cut between two blocks of
// the same file is carried over; a new file or Finish ends it.
class WordCounter {
 public:
  void Add(size_t file_index, std::string_view block) {
    if (file_index != file_index_) {
      EndWord();
      file_index_ = file_index;
    }
    const char* p = block.data();
    const char* const end = p + block.size();
    if (!carry_.empty()) {
      const char* q = WordEnd(p, end);
      carry_.append(p, q);
      if (q == end) return;
      EndWord();
      p = q;
    }
    while (true) {
      while (p < end && IsSpace(*p)) ++p;
      if (p == end) return;
      const char* q = WordEnd(p, end);
      if (q == end) {
        carry_.assign(p, q);
        return;
      }
      Count(absl::string_view(p, q - p));
      p = q;
    }
  }

  void Finish() { EndWord(); }

  uint64_t total() const { return total_; }

  // Sorted "word\tcount\n" lines; RESOURCE_EXHAUSTED past kMaxPayloadBytes.
  absl::StatusOr<std::string> Encode(ShardRange range) const {
    std::vector<const std::pair<const std::string, uint64_t>*> sorted;
    sorted.reserve(counts_.size());
    size_t bytes = 0;
    for (const auto& entry : counts_) {
      sorted.push_back(&entry);
      bytes += entry.first.size() + 22;  // '\t', up to 20 digits, '\n'
    }
    if (bytes > kMaxPayloadBytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "wordcount shard [", range.begin, ", ", range.end, ") found ",
          counts_.size(), " distinct words, too many for one payload (",
          kMaxPayloadBytes, " bytes); use more shards"));
    }
    std::sort(sorted.begin(), sorted.end(),
              [](const auto* a, const auto* b) { return a->first < b->first; });
    std::string out;
    out.reserve(bytes);
    for (const auto* entry : sorted) {
      absl::StrAppend(&out, entry->first, "\t", entry->second, "\n");
    }
    return out;
  }

 private:
  static const char* WordEnd(const char* p, const char* end) {
    while (p < end && !IsSpace(*p)) ++p;
    return p;
  }

  void EndWord() {
    if (carry_.empty()) return;
    Count(carry_);
    carry_.clear();
  }

  void Count(absl::string_view word) {
    ++total_;
    auto it = counts_.find(word);
    if (it != counts_.end()) {
      ++it->second;
    } else {
      counts_.emplace(std::string(word), 1);
    }
  }

  absl::flat_hash_map<std::string, uint64_t> counts_;
  std::string carry_;
  size_t file_index_ = 0;
  uint64_t total_ = 0;
};

using WordCount = std::pair<absl::string_view, uint64_t>;

absl::Status BadPayload(size_t index, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("wordcount payload of shard ", index, " ", why));
}

// Appends the entries of one payload to `out`, checking its format: lines
// "word\tcount\n", words non-empty without whitespace and strictly
// increasing, counts positive.
absl::Status ParsePayload(absl::string_view payload, size_t index,
                          std::vector<WordCount>& out) {
  if (payload.empty()) return absl::OkStatus();
  if (payload.back() != '\n') return BadPayload(index, "does not end in '\\n'");
  payload.remove_suffix(1);
  absl::string_view previous;
  for (absl::string_view line : absl::StrSplit(payload, '\n')) {
    const size_t tab = line.find('\t');
    if (tab == absl::string_view::npos || tab == 0) {
      return BadPayload(index, "has a line that is not 'word\\tcount'");
    }
    const absl::string_view word = line.substr(0, tab);
    if (std::any_of(word.begin(), word.end(), IsSpace)) {
      return BadPayload(index, "has a word containing whitespace");
    }
    if (!previous.empty() && word <= previous) {
      return BadPayload(index, "is not sorted by word");
    }
    ASSIGN_OR_RETURN(const uint64_t count,
                     DecodeCount(line.substr(tab + 1), index));
    if (count == 0) return BadPayload(index, "has a count of 0");
    out.emplace_back(word, count);
    previous = word;
  }
  return absl::OkStatus();
}

class WordCountJob final : public KernelJob {
 public:
  explicit WordCountJob(InputFiles files) : files_(std::move(files)) {}

  Domain domain() const override { return files_.domain(); }

  absl::StatusOr<KernelResult> Reduce(
      absl::Span<const std::string> payloads) const override {
    std::vector<WordCount> all;
    for (size_t i = 0; i < payloads.size(); ++i) {
      RETURN_IF_ERROR(ParsePayload(payloads[i], i, all));
    }
    std::sort(all.begin(), all.end());
    KernelResult result;
    uint64_t words = 0;
    uint64_t distinct = 0;
    for (size_t i = 0; i < all.size();) {
      uint64_t count = 0;
      size_t j = i;
      for (; j < all.size() && all[j].first == all[i].first; ++j) {
        if (__builtin_add_overflow(count, all[j].second, &count)) {
          return absl::InvalidArgumentError(
              "wordcount payloads overflow a uint64 count");
        }
      }
      if (__builtin_add_overflow(words, count, &words)) {
        return absl::InvalidArgumentError(
            "wordcount payloads overflow the uint64 word total");
      }
      if (distinct++ > 0) result.value += '\n';
      absl::StrAppend(&result.value, count, " ", all[i].first);
      if (result.value.size() > kMaxResultBytes) {
        return absl::ResourceExhaustedError(
            absl::StrCat("wordcount result exceeds ", kMaxResultBytes,
                         " bytes: too many distinct words to return"));
      }
      i = j;
    }
    result.details["words"] = absl::StrCat(words);
    result.details["distinct"] = absl::StrCat(distinct);
    return result;
  }

 private:
  const InputFiles files_;
};

class WordCountRunner final : public ShardRunner {
 public:
  explicit WordCountRunner(InputFiles files) : files_(std::move(files)) {}

  absl::StatusOr<std::string> RunShard(
      ShardRange range, ShardControl& control) const override {
    const CancelFlag& cancel = control.cancel_flag();
    RETURN_IF_ERROR(ValidateShardRange(files_.domain(), range));
    WordCounter counter;
    RETURN_IF_ERROR(
        ForEachBlock(files_, range, cancel,
                     [&counter](size_t file_index, std::string_view block) {
                       counter.Add(file_index, block);
                     }));
    counter.Finish();
    return counter.Encode(range);
  }

 private:
  const InputFiles files_;
};

// Both sides open (stat) the files: the coordinator to split the job, each
// worker to check the sizes have not changed since.
absl::StatusOr<InputFiles> ParseWordCountArgs(const KernelArgs& args) {
  ASSIGN_OR_RETURN(const KernelArgs resolved,
                   ResolveArgs(kName, WordCountParams(), args));
  return InputFiles::OpenFilesArg(resolved.at("files"),
                                            AsSubmitted(resolved, "files"));
}

KernelInfo WordCountKernelInfo() {
  KernelInfo info;
  info.name = kName;
  info.summary = "count each distinct word of FILE... (like sort | uniq -c)";
  info.params = WordCountParams();
  SetKernelSides<WordCountJob, WordCountRunner>(ParseWordCountArgs, &info);
  return info;
}

}  // namespace

SHARDEX_REGISTER_KERNEL(wordcount, WordCountKernelInfo);

}  // namespace shardex
