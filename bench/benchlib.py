"""Helpers shared by the side-by-side benchmarks (efficiency, peers,
straggler): process bookkeeping that bench/common.sh can clean up, a warm
cluster on loopback, wall-clock timing and the tables they print.

Scheduling: importing this module makes the benchmark its own session.
Linux's autogroup scheduling (on by default) shares the CPU between
sessions first, so everything measured (shardex's warm cluster, shardex
local, primesieve, xargs, Dask, ...) runs in this one session and meets
other load on the machine alike; a cluster whose processes each had a
session of their own would get several shares and look faster than it is.

Cleanup: every long-lived process is started with spawn() and recorded in
$WORK/pids (common.sh writes this process group there too), so that
common.sh's exit trap kills it even if Python itself is killed.
"""

import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time

WORK = os.environ["WORK"]
_pids = open(os.path.join(WORK, "pids"), "a")
try:
    os.setsid()
except PermissionError:  # already a session (and group) leader
    pass


def _exit_on_term(signum, frame):
    sys.exit(128 + signum)


# SIGTERM unwinds through the finally blocks like Ctrl-C does.
signal.signal(signal.SIGTERM, _exit_on_term)


def spawn(args, log=None, own_session=False):
    """Starts `args`, output to `log` (a file under $WORK) or discarded, and
    records it for cleanup. With own_session it gets a session and process
    group of its own (killed as a group: for children of its own that must
    not outlive it, and a separate share of the CPU under autogroup)."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT, start_new_session=own_session)
    p.own_session = own_session
    _pids.write(f"{'-' if own_session else ''}{p.pid}\n")
    _pids.flush()
    return p


def _signal(p, signum):
    try:
        if p.own_session:
            os.killpg(p.pid, signum)
        else:
            p.send_signal(signum)
    except ProcessLookupError:
        pass


def stop(procs):
    """SIGTERM, then SIGKILL after 10 s, to each process, in reverse (to
    the whole group of one with its own session, even if its leader is
    gone: its children may not be)."""
    for p in reversed(procs):
        if p.poll() is None or p.own_session:
            _signal(p, signal.SIGTERM)
    for p in reversed(procs):
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _signal(p, signal.SIGKILL)
            p.wait()


def timed(args, **kw):
    """(wall seconds, stdout) of a command that must succeed."""
    start = time.perf_counter()
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, **kw)
    wall = time.perf_counter() - start
    if r.returncode != 0:
        sys.exit(f"FAILED (exit {r.returncode}): {' '.join(map(str, args))}\n"
                 f"{r.stderr[-2000:]}")
    return wall, r.stdout


def proc_cpu(pid):
    """(own, children's) CPU seconds, user + system, of a live or zombie
    process from /proc/PID/stat; children's counts the descendants it has
    waited for (each with its own waited-for descendants)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # fields[0]: field 3
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    tick = os.sysconf("SC_CLK_TCK")
    return (utime + stime) / tick, (cutime + cstime) / tick


def timed_tree(args, stdin=None):
    """(wall seconds, stdout, own CPU s, children's CPU s) of a command that
    must succeed: the CPU is read from its zombie (waitid WNOWAIT) before
    it is reaped. `stdin`: an open file, else /dev/null."""
    with open(os.path.join(WORK, "timed_tree.err"), "w+") as err:
        start = time.perf_counter()
        p = subprocess.Popen(args, stdin=stdin or subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=err, text=True)
        out = p.stdout.read()
        os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
        wall = time.perf_counter() - start
        own, children = proc_cpu(p.pid)
        if p.wait() != 0:
            err.seek(0)
            sys.exit(f"FAILED (exit {p.returncode}): {' '.join(map(str, args))}\n"
                     f"{err.read()[-2000:]}")
    return wall, out, own, children


def job_seconds(status):
    """A job's own run time, start to end, from `shardex ... --json`."""
    return (int(status["end_time_unix_ms"]) -
            int(status["start_time_unix_ms"])) / 1000.0


def check(what, got, want):
    """Exits non-zero (after printing both) if an answer is wrong."""
    if str(got).strip() != str(want).strip():
        sys.exit(f"WRONG ANSWER from {what}: got {got!r}, want {want!r}")


def median(xs):
    return statistics.median(xs)


def print_machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    print(f"machine: {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), "
          f"{model}, {platform.system()} {platform.release()}, "
          f"load average {load}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"shardex: {os.environ.get('SHARDEX')}")
    sys.stdout.flush()


def table(header, rows):
    """Prints rows (lists of strings) under header, columns aligned."""
    widths = [max(len(str(r[i])) for r in [header] + rows)
              for i in range(len(header))]
    for r in [header] + rows:
        print("  " + "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths))))
    sys.stdout.flush()


class Cluster:
    """A warm cluster on 127.0.0.1: one coordinator (own state directory,
    own token, a free port) and the workers added with add_worker()."""

    def __init__(self, shardex, name, coordinator_flags=()):
        self.shardex = shardex
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir)
        self.procs = []
        self.workers = 0
        port_file = os.path.join(self.dir, "port")
        self.token = os.path.join(self.dir, "token")
        self.procs.append(spawn(
            [shardex, "coordinator", "--listen", "127.0.0.1:0", "--port-file",
             port_file, "--state-dir", os.path.join(self.dir, "state"),
             "--token-file", self.token, "--allow-commands",
             *coordinator_flags],
            log=os.path.join(self.dir, "coordinator.log")))
        self._wait(lambda: os.path.exists(port_file) and
                   open(port_file).read().strip(), "the coordinator's port")
        self.address = f"127.0.0.1:{open(port_file).read().strip()}"
        self.auth = ["--coordinator", self.address, "--token-file", self.token]
        self._wait(lambda: subprocess.run(
            [shardex, "health", *self.auth], capture_output=True).returncode == 0,
            "the coordinator's health check")

    def _wait(self, ready, what, seconds=30):
        deadline = time.monotonic() + seconds
        while not ready():
            if time.monotonic() > deadline:
                sys.exit(f"timed out waiting for {what}; logs in {self.dir}")
            if self.procs[0].poll() is not None:
                sys.exit(f"the coordinator exited; see {self.dir}/coordinator.log")
            time.sleep(0.05)

    def add_worker(self, threads, processes=None, prefix=(), own_session=False):
        """Starts a worker (`prefix` e.g. ["taskset", "-c", "0"]; see spawn
        for own_session) and waits until the coordinator lists it."""
        name = f"bench-{self.workers}"
        self.workers += 1
        scratch = os.path.join(self.dir, name)
        os.makedirs(scratch)
        self.procs.append(spawn(
            [*prefix, self.shardex, "worker", *self.auth, "--name", name,
             "--threads", str(threads), "--processes", str(processes or threads),
             "--scratch-dir", scratch],
            log=os.path.join(self.dir, f"{name}.log"), own_session=own_session))
        self._wait(lambda: len(self.list_workers()) >= self.workers,
                   f"worker {name} to register")
        return self.procs[-1]

    def list_workers(self):
        r = subprocess.run([self.shardex, "workers", "--json", *self.auth],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return []
        return json.loads(r.stdout).get("workers", [])

    def submit(self, args):
        """(wall seconds of the whole `shardex submit`, its JSON status)."""
        wall, out = timed([self.shardex, "submit", "--json", *self.auth, *args])
        return wall, json.loads(out)

    def stop(self):
        stop(self.procs)
        self.procs = []
