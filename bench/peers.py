"""The Python half of bench/peers.sh (see there). Also the runners run as
their own processes: `peers.py --pool FILE P` and `peers.py --dask FILE P`
print the total count (and Dask its timings) for the shards in FILE."""

import os
import subprocess
import sys
import time


def count(shard):
    begin, end = shard
    out = subprocess.run(["primesieve", str(begin), str(end), "-t1", "-c", "-q"],
                         check=True, capture_output=True, text=True).stdout
    return int(out)


def read_shards(path):
    with open(path) as f:
        return [tuple(map(int, line.split())) for line in f]


def pool_runner(path, procs):
    import multiprocessing
    with multiprocessing.Pool(procs) as pool:
        print(sum(pool.imap_unordered(count, read_shards(path), chunksize=1)))


def dask_runner(path, procs):
    import logging
    from dask.distributed import Client, LocalCluster
    logging.getLogger("distributed").setLevel(logging.ERROR)
    shards = read_shards(path)
    start = time.perf_counter()
    with LocalCluster(n_workers=procs, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(procs)
        ready = time.perf_counter()
        total = sum(client.gather(client.map(count, shards, pure=False)))
        done = time.perf_counter()
    print(total, done - ready, ready - start)


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
            feed = open(path).read()

            def sx_warm():
                wall, st = cluster.submit(sx_args)
                return wall, st["result"]["value"], f"job {b.job_seconds(st):.2f} s"

            def sx_local():
                wall, out = b.timed([shardex, "local", "--workers", "1", "--processes",
                                     str(cores), "--json", *sx_args])
                st = b.json.loads(out)
                return wall, st["result"]["value"], f"job {b.job_seconds(st):.2f} s"

            def xargs():
                wall, out = b.timed(["xargs", "-P", str(cores), "-n", "2", "primesieve",
                                     "-t1", "-c", "-q"], input=feed)
                return wall, sum(map(int, out.split())), ""

            def parallel():
                wall, out = b.timed(["parallel", "-j", str(cores), "--colsep", " ",
                                     "primesieve", "{1}", "{2}", "-t1", "-c", "-q",
                                     "::::", path])
                return wall, sum(map(int, out.split())), ""

            def pool():
                wall, out = b.timed([sys.executable, me, "--pool", path, str(cores)])
                return wall, out.strip(), ""

            def dask():
                _, out = b.timed([sys.executable, me, "--dask", path, str(cores)])
                total, wall, startup = out.split()
                return float(wall), total, f"cluster start {float(startup):.2f} s"

            runners = [
                (f"shardex submit, warm (1 worker x {cores} processes)", sx_warm),
                (f"shardex local --processes {cores} (cold)", sx_local),
                (f"xargs -P{cores}", xargs),
                (f"GNU parallel -j{cores}", parallel),
                (f"Python multiprocessing.Pool({cores})", pool),
                (f"Dask LocalCluster({cores}x1), warm", dask),
            ]
            walls = {label: [] for label, _ in runners}
            notes = {}
            for run in range(runs):
                for label, runner in runners:
                    wall, got, note = runner()
                    b.check(f"{label} ({name})", got, want)
                    walls[label].append(wall)
                    notes[label] = note
                    print(f"  run {run + 1}: {label}: {wall:.2f} s {note}", flush=True)
            med = {label: b.median(w) for label, w in walls.items()}
            fastest = min(med.values())
            rows = [[label, f"{t:.2f}", f"{shards / t:,.0f}",
                     f"{1000 * t * cores / shards:.2f}", f"{t / fastest:.3f}",
                     notes[label]] for label, t in med.items()]
            results.append((name, shards, per_shard, rows))
    finally:
        cluster.stop()

    for name, shards, per_shard, rows in results:
        print(f"\n{name}: {shards} shards of ~{1000 * per_shard:.1f} ms on {cores} "
              f"processes, all answers exact (median of {runs} run(s)):")
        b.table(["runner", "wall s", "shards/s", "ms/shard/slot", "vs fastest", "note"], rows)


if __name__ == "__main__":
    if sys.argv[1] == "--pool":
        pool_runner(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "--dask":
        dask_runner(sys.argv[2], int(sys.argv[3]))
    else:
        bench(int(sys.argv[1]), [("small", sys.argv[2]), ("large", sys.argv[3])])
