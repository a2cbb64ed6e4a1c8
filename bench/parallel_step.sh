#!/usr/bin/env bash
# The DiT sampling step and the VAE decode at Wan2.1-1.3B's width (random weights), on one rank with two
# threads against two ranks of one thread each (CFG parallel, Ulysses, and the VAE in patches), with what each
# rank sends. Prints the CPU and the ISA path first. Needs the MPI plugin (scripts/setup.sh installs MPI).
#   bash bench/parallel_step.sh    # the whole 30-layer DiT, 2304 tokens, 3 steps; 9 frames of 384x512
set -euo pipefail
cd "$(dirname "$0")/.."
build=${X2V_BUILD_DIR:-build}
x2v=$build/x2v
work=${X2V_BENCH_DIR:-/tmp/x2v_parallel_bench}
export DTYPE=${DTYPE:-BF16} OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun=(mpirun --bind-to core --map-by core --mca mpi_yield_when_idle 1)
mkdir -p "$work"
model=$work/model-1.3B
if [[ ! -f $model/config.json ]]; then
  rm -rf "$model"
  "$x2v" make-tiny-model "$model" --dit_size 1.3B --vae_size full >/dev/null 2>&1
fi
echo "== machine"
grep -m1 'model name' /proc/cpuinfo | sed 's/.*: /cpu: /'
"$x2v" platforms 2>&1 | grep -m1 'oneDNN isa' | sed 's/^ *hardware *//'
cat > "$work/config.json" <<JSON
{"infer_steps": 3, "target_video_length": 9, "target_height": 384, "target_width": 512, "sample_shift": 8,
 "sample_guide_scale": 6, "enable_cfg": true, "seed": 1}
JSON
with_parallel() { sed "s/}\$/, \"parallel\": $1}/" "$work/config.json" > "$work/$2.json"; }
with_parallel '{"cfg_p_size": 2}' cfg
with_parallel '{"seq_p_size": 2, "seq_p_attn_type": "ulysses"}' ulysses
"$x2v" encode-text --model_path "$model" --config_json "$work/config.json" --prompt 'a red car' \
  --output "$work/text.safetensors" 2>/dev/null

# Seconds per step from the progress lines, the first (warm-up) step left out.
step_seconds() {
  awk '/^\[sample\] step/ { split($3, f, "/"); e[f[1]] = $5; n = f[2] } END { printf "%.2f", (e[n] - e[1]) / (n - 1) }' "$1"
}
launch() {  # launch THREADS RANKS COMMAND...: one process, or RANKS under mpirun
  local threads=$1 ranks=$2
  shift 2
  if [[ $ranks == 1 ]]; then OMP_NUM_THREADS=$threads "$@"; else OMP_NUM_THREADS=$threads "${mpirun[@]}" -np "$ranks" "$@"; fi
}
run_sample() {  # run_sample NAME THREADS RANKS CONFIG
  local log=$work/$1.log
  launch "$2" "$3" "$x2v" sample --model_path "$model" --config_json "$work/$4.json" \
    --inputs "$work/text.safetensors" --output "$work/$1.safetensors" 2>"$log"
  local sent
  sent=$(grep -oE 'sent [0-9.]+ [KMG]?i?B a step' "$log" | head -1 || true)
  printf '%-28s %8s s a step   %s\n' "$1" "$(step_seconds "$log")" "${sent:-(nothing sent)}"
}
echo "== DiT: 30 layers of dim 1536, 2304 tokens, CFG (2 evaluations a step), DTYPE=$DTYPE"
run_sample "1 rank x 2 threads" 2 1 config
run_sample "2 ranks x 1 thread, CFG" 1 2 cfg
run_sample "2 ranks x 1 thread, Ulysses" 1 2 ulysses
"$build/tests/compare_tensors" "$work/1 rank x 2 threads.safetensors" "$work/2 ranks x 1 thread, Ulysses.safetensors" 1e9 \
  | sed 's/^/  Ulysses against one rank: /' || true

echo "== VAE decode (full width), 9 frames of 384x512"
run_decode() {  # run_decode NAME THREADS RANKS CONFIG
  local log=$work/$1.log
  launch "$2" "$3" "$x2v" decode --model_path "$model" --config_json "$work/$4.json" \
    --inputs "$work/1 rank x 2 threads.safetensors" --output "$work/$1.safetensors" 2>"$log"
  local seconds sent
  seconds=$(awk '/^\[vae decode\] step/ { e = $5 } END { printf "%.2f", e / 9 }' "$log")
  sent=$(grep -oE 'sent [0-9.]+ [KMG]?i?B a video frame' "$log" | head -1 || true)
  printf '%-28s %8s s a frame   %s\n' "$1" "$seconds" "${sent:-(nothing sent)}"
}
run_decode "vae 1 rank x 2 threads" 2 1 config
run_decode "vae 2 ranks x 1 thread" 1 2 ulysses
