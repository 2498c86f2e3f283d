#!/usr/bin/env bash
# The same CPU-bound command shards through shardex and its peers, side by
# side in one run: shard i runs `primesieve B_i E_i -t1 -c -q` (count the
# primes of its range on one thread) and every runner's per-shard counts
# are summed and checked against `primesieve END -c -q`. Runners, all with
# <cores> processes at once:
#   * shardex warm:  `shardex submit --range 0:END --shards S --reduce sum
#                    -- primesieve {begin} {end} -t1 -c -q` to a coordinator
#                    + 1 worker (--processes <cores>) started before timing;
#   * shardex local: the same through `shardex local --workers 1
#                    --processes <cores>` (cold: starts its own cluster);
#   * xargs -P<cores>, GNU parallel -j<cores> (each a whole command);
#   * Python multiprocessing.Pool(<cores>), subprocess per shard (a whole
#     /usr/bin/python3 process);
#   * Dask distributed: LocalCluster(n_workers=<cores>, processes,
#     threads_per_worker=1) started before timing, client.map of a function
#     running subprocess per shard (warm, like shardex warm; its start-up is
#     printed apart).
# Two sizes: "small" shards (primesieve's own start-up, ~5-10 ms, dominates)
# and ~100 ms shards. Shard ranges have even bounds, so primesieve's
# inclusive STOP never counts a prime twice. Per-shard times are measured
# first (a sample run one at a time) and printed.
#
# Besides the wall time, each run prints its efficiency: the CPU time of
# the shards' processes (as their parents were told when they reaped them)
# over cores x wall minus the CPU time the hypervisor took meanwhile
# (/proc/stat's steal). On a shared VM whose speed swings by tens of per
# cent between runs, this share of the machine that went to the shards is
# what stays put: it compares the runners' overheads (their own CPU, idle
# gaps between shards, the tail) to a per cent. Where a runner's helpers
# cannot be told apart from its shards (xargs itself, GNU parallel's
# shells, `shardex local`'s worker processes) they count as shards, which
# can only flatter that runner.
#
# Usage: bash bench/peers.sh [RUNS]   (default 1; with more, medians)
#   SMALL="2000 1000000" LARGE="200 500000000" (shards, width of a shard)
#   override the sizes; SHARDEX=/path/to/shardex picks the binary.
set -euo pipefail
source "$(dirname "$0")/common.sh"
need_debs primesieve-bin parallel python3-distributed
run_bench bench/peers.py "${1:-1}" "${SMALL:-2000 1000000}" "${LARGE:-200 500000000}"
