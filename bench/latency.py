"""The Python half of bench/latency.sh: the latency of a tiny job on a warm
cluster, submit -> result printed, and where that time goes.

Usage (through latency.sh): latency.py RUNS [BASELINE]
$SHARDEX is measured; a BASELINE binary, if given, gets a warm cluster of
its own and every measurement alternates between the two (same load).

Per binary, on a coordinator + 2 workers x 1 thread on 127.0.0.1, each row
RUNS times (rows interleaved run by run):
  * `--version`: the CLI process alone (exec, dynamic loading, static
    initialisers) -- the floor of every command;
  * `health`: + a channel to the coordinator and one unary RPC;
  * `submit --detach`: + the SubmitJob RPC (planning, journaling the job);
  * `submit sleep --ms 0` with one shard, and `pi --samples 1000`: the whole
    thing, result printed.
  * the same two jobs through a long-lived Python client
    (clients/python: shardex.Client, its channel opened once before the
    runs): c.result(c.submit(...)) -- SubmitJob, then a WatchJob stream
    until its terminal status, which carries the result -- timed in this
    process, no process start.
For the `sleep` job (CLI and Python client) the wall time is then split
with the job's own timestamps (unix ms, this host's clock, so at 1 ms resolution):
  start -> submit_time: process start, connecting, the request arriving;
  submit_time -> start_time: planning, journaling, the first dispatch;
  start_time -> end_time: the worker running the shard and its result
    reaching the coordinator (and the job's end journaled);
  end_time -> exit: the watch stream telling the CLI, printing, exiting
    (Python client: the terminal status reaching result()).
Peer: Dask's client.submit(f).result() on a warm LocalCluster(2 x 1) from
this (already running) Python process, and a fresh `python3` that connects
a Client and does the same (comparable to a CLI: process start included).
"""

import json
import os
import subprocess
import sys
import time

import benchlib as b
import shardex as pyclient  # clients/python; latency.sh puts it on PYTHONPATH

PEER_SCRIPT = r"""
import logging, sys, time
from dask.distributed import Client
logging.getLogger("distributed").setLevel(logging.ERROR)
with Client(sys.argv[1], timeout=30) as c:
    print(c.submit(lambda: 1, pure=False).result())
"""


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def ms(x):
    return f"{x * 1000:.1f}"


class Target:
    """One binary with its warm cluster and the samples measured on it."""

    def __init__(self, label, shardex):
        self.label = label
        self.shardex = shardex
        self.cluster = b.Cluster(shardex, f"warm-{label}")
        for _ in range(2):
            self.cluster.add_worker(threads=1, processes=1)
        # One channel for every job of the Python rows: a long-lived client.
        self.client = pyclient.Client(coordinator=self.cluster.address,
                                     token_file=self.cluster.token)
        self.samples = {}
        self.phases = {}

    def add(self, row, seconds):
        self.samples.setdefault(row, []).append(seconds)

    def split(self, path, began, st, ended):
        """Splits began..ended of a `sleep` job with its timestamps."""
        submit_s = st.submit_time_unix_ms / 1000.0
        start_s = st.start_time_unix_ms / 1000.0
        end_s = st.end_time_unix_ms / 1000.0
        for key, x in (("connect", submit_s - began),
                       ("dispatch", start_s - submit_s),
                       ("run", end_s - start_s),
                       ("watch", ended - end_s)):
            self.phases.setdefault((path, key), []).append(x)

    def python_once(self):
        c = self.client
        began = time.time()
        start = time.perf_counter()
        job = c.submit("sleep", {"ms": 0}, shards=1)
        r = c.result(job)
        wall = time.perf_counter() - start
        ended = time.time()
        self.add("Python Client: sleep --ms 0, 1 shard", wall)
        self.split("python", began, c.status(job), ended)
        start = time.perf_counter()
        r = c.result(c.submit("pi", {"samples": 1000}))
        self.add("Python Client: pi --samples 1000", time.perf_counter() - start)
        if not r.text.strip():
            sys.exit("pi (Python client) gave nothing")

    def run_once(self):
        s, auth = self.shardex, self.cluster.auth
        wall, _ = b.timed([s, "--version"])
        self.add("--version (process start)", wall)
        wall, _ = b.timed([s, "health", *auth])
        self.add("health (+ connect, 1 RPC)", wall)
        wall, _ = b.timed([s, "submit", "--detach", *auth, "--shards", "1",
                           "sleep", "--ms", "0"])
        self.add("submit --detach (+ SubmitJob)", wall)
        began = time.time()
        wall, out = b.timed([s, "submit", "--json", *auth, "--shards", "1",
                             "sleep", "--ms", "0"])
        ended = time.time()
        st = json.loads(out)
        b.check("sleep", st["state"], "JOB_SUCCEEDED")
        self.add("submit sleep --ms 0, 1 shard", wall)
        self.split("cli", began, pyclient.pb.JobStatus(
            submit_time_unix_ms=int(st["submit_time_unix_ms"]),
            start_time_unix_ms=int(st["start_time_unix_ms"]),
            end_time_unix_ms=int(st["end_time_unix_ms"])), ended)
        wall, out = b.timed([s, "submit", *auth, "pi", "--samples", "1000"])
        if not out.strip():
            sys.exit("pi printed nothing")
        self.add("submit pi --samples 1000", wall)
        self.python_once()


def dask_rows(runs):
    """(rows, cleanup) for Dask, or ([], None) when it is not installed."""
    try:
        import logging
        from dask.distributed import Client, LocalCluster
    except ImportError:
        return []
    logging.getLogger("distributed").setLevel(logging.ERROR)
    rows = {"Dask submit().result(), in process": [],
            "Dask: python3 + Client + submit().result()": []}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(2)
        client.submit(lambda: 0, pure=False).result()  # warm
        for _ in range(runs):
            start = time.perf_counter()
            b.check("dask", client.submit(lambda: 1, pure=False).result(), 1)
            rows["Dask submit().result(), in process"].append(
                time.perf_counter() - start)
            wall, out = b.timed([sys.executable, "-c", PEER_SCRIPT,
                                 cluster.scheduler_address])
            b.check("dask (fresh process)", out, 1)
            rows["Dask: python3 + Client + submit().result()"].append(wall)
    return list(rows.items())


def main():
    runs = int(sys.argv[1])
    baseline = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
    b.print_machine()
    targets = []
    try:
        if baseline:
            print(f"baseline: {baseline}")
            targets.append(Target("baseline", baseline))
        targets.append(Target("shardex", os.environ["SHARDEX"]))
        for t in targets:  # one untimed round each: page cache, channels
            t.run_once()
            t.samples.clear()
            t.phases.clear()
        for _ in range(runs):
            for t in targets:
                t.run_once()
        load_after = " ".join(open("/proc/loadavg").read().split()[:3])
    finally:
        for t in targets:
            t.client.close()
            t.cluster.stop()
    print(f"\n{runs} runs each, interleaved; ms; load average at the end "
          f"{load_after}")
    header = ["command"]
    for t in targets:
        header += [f"{t.label} median", "p90", "min"]
    rows = []
    for row in targets[0].samples:
        r = [row]
        for t in targets:
            xs = t.samples[row]
            r += [ms(b.median(xs)), ms(pct(xs, 0.9)), ms(min(xs))]
        rows.append(r)
    b.table(header, rows)
    print("\nwhere `sleep --ms 0` spends its time (ms; job timestamps have "
          "1 ms resolution):")
    names = {("cli", "connect"): "CLI: start + connect + request (-> submit_time)",
             ("cli", "dispatch"): "CLI: plan + journal + first dispatch (-> start_time)",
             ("cli", "run"): "CLI: worker runs it + result back (-> end_time)",
             ("cli", "watch"): "CLI: watch tells the CLI + print + exit",
             ("python", "connect"): "Python: SubmitJob request (-> submit_time)",
             ("python", "dispatch"): "Python: plan + journal + first dispatch",
             ("python", "run"): "Python: worker runs it + result back",
             ("python", "watch"): "Python: the watch tells result()"}
    rows = []
    for key, name in names.items():
        r = [name]
        for t in targets:
            xs = t.phases[key]
            r += [ms(b.median(xs)), ms(pct(xs, 0.9)), ms(min(xs))]
        rows.append(r)
    b.table(header, rows)
    if os.environ.get("DASK", "1") != "0":
        peer = dask_rows(runs)
        if peer:
            print("\npeer (warm LocalCluster, 2 workers x 1 thread):")
            b.table(["runner", "median", "p90", "min"],
                    [[n, ms(b.median(x)), ms(pct(x, 0.9)), ms(min(x))]
                     for n, x in peer])


if __name__ == "__main__":
    main()
