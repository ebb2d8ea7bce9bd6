#!/bin/sh
# The exported symbols of libdifflm.so must be exactly the functions that include/difflm.h
# declares with DIFFLM_API, and exactly those listed in lib/libdifflm.map. With a fourth
# argument, the static archive libdifflm.a: its global defined symbols (what a host's
# static link can collide with) must be exactly the same functions, and no other.
set -eu
lib=$1 header=$2 map=$3 archive=${4:-}
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
if [ -n "$archive" ]; then
    # nm prints "value type name" for defined symbols; upper-case types are global.
    nm -g --defined-only "$archive" >"$tmp/nm" || { echo "nm failed on $archive" >&2; exit 1; }
    awk 'NF == 3 { print $2, $3 }' "$tmp/nm" | sort -u >"$tmp/archive-all"
    awk '$1 == "T" { print $2 }' "$tmp/archive-all" >"$tmp/archive"
    if ! diff -u "$tmp/listed" "$tmp/archive"; then
        echo "the static archive's global functions differ from lib/libdifflm.map" >&2
        status=1
    fi
    if awk '$1 != "T"' "$tmp/archive-all" | grep .; then
        echo "the static archive defines the global symbols above beyond the public functions" >&2
        status=1
    fi
fi
[ $status -eq 0 ] && echo "$(wc -l <"$tmp/exported") symbols match${archive:+ (shared and static)}"
exit $status
