#!/bin/sh
# Installs what difflm needs to build and test on Debian 12 (run as root, or through sudo),
# from Debian's own packages only:
#   build:    gcc, meson, ninja, pkg-config, PCRE2, Jansson, utf8proc, OpenBLAS,
#             libmicrohttpd (difflm-server's HTTP)
#   tests:    g++ (the C++ header and binding), Check, Python 3 with numpy (the reference
#             programs and the Python binding) and pip (its offline install test), cargo
#             and rustc (the Rust crates; Debian 12 has rustc 1.63, their rust-version),
#             valgrind, binutils (nm for the symbols test); Node.js, npm and Chromium
#             (difflm-server's page in headless Chromium and the OpenAI client, whose npm
#             packages the tests install into the build tree)
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
    python3 python3-numpy python3-pip cargo rustc valgrind binutils >/dev/null
# clang and its sanitizer runtimes (only recommended by clang): the sanitizer builds of
# .ci/run (doc/testing.md, "Sanitizers")
$SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
# difflm-server's browser and OpenAI-client tests (tests/server/test_node.py)
$SUDO apt-get install -y -qq --no-install-recommends nodejs npm chromium >/dev/null
