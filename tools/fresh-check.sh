#!/bin/bash
# fresh-check.sh - runs README.md's two commands, exactly as written there, in a clean
# Debian 12 (bookworm) root made with debootstrap, on a clean clone of this repository:
# what a new user on a fresh Debian 12 machine gets. Needs root (debootstrap, chroot,
# mounts) and the Debian mirror; nothing else is reached.
#
# usage: tools/fresh-check.sh [--root DIR] [--mirror URL] [--rev REV] [--reuse]
#                             [--allow-skips] [--build-only]
#   --root DIR     working directory (default /var/tmp/difflm-fresh), reused between runs:
#                    DIR/base   the debootstrapped minbase root, made once and kept
#                    DIR/cache  the .deb files debootstrap fetched
#                    DIR/run    this run's root: a fresh copy of DIR/base, kept for
#                               inspection until the next run replaces it
#                    DIR/logs   one log per command, and summary.txt
#   --mirror URL   Debian mirror (default http://deb.debian.org/debian)
#   --rev REV      the commit to check (default HEAD); uncommitted changes are not seen
#   --reuse        run in DIR/run as the last run left it instead of a fresh copy of
#                  DIR/base (quicker; packages and build/ stay, so it is not a fresh check)
#   --allow-skips  a skipped test is reported but does not fail the check
#   --build-only   run only the first command (install, build, generate)
# Exit status: 0 when both commands succeed with no test skipped, 1 otherwise.
set -euo pipefail

# The whole script is one function, read in full before it runs: editing this file while
# a check runs cannot change the running check.
main() {

die() { echo "fresh-check: $*" >&2; exit 1; }

root=/var/tmp/difflm-fresh
mirror=http://deb.debian.org/debian
rev=HEAD
reuse=0
allow_skips=0
build_only=0
while [ $# -gt 0 ]; do
    case $1 in
        --root) root=${2:?--root needs a directory}; shift 2 ;;
        --mirror) mirror=${2:?--mirror needs a URL}; shift 2 ;;
        --rev) rev=${2:?--rev needs a commit}; shift 2 ;;
        --reuse) reuse=1; shift ;;
        --allow-skips) allow_skips=1; shift ;;
        --build-only) build_only=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (--help lists them)" ;;
    esac
done

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot and mounts need it)"
src=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel) || die "not inside a git checkout"
commit=$(git -C "$src" rev-parse --verify "$rev^{commit}") || die "no commit '$rev'"
if [ "$rev" = HEAD ] && [ -n "$(git -C "$src" status --porcelain --untracked-files=no)" ]; then
    echo "fresh-check: note: uncommitted changes in $src are not checked (only $commit)" >&2
fi
if ! command -v debootstrap >/dev/null; then
    command -v apt-get >/dev/null || die "debootstrap is missing (Debian's debootstrap package)"
    echo "== installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

mkdir -p "$root"
root=$(cd "$root" && pwd)
base=$root/base run=$root/run logs=$root/logs
mkdir -p "$root/cache" "$logs"

# ---------------------------------------------------------------- the base root, once
if [ ! -e "$base/.difflm-base-complete" ]; then
    echo "== debootstrap bookworm into $base (minbase; packages cached in $root/cache)"
    rm -rf "$base.partial"
    debootstrap --variant=minbase --cache-dir="$root/cache" bookworm "$base.partial" "$mirror" \
        >"$logs/debootstrap.log" 2>&1 || { tail -20 "$logs/debootstrap.log"; die "debootstrap failed (log: $logs/debootstrap.log)"; }
    # What a Debian 12 installation's apt reads: the release, its updates and security.
    rm -f "$base.partial/etc/apt/sources.list"
    cat >"$base.partial/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    touch "$base.partial/.difflm-base-complete"
    rm -rf "$base"
    mv "$base.partial" "$base"
fi

# ---------------------------------------------------------------- this run's root
mounts=()
cleanup() {
    local rc=$? pid p i
    # Processes still running in the chroot (an interrupted run) would hold the mounts.
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$run" ] || continue
        pid=${p#/proc/}
        kill "$pid" 2>/dev/null || true
    done
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null ||
            echo "fresh-check: could not unmount ${mounts[i]}" >&2
    done
    mounts=()
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Refuse to touch a root something still has mounted (another run, or a crashed one).
if grep -q " $run/" /proc/self/mountinfo; then
    die "something is still mounted under $run (another fresh-check?); unmount it first"
fi
if [ "$reuse" -eq 1 ] && [ -d "$run/root" ]; then
    echo "== reusing $run (--reuse: not a fresh root)"
else
    echo "== fresh root: copy of $base to $run"
    rm -rf "$run"
    cp -a "$base" "$run"
fi
cp -L /etc/resolv.conf "$run/etc/resolv.conf"

echo "== clean clone of $src at $commit into /root/difflm"
rm -rf "$run/root/difflm"
git clone --quiet --no-local --no-checkout "$src" "$run/root/difflm"
git -C "$run/root/difflm" checkout --quiet --detach "$commit"

mnt() { # mnt TARGET MOUNT-ARGS...
    local target=$1; shift
    mkdir -p "$target"
    mount "$@" "$target"
    mounts+=("$target")
}
mnt "$run/proc" -t proc proc
mnt "$run/sys" -t sysfs -o ro sysfs
mnt "$run/dev" -t tmpfs -o mode=755,nosuid tmpfs
for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r name major minor <<<"$node"
    mknod -m 666 "$run/dev/$name" c "$major" "$minor"
done
ln -s /proc/self/fd "$run/dev/fd"
ln -s /proc/self/fd/0 "$run/dev/stdin"
ln -s /proc/self/fd/1 "$run/dev/stdout"
ln -s /proc/self/fd/2 "$run/dev/stderr"
mnt "$run/dev/pts" -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts
ln -s pts/ptmx "$run/dev/ptmx"
mnt "$run/dev/shm" -t tmpfs -o mode=1777,nosuid,nodev tmpfs
mnt "$run/run" -t tmpfs -o mode=755,nosuid,nodev tmpfs
chmod 1777 "$run/tmp"

# ---------------------------------------------------------------- README's commands
# The indented command lines of README.md, in order: generate text, then the test suite.
mapfile -t cmds < <(grep -E '^    sh tools/install-deps\.sh ' "$run/root/difflm/README.md" | sed 's/^    //')
[ "${#cmds[@]}" -eq 2 ] || die "README.md has ${#cmds[@]} command lines starting 'sh tools/install-deps.sh', expected 2"
[ "$build_only" -eq 0 ] || cmds=("${cmds[0]}")

in_root() { # a root login shell's environment, nothing of this machine's
    chroot "$run" /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash \
        LANG=C.UTF-8 TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        /bin/bash -c "cd /root/difflm && $1"
}

summary=$logs/summary.txt
{
    echo "fresh-check $(date -u +%Y-%m-%dT%H:%M:%SZ): $commit in a debootstrapped bookworm root ($run)"
} >"$summary"
status=0
n=0
for cmd in "${cmds[@]}"; do
    n=$((n + 1))
    log=$logs/command-$n.log
    echo "== command $n (log: $log)"
    echo "   $cmd"
    start=$(date +%s)
    # In the background, so that a signal reaches the trap at once (bash runs traps only
    # between foreground commands) and the cleanup ends what runs in the root.
    set +e
    (in_root "$cmd" 2>&1 | tee "$log"; exit "${PIPESTATUS[0]}") &
    wait $!
    rc=$?
    set -e
    secs=$(($(date +%s) - start))
    echo "command $n: exit $rc after ${secs}s: $cmd" >>"$summary"
    # meson test's summaries (one per `meson test`), and the tests it skipped.
    grep -E '^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout): ' "$log" |
        sed 's/^/    /; s/ *$//' >>"$summary" || true
    skipped=$(grep -E '^ *[0-9]+/[0-9]+ .* SKIP ' "$log" || true)
    if [ -n "$skipped" ]; then
        echo "    skipped:" >>"$summary"
        echo "$skipped" | sed 's/^/      /' >>"$summary"
        [ "$allow_skips" -eq 1 ] || { echo "    a skipped test fails the check (--allow-skips to report only)" >>"$summary"; status=1; }
    fi
    if [ "$rc" -ne 0 ]; then
        status=1
        break
    fi
done
echo "result: $([ "$status" -eq 0 ] && echo PASS || echo FAIL)" >>"$summary"
echo "== summary ($summary)"
cat "$summary"
exit "$status"
}

main "$@"
