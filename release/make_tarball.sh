#!/bin/bash
# Builds shardex-VERSION-linux-x86_64.tar.gz: a top directory
# shardex-VERSION/ holding bin/shardex and the given files at their source
# tree paths. Reproducible: sorted names, epoch mtimes, owner root.
set -euo pipefail
# shellcheck source=release/stage.sh
source "$(dirname "$0")/stage.sh"

usage() {
  die "usage: $0 --version V --header common/version.h --binary BIN --out OUT.tar.gz -- FILE..."
}

version="" header="" binary="" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=$2; shift 2 ;;
    --header) header=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
for required in "$version" "$header" "$binary" "$out"; do
  [ -n "$required" ] || usage
done
check_version "$version" "$header"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
top="$stage/shardex-$version"
mkdir -p "$top/bin"
cp -L "$binary" "$top/bin/shardex"
chmod 0755 "$top/bin/shardex"
stage_files "$top" "$@"
normalize_tree "$stage"

out_abs=$(absolute "$out")
(cd "$stage" && tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
   --format=gnu -cf - "shardex-$version") | gzip -n >"$out_abs"
