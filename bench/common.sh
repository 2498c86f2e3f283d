# Sourced by the side-by-side benchmarks (efficiency.sh, peers.sh,
# straggler.sh): finds the shardex binary, installs the peer tools, makes a
# private temporary directory and removes it, with every process started
# under it, on exit.
#
# After sourcing: $SHARDEX (absolute path), $WORK (temporary directory;
# benchlib.spawn records each process it starts in $WORK/pids), $PY (the
# system Python, which has Debian's python3-distributed; not pyenv's).
# Usage in a script:  source "$(dirname "$0")/common.sh"; need_debs parallel

# A relative $SHARDEX is relative to where the script was started.
if [[ -n "${SHARDEX:-}" && "$SHARDEX" != /* ]]; then SHARDEX=$PWD/$SHARDEX; fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=/usr/bin/python3

# The binary: $SHARDEX, else one built in this tree (release, then cli).
if [[ -z "${SHARDEX:-}" ]]; then
  for candidate in bazel-bin/release/bin/shardex bazel-bin/cli/shardex; do
    if [[ -x "$candidate" ]]; then SHARDEX=$candidate; break; fi
  done
fi
if [[ -z "${SHARDEX:-}" || ! -x "$SHARDEX" ]]; then
  echo "no shardex binary: run \`bazel build //release:shardex\` here, or set SHARDEX=/path/to/shardex" >&2
  exit 2
fi
[[ "$SHARDEX" == /* ]] || SHARDEX=$PWD/$SHARDEX
export SHARDEX

# need_debs PACKAGE...: installs the Debian packages not installed yet.
need_debs() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  echo "installing ${missing[*]} (apt-get)" >&2
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    "${missing[@]}" >/dev/null
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/shardex-bench.XXXXXX")
export WORK
bench_cleanup() {
  # $WORK/pids lists the Python half's process group (it makes itself a
  # session: everything it runs is in it) and whatever benchlib.spawn
  # started: PID, or -PGID for a process group of its own.
  # SIGTERM first, so that `shardex local` removes its own temporary
  # directory, then SIGKILL whatever is left.
  if [[ -f "$WORK/pids" ]]; then
    local entry signal
    for signal in TERM KILL; do
      while read -r entry; do
        kill "-$signal" -- "$entry" 2>/dev/null ||
          kill "-$signal" "${entry#-}" 2>/dev/null || true
      done <"$WORK/pids"
      [[ $signal == TERM ]] && sleep 1
    done
  fi
  rm -rf "$WORK"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# run_bench SCRIPT.py ARGS...: the Python half, in the background so that
# INT/TERM reach the trap above at once (a foreground child would delay it).
# Its TMPDIR is under $WORK: what the tools leave when killed (`shardex
# local` keeps its cluster in $TMPDIR/shardex-local-*) goes with $WORK.
run_bench() {
  mkdir "$WORK/tmp"
  TMPDIR="$WORK/tmp" PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$PWD/bench${PYTHONPATH:+:$PYTHONPATH}" "$PY" "$@" &
  local child=$!
  echo "-$child" >>"$WORK/pids"
  wait "$child"
}
