#!/usr/bin/env bash
# What the journal costs trivial shards: `sleep --ms 0` shards through one
# coordinator and W workers, in shards/s of job time (start to end in the
# job's status), for
#   * each shardex binary given (say main's build and this tree's), with
#     the journal on: `shardex local` always keeps a state directory;
#   * the last binary with the journal off: a coordinator with
#     --state-dir "" keeps its state in memory only.
# Runs are interleaved (binary A, B, ..., journal off; again; ...) so that
# other load on the machine falls on every variant alike.
# Usage: bash bench/journal.sh [SHARDS] [RUNS] [BINARY...]
#   (default: 1000000 shards, 3 runs, bazel-bin/cli/shardex built here)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARDS=${1:-1000000}
RUNS=${2:-3}
shift $(( $# < 2 ? $# : 2 ))
if [[ $# -eq 0 ]]; then
  bazel build //cli:shardex >&2
  set -- bazel-bin/cli/shardex
fi

python3 - "$SHARDS" "$RUNS" "$@" <<'PY'
import json, os, shutil, socket, statistics, subprocess, sys, tempfile, time

shards, runs, binaries = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
workers = 2

def job_rate(out):
    status = json.loads(out)
    assert status["result"]["value"] == str(shards), status.get("result")
    seconds = (int(status["end_time_unix_ms"]) -
               int(status["start_time_unix_ms"])) / 1000.0
    return shards / seconds

def journal_on(binary):
    out = subprocess.run([binary, "local", "--workers", str(workers),
                          "--threads", "1", "--shards", str(shards), "--json",
                          "sleep", "--ms", "0"],
                         check=True, capture_output=True, text=True).stdout
    return job_rate(out)

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def journal_off(binary):
    tmp = tempfile.mkdtemp(prefix="shardex-journal-bench-")
    procs = []
    try:
        token = os.path.join(tmp, "token")
        with open(os.open(token, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("bench-token-" + os.urandom(8).hex())
        address = f"127.0.0.1:{free_port()}"
        auth = ["--coordinator", address, "--token-file", token]
        procs.append(subprocess.Popen(
            [binary, "coordinator", "--listen", address, "--state-dir", "",
             "--token-file", token], stderr=subprocess.DEVNULL))
        for _ in range(100):
            if subprocess.run([binary, "health"] + auth,
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        for i in range(workers):
            procs.append(subprocess.Popen(
                [binary, "worker", "--threads", "1", "--name", f"bench-{i}"]
                + auth, stderr=subprocess.DEVNULL))
        for _ in range(100):
            listed = subprocess.run([binary, "workers", "--json"] + auth,
                                    capture_output=True, text=True)
            if listed.returncode == 0 and \
                    len(json.loads(listed.stdout).get("workers", [])) >= workers:
                break
            time.sleep(0.1)
        out = subprocess.run([binary, "submit", "--shards", str(shards),
                              "--json"] + auth + ["sleep", "--ms", "0"],
                             check=True, capture_output=True, text=True).stdout
        return job_rate(out)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)

variants = [(f"journal on:  {b}", lambda b=b: journal_on(b)) for b in binaries]
variants.append((f"journal off: {binaries[-1]}",
                 lambda: journal_off(binaries[-1])))
rates = {name: [] for name, _ in variants}
for run in range(runs):
    for name, measure in variants:
        rates[name].append(measure())
        print(f"run {run + 1}: {name}: {rates[name][-1]:,.0f} shards/s",
              flush=True)
print(f"{shards} trivial shards on {workers} workers, {os.cpu_count()} cores, "
      f"runs interleaved:")
for name, _ in variants:
    r = rates[name]
    print(f"  {name}: median {statistics.median(r):,.0f} shards/s "
          f"(runs: {', '.join(f'{x:,.0f}' for x in r)})")
PY
