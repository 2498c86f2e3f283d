#!/usr/bin/env bash
# The latency of a tiny job on a warm cluster, submit -> result printed,
# and where it goes (CLI start, connect, SubmitJob, first dispatch, the
# worker, the watch stream); the same job through a long-lived Python
# client (clients/python, one channel for every job); Dask's
# submit().result() on a warm LocalCluster beside it. Details: the
# docstring of bench/latency.py.
#
# Usage: bash bench/latency.sh [RUNS]   (default 50)
#   SHARDEX=/path/to/shardex picks the binary measured;
#   BASELINE=/path/to/other/shardex measures that one too, interleaved run
#   by run on a warm cluster of its own (A/B on a shared machine);
#   DASK=0 leaves the peer out.
set -euo pipefail
source "$(dirname "$0")/common.sh"
[[ "${DASK:-1}" == 0 ]] || need_debs python3-distributed
need_debs python3-grpcio python3-protobuf protobuf-compiler \
  protobuf-compiler-grpc
# The Python client from this checkout, its stubs generated under $WORK.
mkdir -p "$WORK/pyclient"
cp -r clients/python/shardex "$WORK/pyclient/"
clients/python/gen_stubs.sh proto/shardex.proto "$WORK/pyclient/shardex/_proto"
export PYTHONPATH=$WORK/pyclient${PYTHONPATH:+:$PYTHONPATH}
if [[ -n "${BASELINE:-}" && "$BASELINE" != /* ]]; then
  echo "BASELINE must be an absolute path" >&2
  exit 2
fi
run_bench bench/latency.py "${1:-50}" "${BASELINE:-}"
