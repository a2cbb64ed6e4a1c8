#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (ASan + UBSan, build-fuzz/) and runs each on its corpus.
#   bash scripts/fuzz.sh                 # each harness for 1,000,000 inputs (X2V_FUZZ_RUNS); the corpus grows in build-fuzz/
#   bash scripts/fuzz.sh --ci            # each harness for X2V_FUZZ_SECONDS (default 20) on a copy of the corpus
#   bash scripts/fuzz.sh safetensors     # one harness (safetensors, pth, config, task_request, image)
# A crash leaves its input as build-fuzz/crash-*; fix it and add the input to tests/fuzz/regressions/<harness>/,
# which every run replays first.
set -euo pipefail
cd "$(dirname "$0")/.."
ci=0
targets=()
for argument in "$@"; do
  if [[ $argument == --ci ]]; then ci=1; else targets+=("$argument"); fi
done
(( ${#targets[@]} )) || targets=(safetensors pth config task_request image)
build=${X2V_FUZZ_BUILD_DIR:-build-fuzz}
# -O1: the sanitizers' and the fuzzer's instrumentation make -O3 builds slow on CI's two cores.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DX2V_FUZZ=ON -DX2V_WITH_VULKAN=OFF -DX2V_WITH_MPI=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}")
rm -f "$build"/crash-* "$build"/leak-* "$build"/timeout-* "$build"/oom-*  # a new run reports only its own
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1
for target in "${targets[@]}"; do
  corpus=tests/fuzz/corpus/$target
  regressions=tests/fuzz/regressions/$target
  binary=$build/tests/fuzz/fuzz_$target
  if [[ -d $regressions ]] && ls "$regressions" | grep -q .; then
    echo "== fuzz_$target: replaying $(ls "$regressions" | wc -l) regression input(s)"
    "$binary" -runs=0 "$regressions"/* >/dev/null 2>&1 || { "$binary" -runs=0 "$regressions"/*; exit 1; }
  fi
  if (( ci )); then
    work=$(mktemp -d)
    cp -r "$corpus"/. "$work"/
    echo "== fuzz_$target: ${X2V_FUZZ_SECONDS:-20} s"
    (cd "$build" && "../$binary" -max_total_time="${X2V_FUZZ_SECONDS:-20}" -timeout=30 -rss_limit_mb=4096 \
      -max_len=65536 "$work" 2>&1 | grep -E '^(#[0-9]+ *DONE|Done|==[0-9]+==ERROR|SUMMARY|INFO: seed)' || true)
    rm -rf "$work"
  else
    # The corpus grows in build-fuzz/corpus (seeded from the committed one), not in the repository.
    mkdir -p "$build/corpus/$target"
    cp -rn "$corpus"/. "$build/corpus/$target"/
    echo "== fuzz_$target: ${X2V_FUZZ_RUNS:-1000000} inputs"
    (cd "$build" && "../$binary" -runs="${X2V_FUZZ_RUNS:-1000000}" -timeout=30 -rss_limit_mb=4096 -max_len=65536 \
      -print_final_stats=1 "corpus/$target" 2>&1 | grep -E '^(#[0-9]+ *DONE|Done|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)' || true)
  fi
  found=$(find "$build" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \))
  if [[ -n $found ]]; then
    echo "fuzz_$target found a failing input: $found (replay: $binary $found)"
    exit 1
  fi
done
echo "fuzzing: no crash"
