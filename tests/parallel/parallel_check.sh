#!/usr/bin/env bash
# parallel_check.sh MODE ...: the mpirun tests on the tiny model. Every mode compares with the single-process
# result of the same inputs, which `reference` writes first.
#   reference                         text contexts, then single-process latents, decoded video and frames
#   sample NAME RANKS PARALLEL        mpirun x2v sample; latents within 1e-5 of the single-process ones
#   decode NAME RANKS PARALLEL [wide_] mpirun x2v decode (VAE patches); video within 1e-5 (wide_: a 4x30 latent)
#   infer NAME RANKS PARALLEL         mpirun x2v infer; rank 0 alone writes; frames within 1 of 255
#   error NAME RANKS PARALLEL TEXT    a rank prints TEXT, the job ends non-zero, nothing written
#   fail NAME RANKS PARALLEL SPEC     X2V_FAIL_AT_STEP=SPEC: one rank fails mid-run and ends the job
#   same NAME RANKS PARALLEL ARGS...  x2v infer ARGS (model, task, image) alone and under mpirun: the same frames
#   device NAME RANKS PARALLEL        on $PLATFORM (a device whose memory the host may not read): sample and
#                                     decode under mpirun within 1e-5 of the same device's single-process run
# PARALLEL is the JSON of the config's "parallel" object. Environment: X2V, COMPARE, MODEL, CONFIG, OUT,
# MPIRUN, CLI_DIR.
set -euo pipefail
mode=$1
export DTYPE=FP32 OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# More ranks than cores on CI: ranks yield instead of spinning while they wait for each other.
mpirun=("$MPIRUN" --oversubscribe --bind-to none --mca mpi_yield_when_idle 1)
ref=$OUT/reference
steps='"infer_steps": 3'

config_with() {  # config_with FILE PARALLEL_JSON: the tiny config with 3 steps and that parallel object
  sed "s/^}/, $steps, \"parallel\": $2}/" "$CONFIG" > "$1"
}

case $mode in
reference)
  rm -rf "$ref"; mkdir -p "$ref"
  sed "s/^}/, $steps}/" "$CONFIG" > "$ref/config.json"
  "$X2V" encode-text --model_path "$MODEL" --config_json "$ref/config.json" --prompt 'a red car' \
    --output "$ref/text.safetensors" 2>"$ref/log"
  "$X2V" sample --model_path "$MODEL" --config_json "$ref/config.json" --inputs "$ref/text.safetensors" \
    --seed 5 --output "$ref/latents.safetensors" 2>>"$ref/log"
  "$X2V" decode --model_path "$MODEL" --config_json "$ref/config.json" --inputs "$ref/latents.safetensors" \
    --output "$ref/video.safetensors" 2>>"$ref/log"
  "$X2V" infer --model_path "$MODEL" --config_json "$ref/config.json" --prompt 'a red car' --seed 5 \
    --save_result_path "$ref/video.mp4" --save_frames "$ref/frames" 2>>"$ref/log"
  # A 4x30 latent: four ranks split it 1x4 into tiles of 7 and 8 columns (unequal tiles).
  sed -e 's/"target_height": 128/"target_height": 32/' -e 's/"target_width": 192/"target_width": 240/' \
    -e "s/^}/, \"infer_steps\": 1}/" "$CONFIG" > "$ref/wide.json"
  "$X2V" sample --model_path "$MODEL" --config_json "$ref/wide.json" --inputs "$ref/text.safetensors" \
    --seed 6 --output "$ref/wide_latents.safetensors" 2>>"$ref/log"
  "$X2V" decode --model_path "$MODEL" --config_json "$ref/config.json" --inputs "$ref/wide_latents.safetensors" \
    --output "$ref/wide_video.safetensors" 2>>"$ref/log"
  ;;
sample|decode|infer)
  name=$2 ranks=$3 parallel=$4
  o=$OUT/$name; rm -rf "$o"; mkdir -p "$o"
  config_with "$o/config.json" "$parallel"
  case $mode in
  sample)
    "${mpirun[@]}" -np "$ranks" "$X2V" sample --model_path "$MODEL" --config_json "$o/config.json" \
      --inputs "$ref/text.safetensors" --seed 5 --output "$o/latents.safetensors" 2>"$o/log" || { cat "$o/log"; exit 1; }
    "$COMPARE" "$ref/latents.safetensors" "$o/latents.safetensors" 1e-5
    # The groups did carry the work: rank 0 sent its share each step.
    grep -E "rank 0 sent [0-9.]+ [KM]iB a step" "$o/log" || { echo "no traffic reported"; cat "$o/log"; exit 1; } ;;
  decode)
    prefix=${5:-}  # "wide_": the 4x30 latent
    "${mpirun[@]}" -np "$ranks" "$X2V" decode --model_path "$MODEL" --config_json "$o/config.json" \
      --inputs "$ref/${prefix}latents.safetensors" --output "$o/video.safetensors" 2>"$o/log" || { cat "$o/log"; exit 1; }
    "$COMPARE" "$ref/${prefix}video.safetensors" "$o/video.safetensors" 1e-5
    grep -E "latents in [0-9]+x[0-9]+ patches over $ranks ranks" "$o/log" || { echo "not decoded in patches"; cat "$o/log"; exit 1; } ;;
  infer)
    "${mpirun[@]}" -np "$ranks" "$X2V" infer --model_path "$MODEL" --config_json "$o/config.json" \
      --prompt 'a red car' --seed 5 --save_result_path "$o/video.mp4" --save_frames "$o/frames" \
      2>"$o/log" || { cat "$o/log"; exit 1; }
    # One rank reports: a single summary and a single "step 3/3" line.
    [[ $(grep -c '^x2v infer: wrote' "$o/log") == 1 ]] || { echo "expected one summary"; cat "$o/log"; exit 1; }
    [[ $(grep -c '^\[sample\] step 3/3' "$o/log") == 1 ]] || { echo "expected one progress line per step"; cat "$o/log"; exit 1; }
    grep -q "parallel: $ranks ranks (mpi)" "$o/log" || { echo "no parallel settings line"; cat "$o/log"; exit 1; }
    bash "$CLI_DIR/compare_frames.sh" "$ref/frames" "$o/frames" 1
    bash "$CLI_DIR/check_video.sh" "$o/video.mp4" 17 192 128 16 ;;
  esac
  ;;
same)
  name=$2 ranks=$3 parallel=$4; shift 4
  o=$OUT/$name; rm -rf "$o"; mkdir -p "$o"
  config_with "$o/config.json" "$parallel"
  "$X2V" infer "$@" --config_json "$ref/config.json" --prompt 'a cat' --seed 3 --save_result_path "$o/single.mp4" \
    --save_frames "$o/single" 2>"$o/log"
  "${mpirun[@]}" -np "$ranks" "$X2V" infer "$@" --config_json "$o/config.json" --prompt 'a cat' --seed 3 \
    --save_result_path "$o/parallel.mp4" --save_frames "$o/parallel" 2>>"$o/log" || { cat "$o/log"; exit 1; }
  grep -E "rank 0 sent [0-9.]+ [KM]iB a step" "$o/log" || { echo "no traffic reported"; cat "$o/log"; exit 1; }
  bash "$CLI_DIR/compare_frames.sh" "$o/single" "$o/parallel" 1
  ;;
device)
  name=$2 ranks=$3 parallel=$4
  o=$OUT/$name; rm -rf "$o"; mkdir -p "$o"
  config_with "$o/config.json" "$parallel"
  "$X2V" sample --model_path "$MODEL" --config_json "$ref/config.json" --inputs "$ref/text.safetensors" \
    --seed 5 --output "$o/single_latents.safetensors" 2>"$o/log"
  "$X2V" decode --model_path "$MODEL" --config_json "$ref/config.json" --inputs "$o/single_latents.safetensors" \
    --output "$o/single_video.safetensors" 2>>"$o/log"
  "${mpirun[@]}" -np "$ranks" "$X2V" sample --model_path "$MODEL" --config_json "$o/config.json" \
    --inputs "$ref/text.safetensors" --seed 5 --output "$o/latents.safetensors" 2>>"$o/log" || { cat "$o/log"; exit 1; }
  "${mpirun[@]}" -np "$ranks" "$X2V" decode --model_path "$MODEL" --config_json "$o/config.json" \
    --inputs "$o/single_latents.safetensors" --output "$o/video.safetensors" 2>>"$o/log" || { cat "$o/log"; exit 1; }
  grep -q "$PLATFORM:0 allocator peak" "$o/log" || { echo "did not run on $PLATFORM"; cat "$o/log"; exit 1; }
  "$COMPARE" "$o/single_latents.safetensors" "$o/latents.safetensors" 1e-5
  "$COMPARE" "$o/single_video.safetensors" "$o/video.safetensors" 1e-5
  ;;
error|fail)
  name=$2 ranks=$3 parallel=$4 expected=$5
  o=$OUT/$name; rm -rf "$o"; mkdir -p "$o"
  config_with "$o/config.json" "$parallel"
  status=0
  if [[ $mode == fail ]]; then
    X2V_FAIL_AT_STEP=$expected timeout 120 "${mpirun[@]}" -np "$ranks" "$X2V" sample --model_path "$MODEL" \
      --config_json "$o/config.json" --inputs "$ref/text.safetensors" --output "$o/latents.safetensors" \
      2>"$o/log" >/dev/null || status=$?
    expected="rank ${expected%%:*} of $ranks: [sample] failure injected at step ${expected##*:}"
    lines=1
  else
    timeout 120 "${mpirun[@]}" -np "$ranks" "$X2V" sample --model_path "$MODEL" --config_json "$o/config.json" \
      --inputs "$ref/text.safetensors" --output "$o/latents.safetensors" 2>"$o/log" >/dev/null || status=$?
    # Every rank names a bad configuration, but mpirun ends the job when the first rank exits, so on a loaded
    # machine a rank that starts late is killed before it prints: at least one line is required.
    lines=1
  fi
  fail=0
  [[ $status != 0 && $status != 124 ]] || { echo "expected a non-zero exit without a hang, got $status"; fail=1; }
  found=$(grep -cF -- "$expected" "$o/log" || true)
  (( found >= lines )) || { echo "expected '$expected' from $lines rank(s), found $found"; fail=1; }
  [[ ! -e $o/latents.safetensors ]] || { echo "a result was written"; fail=1; }
  if (( fail )); then cat "$o/log"; exit 1; fi
  echo "ended with status $status; '$expected' printed $found time(s)"
  ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac
