#!/usr/bin/env bash
# Regenerates the dashboard's screenshots in docs/img (dashboard-login.png,
# dashboard-overview.png, dashboard-job.png), by hand: runs
# tests/dashboard_browser_test, which drives Debian's headless Chromium
# through a real cluster's dashboard, with SHARDEX_SCREENSHOT_DIR pointed
# at docs/img. Needs what scripts/setup.sh installs (chromium, npm ci in
# tests/browser). Fails if the test failed or skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/docs/img"
mkdir -p "$out"
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT
bazel test //tests:dashboard_browser_test --nocache_test_results \
  --test_output=errors --sandbox_writable_path="$out" \
  --test_env=SHARDEX_SCREENSHOT_DIR="$out"
for name in login overview job; do
  f="$out/dashboard-$name.png"
  if [ ! "$f" -nt "$stamp" ]; then
    echo "dashboard_screenshots: $f was not rewritten (did the test skip? see bazel-testlogs/tests/dashboard_browser_test/test.log)" >&2
    exit 1
  fi
  echo "$f"
done
