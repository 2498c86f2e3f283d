#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang and runs each for SECONDS
# (default 30) on a copy of its seed corpus, after replaying its saved
# regressions under the sanitizers. Exits non-zero if a build fails or a
# target crashes, leaks, hangs (-timeout) or runs out of memory
# (-rss_limit_mb), and prints the input that did it. docs/fuzzing.md.
#
#   scripts/fuzz.sh [SECONDS]
#
# Environment:
#   FUZZ_TARGETS              targets to run (default: all, space-separated)
#   SHARDEX_CLANG_OUTPUT_BASE Bazel output base of the clang builds
#                             (default ~/.cache/shardex-clang; shared with
#                             scripts/thread_safety.sh). Separate from the
#                             normal gcc build's, whose cache a compiler
#                             switch would otherwise throw away.
#   SHARDEX_FUZZ_ARTIFACTS    where crashing inputs are kept
#                             (default ${TMPDIR:-/tmp}/shardex-fuzz-artifacts)
#   FUZZ_TIMEOUT, FUZZ_RSS_LIMIT_MB  per-input limits (default 25 s, 2560 MB)
set -uo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-30}"
if ! [[ "$DURATION" =~ ^[0-9]+$ ]] || ((DURATION < 1)); then
  echo "usage: scripts/fuzz.sh [SECONDS]" >&2
  exit 2
fi
read -r -a TARGETS <<< "${FUZZ_TARGETS:-spec_fuzzer journal_fuzzer}"
TIMEOUT="${FUZZ_TIMEOUT:-25}"
RSS_LIMIT_MB="${FUZZ_RSS_LIMIT_MB:-2560}"
ARTIFACTS="${SHARDEX_FUZZ_ARTIFACTS:-${TMPDIR:-/tmp}/shardex-fuzz-artifacts}"

source scripts/clang_bazel.sh fuzz

build_start=$(date +%s)
build_log=$(mktemp)
if ! "${BAZEL[@]}" build "${FLAGS[@]}" //fuzz:fuzzers >"$build_log" 2>&1; then
  # gold's "Cannot export local symbol" warnings are ASan noise.
  grep -v "Cannot export local symbol" "$build_log" | tail -40 >&2
  rm -f "$build_log"
  echo "fuzz: build failed" >&2
  exit 1
fi
rm -f "$build_log"
bin="$("${BAZEL[@]}" info "${FLAGS[@]}" bazel-bin 2>/dev/null)/fuzz"
echo "fuzz: built in $(($(date +%s) - build_start)) s ($bin)"

# Fast scratch space: the journal target fsyncs a database per input.
scratch_root="${TMPDIR:-/tmp}"
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  scratch_root=/dev/shm
fi
work=$(mktemp -d "$scratch_root/shardex-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$ARTIFACTS"

failed=0
for target in "${TARGETS[@]}"; do
  fuzzer="$bin/$target"
  if [ ! -x "$fuzzer" ]; then
    echo "fuzz: no target $target" >&2
    failed=1
    continue
  fi
  dir="$work/$target"
  mkdir -p "$dir/corpus" "$dir/tmp" "$ARTIFACTS/$target"
  cp -r "fuzz/corpus/$target/." "$dir/corpus/"
  common=(-rss_limit_mb="$RSS_LIMIT_MB" -timeout="$TIMEOUT"
          -artifact_prefix="$ARTIFACTS/$target/" -dict="$PWD/fuzz/shardex.dict")
  max_len=4096
  [ "$target" = journal_fuzzer ] && max_len=65536

  # Crashes found before, under the sanitizers (the gtest regression test
  # replays them too, but without ASan).
  mapfile -t saved < <(find "$PWD/fuzz/regressions/$target" -type f \
                         ! -name 'README*' ! -name '.*' 2>/dev/null | sort)
  if ((${#saved[@]} > 0)); then
    if ! (cd "$dir" && TMPDIR="$dir/tmp" "$fuzzer" "${common[@]}" "${saved[@]}" \
            >"$dir/replay.log" 2>&1); then
      echo "fuzz: $target: a saved regression fails again:" >&2
      grep -E "^Running:|ERROR|SUMMARY|FUZZ_CHECK" "$dir/replay.log" | tail -20 >&2
      failed=1
      continue
    fi
  fi

  echo "fuzz: $target: ${DURATION} s on $(ls "$dir/corpus" | wc -l) seeds"
  (cd "$dir" && TMPDIR="$dir/tmp" "$fuzzer" "${common[@]}" \
     -max_total_time="$DURATION" -max_len="$max_len" -print_final_stats=1 \
     "$dir/corpus" >"$dir/fuzz.log" 2>&1)
  status=$?
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)" \
    "$dir/fuzz.log" | sed "s/^/fuzz: $target: /"
  if ((status != 0)); then
    failed=1
    input=$(grep -oE "Test unit written to [^ ]+" "$dir/fuzz.log" | tail -1 |
            sed 's/Test unit written to //')
    echo "fuzz: $target FAILED (exit $status):" >&2
    grep -E "ERROR|SUMMARY|FUZZ_CHECK|==[0-9]+==|^    #[0-9]" "$dir/fuzz.log" | head -40 >&2
    echo "fuzz: $target: crashing input: ${input:-(none written; see the log above)}" >&2
    if [ -n "$input" ]; then
      echo "fuzz: reproduce: (cd /tmp && $fuzzer $input)" >&2
      echo "fuzz: then add it to fuzz/regressions/$target/ (docs/fuzzing.md)" >&2
    fi
  fi
done
exit $failed
