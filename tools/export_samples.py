#!/usr/bin/env python3
"""Writes the sample images einvit ships: 12 Fashion-MNIST test images as PNG in examples/data/samples/
(the first test image of each class, then the next two test images), named by index and true class."""
import os
import sys

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_fashion_mnist as t  # noqa: E402

out = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "data", "samples")
os.makedirs(out, exist_ok=True)
images = t.read_idx(os.path.join(t.DATA, "t10k-images-idx3-ubyte.gz"))
labels = t.read_idx(os.path.join(t.DATA, "t10k-labels-idx1-ubyte.gz"))
chosen = [int(next(i for i in range(len(labels)) if labels[i] == c)) for c in range(10)]
chosen += [i for i in range(len(labels)) if i not in chosen][:2]
for i in chosen:
    name = t.LABELS[labels[i]].lower().replace("/", "-").replace(" ", "-")
    Image.fromarray(images[i]).save(os.path.join(out, f"test{i:05d}_{name}.png"))
print(f"wrote {len(chosen)} images to {out}")
