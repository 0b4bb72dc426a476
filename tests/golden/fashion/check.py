#!/usr/bin/env python3
"""einvit-classify against PyTorch on the whole Fashion-MNIST test set, for the shipped checkpoint.

    check.py EINVIT_CLASSIFY MODEL LABELS OUT_DIR

Runs the checkpoint in vit-pytorch (the library it was trained with) on the 10,000 test images, runs
`einvit-classify --eval-idx` on the same files, and requires at least 99.9% of the predictions
identical (so einvit's accuracy equals PyTorch's within 0.1 point) and an accuracy of at least 90%.
Prints both accuracies, the agreement and both systems' images/s (2 threads each).
"""
import os
import subprocess
import sys
import time

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools"))
import train_fashion_mnist as t  # noqa: E402  (CONFIG, MEAN, STD, read_idx)


def main():
    binary, model_path, labels_path, out = sys.argv[1:5]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    images_file = os.path.join(t.DATA, "t10k-images-idx3-ubyte.gz")
    labels_file = os.path.join(t.DATA, "t10k-labels-idx1-ubyte.gz")
    with safe_open(model_path, "pt") as f:
        meta = f.metadata() or {}
    model = t.ViT(**t.CONFIG)
    model.load_state_dict(load_file(model_path))
    model.eval()
    x, y = t.load("t10k")
    start = time.perf_counter()
    with torch.no_grad():
        torch_pred = torch.cat([model(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)]).numpy()
    torch_rate = len(x) / (time.perf_counter() - start)
    pred_file = os.path.join(out, "einvit_predictions.bin")
    run = subprocess.run([binary, "--model", model_path, "--labels", labels_path, "--save-predictions", pred_file,
                          "--eval-idx", images_file, labels_file], capture_output=True, text=True)
    print(run.stdout)
    if run.returncode != 0:
        print(run.stderr)
        sys.exit(f"einvit-classify failed with status {run.returncode}")
    ours = np.fromfile(pred_file, dtype=np.uint8).astype(np.int64)
    truth = y.numpy()
    agree = float((ours == torch_pred).mean())
    acc_ours, acc_torch = float((ours == truth).mean()), float((torch_pred == truth).mean())
    print(f"PyTorch accuracy {acc_torch:.4f}, einvit accuracy {acc_ours:.4f}, identical predictions {agree:.4%} "
          f"(checkpoint metadata: test_accuracy {meta.get('test_accuracy')}); PyTorch {torch_rate:.0f} images/s "
          f"(batches of 1000, 2 threads)")
    if agree < 0.999:
        sys.exit("fewer than 99.9% of the predictions are identical to PyTorch's")
    if acc_ours < 0.90:
        sys.exit(f"the shipped model's accuracy {acc_ours:.4f} is under 90%")


if __name__ == "__main__":
    main()
