#!/bin/sh
# Installs what difflm needs to build and test on Debian 12 (run as root, or through sudo).
set -eu
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    gcc g++ libc6-dev meson ninja-build pkg-config \
    libopenblas-dev libpcre2-dev check libsubunit-dev \
    python3 python3-numpy valgrind binutils >/dev/null
# clang and its sanitizer runtimes (only recommended by clang): the sanitizer builds of
# .ci/run (doc/testing.md, "Sanitizers")
$SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
