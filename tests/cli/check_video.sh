#!/usr/bin/env bash
# check_video.sh FILE FRAMES WIDTH HEIGHT FPS: ffprobe must read FILE as H.264 yuv420p with exactly these
# frame count, size and frame rate.
set -u
file="$1"; frames="$2"; width="$3"; height="$4"; fps="$5"
if ! command -v ffprobe >/dev/null; then echo "ffprobe is not installed (apt install ffmpeg)"; exit 1; fi
probe=$(ffprobe -v error -select_streams v:0 -count_frames \
  -show_entries stream=codec_name,pix_fmt,width,height,r_frame_rate,nb_read_frames -of default=nw=1 "$file") || {
  echo "ffprobe cannot read $file"; exit 1; }
expected="codec_name=h264
width=$width
height=$height
pix_fmt=yuv420p
r_frame_rate=$fps/1
nb_read_frames=$frames"
fail=0
while IFS= read -r line; do
  printf '%s\n' "$probe" | grep -qxF -- "$line" || { echo "expected $line"; fail=1; }
done <<< "$expected"
if [ "$fail" -ne 0 ]; then echo "--- ffprobe says:"; printf '%s\n' "$probe"; fi
exit "$fail"
