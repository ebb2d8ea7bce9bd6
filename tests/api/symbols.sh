#!/bin/sh
# The exported symbols of libdifflm.so must be exactly the functions that include/difflm.h
# declares with DIFFLM_API, and exactly those listed in lib/libdifflm.map.
set -eu
lib=$1 header=$2 map=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u >"$tmp/exported"
sed -n 's/^DIFFLM_API [^(]*[ *]\(difflm_[a-z0-9_]*\)(.*/\1/p' "$header" | sort -u >"$tmp/declared"
sed -n 's/^ *\(difflm_[a-z0-9_]*\);$/\1/p' "$map" | sort -u >"$tmp/listed"
status=0
if ! diff -u "$tmp/declared" "$tmp/exported"; then
    echo "exported symbols differ from the header's DIFFLM_API declarations" >&2
    status=1
fi
if ! diff -u "$tmp/listed" "$tmp/exported"; then
    echo "exported symbols differ from lib/libdifflm.map" >&2
    status=1
fi
[ "$(wc -l <"$tmp/exported")" -gt 10 ] || { echo "suspiciously few exports" >&2; status=1; }
[ $status -eq 0 ] && echo "$(wc -l <"$tmp/exported") symbols match"
exit $status
