#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: installs what is missing, builds einvit-classify, then
# classifies the sample images shipped in examples/data/samples and the whole Fashion-MNIST test set
# (Debian's dataset-fashion-mnist) with the ViT shipped in examples/data.
#     tools/classify-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
tools/configure-build.sh -DEINVIT_BUILD_EXAMPLES=ON > /dev/null
cmake --build build --target einvit_classify --parallel "$(nproc)"
echo "== the shipped samples"
build/examples/einvit-classify examples/data/samples
echo "== the Fashion-MNIST test set"
build/examples/einvit-classify --eval-idx /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz \
                                /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
