// Shared set-up for the fuzz targets (docs/fuzzing.md): a private sandbox
// directory, and the rewriting of every file-system path a fuzzed JobSpec
// names so that nothing the fuzzer invents can touch files outside it.
//
// Why rewrite at all: planning a job touches the coordinator's disk. An
// output_dir is created (mkdir -p), --lines and the wordcount/grep files are
// opened and stat'ed, mandelbrot's --out is written by Reduce, and a
// reduce_command runs /bin/sh. A fuzzer left alone would create directories
// all over the file system, block forever opening a FIFO, or run shell
// commands. Every path is therefore mapped INTO the sandbox, keeping the
// bytes that matter to validation (NUL bytes, glob characters, emptiness,
// length, '\n' separators), and a reduce command becomes `cat`.
//
// Thread-safety: Sandbox() is initialised once (thread-safe static); the
// rest are pure functions or touch only the sandbox.
#ifndef SHARDEX_FUZZ_FUZZ_ENV_H_
#define SHARDEX_FUZZ_FUZZ_ENV_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "proto/shardex.pb.h"

namespace shardex {
namespace fuzz {

// The sandbox, created on first use (and logging quietened):
//   <root>/files    a.txt, lines.txt, empty, dir/: what inputs can name
//   <root>/out      output directories; emptied by ResetOutputs()
//   <root>/scratch  where a reduce command runs
//   <root>/state    a journal's state directory (journal_fuzzer)
// <root> is a fresh directory under $TEST_TMPDIR, else $TMPDIR, else
// /dev/shm (fsync is free there), else /tmp; removed at exit.
struct SandboxDirs {
  std::string root;
  std::string files;
  std::string out;
  std::string scratch;
  std::string state;
};
const SandboxDirs& Sandbox();

// One path as given by a user -> a path inside <files> (or <out> for
// output directories). Empty stays empty; '/' becomes '_', "." and ".."
// gain a '_' prefix, everything else (NUL, '*', '?', '[', spaces, '\n'
// within a single-path value) is kept.
std::string MapPath(const std::string& dir, const std::string& path);

// MapPath on each '\n'-separated element (a kPositionalList value).
std::string MapPathList(const std::string& dir, const std::string& paths);

// Rewrites output_dir, command.inputs, command.lines, the reduce command,
// and every kernel argument the kernel declares is_path, as described
// above. Everything else is left exactly as fuzzed.
void SanitizeSpec(shardex::v1::JobSpec& spec);

// Empties <out> (what PrepareOutputDir and Reduce created) so iterations
// do not see each other's directories.
void ResetOutputs();

// True when $SHARDEX_FUZZ_VERBOSE is set: the harnesses then print what
// happened to each input (for seeds and reproducers, not while fuzzing).
bool Verbose();

// Known-bug filters. A bug the fuzzers found that is not fixed yet would be
// found again at once on every run, hiding everything else (and failing
// CI). Each has a filter in the harness that steers around it, listed in
// docs/fuzzing.md with its reproducer in fuzz/known_crashes/. Setting
// $SHARDEX_FUZZ_NO_FILTERS turns every filter off, to reproduce or to
// check a fix; delete the filter when the bug is fixed.
bool FiltersOn();

// The Scheduler's max_shards_per_job in the harnesses. With filters on,
// 100000 (known bug 1: a job of the default maximum, 10^7 shards, costs
// the scheduler ~1.2 GB and seconds under its lock, ~20 s under ASan, so
// libFuzzer calls it a timeout); with them off, Scheduler's default.
// $SHARDEX_FUZZ_MAX_SHARDS overrides both.
uint64_t MaxShardsPerJob();

// Parses `data` as a binary JobSpec, else as text format (quietly).
bool ParseSpec(const uint8_t* data, size_t size, shardex::v1::JobSpec* spec);

}  // namespace fuzz
}  // namespace shardex

#endif  // SHARDEX_FUZZ_FUZZ_ENV_H_
