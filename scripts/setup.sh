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
  echo
  echo "== x2v platforms"
  "$build_dir/x2v" platforms
  echo
  echo "== x2v inspect tests/fixtures/io/weights.safetensors"
  "$build_dir/x2v" inspect tests/fixtures/io/weights.safetensors
fi
echo
echo "x2v setup: done. Run the tests with: ctest --test-dir $build_dir --output-on-failure"
