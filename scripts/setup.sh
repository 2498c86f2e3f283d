#!/usr/bin/env bash
# Installs every Debian 12 package shardex needs to build, test and
# benchmark. Idempotent: quiet and quick when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  bazel-bootstrap bazel-platforms g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev libgoogle-glog-dev libcli11-dev
  libprimesieve-dev primesieve-bin libpng-dev libre2-dev libssl-dev openssl
  libsqlite3-dev
  # tcmalloc (gperftools' tcmalloc_minimal): the shardex binary's allocator
  # (tools/system_library.bzl; bench/README.md, throughput)
  libgoogle-perftools-dev
  # Boost.Beast/Asio, header-only: the coordinator's HTTP server (/metrics)
  libboost-dev
  # ip and unshare, for the multi-host tests (tests/netns_hosts.h)
  iproute2 util-linux
  # clang and libFuzzer, for the fuzz targets (scripts/fuzz.sh)
  clang-14 libclang-rt-14-dev
  # deploy/ tests (deploy/README.md): a real Slurm (slurmctld, two slurmd,
  # munge), sshd inside the namespace hosts, systemd-analyze and
  # systemd-nspawn, a minimal Debian root for the boot check, dpkg-deb for
  # the .deb, and Node.js + npm for the offline Kubernetes schema check
  slurmctld slurmd slurm-client munge openssh-server openssh-client
  systemd systemd-container mmdebstrap dpkg-dev nodejs
  # the Python client (clients/python) and its test: Debian's Python with
  # gRPC; its stubs come from protoc and grpc_python_plugin (above)
  python3 python3-grpcio python3-protobuf
  # the dashboard's browser test (tests/dashboard_browser_test): Debian's
  # Chromium, run headless by playwright-core (npm, below)
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
# npm: Debian's package, unless the installed nodejs brings its own (the
# NodeSource build does, and conflicts with Debian's npm).
if ! command -v npm >/dev/null && ! dpkg-query -W -f='${Version}' nodejs 2>/dev/null | grep -q nodesource; then
  missing+=(npm)
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  # The tests start munged, slurmd and sshd themselves, in namespaces; the
  # packages' own services must not start (sshd would listen on port 22).
  # policy-rc.d's exit 101 tells invoke-rc.d "not now".
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\n# scripts/setup.sh: no service starts while it installs\nexit 101\n' |
      $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$policy" ]; then $SUDO rm -f "$policy"; trap - EXIT; fi
fi

# Prometheus and promtool for the metrics tests
# (coordinator/metrics_cluster_test), unpacked from Debian's package
# without installing it (no service).
p=$HOME/.cache/shardex/prometheus
if [ ! -x "$p/usr/bin/promtool" ] || [ ! -x "$p/usr/bin/prometheus" ]; then
  echo "setup: unpacking Debian's prometheus into $p" >&2
  tmp=$(mktemp -d)
  chmod 755 "$tmp"  # apt's _apt user writes the download there
  (cd "$tmp" && { apt-get download -qq prometheus 2>/dev/null ||
    { $SUDO apt-get update -qq && apt-get download -qq prometheus; }; })
  mkdir -p "$p"
  dpkg -x "$tmp"/prometheus_*.deb "$p"
  rm -rf "$tmp"
fi

# npm packages, pinned by each directory's committed lockfile: the offline
# Kubernetes validation (deploy/kubernetes/README.md) and playwright-core
# for the dashboard's browser test (tests/browser/README.md). Again only
# when the lockfile is newer than what it installed.
for v in deploy/kubernetes/validate tests/browser; do
  if [ ! -d "$v/node_modules" ] || [ "$v/package-lock.json" -nt "$v/node_modules" ]; then
    echo "setup: npm ci in $v" >&2
    npm ci --prefix "$v" --no-audit --no-fund --loglevel=error >/dev/null
    touch "$v/node_modules"
  fi
done

# deploy/kubernetes: Debian's kubectl 1.20 for `kubectl kustomize`,
# unpacked beside the validation's packages without installing it.
v=deploy/kubernetes/validate
if [ ! -x "$v/.kubectl/usr/bin/kubectl" ]; then
  echo "setup: unpacking Debian's kubernetes-client into $v/.kubectl" >&2
  tmp=$(mktemp -d)
  chmod 755 "$tmp"  # apt's _apt user writes the download there
  (cd "$tmp" && { apt-get download -qq kubernetes-client 2>/dev/null ||
    { $SUDO apt-get update -qq && apt-get download -qq kubernetes-client; }; })
  dpkg -x "$tmp"/kubernetes-client_*.deb "$v/.kubectl"
  rm -rf "$tmp"
fi
