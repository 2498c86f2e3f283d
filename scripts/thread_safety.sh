#!/usr/bin/env bash
# Checks the lock annotations with clang-14's -Wthread-safety analysis as
# errors (--config=thread_safety, tools/clang.bazelrc; docs/build.md):
#   1. the probe (tools/thread_safety/probe.cc), which breaks the rules on
#      purpose, must FAIL to build with both of its thread-safety errors,
#      proving the analysis is on;
#   2. every target (all of //..., tests and benchmarks too) must compile
#      clean. Only the object files are built (output group
#      compilation_outputs): the analysis needs no linking.
# Exits non-zero if either does not hold. Uses the clang output base that
# scripts/fuzz.sh uses (SHARDEX_CLANG_OUTPUT_BASE).
set -uo pipefail
cd "$(dirname "$0")/.."

source scripts/clang_bazel.sh thread_safety

log=$(mktemp)
trap 'rm -f "$log"' EXIT

start=$(date +%s)
"${BAZEL[@]}" build "${FLAGS[@]}" //tools/thread_safety:probe >"$log" 2>&1
probe_status=$?
if [ "$probe_status" -eq 0 ] ||
   ! grep -q "writing variable 'value_' requires holding mutex 'mu_'" "$log" ||
   ! grep -q "cannot call function 'NeedsLockReleased' while mutex 'mu_' is held" "$log"; then
  tail -30 "$log" >&2
  echo "thread-safety: the probe's violations were not reported as errors;" \
       "the analysis is not on (tools/clang.bazelrc --config=thread_safety)" >&2
  exit 1
fi
echo "thread-safety: the probe's two violations are errors, as they must be"

# //... spelled out per top-level directory: with no bazel-* symlinks of
# its own (tools/clang.bazelrc), this server would otherwise walk into the
# normal build's bazel-* symlinks.
targets=()
for dir in */; do
  dir=${dir%/}
  case "$dir" in bazel-* | third_party) continue ;; esac
  [ -n "$(find "$dir" -name BUILD -print -quit)" ] && targets+=("//$dir/...")
done
if ! "${BAZEL[@]}" build "${FLAGS[@]}" --output_groups=compilation_outputs \
     --keep_going -- "${targets[@]}" >"$log" 2>&1; then
  grep -E "error:|warning:.*thread-safety|ERROR:" "$log" | head -60 >&2
  echo "thread-safety: the clang -Wthread-safety build failed" >&2
  exit 1
fi
echo "thread-safety: //... compiles clean under -Wthread-safety -Werror" \
     "($(($(date +%s) - start)) s)"
