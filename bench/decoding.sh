#!/bin/sh
# decoding.sh - the decoding benchmark with its quality columns.
#
#   bench/decoding.sh [BUILD_DIR] [bench_decoding options...]
#
# Runs BUILD_DIR/bench/bench_decoding (default BUILD_DIR: build) with its outputs written
# to $OUT, scores every generated text with BUILD_DIR/tools/difflm-score (LLaDA's Monte
# Carlo ELBO, conditioned on its prompt; $MC passes, seed 0), and prints the benchmark's
# tables with two more columns per configuration: the ELBO in bits per byte of all its
# texts together (an upper bound on their negative log-likelihood under the model) and
# its ratio to the reference schedule's. Texts that are empty (EOS first) are not scored.
#
# Environment: MODEL (default: models/difflm-default.gguf, the project's trained model;
# passed to both programs), OUT (default BUILD_DIR/bench-decoding), MC
# (default 64), THREADS (default: all cores). Example, as in doc/performance.md:
#   MODEL=models/difflm-default.gguf bench/decoding.sh build -g 128,256
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=build
case "${1:-}" in
    -*|"") ;;
    *) build=$1; shift ;;
esac
case "$build" in /*) ;; *) build="$root/$build" ;; esac
bench="$build/bench/bench_decoding"
score="$build/tools/difflm-score"
for exe in "$bench" "$score"; do
    [ -x "$exe" ] || { echo "decoding.sh: $exe not built (ninja -C $build)" >&2; exit 1; }
done
MODEL=${MODEL:-$root/models/difflm-default.gguf}
OUT=${OUT:-$build/bench-decoding}
MC=${MC:-64}
threads=""
[ -n "${THREADS:-}" ] && threads="-t $THREADS"
mkdir -p "$OUT"

# shellcheck disable=SC2086
"$bench" -m "$MODEL" -o "$OUT" $threads "$@" > "$OUT/bench.txt"

: > "$OUT/scores.tsv"
grep '^run' "$OUT/bench.txt" | while IFS="$(printf '\t')" read -r _ cfg gen prompt _ _ _ file; do
    [ -s "$OUT/$file" ] || continue
    # shellcheck disable=SC2086
    "$score" -m "$MODEL" --prompt-file "$OUT/prompt-$prompt.txt" --file "$OUT/$file" \
        --mc "$MC" --seed 0 $threads > "$OUT/score.tmp" || continue
    awk -F= -v c="$cfg" -v g="$gen" -v p="$prompt" \
        '$1 == "nll_nats" { n = $2 } $1 == "answer_bytes" { b = $2 }
         END { printf "%s\t%s\t%s\t%s\t%s\n", c, g, p, n, b }' "$OUT/score.tmp" >> "$OUT/scores.tsv"
done
rm -f "$OUT/score.tmp"

# The tables, each row extended by bits/byte (ELBO) and its ratio to the reference.
awk -F'\t' -v scores="$OUT/scores.tsv" '
    BEGIN {
        while ((getline line < scores) > 0) {
            split(line, f, "\t")
            k = f[2] SUBSEP f[1]; nll[k] += f[4]; bytes[k] += f[5]; texts[k]++
        }
    }
    /^run/ { next }
    /^gen_length/ { split($0, w, /[ ,]/); gen = w[2]; print; next }
    /^\| config/ { print $0 " ELBO bits/byte | vs reference |"; next }
    /^\|---/ { print $0 "---:|---:|"; next }
    /^\| / {
        split($0, c, /\| */); cfg = c[2]; sub(/ +$/, "", cfg)
        k = gen SUBSEP cfg; kr = gen SUBSEP "reference"
        bpb = bytes[k] > 0 ? nll[k] / log(2) / bytes[k] : -1
        ref = bytes[kr] > 0 ? nll[kr] / log(2) / bytes[kr] : -1
        if (bpb < 0) print $0 " - | - |"
        else printf "%s %.4f | %.4f |\n", $0, bpb, (ref > 0 ? bpb / ref : 0)
        next
    }
    { print }
' "$OUT/bench.txt"
echo "model: $MODEL; ELBO: difflm-score --mc $MC --seed 0; outputs in $OUT"
