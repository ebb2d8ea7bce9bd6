#!/bin/sh
# hf_folder_ref.sh SRCDIR BUILDDIR TEST_HF_FOLDER - the published-layout test folders
# against Hugging Face's tokenizers library (meson test hf_folder_ref): test_hf_folder
# writes the folders, hf_folder_ref.js encodes the test strings with the library (npm
# @anush008/tokenizers, installed into BUILDDIR/tests/tok/npm once, as tests/tok/hf_compare.sh
# does), and test_hf_folder --ref checks every encoding through each folder and its GGUF.
# Without node, npm or the registry the test FAILS.
set -eu
src=$1 build=$2 bin=$3
npm_dir=$build/tests/tok/npm
out=$build/tests/hf/hf_folder_out
command -v node >/dev/null || { echo "hf_folder_ref: node is not installed (tools/install-deps.sh installs nodejs)" >&2; exit 1; }
if [ ! -f "$npm_dir/node_modules/@anush008/tokenizers/package.json" ]; then
    command -v npm >/dev/null || { echo "hf_folder_ref: npm is not installed (tools/install-deps.sh installs npm)" >&2; exit 1; }
    mkdir -p "$npm_dir"
    npm install --prefix "$npm_dir" --no-audit --no-fund --no-save @anush008/tokenizers@0.6.0 >&2 ||
        { echo "hf_folder_ref: npm install @anush008/tokenizers failed (is the npm registry reachable?)" >&2; exit 1; }
fi
rm -rf "$out"
"$bin" --write "$out"
NODE_PATH=$npm_dir/node_modules node "$src/tests/hf/hf_folder_ref.js" "$out"
exec "$bin" --ref "$out"
