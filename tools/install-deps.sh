#!/usr/bin/env bash
# Installs what einvit's build, tests and benchmarks need from Debian's packages, and only what is
# missing: running it again does nothing. Uses sudo when not run as root.
set -euo pipefail

packages=(
  cmake make g++ clang-14 python3   # toolchain and the single-header generator
  libxsimd-dev                      # SIMD kernels
  libeigen3-dev                     # Eigen baseline backend
  doctest-dev                       # unit tests
  libbenchmark-dev                  # benchmarks
  libopenblas-dev                   # GEMM peer in bench/bench_gemm.cpp
  python3-venv python3-torch python3-torchvision  # ViT parity references (tests/golden/vit/gen.py)
  libpng-dev libjpeg62-turbo-dev libstb-dev  # einvit-classify: image decoding (PNG, JPEG, BMP)
  dataset-fashion-mnist             # the Fashion-MNIST test set
)
# With --tests (tools/run-tests.sh): also the kernels' unit tests for aarch64 (NEON), cross-built and
# run under qemu (unit_isa.aarch64_neon), and the shipped model on bare-metal Cortex-M7 and M4 cores,
# built with arm-none-eabi-g++ and its newlib and run on QEMU's mps2 boards (example.cortex_m), which
# the demo does not need.
# With --fuzz (tools/fuzz.sh): libFuzzer and the sanitizers' runtimes for clang 14.
if [ "${1:-}" = "--tests" ]; then
  packages+=(g++-aarch64-linux-gnu qemu-user
             gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm)
elif [ "${1:-}" = "--fuzz" ]; then
  packages+=(libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi

# as root, or through sudo (which drops the environment: DEBIAN_FRONTEND goes through env)
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo > /dev/null; then
    echo "install-deps: these packages are missing and installing them needs root (no sudo here): ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
