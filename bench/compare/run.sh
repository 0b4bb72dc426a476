#!/usr/bin/env bash
# One command that races einvit against ONNX Runtime, OpenVINO and PyTorch (see compare.py):
#     bench/compare/run.sh [--threads 2] [--models ...] [--batches 1 8] [--rounds 7] [--no-docs]
# Makes .venv-compare (Debian's python3-torch seen through --system-site-packages; onnxruntime,
# openvino, onnx, matplotlib, timm and vit-pytorch from PyPI at pinned versions), builds einvit's
# worker in build/, runs the race, and writes docs/benchmarks.md and docs/img/benchmarks.png.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/install-deps.sh
venv=.venv-compare
if [ ! -x $venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages $venv
fi
stamp=$venv/einvit-compare-requirements-1
if [ ! -f $stamp ]; then
  # numpy pinned to Debian's, which python3-torch is built against
  $venv/bin/pip install -q "numpy==$(/usr/bin/python3 -c 'import numpy; print(numpy.__version__)')" \
    onnxruntime==1.20.1 openvino==2024.6.0 onnx==1.17.0 "matplotlib<3.10" safetensors==0.4.5 einops==0.8.2 pyyaml
  $venv/bin/pip install -q --no-deps timm==0.9.16 vit-pytorch==1.7.0
  touch $stamp
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ > /dev/null
cmake --build build --target einvit_compare_worker einvit_compare_profiler --parallel "$(nproc)"
exec $venv/bin/python bench/compare/compare.py "$@"
