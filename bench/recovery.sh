#!/usr/bin/env bash
# How fast shardex recovers from failures, on this machine. Not for CI: it
# takes a few minutes and its figures are timings.
#
# Usage: bash bench/recovery.sh [REPEATS]      (default 3)
#
# Starts a private cluster on 127.0.0.1 (a free port, its own --state-dir,
# 4 workers x 2 threads x 2 process slots), all under a temporary directory
# removed on exit, and measures:
#   (a) kill -9 of a worker holding shards: time until `shardex workers` no
#       longer lists it, and until every shard it held has started again
#       elsewhere (the job's retries + speculative attempts grew by that
#       many);
#   (b) the same for a hung worker (SIGSTOP), with the default
#       --heartbeat-timeout 3s (no speculation here: the job's queue is
#       never empty);
#   (c) makespan of a fixed job (sleep shards: the capacity is the slots,
#       not this machine's cores) with 1 of the 4 workers killed half-way,
#       against no failure. The expected makespan with the failure is
#         t_kill + (work left at t_kill + lost) / (capacity of 3 workers)
#       where lost = the victim's in-flight progress (half a shard per slot
#       on average); the lower bound takes lost = 0;
#   (d) a straggler (one shard 20x slower, fast when re-run) with
#       speculation (the default) and with --no-speculation.
# Detection times come from polling the CLI (every ~10 ms, from 2 staggered
# threads each); their resolution is about one CLI round trip (printed; tens
# of ms), so the coordinator's own log line "worker N gone" (glog, local
# time, microseconds) is reported beside them as the precise figure.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${1:-3}

bazel build //cli:shardex >&2
SHARDEX=$PWD/bazel-bin/cli/shardex
WORK=$(mktemp -d "${TMPDIR:-/tmp}/shardex-recovery.XXXXXX")

cleanup() {
  # Every process the benchmark started is listed in $WORK/pids.
  if [[ -f "$WORK/pids" ]]; then
    while read -r pid; do
      kill -CONT "$pid" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
    done <"$WORK/pids"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

python3 - "$SHARDEX" "$WORK" "$REPEATS" <<'PY'
import datetime, json, os, re, signal, statistics, subprocess, sys, threading, time

shardex, work, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
WORKERS, THREADS, PROCESSES = 4, 2, 2
pids_file = open(os.path.join(work, "pids"), "a")


def spawn(args, log):
    p = subprocess.Popen(args, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    pids_file.write(f"{p.pid}\n")
    pids_file.flush()
    return p


class Cluster:
    """A coordinator and its workers; restartable with other flags."""

    def __init__(self, name):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.port = 0
        self.coordinator = None
        self.workers = []
        self.starts = 0

    def start_coordinator(self, flags=()):
        port_file = os.path.join(self.dir, f"port-{self.starts}")
        self.starts += 1
        for _ in range(100):  # the port may be busy for a moment after a stop
            self.coordinator = spawn(
                [shardex, "coordinator",
                 f"--listen=127.0.0.1:{self.port}", f"--port-file={port_file}",
                 f"--state-dir={self.dir}/state", "--allow-commands", *flags],
                os.path.join(self.dir, "coordinator.log"))
            while not os.path.exists(port_file) and self.coordinator.poll() is None:
                time.sleep(0.01)
            if self.coordinator.poll() is None:
                time.sleep(0.05)  # the file is written, maybe not flushed
                self.port = int(open(port_file).read().strip())
                return
            time.sleep(0.1)
        sys.exit("the coordinator does not start; see " + self.dir)

    def stop_coordinator(self):
        self.coordinator.send_signal(signal.SIGKILL)
        self.coordinator.wait()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def add_worker(self):
        i = len(self.workers)
        self.workers.append(spawn(
            [shardex, "--log-level", "warning", "worker",
             f"--coordinator={self.address}", f"--token-file={self.dir}/state/token",
             f"--threads={THREADS}", f"--processes={PROCESSES}", f"--name=bench-{i}"],
            os.path.join(self.dir, f"worker-{i}.log")))
        return self.workers[-1]

    def cli(self, command, *args, check=True):
        r = subprocess.run([shardex, command, f"--coordinator={self.address}",
                            f"--token-file={self.dir}/state/token", *args],
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            sys.exit(f"shardex {command} {' '.join(args)}: {r.stderr}")
        return r

    def workers_info(self):
        return json.loads(self.cli("workers", "--json").stdout).get("workers", [])

    def status(self, job):
        return json.loads(self.cli("status", "--json", str(job)).stdout)

    def submit(self, *args):
        return int(self.cli("submit", "--detach", *args).stdout)

    def wait_workers(self, n):
        deadline = time.time() + 30
        while len(self.workers_info()) < n:
            if time.time() > deadline:
                sys.exit(f"fewer than {n} workers registered")
            time.sleep(0.02)

    def wait_job(self, job, timeout=600):
        deadline = time.time() + timeout
        while True:
            s = self.status(job)
            if s["state"] in ("JOB_SUCCEEDED", "JOB_FAILED", "JOB_CANCELLED"):
                return s
            if time.time() > deadline:
                sys.exit(f"job {job} did not end")
            time.sleep(0.05)

    def shutdown(self):
        for w in self.workers:
            if w.poll() is None:
                w.send_signal(signal.SIGCONT)
                w.send_signal(signal.SIGKILL)
                w.wait()
        if self.coordinator and self.coordinator.poll() is None:
            self.stop_coordinator()


def first_time(condition, threads=2, period=0.010, timeout=60):
    """Polls `condition()` from staggered threads; returns the wall time at
    which it was first seen true (None on timeout)."""
    seen = []
    lock = threading.Lock()
    stop = time.time() + timeout

    def loop(offset):
        time.sleep(offset)
        while time.time() < stop:
            with lock:
                if seen:
                    return
            try:
                ok = condition()
            except Exception:  # a CLI hiccup: poll again
                ok = False
            if ok:
                with lock:
                    seen.append(time.time())
                return
            time.sleep(period)

    ts = [threading.Thread(target=loop, args=(i * period / threads,))
          for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return min(seen) if seen else None


GLOG = re.compile(r"^[IWEF](\d{8}) (\d\d:\d\d:\d\d\.\d{6}) .*\bworker (\d+) gone\b")


def logged_drop(c, worker_id, after):
    """When the coordinator's log says it dropped `worker_id` (glog local
    time), or None."""
    for line in open(os.path.join(c.dir, "coordinator.log"), errors="replace"):
        m = GLOG.match(line)
        if m and int(m.group(3)) == worker_id:
            t = datetime.datetime.strptime(m.group(1) + m.group(2),
                                           "%Y%m%d%H:%M:%S.%f").timestamp()
            if t >= after - 1:
                return t
    return None


def cli_round_trip(c):
    samples = []
    for _ in range(10):
        t = time.time()
        c.workers_info()
        samples.append(time.time() - t)
    return statistics.median(samples)


def job_seconds(s):
    return (int(s["end_time_unix_ms"]) - int(s["start_time_unix_ms"])) / 1000.0


def start_cluster(name, flags=()):
    c = Cluster(name)
    c.start_coordinator(flags)
    for _ in range(WORKERS):
        c.add_worker()
    c.wait_workers(WORKERS)
    return c


def measure_loss(c, sig):
    """Stops a worker holding shards with `sig`; returns seconds until the
    coordinator logged dropping it, until `shardex workers` no longer listed
    it, until all its shards had restarted elsewhere; and the shards it
    held."""
    job = c.submit("--shards", "100000", "sleep", "--ms", "400")
    time.sleep(1.0)  # every worker busy
    victim_info = None
    while victim_info is None:
        for info in c.workers_info():
            if int(info["running"]) > 0:
                victim_info = info
                break
        else:
            time.sleep(0.01)
    victim_pid = int(victim_info["pid"])
    held = int(victim_info["running"])
    def restarted(st):  # backups do not count as retries: add them
        return int(st["retries"]) + int(st.get("speculative_attempts", 0))
    restarted0 = restarted(c.status(job))
    t0 = time.time()
    os.kill(victim_pid, sig)
    # Both watched at once, in case the shards restart before the worker
    # is delisted.
    found = {}
    watchers = [
        threading.Thread(target=lambda: found.__setitem__("gone", first_time(
            lambda: all(int(w["pid"]) != victim_pid for w in c.workers_info())))),
        threading.Thread(target=lambda: found.__setitem__("rerun", first_time(
            lambda: restarted(c.status(job)) >= restarted0 + held))),
    ]
    for t in watchers:
        t.start()
    for t in watchers:
        t.join()
    gone, rerun = found["gone"], found["rerun"]
    logged = logged_drop(c, int(victim_info["worker_id"]), t0)
    c.cli("cancel", str(job))
    # The victim: dead (SIGKILL) or to be killed (SIGSTOP); replace it.
    os.kill(victim_pid, signal.SIGKILL)
    os.kill(victim_pid, signal.SIGCONT)
    for w in c.workers:
        if w.pid == victim_pid:
            w.wait()
    c.add_worker()
    c.wait_workers(WORKERS)
    since = lambda t: t - t0 if t else float("nan")
    return since(logged), since(gone), since(rerun), held


def med(xs):
    return statistics.median(xs) if xs else float("nan")


rows = []
print(f"machine: {os.cpu_count()} cores; cluster: {WORKERS} workers x "
      f"{THREADS} threads x {PROCESSES} process slots; {repeats} repeats",
      flush=True)

# (a), (b)
c = start_cluster("loss")
rtt = cli_round_trip(c)
print(f"poll resolution: one `shardex workers` round trip = {rtt * 1000:.0f} ms",
      flush=True)
for label, sig in (("(a) kill -9 of a busy worker", signal.SIGKILL),
                   ("(b) SIGSTOP of a busy worker (3s timeout)", signal.SIGSTOP)):
    logged, gone, rerun = [], [], []
    for _ in range(repeats):
        l, g, r, held = measure_loss(c, sig)
        logged.append(l)
        gone.append(g)
        rerun.append(r)
        print(f"  {label}: held {held}; dropped (coordinator log) after "
              f"{l * 1000:.0f} ms; seen by polling: delisted after "
              f"{g * 1000:.0f} ms, its shards re-run after {r * 1000:.0f} ms",
              flush=True)
    rows.append((label, f"dropped after {med(logged) * 1000:.0f} ms (log)",
                 f"polled: delisted {med(gone) * 1000:.0f} ms, shards re-run "
                 f"{med(rerun) * 1000:.0f} ms (medians)"))
c.shutdown()

# (c)
SHARDS, MS = 160, 250
slots = WORKERS * THREADS
job_args = ("--shards", str(SHARDS), "sleep", "--ms", str(MS))
t_ok, t_kill, expected, lower = [], [], [], []
c = start_cluster("makespan")
for _ in range(repeats):
    s = c.wait_job(c.submit(*job_args))
    t_ok.append(job_seconds(s))
for _ in range(repeats):
    job = c.submit(*job_args)
    while int(c.status(job)["shards_succeeded"]) < SHARDS // 2:
        time.sleep(0.01)
    victim = c.workers[-1]
    victim.send_signal(signal.SIGKILL)
    tk = time.time()
    victim.wait()
    s = c.wait_job(job)
    assert s["state"] == "JOB_SUCCEEDED" and s["result"]["value"] == str(SHARDS), s
    t_kill.append(job_seconds(s))
    since_start = tk - int(s["start_time_unix_ms"]) / 1000.0
    total = SHARDS * MS / 1000.0           # slot-seconds of work
    left = max(total - slots * since_start, 0.0)
    lost = THREADS * MS / 1000.0 / 2       # the victim's in-flight progress
    rest = slots - THREADS
    expected.append(since_start + (left + lost) / rest)
    lower.append(since_start + left / rest)
    c.add_worker()
    c.wait_workers(WORKERS)
c.shutdown()
t0 = med(t_ok)
rows.append(("(c) makespan, 1 of 4 workers killed half-way",
             f"{med(t_kill):.2f} s vs {t0:.2f} s = {med(t_kill) / t0:.3f}x",
             f"expected {med(expected) / t0:.3f}x, lower bound "
             f"{med(lower) / t0:.3f}x"))

# (d)
straggler = ("--shards", "16", "--reduce", "sum", "--shell", "--",
             'if [ {shard} = 3 ] && [ "$SHARDEX_ATTEMPT" = 1 ]; then sleep 10; '
             'else sleep 0.5; fi; echo {shard}')
times = {}
for name, flags in (("spec", ()), ("nospec", ("--no-speculation",))):
    c = start_cluster("straggler-" + name, flags)
    ts = []
    for _ in range(repeats):
        s = c.wait_job(c.submit(*straggler))
        assert s["state"] == "JOB_SUCCEEDED" and s["result"]["value"].strip() == "120", s
        ts.append(job_seconds(s))
    times[name] = med(ts)
    c.shutdown()
rows.append(("(d) straggler (1 shard 20x slower)",
             f"speculation {times['spec']:.2f} s, --no-speculation "
             f"{times['nospec']:.2f} s",
             f"= {times['nospec'] / times['spec']:.2f}x faster with it"))

print()
w = max(len(r[0]) for r in rows)
for r in rows:
    print(f"{r[0]:<{w}}  {r[1]:<38} {r[2]}")
PY
