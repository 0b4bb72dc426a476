#!/usr/bin/env bash
# Configures build/ with g++ and release flags, plus the options given, whatever an earlier configure
# left in its cache: a cache made with another compiler would make CMake drop it half way (and the
# other settings with it), so it is started afresh then. Used by run-tests.sh and classify-demo.sh.
#     tools/configure-build.sh [-DOPTION=VALUE ...]
set -euo pipefail
cd "$(dirname "$0")/.."
fresh=()
if [ -f build/CMakeCache.txt ] && ! grep -qE '^CMAKE_CXX_COMPILER:[A-Z]+=(.*/)?g\+\+$' build/CMakeCache.txt; then fresh=(--fresh); fi
cmake -S . -B build "${fresh[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ "$@"
