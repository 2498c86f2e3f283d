#!/usr/bin/env bash
# Sets up if needed, builds everything and runs every test, then prints
# "N passed, N failed" counted from the gtest XML reports. Exits non-zero if
# anything failed or did not build.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

BAZEL_FLAGS=()
if [ -n "${CI:-}" ]; then BAZEL_FLAGS+=(--color=no --curses=no); fi

log=$(mktemp)
bazel test "${BAZEL_FLAGS[@]}" //... "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# Targets that never ran (a build failure) have no report: count them too.
unbuilt=$(grep -cE "FAILED TO BUILD|NO STATUS" "$log")
rm -f "$log"
python3 scripts/count_tests.py bazel-testlogs --extra-failures "$unbuilt"
count_status=$?
if [ $status -ne 0 ] || [ $count_status -ne 0 ]; then exit 1; fi
