#!/usr/bin/env bash
# Installs x2v's Debian dependencies, configures and builds in Release (build/), then runs a short demo.
# Safe to run again: installed packages are skipped and the build is incremental.
#   bash scripts/setup.sh            # everything
#   X2V_SKIP_DEMO=1 bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config
  libdnnl-dev            # oneDNN: cpu GEMM and convolution
  nlohmann-json3-dev     # JSON configs and safetensors headers
  libcli11-dev           # command line
  libgtest-dev libgmock-dev googletest
  libbenchmark-dev       # bench/
  libsentencepiece-dev   # umT5 tokenizer
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev  # MP4 (H.264), PNG and JPEG
  ffmpeg                 # ffprobe, used by the tests to check the videos x2v writes
  libvulkan-dev glslc spirv-tools  # the vulkan platform: headers, loader, shader compiler and validator
  mesa-vulkan-drivers vulkan-validationlayers vulkan-tools  # lavapipe (Vulkan on the CPU) and the validation layer for the tests
  libcpp-httplib-dev libsqlite3-dev  # x2v serve: the HTTP server and its task queue
  chromium curl           # the web page test (headless) and the server tests' client
  clang libclang-rt-14-dev libomp-dev  # scripts/fuzz.sh: libFuzzer harnesses with ASan and UBSan
  libopenmpi-dev openmpi-bin  # MPI for distributed runs (mpirun -np N x2v ...): the libx2v_mpi.so plugin and the parallel tests
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "x2v setup: installing ${missing[*]}"
  sudo_prefix=""
  [ "$(id -u)" -eq 0 ] || sudo_prefix="sudo"
  $sudo_prefix apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_prefix apt-get install -y -qq "${missing[@]}"
fi

build_dir="${X2V_BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" -j "$(nproc)"

if [ -z "${X2V_SKIP_DEMO:-}" ]; then
  # The whole text-to-video path on a small random-weight model in the published Wan2.1 layout: the video
  # is noise (random weights), but every stage a real model goes through runs, in seconds.
  echo
  echo "== x2v platforms"
  "$build_dir/x2v" platforms
  if [ ! -f "$build_dir/tiny-wan/config.json" ]; then
    echo
    echo "== x2v make-tiny-model $build_dir/tiny-wan"
    rm -rf "$build_dir/tiny-wan"
    "$build_dir/x2v" make-tiny-model "$build_dir/tiny-wan"
  fi
  echo
  echo "== x2v infer (tiny model) -> $build_dir/demo.mp4"
  "$build_dir/x2v" infer --model_cls wan2.1 --task t2v --model_path "$build_dir/tiny-wan" \
    --config_json configs/wan/tiny_t2v.json --prompt "a cat walking on the beach at sunset" --seed 42 \
    --save_result_path "$build_dir/demo.mp4"
fi
echo
echo "x2v setup: done. Run the tests with: ctest --test-dir $build_dir --output-on-failure"
