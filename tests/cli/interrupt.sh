#!/usr/bin/env bash
# interrupt.sh X2V WORK_DIR: SIGINT during the DiT, then SIGINT and SIGTERM during the VAE decode with
# --save_frames and an earlier out.mp4 and frames folder at the paths. Each run must die by the signal
# (exit status 130 / 143) and leave the output folder as it was: no hidden temporary, the earlier video
# and frames byte-identical (never half a result).
set -euo pipefail
x2v=$1
work=$2
pid=

finish() {
  if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap finish EXIT

fail() {
  echo "interrupt.sh: $*" >&2
  if [ -f "$work/stderr.txt" ]; then
    echo "--- x2v stderr:" >&2
    tail -n 20 "$work/stderr.txt" >&2
  fi
  echo "--- output folder:" >&2
  ls -la "$work/out" >&2 || true
  exit 1
}

# A script's background jobs ignore SIGINT unless job control is on; x2v must see it as from a terminal.
set -m

rm -rf "$work"
mkdir -p "$work/out"
"$x2v" make-tiny-model "$work/model" >/dev/null
# Longer than configs/wan/tiny_t2v.json (65 frames, 17 latent frames to decode; 20 steps): on the tiny
# model each stage then lasts about a second, long enough to be interrupted in.
cat >"$work/config.json" <<'EOF'
{"infer_steps": 20, "target_video_length": 65, "target_height": 128, "target_width": 192,
 "sample_guide_scale": 6, "sample_shift": 8, "enable_cfg": true, "fps": 16, "seed": 42}
EOF

# interrupt SIGNAL TEXT STAGED ENDED [infer options...]: runs `x2v infer` into $work/out, sends SIGNAL once
# stderr holds TEXT (at most 60 s) and the output folder holds the hidden temporaries named in STAGED (so
# the signal has something to clean up), and sets $status to the exit status. Stderr must not hold ENDED
# (a regular expression): the stage ended before the signal, and the test tested nothing.
interrupt() {
  local signal=$1 text=$2 staged=$3 ended=$4
  shift 4
  : >"$work/stderr.txt"  # there before the first look, whenever the job opens it
  "$x2v" infer --model_path "$work/model" --config_json "$work/config.json" --prompt 'a cat walking' \
    --save_result_path "$work/out/out.mp4" "$@" >/dev/null 2>"$work/stderr.txt" &
  pid=$!
  local deadline=$((SECONDS + 60))
  until grep -qF -- "$text" "$work/stderr.txt"; do
    kill -0 "$pid" 2>/dev/null || fail "x2v ended before '$text'"
    [ "$SECONDS" -le "$deadline" ] || fail "no '$text' on stderr within 60 s"
    sleep 0.02
  done
  for name in $staged; do
    compgen -G "$work/out/$name*" >/dev/null || fail "no temporary $name* when sending SIG$signal"
  done
  kill -s "$signal" "$pid"
  status=0
  wait "$pid" 2>/dev/null || status=$?  # 2>/dev/null: no job-control notice
  pid=
  if grep -qE -- "$ended" "$work/stderr.txt"; then fail "the stage ended before SIG$signal; make the run longer"; fi
}

expect_status() {
  [ "$status" -eq "$1" ] || fail "$2: exit status $status, expected $1 (death by the signal)"
}

# Every path under the output folder, hidden ones included, and the md5 of every file.
snapshot() {
  (cd "$work/out" && find . | sort && find . -type f -exec md5sum {} + | sort)
}

# 1. During the DiT, nothing written yet: nothing is left.
interrupt INT 'stage dit: started' '' 'stage dit: [0-9]'
expect_status 130 "SIGINT during the DiT"
[ -z "$(ls -A "$work/out")" ] || fail "SIGINT during the DiT left files"

# 2, 3. During the VAE decode, some frames already staged: the earlier results stay exactly as they were.
mkdir -p "$work/out/frames"
for i in 0 1 2; do echo "earlier frame $i" >"$work/out/frames/frame_0000$i.png"; done
echo "earlier video" >"$work/out/out.mp4"
snapshot >"$work/earlier.txt"
for signal in INT TERM; do
  interrupt "$signal" '[vae decode] step' '.out.mp4.tmp- .frames.tmp-' 'stage vae decode: [0-9]' \
    --save_frames "$work/out/frames"
  if [ "$signal" = INT ]; then expect_status 130 "SIGINT"; else expect_status 143 "SIGTERM"; fi
  diff <(snapshot) "$work/earlier.txt" >&2 ||
    fail "SIG$signal during the VAE decode left temporaries or changed the earlier out.mp4 or frames"
done
echo "interrupt.sh: every run died by its signal and left the output folder as it was"
