#!/usr/bin/env bash
# compare_frames.sh EXPECTED_DIR ACTUAL_DIR MAX_DIFF: every PNG frame of EXPECTED_DIR has a twin in ACTUAL_DIR
# whose 8-bit RGB values differ by at most MAX_DIFF anywhere (FFmpeg decodes the PNGs to raw RGB).
set -euo pipefail
expected_dir=$1 actual_dir=$2 max_diff=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count=0
for expected in "$expected_dir"/*.png; do
  name=$(basename "$expected")
  actual="$actual_dir/$name"
  [[ -f $actual ]] || { echo "missing frame $actual"; exit 1; }
  ffmpeg -loglevel error -y -i "$expected" -f rawvideo -pix_fmt rgb24 "$work/a.rgb"
  ffmpeg -loglevel error -y -i "$actual" -f rawvideo -pix_fmt rgb24 "$work/b.rgb"
  [[ $(stat -c %s "$work/a.rgb") == $(stat -c %s "$work/b.rgb") ]] || { echo "$name: sizes differ"; exit 1; }
  # cmp -l lists every differing byte as: offset, value in a, value in b (octal).
  largest=$(cmp -l "$work/a.rgb" "$work/b.rgb" | awk '
    function octal(text,  i, value) { value = 0; for (i = 1; i <= length(text); i++) value = value * 8 + substr(text, i, 1); return value }
    { d = octal($2) - octal($3); if (d < 0) d = -d; if (d > m) m = d } END { print m + 0 }') || true
  if (( largest > max_diff )); then echo "$name: a value differs by $largest (allowed $max_diff)"; exit 1; fi
  count=$((count + 1))
done
(( count > 0 )) || { echo "no frames in $expected_dir"; exit 1; }
echo "$count frames within $max_diff"
