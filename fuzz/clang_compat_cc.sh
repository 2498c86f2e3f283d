#!/usr/bin/env bash
# The C/C++ compiler of the fuzz build (fuzz/fuzz.bazelrc sets CC to this
# file): clang-14, except that a source file containing the line
#
#   namespace v1 = ::shardex::v1;
#
# is compiled from a copy with that line blanked. Inside namespace shardex
# the alias redeclares the existing namespace shardex::v1, which gcc
# accepts and clang rejects ("redefinition of 'v1'"); the line is redundant
# there, so blanking it changes nothing else. Line numbers are kept, and
# file names in debug info, __FILE__ and the dependency file are mapped back
# to the original, so sanitizer reports and Bazel's header checks see the
# real source. Once no source has the line, this is a plain `exec clang-14`.
set -uo pipefail

CLANG="${SHARDEX_FUZZ_CLANG:-clang-14}"
LINE='^namespace v1 = ::shardex::v1;$'

args=("$@")
src_index=-1
dep_file=""
obj_file=""
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    -c) src_index=$((i + 1)) ;;
    -MF) dep_file="${args[i + 1]:-}" ;;
    -o) obj_file="${args[i + 1]:-}" ;;
  esac
done

if ((src_index < 0)) || [[ -z "$obj_file" ]]; then exec "$CLANG" "$@"; fi
src="${args[src_index]}"
case "$src" in *.cc | *.cpp) ;; *) exec "$CLANG" "$@" ;; esac
if ! grep -q "$LINE" "$src" 2>/dev/null; then exec "$CLANG" "$@"; fi

# Beside the object file: writable, and inside Bazel's sandbox.
patched="${obj_file%.o}.clang_compat.${src##*.}"
sed "s|$LINE|// (namespace alias blanked by fuzz/clang_compat_cc.sh)|" "$src" > "$patched"
args[src_index]="$patched"
"$CLANG" "${args[@]}" "-ffile-prefix-map=$patched=$src"
status=$?
rm -f "$patched"
if ((status == 0)) && [[ -n "$dep_file" && -f "$dep_file" ]]; then
  sed -i "s|$patched|$src|g" "$dep_file"
fi
exit $status
