#!/usr/bin/env bash
# Per-shard overhead of command jobs, side by side in one run: N shards of
# `/bin/true` on the same cores through
#   shardex local (1 worker, P process slots),
#   GNU parallel -jP, Python multiprocessing.Pool(P) + subprocess, xargs -P.
# Usage: bash bench/commands.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
P=$(nproc)

bash scripts/setup.sh
if ! command -v parallel >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq parallel >/dev/null
fi
bazel build //cli:shardex >&2

python3 - "$N" "$P" <<'PY'
import json, subprocess, sys, time

n, p = int(sys.argv[1]), int(sys.argv[2])

def wall(cmd, **kw):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.perf_counter() - start

rows = []
out = subprocess.run(["bazel-bin/cli/shardex", "local", "--workers", "1", "--threads", str(p),
                      "--shards", str(n), "--json", "--", "/bin/true"],
                     check=True, capture_output=True, text=True).stdout
st = json.loads(out)
job = (int(st["end_time_unix_ms"]) - int(st["start_time_unix_ms"])) / 1000
rows.append(("shardex (job time, 1 worker)", job))
rows.append(("GNU parallel", wall(["parallel", "-j", str(p), "/bin/true", ":::"] +
                                  [str(i) for i in range(n)])))
rows.append(("xargs -P", wall(["xargs", "-P", str(p), "-n", "1", "/bin/true"],
                              input="\n".join(map(str, range(n))).encode())))
py = ("import multiprocessing, subprocess\n"
      "def run(i): subprocess.run(['/bin/true'])\n"
      f"with multiprocessing.Pool({p}) as pool: pool.map(run, range({n}), chunksize=1)\n")
rows.append(("python multiprocessing.Pool", wall([sys.executable, "-c", py])))

print(f"{n} shards of /bin/true on {p} process slots:")
base = rows[0][1]
for name, t in rows:
    print(f"  {name:32s} {t:7.2f} s  {1000 * t / n:6.3f} ms/shard  ({t / base:5.2f}x shardex)")
PY
