#!/usr/bin/env python3
"""Writes examples/data/imagenet_labels.txt: the 1000 ImageNet-1k class names, one a line, in class
order, as Debian's python3-torchvision lists them (torchvision.models._meta).

    .venv/bin/python tools/export_imagenet_labels.py [OUT]
"""
import os
import sys

from torchvision.models._meta import _IMAGENET_CATEGORIES


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "examples", "data", "imagenet_labels.txt")
    assert len(_IMAGENET_CATEGORIES) == 1000
    with open(out, "w") as f:
        f.write("\n".join(_IMAGENET_CATEGORIES) + "\n")
    print(f"wrote {out}: {len(_IMAGENET_CATEGORIES)} labels")


if __name__ == "__main__":
    main()
