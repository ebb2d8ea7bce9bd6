#!/bin/sh
# Installs what difflm needs to build and test on Debian 12 (run as root, or through sudo),
# from Debian's own packages only:
#   build:    gcc, meson, ninja, pkg-config, PCRE2, Jansson, utf8proc, OpenBLAS,
#             libmicrohttpd (difflm-server's HTTP)
#   tests:    g++ (the C++ header and binding), Check, Python 3 with numpy and jinja2 (the
#             reference programs, the chat-template reference and the Python binding) and
#             pip (its offline install test), cargo and rustc (the Rust crates; Debian 12
#             has rustc 1.63, their rust-version), valgrind, binutils (nm for the symbols
#             test); Node.js and npm (tests that install npm packages into the build tree:
#             Hugging Face's tokenizers, playwright-core, the OpenAI client) and Chromium
#             (difflm-server's page in a headless browser)
set -eu
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# libgfortran-12-dev: a static link (pkg-config --static difflm, checked by the install
# test) pulls OpenBLAS's -lgfortran, whose linker name only the -dev package installs.
$SUDO apt-get install -y -qq --no-install-recommends \
    gcc g++ libc6-dev meson ninja-build pkg-config \
    libopenblas-dev libpcre2-dev libjansson-dev libutf8proc-dev check libsubunit-dev \
    libgfortran-12-dev libmicrohttpd-dev \
    python3 python3-numpy python3-jinja2 python3-pip cargo rustc valgrind binutils \
    chromium >/dev/null
# Node.js and npm from Debian unless a Node.js with npm is already there (a nodesource
# nodejs bundles npm and conflicts with Debian's npm package).
if ! command -v npm >/dev/null 2>&1; then
    $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# clang and its sanitizer runtimes (only recommended by clang): the sanitizer builds of
# .ci/run (doc/testing.md, "Sanitizers")
$SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
# abigail-tools (abidw, abidiff): the ABI check of .ci/run against abi/ (doc/testing.md,
# "ABI check"); libclang-rt-14-dev above also carries libFuzzer for the fuzz stage
$SUDO apt-get install -y -qq --no-install-recommends abigail-tools >/dev/null
