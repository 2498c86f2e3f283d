"""The Python half of bench/straggler.sh (see there)."""

import collections
import json
import os
import shlex
import subprocess
import sys
import time
from decimal import Decimal

import benchlib as b

SLOW_CORE, FAST_CORE, BUSY_LOOPS = "0", "1", 3

shardex = os.environ["SHARDEX"]
label, runs = sys.argv[1], int(sys.argv[2])
n = int(Decimal(label))
variants = [shlex.split(v) for v in sys.argv[3].split(";")]
coordinator_flags = shlex.split(os.environ.get("COORDINATOR_FLAGS", ""))


def crowded(core):
    """A prefix that runs a command pinned to `core` beside BUSY_LOOPS busy
    loops pinned there too, all in one session: with the kernel's autogroup
    scheduling (each session its own group) or none, the command then gets
    1 / (1 + BUSY_LOOPS) of what one process would, whatever else runs here.
    Start it with own_session: the loops die with its process group."""
    loops = f'taskset -c {core} /bin/sh -c "while :; do :; done" & ' * BUSY_LOOPS
    return ["/bin/sh", "-c", loops + f'exec taskset -c {core} "$@"', "crowded"]


def probe_seconds(args):
    """Wall seconds of `args` on the fast core and, at the same time,
    crowded on the slow core (so both meet the same other load)."""
    start = time.perf_counter()
    procs = {"fast": b.spawn(["taskset", "-c", FAST_CORE, *args]),
             "slow": b.spawn([*crowded(SLOW_CORE), *args], own_session=True)}
    seconds = {}
    while len(seconds) < len(procs):
        for which, p in procs.items():
            if which not in seconds and p.poll() is not None:
                if p.returncode != 0:
                    sys.exit(f"FAILED (exit {p.returncode}): {' '.join(args)} ({which})")
                seconds[which] = time.perf_counter() - start
        time.sleep(0.005)
    b.stop(list(procs.values()))  # the slow one's busy loops
    return seconds["fast"], seconds["slow"]


def per_worker(cluster, job_id):
    """{worker name: (shards succeeded, attempts, busy seconds)}."""
    out = subprocess.run([shardex, "status", "--json", "--shards", job_id,
                          *cluster.auth], check=True, capture_output=True,
                         text=True).stdout
    stats = collections.defaultdict(lambda: [0, 0, 0.0])
    for attempt in json.loads(out):
        s = stats[attempt["host"]]
        s[0] += attempt["outcome"] == "succeeded"
        s[1] += 1
        s[2] += attempt["runtime_us"] / 1e6
    return stats


b.print_machine()
want = b.timed(["primesieve", str(n - 1), "-c", "-q"])[1].strip()
cluster = b.Cluster(shardex, "straggler", coordinator_flags)
try:
    cluster.add_worker(threads=1, prefix=["taskset", "-c", FAST_CORE])  # bench-0
    _, st = cluster.submit(["primes", "--to", str(n)])
    b.check("fast worker alone", st["result"]["value"], want)
    t1 = b.job_seconds(st)
    print(f"primes --to {label}: {want} primes; the fast worker alone: {t1:.2f} s "
          f"({st['shards_total']} shards)", flush=True)

    probe = ["primesieve", "2e9", "-t1", "-c", "-q"]
    fast, slow = probe_seconds(probe)
    r = fast / slow
    ideal = t1 / (1 + r)
    print(f"speed of core {SLOW_CORE} beside {BUSY_LOOPS} busy loops: {r:.3f} of core "
          f"{FAST_CORE}'s ({slow:.2f} s vs {fast:.2f} s for `{' '.join(probe)}`); "
          f"ideal makespan t1 / (1 + r) = {ideal:.2f} s", flush=True)
    cluster.add_worker(threads=1, prefix=crowded(SLOW_CORE), own_session=True)  # bench-1

    rows = []
    for run in range(runs):
        for extra in variants:
            name = " ".join(extra) or "(default)"
            _, st = cluster.submit([*extra, "primes", "--to", str(n)])
            b.check(f"primes --to {label} {name}", st["result"]["value"], want)
            span = b.job_seconds(st)
            w = per_worker(cluster, st["job_id"])
            fast_w, slow_w = w["bench-0"], w["bench-1"]
            rows.append([name, str(run + 1), st["shards_total"],
                         st.get("speculative_attempts", "0"), f"{span:.2f}",
                         f"{ideal:.2f}", f"{span / ideal:.3f}",
                         f"{fast_w[0]} / {fast_w[2]:.2f} s",
                         f"{slow_w[0]} / {slow_w[2]:.2f} s"])
            print(f"run {run + 1}, {name}: makespan {span:.2f} s "
                  f"({span / ideal:.3f}x ideal)", flush=True)
finally:
    cluster.stop()

print(f"\nprimes --to {label} on 2 workers x 1 thread, one ~{1 / r:.1f}x slower; "
      f"work t1 = {t1:.2f} s on the fast worker; ideal = {ideal:.2f} s:")
b.table(["submit options", "run", "shards", "speculative", "makespan s", "ideal s",
         "vs ideal", "fast: shards/busy", "slow: shards/busy"], rows)
print("(busy = the sum of the worker's attempts' run times, speculative and "
      "cancelled ones included)")
