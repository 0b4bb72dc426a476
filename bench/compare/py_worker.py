#!/usr/bin/env python3
"""A peer system's side of bench/compare: one model in one process, driven line by line on stdin,
with the same commands as einvit's worker (einvit_worker.cpp): run B IN OUT, time B N, rss, quit.

    py_worker.py SYSTEM MODEL_FILE THREADS
    SYSTEM: onnxruntime | openvino (MODEL_FILE: an ONNX file per batch size, "{batch}" in its name)
            pytorch (MODEL_FILE: a torch.save'd module)

Every system runs fp32 with THREADS intra-op threads: ONNX Runtime with all graph optimisations and
one inter-op thread; OpenVINO with the latency hint, one stream and f32 inference precision (it
would otherwise pick bf16 on CPUs that have it); PyTorch in inference mode (OMP_WAIT_POLICY=PASSIVE
is set by compare.py, which is faster for it on a 2-core machine).
"""
import sys
import time

import numpy as np


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    return -1.0


def make_runner(system, model_file, threads):
    if system == "onnxruntime":
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sessions = {}

        def run(x):
            b = x.shape[0]
            if b not in sessions:
                sessions[b] = ort.InferenceSession(model_file.format(batch=b), opts, providers=["CPUExecutionProvider"])
            s = sessions[b]
            return s.run(None, {s.get_inputs()[0].name: x})[0]
        return run
    if system == "openvino":
        import openvino as ov
        core = ov.Core()
        config = {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY",
                  "NUM_STREAMS": 1}
        requests = {}

        def run(x):
            b = x.shape[0]
            if b not in requests:
                requests[b] = core.compile_model(core.read_model(model_file.format(batch=b)), "CPU", config).create_infer_request()
            r = requests[b]
            r.infer({0: x})
            return r.get_output_tensor(0).data
        return run
    if system == "pytorch":
        import torch
        torch.set_num_threads(threads)
        module = torch.load(model_file).eval()

        def run(x):
            with torch.inference_mode():
                return module(torch.from_numpy(x)).numpy()
        return run
    raise SystemExit(f"unknown system {system}")


def main():
    system, model_file, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    run = make_runner(system, model_file, threads)
    inputs = {}
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "quit":
            return
        if cmd[0] == "rss":
            print(f"{peak_rss_mib():.1f}", flush=True)
        elif cmd[0] == "run":
            b, src, dst = int(cmd[1]), cmd[2], cmd[3]
            with open(src + ".shape") as f:  # compare.py writes the input's shape beside it
                shape = tuple(int(v) for v in f.read().split())
            inputs[b] = np.fromfile(src, dtype=np.float32).reshape(shape)
            assert shape[0] == b
            np.asarray(run(inputs[b]), dtype=np.float32).tofile(dst)
            print("ok", flush=True)
        elif cmd[0] == "time":
            b, n = int(cmd[1]), int(cmd[2])
            x = inputs[b]
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                run(x)
                times.append((time.perf_counter() - t0) * 1000.0)
            print(" ".join(f"{t:.4f}" for t in times), flush=True)
        else:
            print(f"error: unknown command {line.strip()}", flush=True)


if __name__ == "__main__":
    main()
