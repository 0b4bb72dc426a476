#!/usr/bin/env python3
"""einvit-classify against inputs made to hang it or to make it allocate without bound.

    check_hostile.py EINVIT_CLASSIFY WORKDIR IMAGE

Each case must end within a time limit with a non-zero status, exactly one line on stderr matching
the case's pattern, and no signal:
- a gzip-compressed IDX file whose trailer declares 800 bytes while its stream inflates to 128 MiB
  (the process may not grow past 64 MiB: it inflates into the declared size and stops there), and one
  whose trailer declares more than deflate can expand the file to;
- an IDX file of no images, and one whose header's sizes multiply past 64 bits;
- a timm-style checkpoint whose position table claims 2^64 - 1 tokens (zero-sized tensors, so it is
  a valid safetensors file): no architecture has it;
- a FIFO given as the checkpoint (nothing ever writes to it).
"""
import gzip
import json
import os
import re
import resource
import struct
import subprocess
import sys
import zlib


def idx(magic, dims, payload=b""):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload


def forged_gzip(head, zeros, declared_size):
    """A gzip member of `head` and then `zeros` zero bytes, whose trailer declares `declared_size` bytes.
    The zeros go in 1 MiB at a time: this process stays small, and the children's high-water mark,
    which starts at the parent's (fork), measures the child."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    body, crc = [c.compress(head)], zlib.crc32(head)
    chunk = bytes(1 << 20)
    for at in range(0, zeros, len(chunk)):
        piece = chunk[: min(len(chunk), zeros - at)]
        body.append(c.compress(piece))
        crc = zlib.crc32(piece, crc)
    body.append(c.flush())
    header = b"\x1f\x8b\x08\x00" + b"\x00" * 4 + b"\x00\xff"
    return header + b"".join(body) + struct.pack("<II", crc & 0xFFFFFFFF, declared_size & 0xFFFFFFFF)


def safetensors(entries):
    """A safetensors file of zero-sized tensors: name -> shape."""
    header = {name: {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]} for name, shape in entries.items()}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text


def main():
    binary, work, image = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(work, exist_ok=True)

    def put(name, data):
        path = os.path.join(work, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    labels = put("labels.idx", idx(2049, [1], b"\x00"))
    failures = []

    def expect(name, args, pattern, timeout=60, max_rss_mib=None):
        try:
            r = subprocess.run([binary] + args, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            failures.append(f"{name}: still running after {timeout} s")
            return
        lines = r.stderr.splitlines()
        if r.returncode <= 0:
            failures.append(f"{name}: status {r.returncode}, expected a failure; stderr: {r.stderr!r}")
        elif len(lines) != 1 or not re.search(pattern, lines[0]):
            failures.append(f"{name}: stderr {r.stderr!r} does not match {pattern!r}")
        if max_rss_mib is not None:
            # the children's high-water mark so far: this case runs first
            rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            if rss > max_rss_mib:
                failures.append(f"{name}: grew to {rss:.0f} MiB, at most {max_rss_mib} allowed")
        print(f"{name}: status {r.returncode}, {r.stderr.strip()}")

    # the first case: the high-water mark of the children is this one's
    bomb = put("bomb.idx.gz", forged_gzip(idx(2051, [1, 28, 28]), 128 << 20, 16 + 784))
    expect("gzip_bomb", ["--eval-idx", bomb, labels], r"bomb\.idx\.gz: corrupt gzip data$", max_rss_mib=64)
    liar = put("liar.idx.gz", forged_gzip(idx(2051, [1, 28, 28]), 784, 0x3FFFFFFF))
    expect("gzip_claims_too_much", ["--eval-idx", liar, labels], r"liar\.idx\.gz: corrupt gzip data \(its trailer claims 1073741823 bytes\)")
    empty = put("empty.idx", idx(2051, [0, 28, 28]))
    expect("no_images", ["--eval-idx", empty, put("no_labels.idx", idx(2049, [0]))], r"empty\.idx: holds no images")
    overflow = put("overflow.idx", idx(2051, [0x80000000, 0x80000000, 4]))
    expect("sizes_overflow", ["--eval-idx", overflow, labels], r"overflow\.idx: its header's sizes multiply past")
    # the same file gzip-compressed by the standard tool: the same error (the gzip path is sound)
    expect("sizes_overflow_gz", ["--eval-idx", put("overflow.idx.gz", gzip.compress(idx(2051, [0x80000000, 0x80000000, 4]))), labels],
           r"overflow\.idx\.gz: its header's sizes multiply past")

    huge = put("pos_huge.safetensors", safetensors({
        "patch_embed.proj.weight": [0, 3, 16, 16],
        "pos_embed": [1, 2**64 - 1, 0],
        "head.weight": [1000, 0],
    }))
    expect("position_table_huge", ["--model", huge, image], r"pos_huge\.safetensors: a timm ViT with .*which einvit-classify has no architecture")

    fifo = os.path.join(work, "fifo.safetensors")
    if os.path.exists(fifo):
        os.remove(fifo)
    os.mkfifo(fifo)
    expect("fifo_checkpoint", ["--model", fifo, image], r"fifo\.safetensors: .*not a regular file", timeout=30)

    if failures:
        print("\n".join(["FAILED:"] + failures))
        sys.exit(1)
    print("every hostile input refused in time, with its message")


if __name__ == "__main__":
    main()
