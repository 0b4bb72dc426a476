#!/usr/bin/env python3
"""einvit-classify recognises and runs DINOv2's giant linear classifiers from their checkpoints alone.

    check_giant.py EINVIT_CLASSIFY WORKDIR IMAGE

facebook/dinov2-giant-imagenet1k-1-layer (Dinov2ForImageClassification) and
dinov2-with-registers-giant-imagenet1k-1-layer (Dinov2WithRegistersForImageClassification) hold 1.1
billion parameters (40 blocks of 1536, SwiGLU MLPs): too large to draw at random and compare here (the
smaller classifiers are compared with PyTorch in check_imagenet.py, the SwiGLU blocks in vit_parity). So
each checkpoint is written with every tensor name and shape transformers gives the model -- read from a
one-block model of the same widths, the blocks' names repeated for 40 -- in BF16, as a sparse file of
zeros (2.2 GB on paper, nothing on disk). einvit-classify must name the architecture from the tensors,
load every one of them (a missing, extra or misshapen tensor is an error), run the image and give the
probabilities of an all-zero model: 1/1000 for every class.
"""
import json
import os
import struct
import subprocess
import sys

from transformers import (Dinov2Config, Dinov2ForImageClassification, Dinov2WithRegistersConfig,
                          Dinov2WithRegistersForImageClassification)

GIANT = dict(hidden_size=1536, num_attention_heads=24, mlp_ratio=4, use_swiglu_ffn=True, patch_size=14, image_size=518,
             num_labels=1000)
DEPTH = 40


def giant_tensors(model_class, config_class, base, **extra):
    """(name, shape) of every tensor of the 40-block model, from a one-block model of the same widths."""
    one = model_class(config_class(num_hidden_layers=1, **GIANT, **extra))
    names = []
    block = f"{base}.encoder.layer.0."
    for name, tensor in one.state_dict().items():
        shape = list(tensor.shape)
        if name.startswith(block):
            names += [(f"{base}.encoder.layer.{i}.{name[len(block):]}", shape) for i in range(DEPTH)]
        else:
            names.append((name, shape))
    return names


def write_sparse(path, tensors):
    header, offset = {}, 0
    for name, shape in tensors:
        size = 2
        for d in shape:
            size *= d
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.truncate(8 + len(text) + offset)  # the data: zeros, as a hole
    return offset // 2


def main():
    binary, work, image = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(work, exist_ok=True)
    failures = []
    cases = [("hf-dinov2-giant-imagenet1k-1-layer", giant_tensors(Dinov2ForImageClassification, Dinov2Config, "dinov2")),
             ("hf-dinov2-with-registers-giant-imagenet1k-1-layer",
              giant_tensors(Dinov2WithRegistersForImageClassification, Dinov2WithRegistersConfig, "dinov2_with_registers",
                            num_register_tokens=4))]
    for arch, tensors in cases:
        path = os.path.join(work, arch + ".safetensors")
        parameters = write_sparse(path, tensors)
        run = subprocess.run([binary, "--model", path, "--json", "--top-k", "1000", image], capture_output=True, text=True)
        os.remove(path)
        print(f"{arch}: {len(tensors)} tensors, {parameters / 1e9:.2f} billion parameters; exit {run.returncode}; "
              f"{run.stderr.strip()}")
        if run.returncode != 0:
            failures.append(f"{arch}: einvit-classify failed: {run.stderr.strip()} {run.stdout.strip()[:500]}")
            continue
        if f"model: {arch} " not in run.stderr:
            failures.append(f"{arch}: not recognised; einvit-classify said: {run.stderr.strip()}")
        top = json.loads(run.stdout)[0]["top"]
        probabilities = [t["probability"] for t in top]
        if len(probabilities) != 1000 or max(abs(p - 1e-3) for p in probabilities) > 1e-9:
            failures.append(f"{arch}: an all-zero model's probabilities should all be 1/1000; got {len(probabilities)} "
                            f"from {min(probabilities, default=0)} to {max(probabilities, default=0)}")
    if failures:
        print("\n".join(["FAILED:"] + failures))
        sys.exit(1)
    print("both giant classifiers recognised, loaded and run")


if __name__ == "__main__":
    main()
