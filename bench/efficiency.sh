#!/usr/bin/env bash
# Parallel efficiency against the physical limit, side by side in one run:
# `primes --to N` through shardex with no --shards (the coordinator picks
# the sharding) against `primesieve N-1 -t<cores> -c` (the same count on
# every core, no cluster at all), for a ~1 s and a ~10 s job.
#
#   efficiency = t(primesieve) / t(shardex)
#
# shardex is timed three ways, runs interleaved with primesieve's so load
# from elsewhere falls on all alike:
#   * local:  `shardex local --workers <cores> primes --to N`, the whole
#             command (cold: starts and stops a private cluster), and the
#             job's own time (start to end in its status) inside it;
#   * warm:   `shardex submit primes --to N` to a coordinator + <cores>
#             workers x 1 thread started once before timing: the command,
#             and the job's own time.
# The gap between a command's wall time and its job time is the fixed
# start-up cost. Every answer is checked against primesieve's.
#
# Usage: bash bench/efficiency.sh [N_SMALL] [N_LARGE] [RUNS]
#   defaults: 1.6e10 and 1.6e11 (about 1 s and 10 s for primesieve on the
#   2-core EPYC VM this was written on), 3 runs, medians reported.
#   SHARDEX=/path/to/shardex picks the binary; SHARDEX_FLAGS="--shards 8"
#   adds submit/local options (to compare against fixed sharding).
set -euo pipefail
source "$(dirname "$0")/common.sh"
need_debs primesieve-bin
run_bench bench/efficiency.py "${1:-1.6e10}" "${2:-1.6e11}" "${3:-3}"
