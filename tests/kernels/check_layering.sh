#!/bin/sh
# check_layering.sh DIR - lib/kernels knows no file format and nothing above it: no file
# in DIR (lib/kernels) includes a header of fmt/, model/, ctx/, tok/, sched/ or sample/
# (doc/design.md: dependencies point down only; fmt depends on kernels, not back).
dir=${1:?usage: check_layering.sh lib/kernels}
set -- "$dir"/*.c "$dir"/*.h
[ -f "$1" ] || { echo "check_layering: no sources in $dir" >&2; exit 1; }
bad=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"(\.\./)*(fmt|model|ctx|tok|sched|sample)/' "$@")
if [ -n "$bad" ]; then
    echo "lib/kernels must not include these headers:" >&2
    echo "$bad" >&2
    exit 1
fi
echo "checked $# files in $dir"
