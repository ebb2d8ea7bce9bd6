#!/bin/sh
# vs-llamacpp.sh - ms per denoising step of difflm against llama.cpp's diffusion example,
# the two programs run alternately on the same GGUF files, canvases and steps.
#
#   bench/vs-llamacpp.sh LLAMA_DIFFUSION_CLI MODEL.gguf [MODEL.gguf ...]
#
# LLAMA_DIFFUSION_CLI is a llama-diffusion-cli binary the user built (this script never
# fetches or builds llama.cpp). Both programs get the same prompt, greedy decoding, the
# blocks schedule (BLOCK), STEPS steps over the whole canvas, no KV cache, THREADS
# threads. llama.cpp's canvas is its micro-batch (-ub = -b = -c = CANVAS); difflm's is
# the prompt plus -n tokens, with -n chosen so the canvas is CANVAS. Per (file, canvas)
# each program runs ROUNDS times, alternating, and the best ms/step of each is printed
# with the ratio llama.cpp / difflm (> 1: difflm is faster).
#
# llama.cpp's blocks schedule needs CANVAS to be a multiple of BLOCK and STEPS a multiple
# of CANVAS / BLOCK; its blocks start after the prompt, so a block past the canvas
# skips its steps (and a block runs out of masks early when it has fewer than its
# steps): its own "time per step" divides by the steps asked for, so the script divides
# its "total time" by the forward passes it ran (its progress lines, one per pass)
# instead. difflm's --stats prints the generation time and the steps it ran. Model
# loading is outside both. Exit status 1 when a run failed (its row shows "-").
#
# Environment: CANVAS (default "128 512"), STEPS (default: 2 per block), BLOCK (32),
# THREADS (2), ROUNDS (3), PROMPT (default a short English sentence), BUILD (default
# build), LLAMA_ARGS (extra llama-diffusion-cli arguments, e.g. "-fa on"),
# DIFFLM_ARGS (extra difflm arguments).
set -eu

usage() {
    echo "usage: vs-llamacpp.sh LLAMA_DIFFUSION_CLI MODEL.gguf [MODEL.gguf ...]" >&2
    exit 2
}
[ $# -ge 2 ] || usage
llama=$1
shift
[ -x "$llama" ] || { echo "vs-llamacpp.sh: $llama is not an executable" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
difflm="$build/tools/difflm"
[ -x "$difflm" ] || { echo "vs-llamacpp.sh: $difflm not built (meson compile -C $build)" >&2; exit 1; }

CANVAS=${CANVAS:-"128 512"}
BLOCK=${BLOCK:-32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
PROMPT=${PROMPT:-"The quick brown fox jumps over the lazy dog."}
LLAMA_ARGS=${LLAMA_ARGS:-}
DIFFLM_ARGS=${DIFFLM_ARGS:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# the smaller of two decimal numbers ("" counts as none)
min() {
    if [ -z "$1" ]; then echo "$2"; elif [ -z "$2" ]; then echo "$1"; else
        awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 < b + 0) ? a : b }'; fi
}

# ms/step of one llama.cpp run, or "" when it failed (its log kept in $tmp/llama.log)
run_llama() { # model canvas steps
    # shellcheck disable=SC2086
    if "$llama" -m "$1" -p "$PROMPT" -ub "$2" -b "$2" -c "$2" -t "$THREADS" --temp 0 \
        --diffusion-steps "$3" --diffusion-block-length "$BLOCK" $LLAMA_ARGS \
        > "$tmp/llama.out" 2> "$tmp/llama.log" </dev/null; then
        # the progress bar redraws with CRs: one "diffusion step: i/n" per forward pass
        cat "$tmp/llama.log" "$tmp/llama.out" | tr '\r' '\n' | awk '
            /diffusion step: [0-9]+\/[0-9]+/ { passes++ }
            /total time: *[0-9.]+ *ms, time per step:/ {
                t = $0; sub(/.*total time: */, "", t); sub(/ *ms.*/, "", t); total = t; per = $0
                sub(/.*time per step: */, "", per); sub(/ *ms.*/, "", per) }
            END { if (total != "") { if (passes > 0) printf "%.1f\n", total / passes
                                     else printf "%.1f\n", per } }'
    fi
}

# ms/step of one difflm run, or ""
run_difflm() { # model canvas steps gen
    # shellcheck disable=SC2086
    if "$difflm" -m "$1" -p "$PROMPT" -n "$4" --max-canvas "$2" --steps "$3" \
        --block-length "$BLOCK" --temp 0 --cache none -t "$THREADS" --no-live --stats \
        $DIFFLM_ARGS > "$tmp/difflm.out" 2> "$tmp/difflm.log" </dev/null; then
        awk '/^difflm: [0-9]+ steps,/ { for (i = 1; i <= NF; i++) if ($i == "s,") t = $(i - 1);
                 printf "%.1f\n", t * 1000 / $2 }' "$tmp/difflm.log" | tail -n 1
    fi
}

# difflm's prompt length in tokens: one step over one generated token, ids printed
prompt_tokens() { # model
    n=$("$difflm" -m "$1" -p "$PROMPT" -n 1 --steps 1 --block-length 0 --print-ids \
        2>/dev/null </dev/null | tr ',' '\n' | grep -c .) || return 1
    echo $((n - 1))
}

failed=0
printf '| model | canvas | steps | llama.cpp ms/step | difflm ms/step | llama.cpp / difflm |\n'
printf '|---|---|---|---|---|---|\n'
for model in "$@"; do
    [ -r "$model" ] || { echo "vs-llamacpp.sh: cannot read $model" >&2; exit 1; }
    np=$(prompt_tokens "$model") || { echo "vs-llamacpp.sh: difflm cannot run $model" >&2; exit 1; }
    for canvas in $CANVAS; do
        gen=$((canvas - np))
        if [ "$gen" -lt 1 ]; then
            echo "vs-llamacpp.sh: canvas $canvas is not longer than the prompt ($np tokens)" >&2
            failed=1
            continue
        fi
        if [ $((canvas % BLOCK)) -ne 0 ]; then
            echo "vs-llamacpp.sh: canvas $canvas is not a multiple of BLOCK $BLOCK (llama.cpp's blocks schedule)" >&2
            failed=1
            continue
        fi
        steps=${STEPS:-$((2 * (canvas / BLOCK)))}
        if [ $((steps % (canvas / BLOCK))) -ne 0 ]; then
            echo "vs-llamacpp.sh: STEPS $steps is not a multiple of the $((canvas / BLOCK)) blocks of canvas $canvas" >&2
            failed=1
            continue
        fi
        best_l="" best_d=""
        r=0
        while [ "$r" -lt "$ROUNDS" ]; do
            best_l=$(min "$best_l" "$(run_llama "$model" "$canvas" "$steps")")
            best_d=$(min "$best_d" "$(run_difflm "$model" "$canvas" "$steps" "$gen")")
            r=$((r + 1))
        done
        [ -n "$best_l" ] && [ -n "$best_d" ] || failed=1
        [ -n "$best_l" ] || { echo "vs-llamacpp.sh: llama.cpp failed on $model, canvas $canvas:" >&2;
                              tail -n 5 "$tmp/llama.log" >&2; }
        [ -n "$best_d" ] || { echo "vs-llamacpp.sh: difflm failed on $model, canvas $canvas:" >&2;
                              tail -n 5 "$tmp/difflm.log" >&2; }
        ratio=-
        [ -n "$best_l" ] && [ -n "$best_d" ] &&
            ratio=$(awk -v a="$best_l" -v b="$best_d" 'BEGIN { printf "%.2f", a / b }')
        printf '| %s | %d | %d | %s | %s | %s |\n' "$(basename "$model")" "$canvas" "$steps" \
            "${best_l:--}" "${best_d:--}" "$ratio"
    done
done
exit "$failed"
