#!/usr/bin/env bash
# Sets up if needed, builds everything and runs every test twice: the
# normal build, then under AddressSanitizer + UndefinedBehaviorSanitizer
# (--config=asan, docs/build.md); checks the lock annotations with clang's
# -Wthread-safety (scripts/thread_safety.sh); and on CI runs the fuzz
# targets for a short while (scripts/fuzz.sh). Prints a line per run and, last,
# "N passed, N failed, N skipped" over both, counted from the gtest XML
# reports (a skip is never a pass). Exits
# non-zero if anything failed or did not build in either run.
# Arguments go to both `bazel test` commands.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

BAZEL_FLAGS=()
if [ -n "${CI:-}" ]; then BAZEL_FLAGS+=(--color=no --curses=no); fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# Runs `bazel test` with the given flags, tee'd to $logs/$label.log; sets
# status_$label and unbuilt_$label (targets that never ran: a build
# failure leaves no report, so they are counted as failures too).
run() {
  local label=$1
  shift
  echo "=== $label: bazel test ${*:+$* }//..."
  bazel test "${BAZEL_FLAGS[@]}" "$@" //... 2>&1 | tee "$logs/$label.log"
  printf -v "status_$label" '%s' "${PIPESTATUS[0]}"
  printf -v "unbuilt_$label" '%s' \
    "$(grep -cE "FAILED TO BUILD|NO STATUS" "$logs/$label.log")"
}

run normal "$@"
touch "$logs/asan-start"  # files changed after this belong to the asan run
run asan --config=asan "$@"
# The lock annotations checked by clang's -Wthread-safety (its own output
# base; docs/build.md): a violation, or an analysis that is not on, counts
# as a failure.
echo "=== thread-safety: clang -Wthread-safety -Werror=thread-safety //..."
bash scripts/thread_safety.sh || unbuilt_normal=$((unbuilt_normal + 1))
# Short libFuzzer runs (clang, the same output base; docs/fuzzing.md): a
# crash counts as a failure.
if [ -n "${CI:-}" ] || [ -n "${FUZZ_SECONDS:-}" ]; then
  bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}" || unbuilt_normal=$((unbuilt_normal + 1))
fi

# The testlogs of each configuration (the bazel-testlogs symlink follows
# the last command). Multi-process tests keep the logs of the processes
# they start (coordinator, workers) in their TEST_TMPDIR, under _tmp: a
# sanitizer report there fails the run too.
normal_testlogs=$(bazel info "${BAZEL_FLAGS[@]}" bazel-testlogs 2>/dev/null)
asan_testlogs=$(bazel info "${BAZEL_FLAGS[@]}" --config=asan bazel-testlogs 2>/dev/null)
asan_tmp=$(bazel info "${BAZEL_FLAGS[@]}" --config=asan execution_root 2>/dev/null)/_tmp

echo "=== results"
python3 scripts/count_tests.py \
  --run normal "$normal_testlogs" "$unbuilt_normal" \
  --run asan "$asan_testlogs" "$unbuilt_asan" \
  --sanitizer-logs "$asan_tmp" --newer "$logs/asan-start"
count_status=$?
if [ "$status_normal" -ne 0 ] || [ "$status_asan" -ne 0 ] || [ $count_status -ne 0 ]; then
  exit 1
fi
