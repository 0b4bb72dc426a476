#!/usr/bin/env python3
"""einvit's image decoding (examples/classify/decode.hpp) against Pillow's, pixel for pixel.

    check_decode.py EINVIT_DECODE_DUMP WORKDIR

Writes PNG, JPEG and BMP files of the kinds found in the wild -- JPEG baseline with 4:2:0, 4:2:2 and
4:4:4 chroma, progressive, grey; PNG RGB, RGBA, grey, grey + alpha, palette with transparency, 1-bit,
16-bit grey and RGB, Adam7-interlaced; BMP 24- and 32-bit (bottom-up and top-down), 8-bit grey and palette, 1-bit -- at an odd
size (61 x 47, not a multiple of any block), decodes each with einvit to grey and to RGB, and requires
the bytes to equal Pillow's Image.open(f).convert("L" / "RGB") exactly (the same libjpeg-turbo decodes
both sides' JPEGs; 16-bit samples are compared with their high byte, which einvit keeps). Then the
files einvit must refuse, each with an error naming the file and the problem: truncated JPEG, PNG and
BMP, a CMYK JPEG, a PNG with a bad CRC, dimensions over the caps (declared in a header of a file too
small to hold them: nothing may be allocated from them), and a file that is no image.
"""
import os
import re
import struct
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image

W, H = 61, 47


def photo(channels):
    """A smooth picture with some texture: JPEG has real work to do on it."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    rng = np.random.default_rng(7)
    planes = [128 + 100 * np.sin(x / 7 + k) * np.cos(y / 5 - k) + rng.normal(0, 12, (H, W)) for k in range(channels)]
    return np.clip(np.stack(planes, -1), 0, 255).astype(np.uint8)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path, arr, interlace=False, declared=None):
    """A PNG written by hand: 8- or 16-bit grey or RGB, optionally Adam7-interlaced (Pillow writes neither
    16-bit RGB nor interlaced files); `declared` overrides the header's (width, height)."""
    h, w = arr.shape[:2]
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    depth = 16 if arr.dtype == np.uint16 else 8
    big = arr.astype(">u2") if depth == 16 else arr
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)] if interlace else [(0, 0, 1, 1)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = big[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\x00" + row.tobytes() for row in sub)
    dw, dh = declared or (w, h)
    ihdr = struct.pack(">IIBBBBB", dw, dh, depth, 2 if channels == 3 else 0, 0, 0, 1 if interlace else 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


def l24(rgb):
    """Pillow's RGB to grey (ITU-R 601-2 in 16-bit fixed point)."""
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rgb, grey = photo(3), photo(1)[..., 0]
    rgba = np.concatenate([rgb, photo(1)], -1)
    cases = {}  # file name -> (reference RGB array or None for Pillow's, reference grey or None)

    def pil_save(name, image, **kw):
        image.save(os.path.join(work, name), **kw)
        cases[name] = None

    pil_save("jpeg_420.jpg", Image.fromarray(rgb), quality=90)
    pil_save("jpeg_422.jpg", Image.fromarray(rgb), quality=90, subsampling=1)
    pil_save("jpeg_444.jpg", Image.fromarray(rgb), quality=95, subsampling=0)
    pil_save("jpeg_progressive.jpg", Image.fromarray(rgb), quality=85, progressive=True, optimize=True)
    pil_save("jpeg_grey.jpg", Image.fromarray(grey), quality=90)
    pil_save("png_rgb.png", Image.fromarray(rgb))
    pil_save("png_rgba.png", Image.fromarray(rgba))
    pil_save("png_grey.png", Image.fromarray(grey))
    pil_save("png_grey_alpha.png", Image.fromarray(np.stack([grey, 255 - grey], -1), "LA"))
    palette = Image.fromarray(rgb).quantize(colors=37)
    pil_save("png_palette_transparent.png", palette, transparency=5)
    pil_save("png_1bit.png", Image.fromarray(grey > 128))
    pil_save("bmp_rgb.bmp", Image.fromarray(rgb))
    pil_save("bmp_rgba.bmp", Image.fromarray(rgba))
    pil_save("bmp_grey.bmp", Image.fromarray(grey))
    pil_save("bmp_palette.bmp", palette)
    pil_save("bmp_1bit.bmp", Image.fromarray(grey > 128))
    # by hand: a top-down BMP (negative height, rows stored first to last), as some writers make them
    with open(os.path.join(work, "bmp_rgb.bmp"), "rb") as f:
        bottom_up = f.read()
    pixels, row = struct.unpack_from("<I", bottom_up, 10)[0], (W * 3 + 3) // 4 * 4
    rows = [bottom_up[pixels + r * row: pixels + (r + 1) * row] for r in range(H)]
    top_down = bytearray(bottom_up[:pixels] + b"".join(reversed(rows)))
    struct.pack_into("<i", top_down, 22, -H)
    with open(os.path.join(work, "bmp_rgb_top_down.bmp"), "wb") as f:
        f.write(top_down)
    cases["bmp_rgb_top_down.bmp"] = None
    # by hand: 16-bit samples (einvit keeps the high byte), Adam7
    wide = (photo(3).astype(np.uint16) * 257 + np.arange(W, dtype=np.uint16)[None, :, None]).astype(np.uint16)
    write_png(os.path.join(work, "png_rgb16.png"), wide)
    cases["png_rgb16.png"] = ((wide >> 8).astype(np.uint8), l24((wide >> 8).astype(np.uint8)))
    g16 = (grey.astype(np.uint16) * 256 + 255 - grey).astype(np.uint16)
    write_png(os.path.join(work, "png_grey16.png"), g16)
    cases["png_grey16.png"] = (np.repeat((g16 >> 8).astype(np.uint8)[..., None], 3, -1), (g16 >> 8).astype(np.uint8))
    write_png(os.path.join(work, "png_rgb_interlaced.png"), rgb, interlace=True)
    write_png(os.path.join(work, "png_grey_interlaced.png"), grey, interlace=True)
    cases["png_rgb_interlaced.png"] = (rgb, l24(rgb))
    cases["png_grey_interlaced.png"] = (np.repeat(grey[..., None], 3, -1), grey)

    # files to refuse: name -> the error's pattern (after "<path>: ")
    refused = {}

    def data(name):
        with open(os.path.join(work, name), "rb") as f:
            return f.read()

    def put(name, content, pattern):
        with open(os.path.join(work, name), "wb") as f:
            f.write(content)
        refused[name] = pattern

    j = data("jpeg_420.jpg")
    put("bad_jpeg_truncated.jpg", j[: len(j) * 6 // 10], r"cannot decode JPEG: Premature end of JPEG file")
    Image.fromarray(rgba).convert("CMYK").save(os.path.join(work, "bad_jpeg_cmyk.jpg"))
    refused["bad_jpeg_cmyk.jpg"] = r"cannot decode JPEG: CMYK images are not supported"
    sof = j.index(b"\xff\xc0")
    for name, (w, h) in {"bad_jpeg_huge_side.jpg": (20000, 8), "bad_jpeg_huge_area.jpg": (16384, 4097)}.items():
        put(name, j[: sof + 5] + struct.pack(">HH", h, w) + j[sof + 9:], rf"image of {w} x {h} pixels is too large")
    p = data("png_rgb.png")
    put("bad_png_truncated.png", p[: len(p) * 6 // 10], r"cannot decode PNG: ")
    put("bad_png_crc.png", p[:29] + bytes([p[29] ^ 1]) + p[30:], r"cannot decode PNG: IHDR: CRC error")
    write_png(os.path.join(work, "bad_png_huge_area.png"), rgb, declared=(10000, 10000))
    refused["bad_png_huge_area.png"] = r"image of 10000 x 10000 pixels is too large"
    write_png(os.path.join(work, "bad_png_huge_side.png"), rgb, declared=(20000, 4))
    refused["bad_png_huge_side.png"] = r"image of 20000 x 4 pixels is too large"
    b = data("bmp_rgb.bmp")
    put("bad_bmp_truncated.bmp", b[: len(b) - 1], r"cannot decode BMP: file is truncated")
    put("bad_bmp_header_only.bmp", b[:54], r"cannot decode BMP: file is truncated")
    put("bad_not_an_image.png", b"GIF89a" + bytes(100), r"not a PNG, JPEG or BMP image")

    names = list(cases) + list(refused)
    paths = [os.path.join(work, n) for n in names]
    failures = []
    for channels, mode in ((3, "RGB"), (1, "L")):
        run = subprocess.run([binary, str(channels), work] + paths, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"einvit_decode_dump failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
        lines = dict(line.split(": ", 1) for line in run.stdout.splitlines())
        for name, path in zip(names, paths):
            said = lines.get(path, "(no line)")
            if name in refused:
                ok = said.startswith("error: " + path + ": ") and re.search(refused[name], said)
                print(f"{name} ({mode}): {said}")
                if not ok:
                    failures.append(f"{name}: expected an error naming the file and matching '{refused[name]}', got '{said}'")
                continue
            if name in cases and cases[name] is not None:
                expected = cases[name][0 if channels == 3 else 1]
            else:
                expected = np.asarray(Image.open(path).convert(mode))
            if said != f"{expected.shape[1]} x {expected.shape[0]}":
                failures.append(f"{name} ({mode}): einvit said '{said}', expected {expected.shape[1]} x {expected.shape[0]}")
                continue
            ours = np.fromfile(os.path.join(work, name + ".u8"), dtype=np.uint8).reshape(expected.shape)
            diff = np.abs(ours.astype(np.int32) - expected.astype(np.int32))
            print(f"{name} ({mode}): {said}, max |delta| {diff.max()}, pixels differing {np.count_nonzero(diff)}")
            if diff.max() != 0:
                failures.append(f"{name} ({mode}): {np.count_nonzero(diff)} values differ from the reference, by up to {diff.max()}")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print(f"all {len(cases)} images decode as the reference does, to grey and to RGB; all {len(refused)} bad files refused")


if __name__ == "__main__":
    main()
