#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs into OUT/safetensors, OUT/image and OUT/load.

    python3 tests/fuzz/make_seeds.py OUT [GOLDEN_DIR]

safetensors: the header of the shipped Fashion-MNIST ViT checkpoint (a real ViT's names and shapes;
its data cut off), a small valid file with every float dtype and some integer ones, an odd header
length, and one handcrafted file per class of fault (as in tests/vit/test_safetensors.cpp); and two
sharded checkpoints' indexes, a valid one and one whose shards reach out of its folder.
image: the shipped 28 x 28 samples, and small PNG, JPEG and BMP images of the common kinds (Pillow):
RGB, RGBA, grey, grey + alpha, palette, 1-bit, 16-bit; JPEG 4:2:0, 4:4:4, progressive, grey.
load: checkpoints' headers alone (fuzz_load.cpp makes up the data they point at): the shipped model's,
and with GOLDEN_DIR (the parity tests' checkpoints, tests/golden/vit/gen.py) every one of those, one
per family and feature the loader reads.
"""
import json
import os
import shutil
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def st(header, data=b"", pad=0, length=None):
    if isinstance(header, dict):
        header = json.dumps(header)
    h = (header if isinstance(header, bytes) else header.encode()) + b" " * pad
    return struct.pack("<Q", len(h) if length is None else length) + h + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def header_only(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return struct.pack("<Q", n) + f.read(n)


def safetensors_seeds():
    seeds = {}
    header = header_only(os.path.join(ROOT, "examples", "data", "fashion_mnist_vit.safetensors"))
    seeds["vit_header_only"] = header
    seeds["vit_header_some_data"] = header + bytes(range(256)) * 16
    tensors, data = {"__metadata__": {"format": "pt"}}, b""
    for name, dtype, shape, size in [("a", "F32", [2, 3], 4), ("b", "F16", [4], 2), ("c", "BF16", [2, 2], 2), ("d", "F64", [3], 8),
                                     ("e", "I64", [2], 8), ("f", "U8", [5], 1), ("g", "F32", [0], 4), ("h", "F32", [], 4)]:
        count = 1
        for d in shape:
            count *= d
        tensors[name] = entry(dtype, shape, len(data), len(data) + count * size)
        data += bytes((i * 37 + 11) % 256 for i in range(count * size))
    seeds["valid_dtypes"] = st(tensors, data)
    seeds["valid_odd_header"] = st(tensors, data, pad=3)
    ok = {"w": entry("F32", [2], 0, 8)}
    faults = {
        "pickle": b"\x80\x02}q\x00.", "zip": b"PK\x03\x04" + bytes(30), "too_small": b"\x01\x02\x03",
        "header_too_large": struct.pack("<Q", 200000000) + b"{}", "header_past_end": struct.pack("<Q", 3) + b"{}",
        "not_json": st('{"w": [1, 2'), "duplicate_key": st('{"a":1,"a":2}'), "not_utf8": st(b'{"\xff":1}'),
        "nesting": st("[" * 100 + "]" * 100), "not_object": st("[1,2]"), "metadata": st({"__metadata__": {"k": 1}}),
        "dtype": st({"w": entry("F33", [2], 0, 8)}, bytes(8)), "negative_dim": st({"w": entry("F32", [-2], 0, 8)}, bytes(8)),
        "rank_9": st({"w": entry("F32", [1] * 8 + [2], 0, 8)}, bytes(8)),
        "offsets": st({"w": entry("F32", [2], 8, 0)}, bytes(8)),
        "wrap_2": st({"w": entry("F32", [2, 18446744073709551614], 0, 8)}, bytes(8)),
        "wrap_2_32": st({"w": entry("F32", [4294967296, 4294967296], 0, 0)}),
        "size_mismatch": st({"w": entry("F32", [3], 0, 8)}, bytes(8)),
        "gap": st({"a": entry("F32", [1], 0, 4), "b": entry("F32", [1], 8, 12)}, bytes(12)),
        "overlap": st({"a": entry("F32", [2], 0, 8), "b": entry("F32", [1], 4, 8)}, bytes(8)),
        "trailing": st(ok, bytes(9)), "missing": st(ok, bytes(7)),
    }
    seeds.update(faults)
    # sharded checkpoints' indexes (the target reads every input as one too)
    seeds["index"] = json.dumps({"metadata": {"total_size": 16}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                                                                                 "b": "model-00002-of-00002.safetensors"}}).encode()
    seeds["index_escape"] = json.dumps({"weight_map": {"a": "../model.safetensors", "b": "C:x", "c": "/etc/x"}}).encode()
    return seeds


def image_seeds(out):
    samples = os.path.join(ROOT, "examples", "data", "samples")
    for name in sorted(os.listdir(samples)):
        shutil.copy(os.path.join(samples, name), os.path.join(out, name))
    try:
        from PIL import Image
    except ImportError:
        return
    pixels = bytes((x * 7 + y * 13) % 256 for y in range(24) for x in range(32) for _ in range(3))
    rgb = Image.frombytes("RGB", (32, 24), pixels)
    rgb.save(os.path.join(out, "rgb.png"))
    rgb.save(os.path.join(out, "rgb.jpg"), quality=80)
    rgb.save(os.path.join(out, "rgb_progressive.jpg"), quality=60, progressive=True)
    rgb.save(os.path.join(out, "rgb.bmp"))
    rgb.convert("L").save(os.path.join(out, "grey.jpg"))
    rgb.convert("RGBA").save(os.path.join(out, "rgba.png"))
    rgb.convert("P").save(os.path.join(out, "palette.png"))
    rgb.convert("P").save(os.path.join(out, "palette.bmp"))
    rgb.save(os.path.join(out, "rgb_444.jpg"), quality=95, subsampling=0)
    rgb.convert("1").save(os.path.join(out, "bilevel.png"))
    rgb.convert("1").save(os.path.join(out, "bilevel.bmp"))
    rgb.convert("LA").save(os.path.join(out, "grey_alpha.png"))
    rgb.convert("RGBA").save(os.path.join(out, "rgba.bmp"))
    rgb.convert("P").save(os.path.join(out, "palette_transparent.png"), transparency=3)
    Image.frombytes("I;16", (32, 24), pixels[: 32 * 24 * 2]).save(os.path.join(out, "grey16.png"))


def with_dtype(header, dtype):
    """A checkpoint's header with every tensor stored as `dtype`, its offsets moved to fit."""
    n = struct.unpack("<Q", header[:8])[0]
    tensors = json.loads(header[8 : 8 + n])
    size = {"F16": 2, "BF16": 2, "F64": 8}[dtype]
    at = 0
    order = sorted((v["data_offsets"][0], k) for k, v in tensors.items() if k != "__metadata__")
    for _, name in order:
        t = tensors[name]
        count = 1
        for d in t["shape"]:
            count *= d
        t["dtype"], t["data_offsets"] = dtype, [at, at + count * size]
        at += count * size
    return st(tensors)


def load_seeds(golden):
    shipped = header_only(os.path.join(ROOT, "examples", "data", "fashion_mnist_vit.safetensors"))
    seeds = {"fashion_mnist_vit": shipped}
    for dtype in ("F16", "BF16", "F64"):  # read and converted to float32 by the loader
        seeds["fashion_mnist_vit_" + dtype.lower()] = with_dtype(shipped, dtype)
    if golden and os.path.isdir(golden):
        for name in sorted(os.listdir(golden)):
            if name.endswith(".safetensors"):
                seeds[name[: -len(".safetensors")]] = header_only(os.path.join(golden, name))
    return seeds


def main():
    out = sys.argv[1]
    golden = sys.argv[2] if len(sys.argv) > 2 else None
    for kind in ("safetensors", "image", "load"):
        os.makedirs(os.path.join(out, kind), exist_ok=True)
    for name, data in load_seeds(golden).items():
        with open(os.path.join(out, "load", name + ".safetensors"), "wb") as f:
            f.write(data)
    for name, data in safetensors_seeds().items():
        with open(os.path.join(out, "safetensors", name + ".safetensors"), "wb") as f:
            f.write(data)
    image_seeds(os.path.join(out, "image"))
    print(f"seeds in {out}/safetensors, {out}/image and {out}/load")


if __name__ == "__main__":
    main()
