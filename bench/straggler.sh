#!/usr/bin/env bash
# A straggler for real: `primes --to N` (no --shards) on a warm cluster of 2
# workers x 1 thread where one worker is about 4x slower. Without cgroups
# the slow one is made slow by sharing its core: it is pinned with
# `taskset -c 0` beside 3 busy loops also pinned to core 0 and started in
# its session (so it gets about a quarter of what the fast worker, pinned
# to core 1 alone, gets: with autogroup scheduling each session is one
# group, so this holds even when other load shares the cores).
#
# Measured, in one run:
#   * t1: the job on the fast worker alone (before the slow one joins): the
#     work, in fast-worker seconds;
#   * r:  the slow worker's speed relative to the fast one: `primesieve
#         2e9 -t1` crowded the same way on core 0 vs, at the same time,
#         alone on core 1;
#   * for each variant of submit options: the makespan (the job's start to
#     end), the ideal t1 / (1 + r) (the work spread over the total speed),
#     makespan / ideal, and per worker the shards it finished and its busy
#     time (from `shardex status --shards`).
# The answers are checked against `primesieve N-1 -c`.
#
# Usage: bash bench/straggler.sh [N] [RUNS]     (default 6e10, about 8 s on
#   one core here; 1 run per variant)
#   VARIANTS='--shards 8;' (the default): ';'-separated submit options, one
#   variant each; "" is shardex's default sharding. E.g. once adaptive
#   sizing and splitting land: VARIANTS='--shards 8;;--target-shard-time 200ms'
#   COORDINATOR_FLAGS='--no-speculation' is passed to the coordinator.
#   SHARDEX=/path/to/shardex picks the binary.
set -euo pipefail
source "$(dirname "$0")/common.sh"
need_debs primesieve-bin
if [[ $(nproc) -lt 2 ]]; then
  echo "straggler.sh needs 2 cores (a slow one and a fast one)" >&2
  exit 2
fi
run_bench bench/straggler.py "${1:-6e10}" "${2:-1}" "${VARIANTS---shards 8;}"
