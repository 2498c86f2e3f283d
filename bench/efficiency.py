"""The Python half of bench/efficiency.sh (see there)."""

import os
import shlex
import sys
from decimal import Decimal

import benchlib as b

shardex = os.environ["SHARDEX"]
sizes = [(a, int(Decimal(a))) for a in sys.argv[1:3]]
runs = int(sys.argv[3])
extra = shlex.split(os.environ.get("SHARDEX_FLAGS", ""))
cores = os.cpu_count()

b.print_machine()
print(f"{runs} runs per size, interleaved; medians; extra shardex flags: "
      f"{extra or 'none'}", flush=True)

cluster = b.Cluster(shardex, "warm")
for _ in range(cores):
    cluster.add_worker(threads=1)

rows = []
try:
    for label, n in sizes:
        t = {k: [] for k in ("ps", "local", "local_job", "warm", "warm_job")}
        for run in range(runs):
            # primesieve's STOP is inclusive: [0, n-1] is shardex's [0, n).
            wall, out = b.timed(["primesieve", str(n - 1), f"-t{cores}", "-c", "-q"])
            want = out.strip()
            t["ps"].append(wall)

            wall, out = b.timed([shardex, "local", "--workers", str(cores),
                                 "--json", *extra, "primes", "--to", str(n)])
            st = b.json.loads(out)
            b.check(f"shardex local primes --to {n}", st["result"]["value"], want)
            t["local"].append(wall)
            t["local_job"].append(b.job_seconds(st))
            local_shards = st.get("shards_total")

            wall, st = cluster.submit([*extra, "primes", "--to", str(n)])
            b.check(f"shardex submit primes --to {n}", st["result"]["value"], want)
            t["warm"].append(wall)
            t["warm_job"].append(b.job_seconds(st))
            print(f"run {run + 1}, N={n}: primesieve {t['ps'][-1]:.3f} s; "
                  f"local {t['local'][-1]:.3f} s (job {t['local_job'][-1]:.3f} s, "
                  f"{local_shards} shards); warm {t['warm'][-1]:.3f} s "
                  f"(job {t['warm_job'][-1]:.3f} s, {st.get('shards_total')} shards); {want} primes", flush=True)
        m = {k: b.median(v) for k, v in t.items()}
        ps = m["ps"]
        rows.append([label, f"primesieve -t{cores}", f"{ps:.3f}", "", "1.000", ""])
        for kind, runner in (("local", f"shardex local --workers {cores} (cold)"),
                             ("warm", f"shardex submit, warm {cores}x1 cluster")):
            rows.append([label, runner, f"{m[kind]:.3f}", f"{m[kind + '_job']:.3f}",
                         f"{ps / m[kind]:.3f}", f"{ps / m[kind + '_job']:.3f}"])
finally:
    cluster.stop()

print(f"\nprimes in [0, N) on {cores} cores; medians of {runs} runs "
      "(command = whole CLI command; job = the job's start to end):")
b.table(["N", "runner", "command s", "job s", "eff. command", "eff. job"], rows)
print("efficiency = t(primesieve) / t(shardex): 1.0 is the physical limit.")
