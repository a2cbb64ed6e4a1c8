#!/usr/bin/env bash
# One command for a machine with a GPU: which Vulkan devices there are, the vulkan platform's conformance suite
# and golden fixtures under the validation layer (with the device's cooperative matrices and integer dot products,
# then without), the platform's own tests, a text-to-video run against the cpu's, and the device benchmarks
# (f32 and bf16 mm, attention, a DiT step in f32 and bf16). Everything goes to one report (default build/gpu_report.txt). Needs a built tree (scripts/setup.sh).
#   bash scripts/gpu_check.sh [REPORT]
set -uo pipefail
cd "$(dirname "$0")/.."
report=${1:-build/gpu_report.txt}
build=${X2V_BUILD_DIR:-build}
[ -x "$build/x2v" ] || { echo "gpu_check: no $build/x2v; run scripts/setup.sh first"; exit 2; }
status=0
{
  echo "== gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
  echo "== CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  echo "== Vulkan devices"
  if command -v vulkaninfo >/dev/null; then vulkaninfo --summary 2>/dev/null | grep -E 'deviceName|driverName|apiVersion'
  else echo "vulkaninfo not installed (apt install vulkan-tools)"; fi
  echo "== x2v platforms"
  "$build/x2v" platforms || status=1
  echo "== conformance and golden fixtures on vulkan, validation layer on"
  X2V_VULKAN_VALIDATION=1 X2V_TEST_PLATFORM=vulkan ctest --test-dir "$build" -L 'ops|models' -j"$(nproc)" \
    --output-on-failure || status=1
  echo "== the portable shaders: cooperative matrices and integer dot products off"
  X2V_VULKAN_COOPMAT=0 X2V_VULKAN_INTEGER_DOT=0 X2V_VULKAN_VALIDATION=1 X2V_TEST_PLATFORM=vulkan \
    ctest --test-dir "$build" -L ops -j"$(nproc)" --output-on-failure || status=1
  echo "== the vulkan platform's own tests: sub-allocation, overlapped uploads, tensors past the range"
  X2V_VULKAN_VALIDATION=1 "$build/tests/x2v_vulkan_tests" || status=1
  X2V_VULKAN_VALIDATION=1 X2V_VULKAN_STORAGE_RANGE=65536 "$build/tests/x2v_vulkan_tests" --gtest_filter='*InPieces*' ||
    status=1
  echo "== text to video: vulkan against cpu (f32, every frame within 1/255)"
  out=$(mktemp -d)
  for platform in cpu vulkan; do
    DTYPE=FP32 PLATFORM=$platform "$build/x2v" infer --model_path "$build/tiny-wan" \
      --config_json configs/wan/tiny_t2v.json --prompt 'a cat walking on the beach at sunset' --seed 3 \
      --save_result_path "$out/$platform.mp4" --save_frames "$out/$platform" 2>&1 | tail -4 || status=1
  done
  bash tests/cli/compare_frames.sh "$out/cpu" "$out/vulkan" 1 || status=1
  rm -rf "$out"
  echo "== device benchmarks (PLATFORM=vulkan)"
  if [ -x "$build/bench/x2v_bench" ]; then
    PLATFORM=vulkan X2V_BENCH_DEVICE_SCALE=${X2V_BENCH_DEVICE_SCALE:-8} "$build/bench/x2v_bench" \
      --benchmark_filter='run_device' || status=1
    echo "== a DiT step on vulkan (1.3B width; DTYPE=BF16 for the cooperative-matrix path)"
    for dtype in FP32 BF16; do
      DTYPE=$dtype PLATFORM=vulkan "$build/bench/x2v_bench" --benchmark_filter='^DitStep' || status=1
    done
  else
    echo "no $build/bench/x2v_bench (Google Benchmark missing at configure time)"
  fi
  echo "== gpu_check: $([ $status -eq 0 ] && echo all passed || echo FAILURES above)"
} 2>&1 | tee "$report"
exit $status
