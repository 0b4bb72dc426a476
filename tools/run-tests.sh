#!/usr/bin/env bash
# The one command that runs all of einvit's tests on a Debian 12 machine, installing what it needs:
#     tools/run-tests.sh
# It makes .venv (tools/make-venv.sh: torch from Debian, timm and vit-pytorch from PyPI, for the ViT
# parity references), builds with g++ (release flags, -march=native) in build/, then runs CTest: unit tests (also
# against the single header, with the scalar fallback, and built with clang 14, as are the ViT tests), compile-time facts,
# compile-fail diagnostics, the consumer builds (find_package, add_subdirectory), the examples, a
# smoke run of the benchmarks, the kernels' tests built for the other instruction sets (x86-64 levels;
# aarch64 under qemu, whose cross compiler and qemu-user `install-deps.sh --tests` installs) and a
# build without exceptions.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh --tests
tools/make-venv.sh
jobs=$(nproc)
tools/configure-build.sh -DEINVIT_BUILD_TESTS=ON -DEINVIT_BUILD_BENCH=ON -DEINVIT_BUILD_EXAMPLES=ON
cmake --build build --parallel "$jobs"
export CMAKE_BUILD_PARALLEL_LEVEL="$jobs"
ctest --test-dir build --output-on-failure --no-tests=error --parallel "$jobs" "$@"
