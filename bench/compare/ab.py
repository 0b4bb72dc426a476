#!/usr/bin/env python3
"""Two builds of einvit's worker timed against each other on one model: the way to see a change of
1-3% on a shared, noisy machine, where two runs of the same binary minutes apart differ by more.

    .venv-compare/bin/python bench/compare/ab.py --a OLD/einvit_compare_worker --b NEW/einvit_compare_worker \
        [--model vit_base_patch16_224] [--batch 1] [--rounds 40] [--passes 3] [--threads 2]

Both workers load the same checkpoint and stay up side by side; each round times `passes` forward
passes of one, then of the other, the order swapped every round (A B, B A, A B, ...), so that a slow
phase of the host falls on both. It prints each one's median of the per-round medians, the median of
the per-round ratios B / A, and in how many rounds B was faster. Two copies of one binary should come
out near 1.00 and win about half the rounds: try that first to see how far the host lets you trust a
small ratio.

The checkpoint is the race's (build/compare/MODEL.safetensors, made by bench/compare/run.sh), made here
with the same random weights when it is missing.
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402


def checkpoint(name):
    if name == "fashion_mnist":
        return os.path.join(compare.ROOT, "examples", "data", "fashion_mnist_vit.safetensors")
    path = os.path.join(compare.WORK, name + ".safetensors")
    if not os.path.exists(path):
        from safetensors.torch import save_file
        os.makedirs(compare.WORK, exist_ok=True)
        model, _ = compare.make_model(name)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    return path


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--a", required=True, help="the baseline worker binary")
    p.add_argument("--b", required=True, help="the worker binary under test")
    p.add_argument("--model", default="vit_base_patch16_224", choices=compare.MODELS)
    p.add_argument("--batch", type=int, default=1, choices=[1, 8])
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--passes", type=int, default=3, help="forward passes per system per round")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    for binary in (args.a, args.b):
        if not os.access(binary, os.X_OK):
            raise SystemExit(f"ab: {binary} is not an executable worker")
    files = {"einvit": checkpoint(args.model)}
    workers = {side: compare.Worker("einvit", args.model, files, args.threads, binary)
               for side, binary in (("A", args.a), ("B", args.b))}
    try:
        for w in workers.values():
            w.ask(f"time {args.batch} {max(2, args.passes)}")  # warm-up: buffers, pages, caches
        medians = {"A": [], "B": []}
        for r in range(args.rounds):
            for side in ("AB" if r % 2 == 0 else "BA"):
                times = [float(t) for t in workers[side].ask(f"time {args.batch} {args.passes}").split()]
                medians[side].append(statistics.median(times))
    finally:
        for w in workers.values():
            w.close()
    ratios = [b / a for a, b in zip(medians["A"], medians["B"])]
    wins = sum(1 for x in ratios if x < 1)
    ma, mb = statistics.median(medians["A"]), statistics.median(medians["B"])
    print(f"{args.model} batch {args.batch}, {args.threads} threads, {args.rounds} rounds of {args.passes} passes")
    print(f"A {args.a}: median {ma:.3f} ms (min {min(medians['A']):.3f})")
    print(f"B {args.b}: median {mb:.3f} ms (min {min(medians['B']):.3f})")
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    print(f"B / A: median of the rounds' ratios {statistics.median(ratios):.4f} (quartiles {q[0]:.4f}-{q[2]:.4f}); "
          f"B faster in {wins} of {len(ratios)} rounds")


if __name__ == "__main__":
    main()
