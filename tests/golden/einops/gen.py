#!/usr/bin/env python3
"""Generate einvit's golden reference data from the real ``einops`` library.

How to run (from the repository root)::

    tools/make-venv.sh   # once: .venv with einops (and numpy, torch from Debian)
    .venv/bin/python tests/golden/einops/gen.py

Optional flag: ``--show-errors`` also prints the exact messages einops gives
for a handful of malformed patterns (useful when writing compile-fail tests).

What it (re)writes, all next to this script:

* ``data/<kind>_<NNN>.bin`` -- raw little-endian, row-major binary, no header:

  - rearrange / repeat: only the expected output, float32.  The input is
    implicit: ``numpy.arange(prod(input_shape), dtype=float32)
    .reshape(input_shape)`` (every input has fewer than 2**24 elements, so all
    values are exact).
  - reduce: the input (float64, uniform(-2, 2); uniform(0.5, 1.5) for
    ``prod``) followed by the expected output (float64).
  - einsum: each operand in order (float64, uniform(-1, 1)) followed by the
    expected output (float64).  Torch-style patterns ("bhid,bhjd->bhij") are
    evaluated with ``numpy.einsum``, einops-style ones ("b h i d, b h j d ->
    b h i j") with ``einops.einsum``.

* ``cases.inc`` -- a generated C++ fragment with one doctest ``TEST_CASE`` per
  case.  It calls ``check_rearrange``, ``check_repeat``, ``check_reduce`` and
  ``check_einsum`` templates which the including C++ test file must provide:

  - ``check_rearrange<pattern, InShape, OutShape, axis<...>...>("name")``
  - ``check_repeat<pattern, InShape, OutShape, axis<...>...>("name")``
  - ``check_reduce<pattern, op, InShape, OutShape, axis<...>...>("name")``
  - ``check_einsum<pattern, OutShape, InShape1[, InShape2[, InShape3]]>("name")``

  The ``axis<>`` list is exactly the ``axes_lengths`` keyword arguments passed
  to einops, in the order they were passed.  Output shapes are taken from the
  result einops actually produced.

The script is deterministic: every case draws its random data from
``numpy.random.default_rng`` seeded with the CRC32 of the case name, so adding
or reordering cases does not change the data of other cases with the same
name.  Cases that einops rejects are reported and dropped (never emitted).
Stale ``*.bin`` files in ``data/`` that no case produces are deleted.
"""

from __future__ import annotations

import argparse
import math
import sys
import zlib
from pathlib import Path

try:
    import einops
    import numpy as np
except ImportError as exc:  # pragma: no cover - environment problem
    sys.exit(
        f"gen.py: {exc}. Create the venv first:\n"
        "  tools/make-venv.sh\n"
        "and run: .venv/bin/python tests/golden/einops/gen.py"
    )

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / "data"
INC_PATH = HERE / "cases.inc"

FLOAT32_EXACT_LIMIT = 2**24
REDUCTIONS = ("sum", "mean", "max", "min", "prod")

# --------------------------------------------------------------------------
# Case tables.  Each entry: (pattern, input shape, axes_lengths dict), plus the
# reduction name for reduce cases and a list of operand shapes for einsum.
# Dicts keep insertion order, which is the order the axis<> list is emitted in.
# --------------------------------------------------------------------------

REARRANGE = [
    # --- the seeds' ViT / MNIST patch embedding --------------------------------
    ("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", (1, 3, 224, 224), dict(p1=16, p2=16)),
    ("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", (1, 1, 28, 28), dict(p1=7, p2=7)),
    ("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", (1, 3, 32, 32), dict(p1=16, p2=16)),
    ("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", (2, 3, 12, 20), dict(p1=4, p2=5)),
    # --- the seeds' multi-head attention split / merge --------------------------
    ("b n (h d) -> b h n d", (1, 197, 384), dict(h=12)),
    ("b n (h d) -> b h n d", (2, 7, 12), dict(h=3)),
    ("b h n d -> b n (h d)", (2, 3, 13, 8), {}),
    ("b h n d -> b n (h d)", (1, 12, 17, 16), {}),
    # --- sequence <-> image -------------------------------------------------------
    ("b (h w) c -> b c h w", (2, 196, 8), dict(h=14)),
    ("b (h w) c -> b c h w", (1, 35, 3), dict(h=5)),
    ("b c h w -> b (h w) c", (2, 3, 7, 5), {}),
    ("b c h w -> b (h w) c", (1, 1, 13, 1), {}),
    # --- plain permutations, rank 2..5 -------------------------------------------
    ("a b -> b a", (3, 5), {}),
    ("a b -> b a", (197, 7), {}),
    ("a b c -> c a b", (3, 5, 7), {}),
    ("a b c -> a c b", (1, 13, 1), {}),
    ("b h w c -> b c h w", (2, 5, 7, 3), {}),
    ("a b c d -> d c b a", (2, 3, 5, 7), {}),
    ("a b c d e -> e a c b d", (2, 3, 1, 5, 4), {}),
    ("a b c d e -> b d a e c", (3, 2, 2, 5, 3), {}),
    # --- identity -------------------------------------------------------------------
    ("a -> a", (7,), {}),
    ("a b c -> a b c", (3, 4, 5), {}),
    ("... -> ...", (4, 5), {}),
    # --- flatten / split / groups on both sides ---------------------------------------
    ("a b c -> (a b c)", (3, 5, 7), {}),
    ("a b c -> (c b a)", (2, 3, 4), {}),
    ("(a b) c -> a b c", (10, 3), dict(a=2)),
    ("(a b) c -> a b c", (10, 3), dict(a=2, b=5)),
    ("a (b c) -> (a c) b", (5, 6), dict(b=3)),
    ("(a b) (c d) -> (c a) (d b)", (6, 12), dict(a=2, c=3)),
    ("b c (h h2) (w w2) -> b (c h2 w2) h w", (2, 3, 6, 8), dict(h2=2, w2=2)),
    ("b (c h2 w2) h w -> b c (h h2) (w w2)", (2, 12, 3, 4), dict(h2=2, w2=2)),
    ("(a b c) -> a b c", (105,), dict(a=3, c=7)),
    ("a b -> b a", (3, 5), dict(a=3)),  # redundant length: a pure check
    # --- unit axes: () ------------------------------------------------------------------
    ("a b -> a () b", (3, 5), {}),
    ("() a b -> a b", (1, 3, 5), {}),
    ("a () b -> () b a ()", (3, 1, 5), {}),
    ("a b () -> b a", (3, 7, 1), {}),
    ("() -> ", (1,), {}),
    # --- unit axes: literal 1 -------------------------------------------------------------
    ("a b -> a 1 b", (3, 5), {}),
    ("a 1 b -> b a", (3, 1, 5), {}),
    ("1 a -> a 1", (1, 13), {}),
    ("b 1 (h w) -> b h w 1", (2, 1, 12), dict(h=3)),
    # --- ellipsis: start / middle / end ------------------------------------------------------
    ("... c -> c ...", (2, 3, 5), {}),
    ("b ... c -> b c ...", (2, 3, 4, 5), {}),
    ("b ... c -> b c ...", (2, 3), {}),  # ellipsis covering zero axes
    ("b c ... -> c b ...", (2, 3, 4, 5), {}),
    ("a ... b -> ... (b a)", (2, 3, 4), {}),
    # --- ellipsis inside a group on the right ---------------------------------------------------
    ("... c -> c (...)", (2, 3, 5), {}),
    ("b ... -> (b ...)", (2, 3, 5), {}),
    ("b c ... -> b (c ...)", (2, 3, 4, 5), {}),
    ("b ... c -> (b c) ...", (2, 3, 4, 5), {}),
    ("... h w -> (...) h w", (2, 3, 4, 5), {}),
    ("... h w -> (...) h w", (4, 5), {}),  # empty (...) becomes a length-1 axis
]

REPEAT = [
    ("() n d -> b n d", (1, 1, 8), dict(b=4)),
    ("() n d -> b n d", (1, 1, 768), dict(b=2)),
    ("h w -> h w c", (3, 5), dict(c=3)),
    ("h w -> (h h2) (w w2)", (3, 5), dict(h2=2, w2=3)),
    ("h w -> (repeat h) w", (3, 5), dict(repeat=3)),
    ("b 1 d -> b n d", (2, 1, 7), dict(n=5)),
    ("1 d -> n d", (1, 13), dict(n=7)),
    ("a b -> b a c", (3, 5), dict(c=2)),
    ("a -> (a b)", (7,), dict(b=4)),
    ("a -> (b a)", (7,), dict(b=4)),
    ("... -> ... r", (2, 3), dict(r=2)),
    ("b ... -> b k ...", (2, 3, 5), dict(k=3)),
    ("h w -> h w", (3, 5), {}),
    ("a b -> a () b 1", (3, 5), {}),
    ("(a b) -> b a c", (6,), dict(a=2, c=2)),
]

REDUCE = [
    ("b n d -> b d", "mean", (2, 5, 7), {}),
    ("b n d -> b d", "sum", (2, 197, 13), {}),
    ("b (h p1) (w p2) c -> b h w c", "max", (2, 8, 6, 3), dict(p1=2, p2=2)),
    ("b (h p1) (w p2) c -> b h w c", "min", (1, 9, 4, 2), dict(p1=3, p2=2)),
    ("a b -> ", "sum", (3, 5), {}),
    ("a b -> ", "mean", (3, 5), {}),
    ("a b -> ", "max", (3, 5), {}),
    ("a b -> ", "min", (3, 5), {}),
    ("a b -> ", "prod", (3, 5), {}),
    ("b n d -> b () d", "mean", (2, 5, 3), {}),
    ("b n d -> b 1 d", "max", (2, 5, 3), {}),
    ("b ... d -> b d", "sum", (2, 3, 4, 5), {}),
    ("b ... d -> b d", "prod", (2, 3, 4), {}),
    ("b h w c -> b (h w)", "min", (2, 3, 4, 5), {}),
    ("b h w c -> b (h w)", "mean", (2, 3, 4, 5), {}),
    ("a b c -> c", "prod", (3, 4, 5), {}),
    ("a b c -> a c", "sum", (3, 1, 5), {}),
    ("(a b) c -> a c", "mean", (12, 5), dict(a=3)),
    ("a b -> a b", "sum", (3, 4), {}),
    ("b c h w -> b c", "mean", (2, 3, 7, 7), {}),
    ("... c -> c", "max", (2, 3, 4), {}),
    ("a b -> b", "min", (197, 3), {}),
    ("a b -> a", "prod", (1, 13), {}),
]

# (pattern, [operand shapes]).  Torch style unless the pattern contains a space.
EINSUM = [
    # the seeds' attention patterns
    ("bhid,bhjd->bhij", [(1, 3, 5, 8), (1, 3, 4, 8)]),
    ("bhij,bhjd->bhid", [(1, 3, 5, 4), (1, 3, 4, 8)]),
    ("nqhd,nkhd->nhqk", [(2, 5, 3, 4), (2, 6, 3, 4)]),
    ("nhql,nlhd->nqhd", [(2, 3, 5, 6), (2, 6, 3, 4)]),
    ("bhid,bhjd->bhij", [(1, 2, 197, 8), (1, 2, 7, 8)]),
    # matrices and vectors
    ("ij,jk->ik", [(7, 13), (13, 5)]),
    ("ij,jk->ik", [(1, 1), (1, 1)]),
    ("ij,j->i", [(5, 7), (7,)]),
    ("i,ij->j", [(13,), (13, 3)]),
    ("i,j->ij", [(3,), (5,)]),
    ("i,i->", [(7,), (7,)]),
    ("ij,ij->ij", [(3, 5), (3, 5)]),
    ("bi,bi->b", [(4, 7), (4, 7)]),
    # single operand
    ("ij->ji", [(3, 5)]),
    ("ii->i", [(5, 5)]),
    ("ii->", [(4, 4)]),
    ("ij->", [(3, 5)]),
    ("ij->i", [(3, 5)]),
    ("ij->j", [(3, 5)]),
    ("iij->ij", [(3, 3, 4)]),
    ("...ij->...ji", [(2, 3, 4)]),
    # batched / ellipsis
    ("bij,bjk->bik", [(1, 3, 4), (1, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 4, 5), (2, 3, 5, 6)]),
    ("...ij,...jk->...ik", [(1, 1, 7, 1), (1, 1, 1, 13)]),
    # three operands
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("i,ij,j->", [(3,), (3, 5), (5,)]),
    # einops style (space-separated, multi-letter names) -> einops.einsum
    ("b head i d, b head j d -> b head i j", [(1, 3, 5, 8), (1, 3, 4, 8)]),
    ("b head i j, b head j d -> b head i d", [(2, 2, 5, 4), (2, 2, 4, 7)]),
    ("batch i, i j -> batch j", [(4, 13), (13, 3)]),
    ("... i j, ... j k -> ... i k", [(2, 3, 4), (2, 4, 5)]),
    ("i j, j k, k l -> i l", [(2, 3), (3, 4), (4, 1)]),
    ("row col -> col row", [(7, 197)]),
]

# Malformed patterns: (function, pattern, input shape, axes_lengths).
ERROR_CASES = [
    ("rearrange", "(a b -> a b", (2, 3), {}),
    ("rearrange", "a b -> a", (2, 3), {}),
    ("rearrange", "a b -> a b ...", (2, 3), {}),
    ("rearrange", "a a -> a", (2, 2), {}),
    ("repeat", "a -> a b", (2,), {}),
    ("rearrange", "(a b) -> a b", (8,), dict(a=3, b=3)),
    ("rearrange", "(a b) -> a b", (10,), dict(a=3)),
    ("rearrange", "a $ -> a", (2, 3), {}),
]

# --------------------------------------------------------------------------


def seed_for(name: str) -> int:
    return zlib.crc32(name.encode("ascii"))


def cxx_shape(shape) -> str:
    return "einvit::Shape<" + ", ".join(str(int(d)) for d in shape) + ">"


def cxx_axes(axes: dict) -> list[str]:
    return [f'einvit::axis<"{k}", {int(v)}>' for k, v in axes.items()]


def cxx_string(s: str) -> str:
    assert '"' not in s and "\\" not in s, s
    return f'"{s}"'


class Generator:
    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.files: dict[str, bytes] = {}
        self.counts: dict[str, int] = {}
        self.rejected: list[tuple[str, str, str]] = []
        self.listing: list[str] = []

    def _next_name(self, kind: str) -> tuple[int, str]:
        n = self.counts.get(kind, 0) + 1
        return n, f"{kind}_{n:03d}"

    def _emit(self, kind, n, name, title_pattern, targs, data, summary):
        self.counts[kind] = n
        self.files[name] = data
        title = f"einops {kind} {n:03d}: {title_pattern}"
        self.blocks.append(
            f"TEST_CASE({cxx_string(title)}) {{\n"
            f"    check_{kind}<{', '.join(targs)}>({cxx_string(name)});\n"
            f"}}\n"
        )
        self.listing.append(f"{name}: {summary}  [{len(data)} B]")

    # -- rearrange / repeat -------------------------------------------------
    def layout(self, kind: str, pattern: str, in_shape, axes: dict) -> None:
        n, name = self._next_name(kind)
        size = math.prod(in_shape)
        assert size < FLOAT32_EXACT_LIMIT, (name, size)
        x = np.arange(size, dtype=np.float32).reshape(in_shape)
        fn = getattr(einops, kind)
        try:
            y = fn(x, pattern, **axes)
        except einops.EinopsError as exc:
            self.rejected.append((kind, pattern, str(exc).strip().splitlines()[-1]))
            return
        y = np.array(y, dtype="<f4", order="C")  # (ascontiguousarray would turn 0-d into 1-d)
        assert y.size < FLOAT32_EXACT_LIMIT
        targs = [cxx_string(pattern), cxx_shape(in_shape), cxx_shape(y.shape)]
        targs += cxx_axes(axes)
        summary = f"{pattern!r} {tuple(in_shape)} -> {tuple(y.shape)} {axes or ''}"
        self._emit(kind, n, name, pattern, targs, y.tobytes(), summary)

    # -- reduce ----------------------------------------------------------------
    def reduce(self, pattern: str, op: str, in_shape, axes: dict) -> None:
        assert op in REDUCTIONS
        n, name = self._next_name("reduce")
        rng = np.random.default_rng(seed_for(name))
        lo, hi = (0.5, 1.5) if op == "prod" else (-2.0, 2.0)
        x = rng.uniform(lo, hi, size=in_shape).astype(np.float64)
        try:
            y = einops.reduce(x, pattern, op, **axes)
        except einops.EinopsError as exc:
            self.rejected.append(("reduce", pattern, str(exc).strip().splitlines()[-1]))
            return
        y = np.array(y, dtype=np.float64, order="C")
        assert np.all(np.isfinite(y)), name
        data = x.astype("<f8").tobytes() + y.astype("<f8").tobytes()
        targs = [cxx_string(pattern), f"einvit::op::{op}", cxx_shape(in_shape), cxx_shape(y.shape)]
        targs += cxx_axes(axes)
        summary = f"{pattern!r} [{op}] {tuple(in_shape)} -> {tuple(y.shape)} {axes or ''}"
        self._emit("reduce", n, name, f"{pattern} ({op})", targs, data, summary)

    # -- einsum ------------------------------------------------------------------
    def einsum(self, pattern: str, shapes) -> None:
        assert 1 <= len(shapes) <= 3
        n, name = self._next_name("einsum")
        rng = np.random.default_rng(seed_for(name))
        ops = [rng.uniform(-1.0, 1.0, size=s).astype(np.float64) for s in shapes]
        einops_style = " " in pattern
        try:
            if einops_style:
                y = einops.einsum(*ops, pattern)
            else:
                y = np.einsum(pattern, *ops)
        except (einops.EinopsError, ValueError) as exc:
            self.rejected.append(("einsum", pattern, str(exc).strip().splitlines()[-1]))
            return
        y = np.array(y, dtype=np.float64, order="C")
        data = b"".join(o.astype("<f8").tobytes() for o in ops) + y.astype("<f8").tobytes()
        targs = [cxx_string(pattern), cxx_shape(y.shape)] + [cxx_shape(s) for s in shapes]
        via = "einops.einsum" if einops_style else "numpy.einsum"
        summary = (f"{pattern!r} {' , '.join(str(tuple(s)) for s in shapes)} -> "
                   f"{tuple(y.shape)} via {via}")
        self._emit("einsum", n, name, pattern, targs, data, summary)

    # -- output ----------------------------------------------------------------------
    def write(self) -> None:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        for stale in DATA_DIR.glob("*.bin"):
            if stale.stem not in self.files:
                stale.unlink()
        for name, data in self.files.items():
            path = DATA_DIR / f"{name}.bin"
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)
        header = (
            "// GENERATED by tests/golden/einops/gen.py -- DO NOT EDIT BY HAND.\n"
            "// Regenerate from the repository root with:\n"
            "//     .venv/bin/python tests/golden/einops/gen.py\n"
            f"// Reference: einops {einops.__version__}, numpy {np.__version__}.\n"
            "// Expects check_rearrange / check_repeat / check_reduce / check_einsum templates\n"
            "// from the including file; each case's data lives in data/<name>.bin.\n"
            "// clang-format off\n"
        )
        text = header + "\n" + "\n".join(self.blocks) + "\n// clang-format on\n"
        if not INC_PATH.exists() or INC_PATH.read_text() != text:
            INC_PATH.write_text(text)


def show_errors() -> None:
    print("\nEinops error messages for malformed patterns:")
    for fn, pattern, shape, axes in ERROR_CASES:
        try:
            getattr(einops, fn)(np.zeros(shape), pattern, **axes)
            print(f"  {fn}({pattern!r}, shape={shape}, {axes}): NO ERROR (unexpected)")
        except einops.EinopsError as exc:
            print(f"  {fn}({pattern!r}, shape={shape}, {axes}):")
            for line in str(exc).splitlines():
                print(f"      | {line}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--show-errors", action="store_true",
                    help="print einops' messages for a set of malformed patterns")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every case")
    args = ap.parse_args()

    g = Generator()
    for pattern, shape, axes in REARRANGE:
        g.layout("rearrange", pattern, shape, axes)
    for pattern, shape, axes in REPEAT:
        g.layout("repeat", pattern, shape, axes)
    for pattern, op, shape, axes in REDUCE:
        g.reduce(pattern, op, shape, axes)
    for pattern, shapes in EINSUM:
        g.einsum(pattern, shapes)

    # Sanity: every reduction appears at least twice, titles are unique.
    for op in REDUCTIONS:
        assert sum(1 for c in REDUCE if c[1] == op) >= 2, op
    titles = [b.splitlines()[0] for b in g.blocks]
    assert len(set(titles)) == len(titles)

    g.write()

    if args.verbose:
        for line in g.listing:
            print(line)
    total = sum(p.stat().st_size for p in DATA_DIR.glob("*.bin"))
    print(f"einops {einops.__version__}, numpy {np.__version__}")
    for kind in ("rearrange", "repeat", "reduce", "einsum"):
        print(f"  {kind:<10} {g.counts.get(kind, 0):3d} cases")
    print(f"  total      {len(g.files):3d} cases, data/ = {total} bytes "
          f"({total / 2**20:.2f} MiB), cases.inc = {INC_PATH.stat().st_size} bytes")
    for kind, pattern, msg in g.rejected:
        print(f"  REJECTED by einops ({kind}) {pattern!r}: {msg}")
    if args.show_errors:
        show_errors()
    return 0


if __name__ == "__main__":
    sys.exit(main())
