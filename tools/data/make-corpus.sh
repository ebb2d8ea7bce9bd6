#!/bin/sh
# make-corpus.sh OUTDIR - the training corpus of the default model (doc/default-model.md, "Data").
#
# Installs the public-domain texts from Debian packages (as root, idempotent), extracts
# OUTDIR/kjv.txt (King James Bible), OUTDIR/web.txt (World English Bible) and
# OUTDIR/tdavid.txt (Spurgeon's Treasury of David) and OUTDIR/mhcc.txt (Matthew Henry's
# Concise Commentary), prints their SHA-256, then builds the held-out split
# OUTDIR/train.txt and OUTDIR/val.txt from the first three, and OUTDIR/train-mhcc.txt,
# train.txt with the commentary added (tools/data/split_corpus.py says how and why).
# Last, the instruction pairs OUTDIR/pairs-train.tsv and OUTDIR/pairs-val.tsv (each verse
# of the two Bibles translated into the other, split by the same key: make_pairs.py).
# Intermediate files go to OUTDIR/raw/. Needs Debian's /usr/bin/python3 (no numpy needed).
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
OUT=$1
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
PACKAGES="bible-kjv bible-kjv-text sword-text-web diatheke sword-comm-tdavid sword-comm-mhcc"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "$0: missing packages:$missing (run as root, or apt-get install them)" >&2
        exit 1
    fi
    echo "installing:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

mkdir -p "$OUT/raw"
RAW=$OUT/raw
# The locale must not change what the tools print (diatheke and sort are locale-aware).
export LC_ALL=C.UTF-8

# KJV: the reader prints "Ge1:1 text"; stdin closed so it does not wait for commands.
bible -f Gen1:1-Rev22:21 </dev/null >"$RAW/kjv.bible"
sed -E 's/^([^ ]*[0-9]+):[0-9]+ /\1\t/' "$RAW/kjv.bible" >"$RAW/kjv.refs"

# WEB: OSIS, cleaned (doc/default-model.md, "Cleaning the exports").
diatheke -b engWEB2015eb -f OSIS -k Gen 1:1-Rev 22:21 >"$RAW/web.osis"
$PY "$HERE/clean_web_osis.py" --refs <"$RAW/web.osis" >"$RAW/web.refs"

# Treasury of David: plain, cleaned (doc/default-model.md, "Cleaning the exports").
diatheke -b TDavid -f plain -k Ps 1:1-150:6 >"$RAW/tdavid.plain"
$PY "$HERE/clean_tdavid.py" --refs <"$RAW/tdavid.plain" >"$RAW/tdavid.refs"

# Matthew Henry: read from the module's files, not diatheke (clean_mhcc.py says why).
$PY "$HERE/clean_mhcc.py" --refs /usr/share/sword/modules/comments/zcom/mhcc >"$RAW/mhcc.refs"

for s in kjv web tdavid mhcc; do
    cut -f2- "$RAW/$s.refs" >"$OUT/$s.txt"
done
echo "extracted (doc/default-model.md, section Data, lists the expected SHA-256 values):"
(cd "$OUT" && sha256sum kjv.txt web.txt tdavid.txt mhcc.txt && wc -c kjv.txt web.txt tdavid.txt mhcc.txt)

$PY "$HERE/split_corpus.py" "$OUT" "$RAW/kjv.refs" "$RAW/web.refs" "$RAW/tdavid.refs" "$RAW/mhcc.refs"
(cd "$OUT" && sha256sum train.txt val.txt train-mhcc.txt && wc -c train.txt val.txt train-mhcc.txt)

$PY "$HERE/make_pairs.py" "$OUT" "$RAW/kjv.refs" "$RAW/web.refs"
(cd "$OUT" && sha256sum pairs-train.tsv pairs-val.tsv && wc -c pairs-train.tsv pairs-val.tsv)
