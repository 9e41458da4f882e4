#!/usr/bin/env bash
# Prepares the default training corpus: the King James Bible from Debian's
# bible-kjv package (public domain), as raw bytes
#   data/kjv/train.bin   the first ~90 % (whole lines)
#   data/kjv/val.bin     the rest: the split is at the start of the first line
#                        beginning after 90 % of the text (fixed for a given text)
# Idempotent: files already up to date are left untouched (same bytes, same
# mtime); otherwise they are replaced atomically (temporary + rename).
#   scripts/corpus.sh [OUT_DIR]      (default: <repo>/data/kjv)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/data/kjv}

if ! command -v bible >/dev/null 2>&1; then
  if [[ $(id -u) -ne 0 ]]; then echo "corpus: 'bible' missing; run as root or: apt-get install bible-kjv" >&2; exit 1; fi
  echo "corpus: installing bible-kjv" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends bible-kjv >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends bible-kjv >/dev/null; }
fi

mkdir -p "$out"
tmp=$(mktemp -d "$out/.corpus.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# -f formats one verse per line; COLUMNS would change the wrapping, so unset it.
env -u COLUMNS bible -f 'gen1:1-rev22:21' </dev/null >"$tmp/all.txt"
size=$(stat -c %s "$tmp/all.txt")
if (( size < 4000000 )); then echo "corpus: bible printed only $size bytes (expected ~4.4 MB)" >&2; exit 1; fi
# split offset: the start of the first line that begins after byte 90 %
cut=$(( size * 9 / 10 ))
rest=$(set +o pipefail; tail -c +"$((cut + 1))" "$tmp/all.txt" | head -n 1 | wc -c)   # to the end of that line
cut=$(( cut + rest ))
(( cut < size )) || { echo "corpus: no line break after the split point" >&2; exit 1; }
head -c "$cut" "$tmp/all.txt" >"$tmp/train.bin"
tail -c +"$((cut + 1))" "$tmp/all.txt" >"$tmp/val.bin"
changed=0
for f in train.bin val.bin; do
  if [[ -f $out/$f ]] && cmp -s "$tmp/$f" "$out/$f"; then continue; fi
  sync "$tmp/$f" 2>/dev/null || true
  mv -f "$tmp/$f" "$out/$f"
  changed=1
done
t=$(stat -c %s "$out/train.bin"); v=$(stat -c %s "$out/val.bin")
echo "corpus: $out/train.bin $t bytes, $out/val.bin $v bytes$([[ $changed -eq 0 ]] && echo ' (up to date)')"
