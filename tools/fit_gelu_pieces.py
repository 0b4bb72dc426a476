#!/usr/bin/env python3
"""Fits the tables behind einvit's AVX-512 and AVX2 GELU (fn::detail::gelu_pieces and gelu_pieces8 in
include/einvit/expr/functors.hpp).

Phi(-z sqrt 2) = erfc(z) / 2 on z in [0, 4): for AVX-512 in 16 pieces of width 1/4, each a polynomial of
degree 5 in t = z - (middle of the piece); for AVX2 (--avx2: 8-lane permutes) in 8 pieces of width 1/2 of
degree 6, as accurate. Fitted by least squares at 64 Chebyshev points with the relative error weighted.
Prints the C++ table, then the worst error of x Phi(x) evaluated as the kernel does (float32 Horner) over
400,001 points of [-20, 20], as a fraction of the unit test's bound 1e-7 (1 + 4 |y|).

    .venv/bin/python tools/fit_gelu_pieces.py [--avx2]
"""
import math
import sys

import numpy as np

AVX2 = "--avx2" in sys.argv[1:]
PIECES, WIDTH, DEGREE = (8, 0.5, 6) if AVX2 else (16, 0.25, 5)


def fit():
    table = np.zeros((DEGREE + 1, PIECES))
    half = WIDTH / 2
    t = half * np.cos((2 * np.arange(64) + 1) * np.pi / 128)
    for i in range(PIECES):
        middle = (i + 0.5) * WIDTH
        f = np.array([0.5 * math.erfc(middle + u) for u in t])
        table[:, i] = np.polyfit(t, f, DEGREE, w=1 / f)[::-1]  # table[j]: the coefficient of t^j
    return table.astype(np.float32)


def gelu(x, table):
    f = np.float32
    z = f(abs(x) * f(0.70710678118654752440))
    i = min(int(z * f(1 / WIDTH)), PIECES - 1)
    t = f(z - f((i + 0.5) * WIDTH))
    p = table[DEGREE, i]
    for j in range(DEGREE - 1, -1, -1):
        p = f(f(p * t) + table[j, i])
    lower = p if z < 4 else f(0)
    return x * (lower if x < 0 else f(1) - lower)


def main():
    table = fit()
    name = "gelu_pieces8" if AVX2 else "gelu_pieces"
    print("alignas(%d) inline constexpr float %s[%d][%d] = {" % (4 * PIECES, name, DEGREE + 1, PIECES))
    for row in table:
        print("    {" + ", ".join(repr(float(v)) + "f" for v in row) + "},")
    print("};")
    worst = 0.0
    for x in np.linspace(-20, 20, 400001).astype(np.float32):
        want = 0.5 * float(x) * math.erfc(-float(x) / math.sqrt(2))
        worst = max(worst, abs(float(gelu(x, table)) - want) / (1e-7 * (1 + 4 * abs(want))))
    print(f"worst error / bound: {worst:.3f}")


if __name__ == "__main__":
    main()
