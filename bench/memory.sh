#!/usr/bin/env bash
# The coordinator's memory per queued shard: a coordinator with no workers
# (journal on: a state directory under $WORK) is sent one job of SHARDS
# trivial shards (`sleep --ms 0`), which all stay queued; its VmRSS from
# /proc before the submit and once the job shows every shard queued, over
# SHARDS, is the figure (the issue's budget: about 120 bytes). VmHWM (the
# peak) is printed too: growing vectors hold twice their size for a moment.
# Each run starts a fresh coordinator; the median of RUNS is printed.
# Usage: bash bench/memory.sh [SHARDS] [RUNS]   (default 1000000, 3)
#   SHARDEX=/path/to/shardex picks the binary (bench/common.sh).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cat >"$WORK/memory.py" <<'PY'
import json, os, subprocess, sys, time
import benchlib

shards, runs = int(sys.argv[1]), int(sys.argv[2])
shardex = os.environ["SHARDEX"]
WORK = os.environ["WORK"]


def proc_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def wait_for(what, ok, seconds=60):
    give_up = time.time() + seconds
    while time.time() < give_up:
        if ok():
            return
        time.sleep(0.1)
    sys.exit(f"gave up waiting for {what}")


def one_run(run):
    state = os.path.join(WORK, f"state-{run}")
    os.mkdir(state)
    token = os.path.join(state, "bench-token")
    with open(os.open(token, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write("bench-token-" + os.urandom(8).hex())
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    auth = ["--coordinator", address, "--token-file", token]
    coord = benchlib.spawn([shardex, "coordinator", "--listen", address,
                            "--state-dir", state, "--token-file", token],
                           log=os.path.join(WORK, f"coordinator-{run}.log"))
    try:
        wait_for("the coordinator", lambda: subprocess.run(
            [shardex, "health"] + auth, capture_output=True).returncode == 0)
        before = proc_kib(coord.pid, "VmRSS")
        job = json.loads(subprocess.run(
            [shardex, "submit", "--detach", "--json", "--shards", str(shards)]
            + auth + ["sleep", "--ms", "0"],
            check=True, capture_output=True, text=True).stdout)["job_id"]

        def all_queued():
            status = json.loads(subprocess.run(
                [shardex, "status", "--json", str(job)] + auth,
                check=True, capture_output=True, text=True).stdout)
            return int(status.get("shards_queued", 0)) == shards

        wait_for("the job's shards to be queued", all_queued)
        time.sleep(0.5)  # let the journal's writer settle
        after = proc_kib(coord.pid, "VmRSS")
        peak = proc_kib(coord.pid, "VmHWM")
        return (after - before) * 1024 / shards, (peak - before) * 1024 / shards
    finally:
        benchlib.stop([coord])


rss, hwm = [], []
for run in range(runs):
    r, h = one_run(run)
    rss.append(r)
    hwm.append(h)
    print(f"run {run + 1}: {r:.1f} bytes per queued shard (peak {h:.1f})",
          flush=True)
print(f"{shards} queued shards, one coordinator, no workers, journal on: "
      f"median {benchlib.median(rss):.1f} bytes per queued shard "
      f"(VmRSS growth; peak VmHWM growth {benchlib.median(hwm):.1f})")
PY
run_bench "$WORK/memory.py" "${1:-1000000}" "${2:-3}"
