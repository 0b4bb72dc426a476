#!/usr/bin/env bash
# The one command that runs all of einvit's tests on a Debian 12 machine, installing what it needs:
#     tools/run-tests.sh
# It makes .venv (tools/make-venv.sh: torch from Debian, timm and vit-pytorch from PyPI, for the ViT
# parity references), builds with g++ (release flags, -march=native) in build/, then runs CTest: unit tests (also
# against the single header, with the scalar fallback, and built with clang 14, as are the ViT tests), compile-time facts,
# compile-fail diagnostics, the consumer builds (find_package, add_subdirectory), the examples and a
# smoke run of the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
tools/make-venv.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++
cmake --build build --parallel "$jobs"
export CMAKE_BUILD_PARALLEL_LEVEL="$jobs"
ctest --test-dir build --output-on-failure --parallel "$jobs" "$@"
