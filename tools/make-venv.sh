#!/usr/bin/env bash
# Makes .venv, the Python environment of einvit's reference generators (idempotent): Debian's
# python3-torch and python3-torchvision (CPU builds, no CUDA downloads) seen through
# --system-site-packages, plus the pure-Python model libraries from PyPI at pinned versions.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
stamp=.venv/einvit-requirements-2
if [ ! -f "$stamp" ]; then
  # --no-deps: timm and vit-pytorch would otherwise pull PyPI's torch (gigabytes of CUDA libraries)
  .venv/bin/pip install -q --no-deps timm==0.9.16 vit-pytorch==1.7.0
  .venv/bin/pip install -q einops==0.8.2 safetensors==0.4.5 pyyaml transformers==4.44.2
  touch "$stamp"
fi
.venv/bin/python -c "import torch, torchvision, timm, vit_pytorch, safetensors, transformers"
