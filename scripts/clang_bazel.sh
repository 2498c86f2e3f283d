# Sourced by scripts/fuzz.sh and scripts/thread_safety.sh: the clang-14
# Bazel of tools/clang.bazelrc, in its own output base
# (SHARDEX_CLANG_OUTPUT_BASE, default ~/.cache/shardex-clang) so the gcc
# build's cache is never thrown away. Sets BAZEL (the command) and FLAGS
# (--config=$1 plus CI's output settings); runs setup first.
#   source scripts/clang_bazel.sh CONFIG
OUTPUT_BASE="${SHARDEX_CLANG_OUTPUT_BASE:-$HOME/.cache/shardex-clang}"
bash scripts/setup.sh || { echo "$1: setup failed" >&2; exit 1; }
# A second Bazel server (its own output base): let it exit soon after.
BAZEL=(bazel --bazelrc=tools/clang.bazelrc "--output_base=$OUTPUT_BASE"
       --max_idle_secs=300)
FLAGS=("--config=$1")
if [ -n "${CI:-}" ]; then FLAGS+=(--color=no --curses=no); fi
