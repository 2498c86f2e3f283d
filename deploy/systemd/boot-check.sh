#!/usr/bin/env bash
# boot-check.sh: the units for real, once. Boots a minimal Debian 12 root
# under systemd-nspawn (systemd as PID 1, made by mmdebstrap from Debian's
# mirror), installs the shardex .deb in it, and from a service inside the
# booted system: starts the coordinator, creates a worker join token,
# starts shardex-worker@1, runs jobs with exact answers (a command job
# too, under the worker's hardening), stops the worker during a job to
# show the drain in the journal, stops the coordinator, powers off. Prints
# everything; exits 0 only if every check held.
#
# Not part of CI: it needs root, the network (once, for the root) and a
# minute or two. Its output is recorded in README.md here.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: boot-check.sh SHARDEX_DEB [CACHE_DIR]

  SHARDEX_DEB  the package to test (bazel build //release:deb)
  CACHE_DIR    where the Debian root tarball is kept between runs
               (default: ${XDG_CACHE_HOME:-$HOME/.cache}/shardex-boot-check)

Needs root, mmdebstrap and systemd-nspawn (apt-get install mmdebstrap
systemd-container) and, the first time, http://deb.debian.org.
EOF
  exit 2
}

die() {
  echo "boot-check: $*" >&2
  exit 1
}

[[ $# -ge 1 && $# -le 2 && $1 != -* ]] || usage
deb=$(realpath -e -- "$1" 2>/dev/null) || die "no such .deb: $1"
cache=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/shardex-boot-check}
[[ $(id -u) == 0 ]] || die "must run as root (systemd-nspawn, mmdebstrap)"
for tool in mmdebstrap systemd-nspawn journalctl tar dpkg-deb; do
  command -v "$tool" >/dev/null ||
    die "$tool is missing: apt-get install mmdebstrap systemd-container"
done
dpkg-deb --info "$deb" >/dev/null 2>&1 || die "$deb is not a .deb"

# The root: Debian 12 minbase plus systemd as init and dbus (systemctl,
# logind, DynamicUser= need it). Built once; the tarball is reused.
# No ca-certificates: joining must work on a host without system roots.
packages=systemd,systemd-sysv,dbus
mkdir -p "$cache"
tarball=$cache/bookworm-minbase-${packages//,/-}.tar
if [[ ! -s $tarball ]]; then
  echo "== building $tarball with mmdebstrap (once)"
  mmdebstrap --variant=minbase --format=tar \
    --include="$packages" \
    bookworm "$tarball.part" http://deb.debian.org/debian
  mv "$tarball.part" "$tarball"
fi

machine=shardex-boot-check-$$
root=$(mktemp -d "$cache/root.XXXXXX")
cleanup() {
  rm -rf -- "$root"
  # nspawn leaves this on hosts whose /run is not a tmpfs ("Attempted to
  # remove disk file system ... we can't allow that").
  rm -rf -- "/run/systemd/nspawn/propagate/$machine"
}
trap cleanup EXIT
tar -C "$root" -xf "$tarball"
mkdir -p "$root/var/log/journal"  # persistent: read from here afterwards
cp -- "$deb" "$root/root/shardex.deb"

# What runs inside, as a service of the booted system. Everything it
# prints goes to /root/boot-check.log; it powers the container off when
# it ends, passed or not.
cat >"$root/root/boot-check-inner.sh" <<'INNER'
#!/bin/bash
set -euo pipefail
step() { printf '\n### %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
expect() {  # expect WHAT WANT GOT
  if [[ $2 == "$3" ]]; then
    echo "ok: $1 = $3"
  else
    echo "FAIL: $1: want $2, got $3"
    exit 1
  fi
}

step "booted: systemd $(systemctl --version | head -1 | cut -d' ' -f2) as PID 1 in $(systemd-detect-virt)"
run systemctl is-system-running || true  # "starting": this check is part of the boot

step "install the package"
run dpkg -i /root/shardex.deb
run shardex --version

step "coordinator: configure (command jobs on), enable, start"
cat >/etc/default/shardex-coordinator <<'EOF'
SHARDEX_COORDINATOR_OPTS=--allow-commands
EOF
run cat /etc/default/shardex-coordinator
run systemctl enable --now shardex-coordinator
run systemctl status shardex-coordinator --no-pager --lines=5

step "a worker join token, root-only, never on a command line"
install -d -m 0700 /etc/shardex
(umask 077; shardex token create --role worker --ttl 1h \
   --state-dir /var/lib/shardex-coordinator >/etc/shardex/worker-join-token)
run ls -l /etc/shardex/worker-join-token
cat >/etc/shardex/worker-1.env <<'EOF'
SHARDEX_COORDINATOR=127.0.0.1:7473
SHARDEX_WORKER_OPTS=--threads 2 --processes 2
EOF
run cat /etc/shardex/worker-1.env

step "worker 1: enable, start (enrols with the token on first start)"
run systemctl enable --now shardex-worker@1
run systemctl status shardex-worker@1 --no-pager --lines=5
run ls -l /var/lib/shardex-worker/1/identity
# The secret goes to grep in a file, not as an argument: grep's own
# command line would hold it otherwise.
cut -d. -f2 /etc/shardex/worker-join-token >/root/secret
leaks=$(journalctl --no-pager -o cat | grep -c -F -f /root/secret || true)
expect "journal lines holding the token's secret" 0 "$leaks"
leaks=$(cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' '\n' |
  grep -c -F -f /root/secret || true)
expect "command-line arguments holding the token's secret" 0 "$leaks"
rm /root/secret

step "a client on this host: login with a client token"
shardex token create --role client --ttl 1h \
  --state-dir /var/lib/shardex-coordinator |
  shardex login --join - --coordinator 127.0.0.1:7473
run shardex workers

step "jobs with exact answers"
echo '$ shardex submit primes --to 1e7'
got=$(shardex submit primes --to 1e7)
expect "primes below 10^7" 664579 "$got"
echo "\$ shardex submit --shards 4 --reduce sum -- sh -c 'echo \$(( {shard} * 10 ))'"
got=$(shardex submit --shards 4 --reduce sum -- sh -c 'echo $(( {shard} * 10 ))')
expect "command job sum" 60 "$got"
echo "\$ shardex submit --shards 1 -- sh -c 'id -un; ulimit -n; touch /usr/x 2>&1 || true'"
shardex submit --shards 1 -- sh -c 'id -un; ulimit -n; touch /usr/x 2>&1 || true'

step "stop the worker during a job: SIGTERM drains"
job=$(shardex submit --detach --shards 2 --reduce sum -- sh -c 'sleep 6; echo {shard}')
echo "job $job: 2 shards of 6 s each"
for _ in $(seq 50); do
  shardex status "$job" | grep -q '2 running' && break
  sleep 0.2
done
run shardex status "$job"
start=$(date +%s)
run systemctl stop --no-block shardex-worker@1
sleep 1
run systemctl status shardex-worker@1 --no-pager --lines=0 || true
while [[ $(systemctl show -P ActiveState shardex-worker@1) != inactive ]]; do
  sleep 0.2
done
echo "the worker stopped $(( $(date +%s) - start )) s after SIGTERM"
run journalctl -u shardex-worker@1 --no-pager -o short-precise --lines=12
run shardex status "$job"
got=$(shardex status "$job" | awk '/^state:/ {print $2}')
expect "state of the job the worker drained" succeeded "$got"
got=$(shardex status "$job" | awk '/^result:/ {print $2}')
expect "its result" 1 "$got"

step "worker 1 again: no token needed now"
rm /etc/shardex/worker-join-token
run systemctl start shardex-worker@1
run systemctl status shardex-worker@1 --no-pager --lines=0
got=$(shardex submit primes --to 1e6)
expect "primes below 10^6" 78498 "$got"
run systemctl stop shardex-worker@1

step "stop the coordinator: it flushes its journal"
run systemctl stop shardex-coordinator
run journalctl -u shardex-coordinator --no-pager -o short-precise --lines=8
run systemctl status shardex-coordinator --no-pager --lines=0 || true

step "live exposure scores (systemd-analyze security)"
systemd-analyze security shardex-coordinator.service shardex-worker@1.service \
  --no-pager 2>&1 | grep -i 'overall exposure' || true

printf '\nBOOT-CHECK: PASS\n'
INNER
chmod 0755 "$root/root/boot-check-inner.sh"

cat >"$root/etc/systemd/system/boot-check.service" <<'UNIT'
[Unit]
Description=shardex boot check
After=multi-user.target

[Service]
Type=oneshot
Environment=HOME=/root
ExecStart=/root/boot-check-inner.sh
StandardOutput=append:/root/boot-check.log
StandardError=append:/root/boot-check.log
TimeoutStartSec=600
ExecStopPost=/bin/systemctl poweroff --no-block

[Install]
WantedBy=multi-user.target
UNIT
ln -s /etc/systemd/system/boot-check.service \
  "$root/etc/systemd/system/multi-user.target.wants/boot-check.service"

# --register=no --keep-unit: no systemd-machined and no system bus on the
# host (PID 1 there need not be systemd). --private-network: only lo, so
# the coordinator's port 7473 is the container's own.
echo "== booting $root with systemd-nspawn"
status=0
timeout 900 systemd-nspawn --quiet --directory="$root" --machine="$machine" \
  --boot --register=no --keep-unit --private-network --console=pipe ||
  status=$?
echo "== systemd-nspawn exited with status $status"
echo "== /root/boot-check.log (what ran inside)"
cat "$root/root/boot-check.log" 2>/dev/null || echo "(no log: it did not run)"
if ! grep -q '^BOOT-CHECK: PASS$' "$root/root/boot-check.log" 2>/dev/null; then
  echo "== the shardex units' journal, for the failure"
  journalctl --directory="$root/var/log/journal" --no-pager -o short-precise \
    --unit='shardex-*' | tail -n 60
  die "FAILED (see above)"
fi
echo "== boot check passed"
