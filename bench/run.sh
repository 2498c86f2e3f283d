#!/usr/bin/env bash
# shardex benchmarks, measured side by side in one run on this machine.
#   (a) parallel efficiency of `primes` on a local cluster (W workers x T
#       threads) against one thread running the kernel directly:
#       T1 / (cores * Tcluster)
#   (b) trivial-shard throughput through one coordinator (sleep --ms 0)
#   (c) the primes kernel on one core against the `primesieve` command
# Usage: bash bench/run.sh [PRIMES_TO] [TRIVIAL_SHARDS]
set -euo pipefail
cd "$(dirname "$0")/.."
PRIMES_TO=${1:-1e11}
TRIVIAL_SHARDS=${2:-1000000}
CORES=$(nproc)

bash scripts/setup.sh
bazel build //cli:shardex //bench:kernels_bench >&2
SHARDEX=bazel-bin/cli/shardex

python3 - "$SHARDEX" "$PRIMES_TO" "$TRIVIAL_SHARDS" "$CORES" <<'PY'
import json, re, subprocess, sys, time

shardex, primes_to, trivial, cores = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def timed(cmd):
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, out

def job_seconds(status):
    return (int(status["end_time_unix_ms"]) - int(status["start_time_unix_ms"])) / 1000.0

print(f"machine: {cores} cores, {open('/proc/cpuinfo').read().split('model name')[1].split(':')[1].splitlines()[0].strip()}")

# (c) and the baseline of (a): the kernel alone on one thread.
out = subprocess.run(["bazel-bin/bench/kernels_bench", "1e6", primes_to, "1"],
                     check=True, capture_output=True, text=True).stdout
t1 = float(re.search(r"primes: .* in ([0-9.]+) s", out).group(1))
t_ps, ps_out = timed(["primesieve", primes_to, "-t1", "-c", "-q"])
print(f"(c) primes [0, {primes_to}) on one core: shardex kernel {t1:.2f} s, "
      f"primesieve {t_ps:.2f} s -> {t1 / t_ps:.3f}x primesieve's time")

# (a) the same count on a local cluster filling every core.
workers, threads = cores, 1
wall, out = timed([shardex, "local", "--workers", str(workers), "--threads", str(threads),
                   "--json", "primes", "--to", primes_to])
status = json.loads(out)
assert status["result"]["value"] == ps_out.strip(), (status["result"], ps_out)
tjob = job_seconds(status)
print(f"(a) primes [0, {primes_to}) on {workers} workers x {threads} thread: "
      f"job {tjob:.2f} s (command incl. cluster start/stop {wall:.2f} s); "
      f"efficiency T1/(cores*T) = {t1 / (cores * tjob):.3f} "
      f"({t1 / (cores * wall):.3f} counting start-up)")

# (b) trivial shards through one coordinator.
wall, out = timed([shardex, "local", "--workers", str(workers), "--threads", "1",
                   "--shards", str(trivial), "--json", "sleep", "--ms", "0"])
status = json.loads(out)
assert status["result"]["value"] == str(trivial)
tjob = job_seconds(status)
print(f"(b) {trivial} trivial shards (sleep --ms 0) on {workers} workers: "
      f"{tjob:.2f} s = {trivial / tjob:,.0f} shards/s "
      f"({trivial / wall:,.0f}/s counting start-up)")
PY
