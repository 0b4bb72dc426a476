#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: installs what is missing, builds einvit-classify, then
# classifies the sample images shipped in examples/data/samples and the whole Fashion-MNIST test set
# (Debian's dataset-fashion-mnist) with the ViT shipped in examples/data.
#     tools/classify-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
# build/ configured as this script needs it, whatever an earlier configure left in its cache (another
# compiler makes CMake drop the cache: --fresh then, so that no setting is lost on the way)
fresh=()
if [ -f build/CMakeCache.txt ] && ! grep -qE '^CMAKE_CXX_COMPILER:[A-Z]+=(.*/)?g\+\+$' build/CMakeCache.txt; then fresh=(--fresh); fi
cmake -S . -B build "${fresh[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ -DEINVIT_BUILD_EXAMPLES=ON > /dev/null
cmake --build build --target einvit_classify --parallel "$(nproc)"
echo "== the shipped samples"
build/examples/einvit-classify examples/data/samples
echo "== the Fashion-MNIST test set"
build/examples/einvit-classify --eval-idx /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz \
                                /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
