#!/bin/sh
# abi/check.sh LIBRARY BASELINE.abi HEADERS-DIR - the exported ABI of LIBRARY (built with
# debug info: -g) against the released baseline (doc/testing.md "ABI check").
#
# A library whose soname differs from the baseline's has bumped the ABI number
# (meson.build abi_version): any change is allowed then, and the check says so.
# Otherwise abidiff must find nothing but additions: new functions (in a new version
# node of lib/libdifflm.map) and fields appended to the struct_size structs
# (abi/versioned-structs.abignore). abidiff's exit status has bit 4 for any change it
# reports, additions included, and bit 8 for incompatible ones (removed functions); so
# the verdict is taken with added symbols left out (--no-added-syms), where a remaining
# bit 4 is a changed type or signature and bit 8 a removal, and the full report, added
# functions listed, is printed either way.
set -u
lib=$1 baseline=$2 headers=$3
here=$(dirname "$0")
supp="$here/versioned-structs.abignore"
command -v abidiff >/dev/null 2>&1 || { echo "abi/check.sh: abidiff not found (abigail-tools)"; exit 1; }
new_soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
old_soname=$(sed -n "1s/.*soname='\([^']*\)'.*/\1/p" "$baseline")
if [ -z "$new_soname" ] || [ -z "$old_soname" ]; then
    echo "abi/check.sh: no soname in $lib or $baseline"
    exit 1
fi
if [ "$new_soname" != "$old_soname" ]; then
    echo "abi/check.sh: soname $new_soname, baseline $old_soname: the ABI number was bumped," \
         "incompatible changes are allowed (write a new baseline at the release)"
    exit 0
fi
abidiff --headers-dir2 "$headers" --drop-private-types --suppressions "$supp" \
    "$baseline" "$lib"
abidiff --no-added-syms --headers-dir2 "$headers" --drop-private-types \
    --suppressions "$supp" "$baseline" "$lib" >/dev/null
rc=$?
if [ $((rc & 3)) -ne 0 ]; then
    echo "abi/check.sh: abidiff failed to run (status $rc)"
    exit 1
fi
if [ $((rc & 12)) -ne 0 ]; then
    echo "abi/check.sh: $lib breaks the ABI of $baseline (abidiff status $rc:" \
         "$([ $((rc & 8)) -ne 0 ] && echo 'incompatible change' || echo 'changed type')):" \
         "keep the old layout and symbols, or bump abi_version in meson.build"
    exit 1
fi
echo "abi/check.sh: compatible with $baseline (additions only)"
exit 0
