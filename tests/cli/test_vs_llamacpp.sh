#!/bin/sh
# test_vs_llamacpp.sh SCRIPT MODEL - bench/vs-llamacpp.sh against stand-ins for
# llama-diffusion-cli (no llama.cpp here): the arguments it passes (same canvas as -ub,
# -b and -c, steps, block length, threads, greedy), ms/step from llama.cpp's total time
# over the forward passes its progress lines show (not its own "time per step", which
# divides by the steps asked for), difflm's ms/step from the real CLI on MODEL, the
# ratio, and the failures: a peer that fails, a canvas its schedule refuses.
set -eu
script=$1
model=$2
: "${DIFFLM_BUILDDIR:?}"
export BUILD="$DIFFLM_BUILDDIR"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }

# The stand-in checks its arguments and runs 6 of the 8 passes asked for (as when the
# prompt is a block long), 1200 ms in all: 200 ms per pass, where llama.cpp would say 150.
cat > "$tmp/fake-llama" <<'EOF'
#!/bin/sh
ub= b= c= steps= blk= t= temp= m=
while [ $# -gt 0 ]; do
    case $1 in
    -ub) ub=$2; shift ;; -b) b=$2; shift ;; -c) c=$2; shift ;; -t) t=$2; shift ;;
    --temp) temp=$2; shift ;; -m) m=$2; shift ;; -p) shift ;;
    --diffusion-steps) steps=$2; shift ;; --diffusion-block-length) blk=$2; shift ;;
    *) echo "fake-llama: unexpected argument $1" >&2; exit 3 ;;
    esac
    shift
done
[ -r "$m" ] && [ "$ub" = 128 ] && [ "$b" = 128 ] && [ "$c" = 128 ] && [ "$steps" = 8 ] &&
    [ "$blk" = 32 ] && [ "$t" = 2 ] && [ "$temp" = 0 ] ||
    { echo "fake-llama: wrong arguments: m=$m ub=$ub b=$b c=$c steps=$steps blk=$blk t=$t temp=$temp" >&2; exit 3; }
i=0
while [ $i -lt 6 ]; do printf '\rdiffusion step: %d/8 [===   ] %d%%' $i $((i * 12)) >&2; i=$((i + 1)); done
printf '\ntotal time: 1200.00ms, time per step: 150.00ms, sampling time per step: 1.00ms\n' >&2
EOF
printf '#!/bin/sh\necho "fake-llama: cannot load model" >&2\nexit 1\n' > "$tmp/bad-llama"
chmod +x "$tmp/fake-llama" "$tmp/bad-llama"

# 1. a good run: the row and its ratio
CANVAS=128 ROUNDS=2 sh "$script" "$tmp/fake-llama" "$model" > "$tmp/out" 2> "$tmp/err" ||
    { cat "$tmp/err" >&2; fail "the script failed on a good run"; }
cat "$tmp/out"
row=$(grep "^| $(basename "$model") | 128 | 8 |" "$tmp/out") || fail "no row for canvas 128"
llama=$(echo "$row" | awk -F'|' '{ gsub(/ /, "", $5); print $5 }')
difflm=$(echo "$row" | awk -F'|' '{ gsub(/ /, "", $6); print $6 }')
ratio=$(echo "$row" | awk -F'|' '{ gsub(/ /, "", $7); print $7 }')
[ "$llama" = 200.0 ] || fail "llama.cpp ms/step $llama, expected 200.0 (1200 ms over 6 passes)"
awk -v d="$difflm" 'BEGIN { exit !(d + 0 > 0) }' || fail "difflm ms/step '$difflm'"
awk -v d="$difflm" -v r="$ratio" 'BEGIN { x = 200 / d; exit !(r - x < 0.0051 && x - r < 0.0051) }' ||
    fail "ratio $ratio is not 200 / $difflm"

# 2. the peer fails: its row shows "-", its log reaches stderr, the status is 1
if CANVAS=128 ROUNDS=1 sh "$script" "$tmp/bad-llama" "$model" > "$tmp/out" 2> "$tmp/err"; then
    fail "a failing llama.cpp run gave status 0"
fi
grep -q "^| $(basename "$model") | 128 | 8 | - | [0-9.]* | - |" "$tmp/out" || { cat "$tmp/out"; fail "no '-' row"; }
grep -q "cannot load model" "$tmp/err" || fail "the peer's log was not shown"

# 3. a canvas the blocks schedule refuses, and a binary that is not one
if CANVAS=100 ROUNDS=1 sh "$script" "$tmp/fake-llama" "$model" > "$tmp/out" 2> "$tmp/err"; then
    fail "canvas 100 with BLOCK 32 gave status 0"
fi
grep -q "not a multiple of BLOCK" "$tmp/err" || fail "no message for canvas 100"
if sh "$script" "$tmp/none" "$model" > /dev/null 2> "$tmp/err"; then
    fail "a missing binary gave status 0"
fi
grep -q "is not an executable" "$tmp/err" || fail "no message for a missing binary"
echo "ok"
