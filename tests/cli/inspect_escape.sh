#!/usr/bin/env bash
# inspect_escape.sh X2V OUT_DIR: a safetensors file whose tensor name and metadata hold terminal escape
# sequences; `x2v inspect` must print them escaped (\x1b[31m), never as raw control bytes.
set -euo pipefail
x2v="$1"; out="$2"
file="$out/escape_name.safetensors"
header='{"__metadata__":{"note\u001b]0;title\u0007":"v\u009b2J"},"evil\u001b[31mred":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
length=${#header}
# 8-byte little-endian header length, the JSON header, then one f32.
printf "$(printf '\\x%02x\\x%02x\\x00\\x00\\x00\\x00\\x00\\x00' $((length & 255)) $((length >> 8)))" > "$file"
printf '%s' "$header" >> "$file"
printf '\x00\x00\x80\x3f' >> "$file"
output=$("$x2v" inspect "$file")
if printf '%s' "$output" | LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]'; then
  echo "inspect printed a raw control character:"; printf '%s\n' "$output" | od -c | head -20; exit 1
fi
if printf '%s' "$output" | LC_ALL=C grep -q $'\xc2[\x80-\x9f]'; then
  echo "inspect printed a raw C1 control character"; exit 1
fi
printf '%s' "$output" | grep -qF 'evil\x1b[31mred' || { echo "the escaped name is missing:"; printf '%s\n' "$output"; exit 1; }
printf '%s' "$output" | grep -qF 'v\u009b2J' || { echo "the escaped metadata value is missing:"; printf '%s\n' "$output"; exit 1; }
echo "inspect escapes control characters"
