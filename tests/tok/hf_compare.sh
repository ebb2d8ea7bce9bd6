#!/bin/sh
# hf_compare.sh SRCDIR BUILDDIR TEST_BINARY - the live comparison with Hugging Face's
# tokenizers library (meson test tok_hf). Installs the npm package @anush008/tokenizers
# (tokenizers' Rust core, pinned) into BUILDDIR/tests/tok/npm once, writes the reference
# ids with hf_ref.js, and runs test_tok_hf on them. node and npm come from Debian
# (tools/install-deps.sh); without them, or without the registry, the test FAILS.
set -eu
src=$1 build=$2 bin=$3
npm_dir=$build/tests/tok/npm
out=$build/tests/tok/hf_out
command -v node >/dev/null || { echo "tok_hf: node is not installed (tools/install-deps.sh installs nodejs)" >&2; exit 1; }
if [ ! -f "$npm_dir/node_modules/@anush008/tokenizers/package.json" ]; then
    command -v npm >/dev/null || { echo "tok_hf: npm is not installed (tools/install-deps.sh installs npm)" >&2; exit 1; }
    mkdir -p "$npm_dir"
    npm install --prefix "$npm_dir" --no-audit --no-fund --no-save @anush008/tokenizers@0.6.0 >&2 ||
        { echo "tok_hf: npm install @anush008/tokenizers failed (is the npm registry reachable?)" >&2; exit 1; }
fi
rm -rf "$out"
mkdir -p "$out"
NODE_PATH=$npm_dir/node_modules node "$src/tests/tok/hf_ref.js" "$src" "$out"
exec "$bin" "$out"
