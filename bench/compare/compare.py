#!/usr/bin/env python3
"""Races einvit against ONNX Runtime, OpenVINO and PyTorch on the same ViTs, the same inputs and
the same thread count, and writes the result as a table and a picture. Run it with bench/compare/run.sh
(which makes the Python environment and builds einvit's worker).

For ViT-Ti/16, ViT-S/16, ViT-B/16 at 224 (timm, one set of random weights each) and the shipped
Fashion-MNIST model (and, asked for with --models vit_base_patch16_siglip_224, SigLIP-B/16's image
tower: attention pooling, the 768 features), batch 1 and 8, fp32:
1. exports the model to each system's format: safetensors (einvit), ONNX opset 17 (ONNX Runtime and
   OpenVINO), the torch module (PyTorch);
2. starts one worker process per system (so each has its own peak resident memory), feeds each the
   same random batch and requires their logits to agree with PyTorch's;
3. after a warm-up, times the systems alternately (A B C D A B C D ...) in blocks of about 0.4 s, and
   reports median, min and max latency, images/s, GFLOP/s and the fraction of the FMA peak measured in
   the same run, the peak resident memory of each process, and einvit's ratio to the best peer;
4. measures what a user pays to build einvit into a program: compile time and peak compiler memory of
   a ViT-B/16 translation unit, and the binary's size.

    bench/compare/run.sh [--threads 2] [--models vit_tiny_patch16_224 ...] [--batches 1 8] [--rounds 7]

Writes docs/benchmarks.md (between its compare markers) and docs/img/benchmarks.png, and the raw
figures to build/compare/results.json.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORK = os.path.join(ROOT, "build", "compare")
SYSTEMS = ["einvit", "onnxruntime", "openvino", "pytorch"]
TIMM = {"vit_tiny_patch16_224": (192, 3), "vit_small_patch16_224": (384, 6), "vit_base_patch16_224": (768, 12)}
# raced on request (--models): SigLIP's image tower (no class token, attention pooling, the 768 features)
SIGLIP = {"vit_base_patch16_siglip_224": (768, 12)}
MODELS = list(TIMM) + ["fashion_mnist"] + list(SIGLIP)
LABELS = {"vit_tiny_patch16_224": "ViT-Ti/16", "vit_small_patch16_224": "ViT-S/16", "vit_base_patch16_224": "ViT-B/16",
          "vit_base_patch16_siglip_224": "SigLIP-B/16",
          "fashion_mnist": "Fashion-MNIST ViT"}
BEGIN, END = "<!-- compare:begin -->", "<!-- compare:end -->"


# ---- models ------------------------------------------------------------------------------------

def make_model(name):
    import torch
    torch.manual_seed(0)
    if name in TIMM:
        from timm.models.vision_transformer import VisionTransformer
        dim, heads = TIMM[name]
        return VisionTransformer(img_size=224, patch_size=16, embed_dim=dim, depth=12, num_heads=heads).eval(), (3, 224, 224)
    if name in SIGLIP:
        from timm.models.vision_transformer import VisionTransformer
        dim, heads = SIGLIP[name]
        return VisionTransformer(img_size=224, patch_size=16, embed_dim=dim, depth=12, num_heads=heads, class_token=False,
                                 global_pool="map", num_classes=0).eval(), (3, 224, 224)
    if name == "fashion_mnist":
        sys.path.insert(0, os.path.join(ROOT, "tools"))
        from safetensors.torch import load_file
        from train_fashion_mnist import CONFIG
        from vit_pytorch import ViT
        model = ViT(**CONFIG)
        model.load_state_dict(load_file(os.path.join(ROOT, "examples", "data", "fashion_mnist_vit.safetensors")))
        return model.eval(), (1, 28, 28)
    raise SystemExit(f"unknown model {name}")


def flops_per_image(name):
    """Multiply-adds x 2 of the forward pass: patch embedding, per block qkv, q k^T, a v, projection, MLP; head."""
    return sum(flops_by_op(name).values())


def flops_by_op(name, executed=False):
    """flops_per_image split by einvit::profile's operations (layer norm: none counted). With `executed`,
    what einvit computes: every model here pools the class token, so einvit's last block takes queries,
    projection and MLP for that token alone (its keys and values for every token). SigLIP's attention
    pooling reads every token: its keys and values, one query's attention, projection and MLP count as the head."""
    if name in SIGLIP:
        d, t, pd, depth, patches = SIGLIP[name][0], 196, 3 * 16 * 16, 12, 196
        mlp = 4 * d
        rows = depth * t
        return dict(patch_embed=2 * patches * pd * d, layer_norm=0, qkv=depth * 2 * t * d * 3 * d,
                    attention=2 * 2 * rows * t * d, proj=2 * rows * d * d, fc1=2 * rows * d * mlp, fc2=2 * rows * mlp * d,
                    head=2 * t * d * 2 * d + 2 * 2 * t * d + 2 * d * d + 2 * 2 * d * mlp)
    if name in TIMM:
        d, t, pd, mlp, inner, depth, classes, patches = TIMM[name][0], 197, 3 * 16 * 16, 4 * TIMM[name][0], TIMM[name][0], 12, 1000, 196
    else:
        d, t, pd, mlp, inner, depth, classes, patches = 64, 50, 16, 128, 64, 6, 10, 49
    rows = (depth - 1) * t + 1 if executed else depth * t  # query rows summed over the blocks
    return dict(patch_embed=2 * patches * pd * d, layer_norm=0, qkv=depth * 2 * t * d * 3 * inner,
                attention=2 * 2 * rows * t * inner, proj=2 * rows * inner * d, fc1=2 * rows * d * mlp,
                fc2=2 * rows * mlp * d, head=2 * d * classes)


def export(name, model, shape, batches, work):
    import torch
    from safetensors.torch import save_file
    files = {}
    if name == "fashion_mnist":
        files["einvit"] = os.path.join(ROOT, "examples", "data", "fashion_mnist_vit.safetensors")
    else:
        files["einvit"] = os.path.join(work, name + ".safetensors")
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, files["einvit"])
    onnx = os.path.join(work, name + ".b{batch}.onnx")
    for b in batches:
        torch.onnx.export(model, torch.zeros((b,) + shape), onnx.format(batch=b), opset_version=17, input_names=["image"],
                          output_names=["logits"], do_constant_folding=True)
    files["onnxruntime"] = files["openvino"] = onnx
    files["pytorch"] = os.path.join(work, name + ".pt")
    torch.save(model, files["pytorch"])
    return files


# ---- workers -----------------------------------------------------------------------------------

class Worker:
    def __init__(self, system, name, files, threads, worker_bin):
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS=str(threads))
        if system == "einvit":
            cmd = [worker_bin, name, files["einvit"], str(threads)]
        else:
            cmd = [sys.executable, os.path.join(ROOT, "bench", "compare", "py_worker.py"), system, files[system], str(threads)]
        self.system = system
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        if self.p.stdout.readline().strip() != "ready":
            raise SystemExit(f"{system} worker did not start for {name}")

    def ask(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        reply = self.p.stdout.readline().strip()
        if reply.startswith("error") or not reply:
            raise SystemExit(f"{self.system}: '{line}' -> '{reply}'")
        return reply

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.flush()
        self.p.wait(timeout=60)


def fma_peak(worker_bin, threads):
    return float(subprocess.run([worker_bin, "--peak", str(threads)], capture_output=True, text=True, check=True).stdout)


# ---- the race ----------------------------------------------------------------------------------

def race(name, args, worker_bin, work):
    model, shape = make_model(name)
    files = export(name, model, shape, args.batches, work)
    rng = np.random.default_rng(7)
    workers = [Worker(s, name, files, args.threads, worker_bin) for s in SYSTEMS]
    rows = []
    try:
        for b in args.batches:
            x = rng.standard_normal((b,) + shape).astype(np.float32)
            src = os.path.join(work, f"{name}.b{b}.input")
            x.tofile(src)
            with open(src + ".shape", "w") as f:
                f.write(" ".join(str(v) for v in x.shape))
            logits = {}
            for w in workers:
                dst = os.path.join(work, f"{name}.b{b}.{w.system}.logits")
                w.ask(f"run {b} {src} {dst}")
                logits[w.system] = np.fromfile(dst, dtype=np.float32).reshape(b, -1)
            ref = logits["pytorch"]
            scale = max(1.0, float(np.abs(ref).max()))
            agreement = {s: float(np.abs(l - ref).max()) / scale for s, l in logits.items()}
            for s, d in agreement.items():
                if d > 1e-3 or not np.array_equal(logits[s].argmax(1), ref.argmax(1)):
                    raise SystemExit(f"{name} batch {b}: {s} disagrees with PyTorch (max |delta| / scale {d:.2e})")
            # warm-up, then blocks of about 0.4 s per system, alternating
            estimate = {}
            for w in workers:
                times = [float(t) for t in w.ask(f"time {b} 3").split()]
                estimate[w.system] = min(times)
            times = {s: [] for s in SYSTEMS}
            for _ in range(args.rounds):
                for w in workers:
                    n = max(1, min(50, int(0.4 * 1000 / max(estimate[w.system], 1e-3))))
                    # a pause between systems: ONNX Runtime's (and TBB's) worker threads spin for a while
                    # after a run, and measured 30 ms slower on the next system's first ViT-B pass without it
                    time.sleep(0.1)
                    times[w.system] += [float(t) for t in w.ask(f"time {b} {n}").split()]
            rss = {w.system: float(w.ask("rss")) for w in workers}
            flops = flops_per_image(name) * b
            for s in SYSTEMS:
                med = statistics.median(times[s])
                rows.append(dict(model=name, batch=b, system=s, median_ms=med, min_ms=min(times[s]), max_ms=max(times[s]),
                                 samples=len(times[s]), images_per_s=b * 1000.0 / med, gflops=flops / med / 1e6,
                                 peak_rss_mib=rss[s], max_delta=agreement[s]))
            line = ", ".join(f"{s} {statistics.median(times[s]):.2f} ms" for s in SYSTEMS)
            print(f"{LABELS[name]} batch {b}: {line}", flush=True)
    finally:
        for w in workers:
            w.close()
    ckpt_mib = os.path.getsize(files["einvit"]) / 2**20
    return rows, ckpt_mib, profile(name, files, args, rows)


def profile(name, files, args, rows):
    """einvit's time by operation (einvit::profile, in its own process after the race): about 2 s of
    forward passes per batch size."""
    if not os.path.exists(args.profiler):
        print(f"(no {args.profiler}: no breakdown of einvit's time)")
        return []
    w = Worker("einvit", name, files, args.threads, args.profiler)
    out = []
    try:
        for b in args.batches:
            med = next(r["median_ms"] for r in rows if r["batch"] == b and r["system"] == "einvit")
            n = max(3, int(2000 / max(med, 1e-3)))
            parts = dict(item.split(":") for item in w.ask(f"profile {b} {n}").split())
            out.append(dict(model=name, batch=b, total_ms=float(parts.pop("total")), ops={k: float(v) for k, v in parts.items()}))
    finally:
        w.close()
    return out


def build_cost():
    src = os.path.join(ROOT, "bench", "compare", "build_cost_vit_b16.cpp")
    out = os.path.join(WORK, "build_cost_vit_b16")
    cmd = ["g++", "-std=c++20", "-O3", "-march=native", "-I", os.path.join(ROOT, "include"), src, "-o", out]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - t0
    # the largest descendant so far: main() builds before it starts any worker, so it is the compiler
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    stripped = out + ".stripped"
    subprocess.run(["strip", "-o", stripped, out], check=True)
    return dict(command=" ".join(cmd).replace(ROOT + "/", ""), seconds=seconds,
                peak_compiler_mib=peak_kib / 1024.0,
                binary_kib=os.path.getsize(out) / 1024.0, stripped_kib=os.path.getsize(stripped) / 1024.0)


# ---- report ------------------------------------------------------------------------------------

def machine(threads, peak):
    fields = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    # a virtual machine's model name can be as vague as "AMD EPYC": the family and model tell the core
    model = f"{fields.get('model name', '?')} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"
    return f"{model}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}; {threads} threads; " \
           f"measured FMA peak {peak:.0f} GFLOP/s fp32 for {threads} threads"


def versions():
    import onnxruntime
    import openvino
    import torch
    return f"ONNX Runtime {onnxruntime.__version__}, OpenVINO {openvino.__version__.split('-')[0]}, PyTorch {torch.__version__}"


OP_LABELS = dict(patch_embed="patch embedding", layer_norm="layer norms", qkv="qkv projection",
                 attention="attention (QKᵀ, softmax, AV)", proj="output projection", fc1="MLP fc1 + GELU",
                 fc2="MLP fc2 + residual", head="pooling + head")


def breakdown_markdown(breakdown, peak):
    if not breakdown:
        return []
    out = ["", "### Where einvit's time goes", "",
           "Per operation, from einvit's own profiler (`EINVIT_PROFILE`, `include/einvit/core/profile.hpp`; the "
           "`einvit_compare_profiler` build of the worker, run after the race): milliseconds per forward pass, share "
           "of the pass, and GFLOP/s with its fraction of the peak, counting the work einvit does (the last block's "
           "queries, projection and MLP for the class token only). \"other\" is the rest of the pass (the residual "
           "adds live in the epilogues, so it is the loop itself).", "",
           "| model | batch | total ms | " + " | ".join(OP_LABELS[k] for k in OP_LABELS) + " | other |",
           "|---|---|---|" + "---|" * (len(OP_LABELS) + 1)]
    for p in breakdown:
        fl = flops_by_op(p["model"], executed=True)
        cells = []
        for k in OP_LABELS:
            ms = p["ops"].get(k, 0.0)
            cell = f"{ms:.2f} ({100 * ms / p['total_ms']:.0f}%)"
            if fl[k] and ms > 0:
                g = fl[k] * p["batch"] / ms / 1e6
                cell += f", {g:.0f} GF/s ({100 * g / peak:.0f}%)"
            cells.append(cell)
        other = p["total_ms"] - sum(p["ops"].values())
        out.append(f"| {LABELS[p['model']]} | {p['batch']} | {p['total_ms']:.2f} | " + " | ".join(cells) +
                   f" | {other:.2f} ({100 * other / p['total_ms']:.0f}%) |")
    return out


def markdown(rows, ckpt, peak, cost, args, machine_text, breakdown=()):
    out = [BEGIN, "", "## einvit against ONNX Runtime, OpenVINO and PyTorch (`bench/compare/run.sh`)", "",
           f"Machine: {machine_text}. Peers: {versions()}. fp32; medians of {args.rounds} alternating rounds "
           "(einvit, ONNX Runtime, OpenVINO, PyTorch, einvit, ...), each system in its own process, all given the same "
           "random batch and checked to agree with PyTorch's logits, with a pause of 0.1 s between systems. \"einvit / best "
           "peer\" divides latencies: below 1, einvit is faster than every peer. GFLOP/s is the model's multiply-adds x 2 "
           "(every token through every block) over the latency, the same count for every system; einvit computes fewer "
           "(the last block for the class token only, Strassen's products for the weights), so its % of peak can pass "
           "100.", "",
           f"Command: `bench/compare/run.sh --threads {args.threads} --rounds {args.rounds}`", "",
           "| model | batch | system | median ms | min ms | max ms | images/s | GFLOP/s | % of peak | peak RSS MiB | einvit / best peer |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for model in args.models:
        for b in args.batches:
            sel = [r for r in rows if r["model"] == model and r["batch"] == b]
            if not sel:
                continue
            best_peer = min(r["median_ms"] for r in sel if r["system"] != "einvit")
            mine = next(r for r in sel if r["system"] == "einvit")["median_ms"]
            for r in sel:
                ratio = f"**{mine / best_peer:.2f}x**" if r["system"] == "einvit" else ""
                name = f"**{r['system']}**" if r["system"] == "einvit" else r["system"]
                out.append(f"| {LABELS[model]} | {b} | {name} | {r['median_ms']:.2f} | {r['min_ms']:.2f} | {r['max_ms']:.2f} | "
                           f"{r['images_per_s']:.1f} | {r['gflops']:.0f} | {100 * r['gflops'] / peak:.0f}% | "
                           f"{r['peak_rss_mib']:.0f} | {ratio} |")
    out += ["", "Checkpoint sizes (safetensors, fp32): " + ", ".join(f"{LABELS[m]} {ckpt[m]:.1f} MiB" for m in ckpt) + ".",
            "Peak RSS is each process's high-water mark after that row's batch size (batch 1 runs first, so batch 8's "
            "figure is the larger of the two).", "",
            f"Build cost of a ViT-B/16 program (`bench/compare/build_cost_vit_b16.cpp`, `{cost['command']}`): "
            f"{cost['seconds']:.1f} s, peak compiler memory {cost['peak_compiler_mib']:.0f} MiB, binary "
            f"{cost['binary_kib']:.0f} KiB ({cost['stripped_kib']:.0f} KiB stripped).", "",
            "![latency per model and system](img/benchmarks.png)"] + breakdown_markdown(breakdown, peak) + ["", END]
    return "\n".join(out)


def plot(rows, args, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = [(m, b) for m in args.models for b in args.batches if any(r["model"] == m and r["batch"] == b for r in rows)]
    fig, axes = plt.subplots(1, len(groups), figsize=(2.6 * len(groups), 3.6))
    if len(groups) == 1:
        axes = [axes]
    colours = {"einvit": "#d62728", "onnxruntime": "#7f7f7f", "openvino": "#a6a6a6", "pytorch": "#c7c7c7"}
    for ax, (m, b) in zip(axes, groups):
        sel = {r["system"]: r for r in rows if r["model"] == m and r["batch"] == b}
        ms = [sel[s]["median_ms"] for s in SYSTEMS]
        ax.bar(range(len(SYSTEMS)), ms, color=[colours[s] for s in SYSTEMS])
        ax.set_xticks(range(len(SYSTEMS)))
        ax.set_xticklabels(["einvit", "ORT", "OpenVINO", "PyTorch"], rotation=45, ha="right", fontsize=8)
        ax.set_title(f"{LABELS[m]}, batch {b}", fontsize=9)
        ax.set_ylabel("median latency, ms" if ax is axes[0] else "")
        ax.tick_params(axis="y", labelsize=8)
    fig.suptitle(f"fp32, {args.threads} threads (lower is better)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", nargs="+", default=list(TIMM) + ["fashion_mnist"], choices=MODELS)
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8], choices=[1, 8])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--worker", default=os.path.join(ROOT, "build", "bench", "einvit_compare_worker"))
    p.add_argument("--profiler", default=os.path.join(ROOT, "build", "bench", "einvit_compare_profiler"))
    p.add_argument("--no-docs", action="store_true", help="print the table, leave docs/ alone")
    args = p.parse_args()
    os.makedirs(WORK, exist_ok=True)
    cost = build_cost()
    print(f"build cost of a ViT-B/16 program: {cost['seconds']:.1f} s, {cost['peak_compiler_mib']:.0f} MiB", flush=True)
    peak = fma_peak(args.worker, args.threads)
    print(f"FMA peak: {peak:.0f} GFLOP/s ({args.threads} threads)", flush=True)
    rows, ckpt = [], {}
    breakdown = []
    for name in args.models:
        r, ckpt[name], prof = race(name, args, args.worker, WORK)
        rows += r
        breakdown += prof
    text = markdown(rows, ckpt, peak, cost, args, machine(args.threads, peak), breakdown)
    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump(dict(rows=rows, peak=peak, build_cost=cost, checkpoints_mib=ckpt, breakdown=breakdown), f, indent=1)
    print(text)
    if args.no_docs:
        return
    doc = os.path.join(ROOT, "docs", "benchmarks.md")
    old = open(doc).read()
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + text + old[old.index(END) + len(END):]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    with open(doc, "w") as f:
        f.write(new)
    plot(rows, args, os.path.join(ROOT, "docs", "img", "benchmarks.png"))
    print("wrote docs/benchmarks.md and docs/img/benchmarks.png")


if __name__ == "__main__":
    main()
