#!/bin/bash
# Generates the Python protobuf and gRPC stubs of proto/shardex.proto with
# Debian's protoc and grpc_python_plugin (packages protobuf-compiler and
# protobuf-compiler-grpc): shardex_pb2.py and shardex_pb2_grpc.py in OUTDIR.
#
# The Bazel genrule in BUILD runs it; without Bazel run it once before
# using the package from a checkout (README.md):
#     clients/python/gen_stubs.sh proto/shardex.proto clients/python/shardex/_proto
set -euo pipefail

usage() {
  echo "usage: $0 PATH/TO/shardex.proto OUTDIR" >&2
  exit 2
}
[[ $# -eq 2 ]] || usage
proto=$1
outdir=$2
[[ -f $proto ]] || { echo "$0: no such proto file: $proto" >&2; exit 2; }
plugin=${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}
command -v protoc >/dev/null ||
  { echo "$0: protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
[[ -x $plugin ]] ||
  { echo "$0: $plugin not found: apt-get install protobuf-compiler-grpc" >&2; exit 1; }

mkdir -p "$outdir"
protoc --proto_path="$(dirname "$proto")" \
  --python_out="$outdir" --grpc_python_out="$outdir" \
  --plugin=protoc-gen-grpc_python="$plugin" "$proto"
# grpc_python_plugin imports the messages as a top-level module; the stubs
# live inside the shardex package, so make that import relative.
sed -i 's/^import shardex_pb2 as /from . import shardex_pb2 as /' \
  "$outdir/shardex_pb2_grpc.py"
