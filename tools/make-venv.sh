#!/usr/bin/env bash
# Makes .venv, the Python environment of einvit's reference generators (idempotent): Debian's
# python3-torch and python3-torchvision (CPU builds, no CUDA downloads) seen through
# --system-site-packages, plus the pure-Python model libraries from PyPI at pinned versions.
set -euo pipefail
cd "$(dirname "$0")/.."
# a venv that does not see the system's packages (made by hand without --system-site-packages) has no
# torch: made again
if [ -f .venv/pyvenv.cfg ] && ! grep -q '^include-system-site-packages = true' .venv/pyvenv.cfg; then
  echo "make-venv: .venv does not see Debian's torch (no --system-site-packages): making it again"
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
stamp=.venv/einvit-requirements-4
if [ ! -f "$stamp" ]; then
  # --no-deps: timm and vit-pytorch would otherwise pull PyPI's torch (gigabytes of CUDA libraries);
  # every PyPI package at the version tools/venv-constraints.txt gives
  .venv/bin/pip install -q -c tools/venv-constraints.txt --no-deps timm vit-pytorch
  .venv/bin/pip install -q -c tools/venv-constraints.txt einops safetensors pyyaml transformers
  touch "$stamp"
fi
.venv/bin/python -c "import torch, torchvision, timm, vit_pytorch, safetensors, transformers"
