#!/usr/bin/env python3
"""einvit beside PyTorch on a timm ViT, batch 1, fp32, the same thread count, in one run.

Makes a timm model with random weights, saves it as safetensors (that both give the same logits is
what the vit_parity test proves), then alternates the two (einvit, PyTorch, einvit, PyTorch, ...), each in its own process so
that peak resident memory is its own, and prints the medians and ratios.

    .venv/bin/python tools/compare_vit.py [--model vit_base_patch16_224] [--threads 2] [--rounds 3] [--runs 20]

Needs build/bench/einvit_bench_vit (tools/run-tests.sh builds it) and the venv of tools/make-venv.sh.
PyTorch runs with OMP_WAIT_POLICY=PASSIVE, which is faster for it on a 2-core machine.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = {"vit_tiny_patch16_224": (192, 3), "vit_small_patch16_224": (384, 6), "vit_base_patch16_224": (768, 12)}


def make_model(name):
    import torch
    from timm.models.vision_transformer import VisionTransformer
    dim, heads = SIZES[name]
    torch.manual_seed(0)
    return VisionTransformer(img_size=224, patch_size=16, embed_dim=dim, depth=12, num_heads=heads).eval()


def peak_resident_mib():
    """This process's peak resident memory (VmHWM; ru_maxrss would include the forking parent's)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return -1


def torch_run(args):
    import torch
    from safetensors.torch import load_file
    torch.set_num_threads(args.threads)
    model = make_model(args.model)
    model.load_state_dict(load_file(args.checkpoint))
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        for _ in range(3):
            model(x)
        ms = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            model(x)
            ms.append((time.perf_counter() - t0) * 1000)
    ms.sort()
    peak = peak_resident_mib()
    print(json.dumps({"system": "pytorch", "median_ms": ms[len(ms) // 2], "min_ms": ms[0], "max_ms": ms[-1],
                      "peak_rss_mib": peak}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="vit_base_patch16_224", choices=sorted(SIZES))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--torch-run", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.torch_run:
        return torch_run(args)

    import torch
    from safetensors.torch import save_file
    ckpt = args.checkpoint or os.path.join(ROOT, "build", args.model + ".safetensors")
    model = make_model(args.model)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, ckpt)
    size_mib = os.path.getsize(ckpt) / 2**20
    binary = os.path.join(ROOT, "build", "bench", "einvit_bench_vit")
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS=str(args.threads))
    results = {"einvit": [], "pytorch": []}
    for _ in range(args.rounds):
        out = subprocess.run([binary, ckpt, "--model", args.model, "--runs", str(args.runs), "--threads", str(args.threads)],
                             check=True, capture_output=True, text=True).stdout
        results["einvit"].append(json.loads(out))
        out = subprocess.run([sys.executable, __file__, "--torch-run", "--model", args.model, "--checkpoint", ckpt,
                              "--runs", str(args.runs), "--threads", str(args.threads)],
                             check=True, capture_output=True, text=True, env=env).stdout
        results["pytorch"].append(json.loads(out.strip().splitlines()[-1]))
    print(f"{args.model}, batch 1, fp32, {args.threads} threads, {args.rounds} alternating rounds of {args.runs} runs; "
          f"checkpoint {size_mib:.0f} MiB; torch {torch.__version__}")
    print("| system | median ms | min ms | max ms | peak RSS MiB |")
    print("|---|---|---|---|---|")
    med = {}
    for system, rs in results.items():
        med[system] = statistics.median(r["median_ms"] for r in rs)
        print(f"| {system} | {med[system]:.1f} | {min(r['min_ms'] for r in rs):.1f} | {max(r['max_ms'] for r in rs):.1f} | "
              f"{max(r['peak_rss_mib'] for r in rs):.0f} |")
    print(f"einvit / PyTorch latency: {med['einvit'] / med['pytorch']:.2f}x")


if __name__ == "__main__":
    main()
