#!/bin/sh
# Builds tests/subproject/host, a parent project that vendors this source tree as
# subprojects/difflm, and checks what a parent gets by default: the library and nothing
# else (no tests, tools, examples or benchmarks, no C++ compiler, no cargo), and that the
# parent can ask for more (-Ddifflm:tools=true). Then runs the host's program on MODEL.
# usage: check.sh MESON SRCDIR MODEL
set -eu
[ $# -eq 3 ] || { echo "usage: $0 MESON SRCDIR MODEL" >&2; exit 2; }
meson=$1 src=$(cd "$2" && pwd) model=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/difflm-subproject.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }

cp -R "$src/tests/subproject/host" "$tmp/host"
mkdir "$tmp/host/subprojects"
ln -s "$src" "$tmp/host/subprojects/difflm"

# A C++ compiler that cannot run: the default subproject build must not ask for one.
echo "== meson setup (defaults; CXX=false)"
CXX=false "$meson" setup --force-fallback-for=difflm "$tmp/build" "$tmp/host" >"$tmp/setup.log" 2>&1 ||
    { cat "$tmp/setup.log"; fail "the host's setup failed"; }
log=$tmp/build/meson-logs/meson-log.txt
if grep -n "Program cargo\|Program valgrind\|Run-time dependency check\|C++ compiler for" "$log"; then
    fail "the default subproject build looked for cargo, valgrind, Check or C++ (above)"
fi
"$meson" introspect --targets "$tmp/build" >"$tmp/targets.json"
"$meson" introspect --tests "$tmp/build" >"$tmp/tests.json"
# Every target of the subproject is the library's (defined in lib/, not an executable);
# the parent's only target is its program.
/usr/bin/python3 - "$tmp/targets.json" "$tmp/host/subprojects/difflm/lib/" <<'PY' ||
import json, sys
targets, lib = json.load(open(sys.argv[1])), sys.argv[2]
print("targets:", " ".join(sorted("%s (%s)" % (t["name"], t["type"]) for t in targets)))
bad = [t["name"] for t in targets
       if t.get("subproject") and (not t["defined_in"].startswith(lib) or t["type"] == "executable")]
host = [t["name"] for t in targets if not t.get("subproject")]
if bad or host != ["host"] or len(host) == len(targets):
    sys.exit("not only the library: %s; the parent's own: %s" % (bad, host))
PY
    fail "the default subproject build has more than the library (above)"
ntests=$(/usr/bin/python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$tmp/tests.json")
[ "$ntests" = 0 ] || fail "the subproject registered $ntests tests"

echo "== meson compile"
"$meson" compile -C "$tmp/build" >"$tmp/compile.log" 2>&1 ||
    { cat "$tmp/compile.log"; fail "the host's build failed"; }
"$tmp/build/host" "$model" || fail "the host's program failed"

# What a parent asks for, it gets.
echo "== meson setup -Ddifflm:tools=true"
"$meson" setup --force-fallback-for=difflm -Ddifflm:tools=true "$tmp/build-tools" "$tmp/host" \
    >"$tmp/setup-tools.log" 2>&1 || { cat "$tmp/setup-tools.log"; fail "setup with tools=true failed"; }
"$meson" introspect --targets "$tmp/build-tools" | /usr/bin/python3 -c 'import json, sys
names = {t["name"] for t in json.load(sys.stdin)}
sys.exit(0 if "difflm-quantize" in names or "difflm-score" in names else "tools=true built no tools: %s" % sorted(names))'
echo "ok: as a subproject difflm builds only its library unless asked"
