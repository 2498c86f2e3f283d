"""The Python half of bench/peers.sh (see there). Also the runners run as
their own processes: `peers.py --pool FILE P` and `peers.py --dask FILE P`
print the total count, the CPU seconds its primesieve processes used (and
Dask its timings) for the shards in FILE."""

import os
import resource
import subprocess
import sys
import time


def count(shard):
    """(primes in shard, CPU seconds its primesieve process used). A pool
    or Dask worker process runs one shard at a time, so its children's
    usage grows by that one process's."""
    begin, end = shard
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["primesieve", str(begin), str(end), "-t1", "-c", "-q"],
                         check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return int(out), cpu


def steal_seconds():
    """CPU time the hypervisor has taken from this machine since boot, all
    CPUs together (/proc/stat's steal): while it grows, the cores run
    other guests' work, and the wall clock runs on."""
    with open("/proc/stat") as f:
        fields = f.readline().split()  # cpu user nice system idle iowait irq softirq steal
    return int(fields[8]) / os.sysconf("SC_CLK_TCK")


def median_run_note(walls, notes):
    """The note of the run whose wall time is the median (the lower
    middle one for an even count), so a table row's note belongs with its
    figures."""
    order = sorted(range(len(walls)), key=lambda i: walls[i])
    return notes[order[(len(order) - 1) // 2]]


def read_shards(path):
    with open(path) as f:
        return [tuple(map(int, line.split())) for line in f]


def pool_runner(path, procs):
    import multiprocessing
    with multiprocessing.Pool(procs) as pool:
        counts = list(pool.imap_unordered(count, read_shards(path), chunksize=1))
    print(sum(n for n, _ in counts), sum(cpu for _, cpu in counts))


def dask_runner(path, procs):
    import logging
    from dask.distributed import Client, LocalCluster
    logging.getLogger("distributed").setLevel(logging.ERROR)
    shards = read_shards(path)
    start = time.perf_counter()
    with LocalCluster(n_workers=procs, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(procs)
        steal = steal_seconds()
        ready = time.perf_counter()
        counts = client.gather(client.map(count, shards, pure=False))
        done = time.perf_counter()
        steal = steal_seconds() - steal
    print(sum(n for n, _ in counts), sum(cpu for _, cpu in counts), done - ready,
          steal, ready - start)


def bench(runs, sizes):
    import benchlib as b
    shardex = os.environ["SHARDEX"]
    cores = os.cpu_count()
    me = os.path.abspath(__file__)
    b.print_machine()
    cluster = b.Cluster(shardex, "warm")
    cluster.add_worker(threads=cores, processes=cores)
    results = []
    try:
        for name, spec in sizes:
            shards, width = map(int, spec.split())
            assert width % 2 == 0, "an even width keeps every bound even (never prime)"
            end = shards * width
            ranges = [(i * width, (i + 1) * width) for i in range(shards)]
            path = os.path.join(b.WORK, f"{name}.shards")
            with open(path, "w") as f:
                f.writelines(f"{lo} {hi}\n" for lo, hi in ranges)
            want = b.timed(["primesieve", str(end), "-c", "-q"])[1].strip()

            # Per-shard cost: a sample spread over the range, one at a time.
            sample = ranges[::max(1, shards // 20)]
            times = []
            for r in sample:
                t0 = time.perf_counter()
                count(r)
                times.append(time.perf_counter() - t0)
            per_shard = b.median(times)
            print(f"\n{name}: {shards} shards of {width:,} numbers, [0, {end:,}]; "
                  f"one shard alone takes {1000 * per_shard:.1f} ms (median of "
                  f"{len(sample)}; {1000 * min(times):.1f}-{1000 * max(times):.1f}); "
                  f"ideal on {cores} cores = {shards * per_shard / cores:.2f} s; "
                  f"{want} primes", flush=True)

            sx_args = ["--range", f"0:{end}", "--shards", str(shards), "--reduce",
                       "sum", "--", "primesieve", "{begin}", "{end}", "-t1", "-c", "-q"]

            # Each runner: (wall s, answer, CPU s of the shards, note[, steal
            # s while it was timed, if not the whole call's]). The
            # shards' CPU is what their parents were told when they reaped
            # them: exactly primesieve's for shardex warm (its worker's
            # children), Pool and Dask (per shard, in the worker process);
            # with the runner's helpers for the rest (xargs: nothing else;
            # parallel: its shells, if any; local: its worker processes'
            # own CPU too), which can only make their efficiency look higher.
            def sx_warm():
                coordinator, worker = cluster.procs[0].pid, cluster.procs[1].pid
                c0, (w0, k0) = b.proc_cpu(coordinator)[0], b.proc_cpu(worker)
                wall, st = cluster.submit(sx_args)
                c1, (w1, k1) = b.proc_cpu(coordinator)[0], b.proc_cpu(worker)
                own = 1000 * (c1 - c0 + w1 - w0) / shards
                return (wall, st["result"]["value"], k1 - k0,
                        f"job {b.job_seconds(st):.2f} s; own CPU {own:.2f} ms/shard")

            def sx_local():
                wall, out, _, cpu = b.timed_tree(
                    [shardex, "local", "--workers", "1", "--processes", str(cores),
                     "--json", *sx_args])
                st = b.json.loads(out)
                return wall, st["result"]["value"], cpu, f"job {b.job_seconds(st):.2f} s"

            def xargs():
                with open(path) as feed:
                    wall, out, _, cpu = b.timed_tree(
                        ["xargs", "-P", str(cores), "-n", "2", "primesieve", "-t1",
                         "-c", "-q"], stdin=feed)
                return wall, sum(map(int, out.split())), cpu, ""

            def parallel():
                wall, out, _, cpu = b.timed_tree(
                    ["parallel", "-j", str(cores), "--colsep", " ", "primesieve",
                     "{1}", "{2}", "-t1", "-c", "-q", "::::", path])
                return wall, sum(map(int, out.split())), cpu, ""

            def pool():
                wall, out = b.timed([sys.executable, me, "--pool", path, str(cores)])
                total, cpu = out.split()
                return wall, total, float(cpu), ""

            def dask():
                _, out = b.timed([sys.executable, me, "--dask", path, str(cores)])
                total, cpu, wall, steal, startup = out.split()
                return (float(wall), total, float(cpu),
                        f"cluster start {float(startup):.2f} s", float(steal))

            runners = [
                (f"shardex submit, warm (1 worker x {cores} processes)", sx_warm),
                (f"shardex local --processes {cores} (cold)", sx_local),
                (f"xargs -P{cores}", xargs),
                (f"GNU parallel -j{cores}", parallel),
                (f"Python multiprocessing.Pool({cores})", pool),
                (f"Dask LocalCluster({cores}x1), warm", dask),
            ]
            walls = {label: [] for label, _ in runners}
            effs = {label: [] for label, _ in runners}
            notes = {label: [] for label, _ in runners}
            for run in range(runs):
                for label, runner in runners:
                    steal = steal_seconds()
                    wall, got, cpu, note, *own_steal = runner()
                    steal = own_steal[0] if own_steal else steal_seconds() - steal
                    b.check(f"{label} ({name})", got, want)
                    # The share of the cores' time that went to the shards,
                    # of the time the hypervisor left this machine: unlike
                    # the wall time, unmoved when the machine runs faster
                    # or slower from one run to the next.
                    eff = cpu / (cores * wall - steal)
                    if steal > 0.01 * cores * wall:
                        note = f"{note}; steal {steal:.2f} s".lstrip("; ")
                    walls[label].append(wall)
                    effs[label].append(eff)
                    notes[label].append(note)
                    print(f"  run {run + 1}: {label}: {wall:.2f} s, shards' CPU "
                          f"{cpu:.2f} s, efficiency {eff:.3f} {note}", flush=True)
            med = {label: b.median(w) for label, w in walls.items()}
            med_eff = {label: b.median(e) for label, e in effs.items()}
            fastest = min(med.values())
            best = max(med_eff.values())
            rows = [[label, f"{t:.2f}", f"{shards / t:,.0f}",
                     f"{1000 * t * cores / shards:.2f}", f"{t / fastest:.3f}",
                     f"{med_eff[label]:.3f}", f"{best / med_eff[label]:.3f}",
                     median_run_note(walls[label], notes[label])]
                    for label, t in med.items()]
            results.append((name, shards, per_shard, rows))
    finally:
        cluster.stop()

    for name, shards, per_shard, rows in results:
        print(f"\n{name}: {shards} shards of ~{1000 * per_shard:.1f} ms on {cores} "
              f"processes, all answers exact (median of {runs} run(s)):")
        b.table(["runner", "wall s", "shards/s", "ms/shard/slot", "vs fastest",
                 "efficiency", "vs best eff.", "note"], rows)


if __name__ == "__main__":
    if sys.argv[1] == "--pool":
        pool_runner(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "--dask":
        dask_runner(sys.argv[2], int(sys.argv[3]))
    else:
        bench(int(sys.argv[1]), [("small", sys.argv[2]), ("large", sys.argv[3])])
