#!/usr/bin/env python3
"""Trains the ViT that einvit ships: a vit-pytorch ViT of the seeds' MNIST kind on Fashion-MNIST.

    .venv/bin/python tools/train_fashion_mnist.py [--epochs 30] [--threads 2] [--out examples/data]

Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist, IDX files, gzip).
Model (the seeds' 28 x 28, 1-channel ViT, with what it takes to pass 90%): 4 x 4 patches (49 tokens +
the class token; 7 x 7 patches, as the seeds use, stay under 90% at this size), dim 64, depth 6,
4 heads of 16, MLP 128, class-token pooling: about 210k parameters, a 0.85 MB checkpoint, small
enough to commit and to run in well under a millisecond per image.
Training: AdamW (lr 3e-3, weight decay 0.05), cosine schedule with one warm-up epoch, batch 128,
label smoothing 0.1, random 2-pixel shifts and horizontal flips, 30 epochs; fixed seeds.
Inputs are normalised as (pixel / 255 - 0.2860) / 0.3530 (the training set's mean and std).

The shipped checkpoint came from `--epochs 30 --threads 1`: test accuracy 0.9084 (PyTorch's float
reductions depend on the thread count, so another count trains a slightly different model).

Writes OUT/fashion_mnist_vit.safetensors (with the config and normalisation in __metadata__),
OUT/fashion_mnist_labels.txt, and prints the test accuracy.
"""
import argparse
import gzip
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from vit_pytorch import ViT

DATA = "/usr/share/datasets/fashion-mnist"
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
MEAN, STD = 0.2860, 0.3530
CONFIG = dict(image_size=28, patch_size=4, num_classes=10, dim=64, depth=6, heads=4, dim_head=16, mlp_dim=128,
              channels=1, pool="cls")


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    dims = magic & 0xFF
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(split):
    images = read_idx(os.path.join(DATA, f"{split}-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    labels = read_idx(os.path.join(DATA, f"{split}-labels-idx1-ubyte.gz")).astype(np.int64)
    x = (torch.from_numpy(images) - MEAN) / STD
    return x[:, None], torch.from_numpy(labels)


def augment(x, g):
    b = x.shape[0]
    flip = torch.rand(b, generator=g) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    padded = F.pad(x, (2, 2, 2, 2), value=-MEAN / STD)
    dy, dx = torch.randint(0, 5, (2,), generator=g).tolist()
    return padded[:, :, dy:dy + 28, dx:dx + 28]


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(x)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--threads", type=int, default=2, help="torch threads used for training")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "data"))
    args = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(1)
    x_train, y_train = load("train")
    x_test, y_test = load("t10k")
    model = ViT(**CONFIG)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05)
    steps_per_epoch = math.ceil(len(x_train) / 128)
    total = args.epochs * steps_per_epoch

    def lr_at(step):
        if step < steps_per_epoch:
            return (step + 1) / steps_per_epoch
        return 0.5 * (1 + math.cos(math.pi * (step - steps_per_epoch) / max(1, total - steps_per_epoch)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    for epoch in range(args.epochs):
        model.train()
        start = time.time()
        order = torch.randperm(len(x_train), generator=g)
        for i in range(0, len(x_train), 128):
            idx = order[i:i + 128]
            loss = F.cross_entropy(model(augment(x_train[idx], g)), y_train[idx], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        acc = evaluate(model, x_test, y_test)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {loss.item():.3f}, test accuracy {acc:.4f}, {time.time() - start:.0f} s",
              flush=True)
    os.makedirs(args.out, exist_ok=True)
    meta = {"family": "vit-pytorch", "config": json.dumps(CONFIG), "mean": str(MEAN), "std": str(STD),
            "dataset": "Fashion-MNIST", "test_accuracy": f"{acc:.4f}"}
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(args.out, "fashion_mnist_vit.safetensors"), metadata=meta)
    with open(os.path.join(args.out, "fashion_mnist_labels.txt"), "w") as f:
        f.write("\n".join(LABELS) + "\n")
    print(f"wrote {args.out}/fashion_mnist_vit.safetensors: test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
