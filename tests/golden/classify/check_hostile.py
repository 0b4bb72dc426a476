#!/usr/bin/env python3
"""einvit-classify against inputs made to hang it or to make it allocate without bound.

    check_hostile.py EINVIT_CLASSIFY WORKDIR IMAGE [EINVIT_ATTENTION_MAP]

Each case must end within a time limit with a non-zero status, exactly one line on stderr matching
the case's pattern, and no signal:
- a gzip-compressed IDX file whose trailer declares 800 bytes while its stream inflates to 128 MiB
  (the process may not grow past 64 MiB: it inflates into the declared size and stops there), and one
  whose trailer declares more than deflate can expand the file to;
- an IDX file of no images, and one whose header's sizes multiply past 64 bits;
- a timm-style checkpoint whose position table claims 2^64 - 1 tokens (zero-sized tensors, so it is
  a valid safetensors file): no architecture has it;
- a FIFO given as the checkpoint (nothing ever writes to it), as an image and as the labels, and a
  device (/dev/zero) or a folder where a file belongs;
- results that cannot be written (stdout or --save-predictions on /dev/full), options of one mode
  given to the other;
and --json stays valid JSON: a file name that is not UTF-8 is escaped, and a file that fails half way
leaves nothing on stdout. With EINVIT_ATTENTION_MAP, that program's bad inputs too (it aborted on an
image it could not read).
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

    def expect(name, args, pattern, timeout=60, max_rss_mib=None, program=None, stdout=subprocess.PIPE):
        try:
            r = subprocess.run([program or binary] + args, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=timeout,
                               errors="replace")
        except subprocess.TimeoutExpired:
            failures.append(f"{name}: still running after {timeout} s")
            return
        lines = [l for l in r.stderr.splitlines() if not re.fullmatch(r"\d+/\d+ images", l)]  # --eval-idx's progress
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

    expect("fifo_image", [fifo], r"fifo\.safetensors: not a regular file", timeout=30)
    expect("fifo_labels", ["--labels", fifo, image], r"fifo\.safetensors: not a regular file", timeout=30)
    expect("device_image", ["/dev/zero"], r"/dev/zero: not a regular file", timeout=30)
    expect("folder_labels", ["--labels", work, image], r"hostile: not a regular file")
    expect("folder_idx", ["--eval-idx", work, labels], r"hostile: not a regular file")
    with open("/dev/full", "w") as full:
        expect("stdout_full", [image], r"cannot write the results", stdout=full)
    expect("predictions_full", ["--save-predictions", "/dev/full", "--eval-idx", put("one.idx", idx(2051, [1, 28, 28], bytes(784))), labels],
           r"/dev/full: cannot write")
    expect("eval_with_images", ["--eval-idx", bomb, labels, image], r"--eval-idx evaluates an IDX test set: it takes no images")
    expect("predictions_without_eval", ["--save-predictions", os.path.join(work, "p.bin"), image], r"--save-predictions goes with --eval-idx")
    expect("empty_arch", ["--arch", "", image], r"--arch: expected an architecture name; known: ")
    expect("tiny_std", ["--model", huge, "--std", "1e-40,1,1", image], r"--std: expected numbers from 1e-6 to 1e6")

    # --json: valid for a file name that is not UTF-8, and nothing on stdout when a file fails
    odd = os.path.join(os.fsencode(work), b"caf\xe9-\xff.png")
    with open(image, "rb") as src, open(odd, "wb") as dst:
        dst.write(src.read())
    r = subprocess.run([os.fsencode(binary), b"--json", odd], capture_output=True, timeout=60)
    try:
        names = [entry["file"] for entry in json.loads(r.stdout)]
        if r.returncode != 0 or not names[0].endswith("caf\ufffd-\ufffd.png"):
            failures.append(f"json_not_utf8: status {r.returncode}, names {names}")
    except ValueError as e:
        failures.append(f"json_not_utf8: not JSON ({e}): {r.stdout[:200]!r}")
    not_image = put("not_an_image.png", b"GIF89a" + bytes(64))
    r = subprocess.run([binary, "--json", image, not_image], capture_output=True, text=True, timeout=60)
    if r.returncode == 0 or r.stdout:
        failures.append(f"json_half_way: status {r.returncode}, stdout {r.stdout[:200]!r}")
    print("json: a name that is not UTF-8 escaped; nothing on stdout when a file fails half way")

    if len(sys.argv) > 4:
        attention_map = sys.argv[4]
        out = os.path.join(work, "maps")
        os.makedirs(out, exist_ok=True)
        amap = lambda name, args, pattern, **kw: expect(name, ["--out", out] + args, pattern, program=attention_map, **kw)
        amap("map_missing_image", ["/nonexistent.png"], r"^einvit-attention-map: /nonexistent\.png: cannot open$")
        amap("map_not_an_image", [not_image], r"not_an_image\.png: not a PNG, JPEG or BMP image")
        amap("map_fifo", [fifo], r"fifo\.safetensors: not a regular file", timeout=30)
        amap("map_bad_scale", ["--scale", "abc", image], r"--scale: expected a number from 1 to 32, got 'abc'")
        amap("map_scale_too_large", ["--scale", "99999999999", image], r"--scale: expected a number from 1 to 32")
        twin = os.path.join(work, "twin")
        os.makedirs(twin, exist_ok=True)
        copy = os.path.join(twin, os.path.basename(image))
        with open(image, "rb") as src, open(copy, "wb") as dst:
            dst.write(src.read())
        amap("map_same_name_twice", [image, copy], r"another image of the same name would write the same output")
        expect("map_empty_out", ["--out", "", image], r"--out: expected a folder", program=attention_map)

    if failures:
        print("\n".join(["FAILED:"] + failures))
        sys.exit(1)
    print("every hostile input refused in time, with its message")


if __name__ == "__main__":
    main()
