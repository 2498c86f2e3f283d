#!/usr/bin/env bash
# What staging (issue 11, docs/staging.md) costs, on this machine over
# loopback. Not for CI: it writes ~4 GiB under $TMPDIR and its figures are
# timings.
#
# Usage: bazel build -c opt //cli:shardex && bash bench/staging.sh [MIB]
#        (MIB: size of the generated text file, default 1024)
#
# Starts a private cluster on 127.0.0.1 (a free port, its own --state-dir,
# 2 workers x 1 thread x 2 process slots, each worker with its own scratch
# directory and so its own blob cache), all under a temporary directory
# removed on exit, and measures:
#   (a) staging throughput: `submit --lines FILE --reduce sum -- wc -l` on a
#       fresh cluster, from the start of `submit` until the job is done, i.e.
#       the file hashed, uploaded to the coordinator's store and fetched by
#       both workers (each fetches the blocks of its shards; `wc -l` costs
#       next to nothing). Also the time until the "shardex: staged ..." line
#       (hash + upload only). Against `cp FILE COPY` of the same file.
#   (b) wordcount of the file through staging (a fresh cluster: upload and
#       fetch included; then again, warm: stored and cached) against the same
#       job with --shared-fs (every process reads the file where it is).
# Every answer is checked: the --lines sum against `wc -l`, the word total
# against `wc -w`.
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-1024}

SHARDEX=$PWD/bazel-bin/cli/shardex
if [[ ! -x "$SHARDEX" ]]; then
  echo "no $SHARDEX: run 'bazel build -c opt //cli:shardex' first" >&2
  exit 2
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/shardex-staging.XXXXXX")

cleanup() {
  # Every process the benchmark started is listed in $WORK/pids.
  if [[ -f "$WORK/pids" ]]; then
    while read -r pid; do
      kill -KILL "$pid" 2>/dev/null || true
    done <"$WORK/pids"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

python3 - "$SHARDEX" "$WORK" "$MIB" <<'PY'
import json, os, random, re, signal, subprocess, sys, threading, time

shardex, work, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
WORKERS, THREADS, PROCESSES = 2, 1, 2
pids_file = open(os.path.join(work, "pids"), "a")


def spawn(args, log, **kw):
    p = subprocess.Popen(args, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, **kw)
    pids_file.write(f"{p.pid}\n")
    pids_file.flush()
    return p


class Cluster:
    """A coordinator and WORKERS workers, all fresh (store and caches empty)."""

    def __init__(self, name):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.procs = []
        port_file = os.path.join(self.dir, "port")
        self.coordinator = spawn(
            [shardex, "--log-level", "warning", "coordinator",
             "--listen=127.0.0.1:0", f"--port-file={port_file}",
             f"--state-dir={self.dir}/state", "--allow-commands",
             "--max-store-bytes", "64G", "--max-upload-bytes", "32G"],
            os.path.join(self.dir, "coordinator.log"))
        self.procs.append(self.coordinator)
        deadline = time.time() + 30
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if self.coordinator.poll() is not None or time.time() > deadline:
                sys.exit("the coordinator does not start; see "
                         + os.path.join(self.dir, "coordinator.log"))
            time.sleep(0.01)
        time.sleep(0.05)
        self.address = f"127.0.0.1:{int(open(port_file).read().strip())}"
        for i in range(WORKERS):
            scratch = os.path.join(self.dir, f"scratch-{i}")
            os.makedirs(scratch)
            self.procs.append(spawn(
                [shardex, "--log-level", "warning", "worker",
                 f"--coordinator={self.address}",
                 f"--token-file={self.dir}/state/token",
                 f"--threads={THREADS}", f"--processes={PROCESSES}",
                 f"--scratch-dir={scratch}", "--cache-bytes", "64G",
                 f"--name=bench-{i}"],
                os.path.join(self.dir, f"worker-{i}.log")))
        deadline = time.time() + 30
        while len(json.loads(self.cli("workers", "--json").stdout).get("workers", [])) < WORKERS:
            if time.time() > deadline:
                sys.exit(f"fewer than {WORKERS} workers registered; see {self.dir}")
            time.sleep(0.05)

    def argv(self, command, *args):
        return [shardex, command, f"--coordinator={self.address}",
                f"--token-file={self.dir}/state/token", *args]

    def cli(self, command, *args):
        r = subprocess.run(self.argv(command, *args), capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"shardex {command} {' '.join(args)}: exit {r.returncode}: {r.stderr}")
        return r

    def timed_submit(self, *args):
        """Runs `submit ARGS`; (seconds, stdout, stderr, seconds until the
        'shardex: staged' line, or None)."""
        start = time.perf_counter()
        p = subprocess.Popen(self.argv("submit", *args), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        err, staged_at = [], [None]

        def read_err():
            buf = b""
            for chunk in iter(lambda: p.stderr.read1(65536), b""):
                buf += chunk
                if staged_at[0] is None and b"shardex: staged" in buf:
                    staged_at[0] = time.perf_counter() - start
            err.append(buf.decode(errors="replace"))

        t = threading.Thread(target=read_err)
        t.start()
        out = p.stdout.read().decode()
        p.wait()
        t.join()
        wall = time.perf_counter() - start
        if p.returncode != 0:
            sys.exit(f"submit {' '.join(args)}: exit {p.returncode}: {err[0]}")
        return wall, out, err[0], staged_at[0]

    def stop(self):
        for p in self.procs:
            p.send_signal(signal.SIGKILL)
            p.wait()


def staged_line(err):
    m = re.search(r"shardex: staged .*", err)
    return m.group(0) if m else "(no 'shardex: staged' line)"


def make_text(path, mib):
    """~mib MiB of text: a 16 MiB block of random lines from a 20 000-word
    vocabulary, repeated with a distinct first line each time."""
    rng = random.Random(20261206)
    vocab = [f"w{i}" for i in range(20000)]
    lines, size = [], 0
    while size < 16 << 20:
        line = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 14))) + "\n"
        lines.append(line)
        size += len(line)
    block = "".join(lines).encode()
    with open(path, "wb") as f:
        for i in range(max(1, round((mib << 20) / len(block)))):
            f.write(f"block {i}\n".encode())
            f.write(block)


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


data = os.path.join(work, "data.txt")
t0 = time.perf_counter()
make_text(data, mib)
size = os.path.getsize(data)
mb = size / 1e6
want_lines = run(["sh", "-c", f"wc -l < {data}"]).strip()
want_words = run(["sh", "-c", f"wc -w < {data}"]).strip()
print(f"machine: {os.cpu_count()} cores; file {size / 2**20:.0f} MiB "
      f"({want_lines} lines, {want_words} words), made in {time.perf_counter() - t0:.1f} s; "
      f"cluster: {WORKERS} workers x {THREADS} thread x {PROCESSES} slots on 127.0.0.1")

# (a) staging throughput against cp.
run(["cat", data])  # warm the page cache for both sides alike
c = Cluster("a")
try:
    wall, out, err, staged_at = c.timed_submit(
        "--lines", data, "--shards", "8", "--reduce", "sum", "--", "wc", "-l")
finally:
    c.stop()
if out.strip() != want_lines:
    sys.exit(f"(a) wrong answer: {out.strip()} lines, wc -l says {want_lines}")
copy = os.path.join(work, "copy.txt")
start = time.perf_counter()
subprocess.run(["cp", data, copy], check=True)
t_cp = time.perf_counter() - start
os.unlink(copy)
print()
print("(a) staging throughput (answer checked against wc -l)")
print(f"    {staged_line(err)}")
print(f"    {'':34s} {'seconds':>8s} {'MB/s':>8s} {'x cp':>7s}")
if staged_at is not None:
    print(f"    {'hash + upload (until staged line)':34s} {staged_at:8.2f} "
          f"{mb / staged_at:8.0f} {staged_at / t_cp:7.2f}")
print(f"    {'submit until both workers fetched':34s} {wall:8.2f} {mb / wall:8.0f} "
      f"{wall / t_cp:7.2f}")
print(f"    {'cp of the same file':34s} {t_cp:8.2f} {mb / t_cp:8.0f} {1:7.2f}")

# (b) wordcount through staging against --shared-fs.
rows = []
c = Cluster("b")
try:
    for label, extra in (("staged, cold (upload + fetch)", []),
                         ("staged, warm (stored + cached)", []),
                         ("--shared-fs", ["--shared-fs"])):
        wall, out, err, _ = c.timed_submit(*extra, "--json", "--shards", "16",
                                           "wordcount", data)
        status = json.loads(out)
        words = status["result"]["details"]["words"]
        if words != want_words:
            sys.exit(f"(b) {label}: {words} words, wc -w says {want_words}")
        job = (int(status["end_time_unix_ms"]) - int(status["start_time_unix_ms"])) / 1000
        rows.append((label, wall, job, staged_line(err) if not extra else "-"))
finally:
    c.stop()
base = rows[-1][1]
print()
print(f"(b) wordcount of {size / 2**20:.0f} MiB, 16 shards (words checked against wc -w)")
print(f"    {'':32s} {'submit s':>9s} {'job s':>7s} {'MB/s':>7s} {'x shared-fs':>12s}")
for label, wall, job, line in rows:
    print(f"    {label:32s} {wall:9.2f} {job:7.2f} {mb / wall:7.0f} {wall / base:12.2f}")
for label, _, _, line in rows[:2]:
    print(f"    {label}: {line}")
PY
