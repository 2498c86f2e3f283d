# shellcheck shell=bash
# Helpers shared by make_tarball.sh and make_deb.sh (sourced, not run).

die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# check_version VERSION HEADER: the version Bazel named the artifact after
# (read by tools/system_library.bzl when it set up @shardex_version) must
# still be the one in common/version.h.
check_version() {
  local header_version
  header_version=$(sed -n 's/.*kVersion\[\] = "\(.*\)";.*/\1/p' "$2")
  [ -n "$header_version" ] || die "no kVersion line in $2"
  [ "$header_version" = "$1" ] ||
    die "$2 says $header_version but the build was set up for $1;" \
        "run 'bazel sync --only=shardex_version' and build again"
}

# stage_files DEST FILE...: copies each file to DEST/<its path in the
# source tree> (generated files lose their bazel-out/<config>/bin/ prefix),
# readable by all, executable where the source is.
stage_files() {
  local dest=$1 file rel
  shift
  for file in "$@"; do
    rel=${file#bazel-out/*/bin/}
    mkdir -p "$dest/$(dirname "$rel")"
    cp -L "$file" "$dest/$rel"
    if [ -x "$file" ]; then chmod 0755 "$dest/$rel"; else chmod 0644 "$dest/$rel"; fi
  done
}

# normalize_tree DIR: directories 0755 and every mtime at the epoch, so
# the archive bytes depend only on the contents.
normalize_tree() {
  find "$1" -type d -exec chmod 0755 {} +
  find "$1" -exec touch -h -d @0 {} +
}

# absolute PATH: PATH made absolute against the current directory.
absolute() {
  case "$1" in
    /*) echo "$1" ;;
    *) echo "$PWD/$1" ;;
  esac
}
