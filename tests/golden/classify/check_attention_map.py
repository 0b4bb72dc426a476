#!/usr/bin/env python3
"""einvit-attention-map against PyTorch: the picture it writes shows the attention rollout that the
same checkpoint gives in vit-pytorch.

    check_attention_map.py EINVIT_ATTENTION_MAP MODEL IMAGE OUT_DIR

Runs the program on IMAGE (a 28 x 28 grey Fashion-MNIST sample) at two scales and requires, for each:
status 0 and one line on stdout naming the PNG; a PNG of (2 x 28 x scale) x (28 x scale) pixels whose
left half is the image upscaled (grey), whose right half's green is 35% of the image and whose red is
35% of the image plus 65% of the class token's rollout map (Abnar & Zuidema: per layer the attention
averaged over heads, halved and added to half the identity, multiplied through the layers) scaled to
[0, 1] over the patches, each within one step of 255 of what PyTorch's attention matrices give. The
map must not be flat.
"""
import os
import subprocess
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools"))
import train_fashion_mnist as t  # noqa: E402  (CONFIG, MEAN, STD)


def rollout_from_pytorch(model_path, pixels):
    model = t.ViT(**t.CONFIG)
    model.load_state_dict(load_file(model_path))
    model.eval()
    maps = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: maps.append(out.detach()))
             for name, m in model.named_modules() if name.endswith("attend")]
    if len(hooks) != t.CONFIG["depth"]:
        sys.exit(f"found {len(hooks)} attention softmaxes in the PyTorch model, expected {t.CONFIG['depth']}")
    x = (torch.from_numpy(pixels.astype(np.float32) / 255.0) - t.MEAN) / t.STD
    with torch.no_grad():
        model(x[None, None])
    tokens = maps[0].shape[-1]
    r = np.eye(tokens)
    for a in maps:
        a = a[0].mean(0).double().numpy()
        r = (0.5 * a + 0.5 * np.eye(tokens)) @ r
    m = r[0, 1:]
    return (m - m.min()) / (m.max() - m.min())


def main():
    binary, model_path, image_path, out = sys.argv[1:5]
    os.makedirs(out, exist_ok=True)
    pixels = np.asarray(Image.open(image_path).convert("L"), dtype=np.int64)
    side = pixels.shape[0]
    grid = side // t.CONFIG["patch_size"]
    m = rollout_from_pytorch(model_path, pixels)
    if m.std() < 0.05:
        sys.exit(f"PyTorch's rollout map is nearly flat (std {m.std():.3f}): the check would prove little")
    failures = []
    for scale in (1, 3):
        png = os.path.join(out, os.path.splitext(os.path.basename(image_path))[0] + "_attention.png")
        if os.path.exists(png):
            os.remove(png)
        run = subprocess.run([binary, "--out", out, "--scale", str(scale), image_path], capture_output=True, text=True,
                             timeout=120)
        if run.returncode != 0 or run.stdout.strip() != png:
            failures.append(f"scale {scale}: status {run.returncode}, stdout {run.stdout!r}, stderr {run.stderr!r}")
            continue
        rgb = np.asarray(Image.open(png).convert("RGB"), dtype=np.int64)
        h, w = side * scale, 2 * side * scale
        if rgb.shape != (h, w, 3):
            failures.append(f"scale {scale}: the PNG is {rgb.shape[1]} x {rgb.shape[0]}, expected {w} x {h}")
            continue
        g = np.repeat(np.repeat(pixels, scale, 0), scale, 1) / 255.0          # the image, upscaled
        patch = np.repeat(np.repeat(m.reshape(grid, grid), side // grid * scale, 0), side // grid * scale, 1)
        want_left = np.floor(255 * g)
        want_red = np.floor(255 * np.minimum(1.0, 0.35 * g + 0.65 * patch))
        want_green = np.floor(255 * 0.35 * g)
        left, right = rgb[:, : w // 2], rgb[:, w // 2:]
        checks = {
            "left half (the image)": np.abs(left - want_left[..., None]).max(),
            "right half, red (image and map)": np.abs(right[..., 0] - want_red).max(),
            "right half, green (image)": np.abs(right[..., 1] - want_green).max(),
            "right half, blue (image)": np.abs(right[..., 2] - want_green).max(),
        }
        for what, worst in checks.items():
            if worst > 1:
                failures.append(f"scale {scale}: {what} differs by up to {worst} of 255 from PyTorch's rollout")
        print(f"scale {scale}: {png}, {w} x {h}; largest differences from PyTorch's rollout (of 255): "
              + ", ".join(f"{k} {v}" for k, v in checks.items()))
    if failures:
        sys.exit("\n".join(failures))
    print(f"rollout map of {grid} x {grid} patches matches PyTorch's (spread: std {m.std():.3f})")


if __name__ == "__main__":
    main()
