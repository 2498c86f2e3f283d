#!/usr/bin/env bash
# The README's first command: set up if needed, build, and run a real job on
# a local cluster of worker processes. Arguments replace the default job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bazel build //cli:shardex >&2
if [ $# -eq 0 ]; then
  set -- local --workers 2 primes --to 10000000000
fi
exec bazel-bin/cli/shardex "$@"
