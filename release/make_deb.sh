#!/bin/bash
# Builds shardex_VERSION_amd64.deb from the release binary with dpkg-deb:
# nothing is compiled on install. Layout:
#   /usr/bin/shardex
#   /lib/systemd/system/<units>          (not enabled on install)
#   /usr/share/doc/shardex/<files>       (README.md, docs/, deploy/)
# Depends names only libc6, at least the glibc version the binary's
# symbols need; the build fails if the binary needs any other library.
set -euo pipefail
# shellcheck source=release/stage.sh
source "$(dirname "$0")/stage.sh"

usage() {
  die "usage: $0 --version V --header common/version.h --binary BIN" \
      "--debian-dir DIR --units 'UNIT...' --out OUT.deb -- FILE..."
}

version="" header="" binary="" debian="" units="" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=$2; shift 2 ;;
    --header) header=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --debian-dir) debian=$2; shift 2 ;;
    --units) units=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
for required in "$version" "$header" "$binary" "$debian" "$units" "$out"; do
  [ -n "$required" ] || usage
done
check_version "$version" "$header"

# Only glibc's libraries may be needed: the package depends on libc6 alone.
needed=$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
for lib in $needed; do
  case "$lib" in
    libc.so.6 | libm.so.6 | ld-linux-x86-64.so.2) ;;
    *) die "$binary needs $lib, but the package depends on libc6 only;" \
           "link it statically (tools/system_library.bzl, @system_static)" ;;
  esac
done
glibc=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' |
          sort -uV | tail -1)
[ -n "$glibc" ] || die "no GLIBC_ symbol versions in $binary"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
mkdir -p "$root/usr/bin" "$root/lib/systemd/system" "$root/DEBIAN"
cp -L "$binary" "$root/usr/bin/shardex"
chmod 0755 "$root/usr/bin/shardex"
for unit in $units; do
  cp -L "$unit" "$root/lib/systemd/system/"
  chmod 0644 "$root/lib/systemd/system/$(basename "$unit")"
done
stage_files "$root/usr/share/doc/shardex" "$@"

installed_kb=$(du -sk --apparent-size "$root/usr" "$root/lib" | awk '{s += $1} END {print s}')
sed -e "s/@VERSION@/$version/" -e "s/@DEPENDS@/libc6 (>= $glibc)/" \
    -e "s/@INSTALLED_SIZE@/$installed_kb/" "$debian/control.in" >"$root/DEBIAN/control"
chmod 0644 "$root/DEBIAN/control"
for script in postinst prerm postrm; do
  cp -L "$debian/$script" "$root/DEBIAN/$script"
  chmod 0755 "$root/DEBIAN/$script"
done
normalize_tree "$root"

out_abs=$(absolute "$out")
# xz -1: within 10% of the default -6 in size at a fifth of its CPU time
# (this runs in every CI build).
SOURCE_DATE_EPOCH=0 dpkg-deb --root-owner-group -Zxz -z1 --build "$root" "$out_abs" >/dev/null
