#!/usr/bin/env bash
# Installs every Debian 12 package shardex needs to build, test and
# benchmark. Idempotent: quiet and quick when everything is present.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap bazel-platforms g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev libgoogle-glog-dev libcli11-dev
  libprimesieve-dev primesieve-bin libpng-dev libre2-dev libssl-dev openssl
  libsqlite3-dev
  # ip and unshare, for the multi-host tests (tests/netns_hosts.h)
  iproute2 util-linux
  # clang and libFuzzer, for the fuzz targets (scripts/fuzz.sh)
  clang-14 libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
