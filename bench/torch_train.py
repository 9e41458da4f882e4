#!/usr/bin/python3
"""PyTorch vs lamina: training steps of the same GPT on the same threads.

Trains the float32 PyTorch reference (tests/torch/ref_model.py) at layers 4,
heads 4, dim 256, ctx 128, batch 16, pre-LayerNorm, GELU-tanh, with AdamW
and gradient clipping on random bytes — in its own process, once with
OMP_WAIT_POLICY=PASSIVE and once with the default policy (torch's best is
kept) — then runs `lamina bench train --json` in the same run and prints
tokens/s of both and their ratio (> 1: lamina is faster).

    /usr/bin/python3 bench/torch_train.py [--threads N] [--steps N] [--lamina PATH] [--json]
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import blas_env  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CFG = {"layers": 4, "heads": 4, "dim": 256, "ctx": 128, "norm": "layernorm", "placement": "pre", "act": "gelu_tanh"}
BATCH = 16


def torch_worker(threads, steps):
    import torch
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "torch"))
    from ref_model import RefGPT

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = RefGPT(CFG)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.dim() == 2:
                p.normal_(0, 0.02)
    opt = torch.optim.AdamW(model.decay_groups(0.1), lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    data = torch.randint(0, 256, (BATCH, CFG["ctx"] + 1))
    times = []
    for s in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        _, loss = model(data[:, :-1], data[:, 1:], True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        if s:
            times.append(dt)
    mean = sum(times) / len(times)
    json.dump({"step_mean_ms": 1e3 * mean, "step_best_ms": 1e3 * min(times),
               "tokens_per_s": BATCH * CFG["ctx"] / mean}, sys.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--lamina", default=os.environ.get("LAMINA_BIN", "build/lamina"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_worker:
        torch_worker(a.threads, a.steps)
        return 0
    best = None
    base_env, core = blas_env(a.lamina)
    for policy in ("PASSIVE", None):
        env = dict(base_env)
        env.pop("OMP_WAIT_POLICY", None)
        if policy:
            env["OMP_WAIT_POLICY"] = policy
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--torch-worker", "--threads", str(a.threads),
                            "--steps", str(a.steps)], env=env, capture_output=True, text=True)
        if p.returncode:
            print(f"torch_train: torch worker failed ({policy or 'default'} policy):\n{p.stderr}", file=sys.stderr)
            return 1
        r = json.loads(p.stdout)
        r["policy"] = policy or "default"
        if best is None or r["tokens_per_s"] > best["tokens_per_s"]:
            best = r
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    p = subprocess.run([a.lamina, "bench", "train", "--json", "--threads", str(a.threads), "--steps", str(a.steps)],
                       capture_output=True, text=True, env=env)
    if p.returncode:
        print(f"torch_train: {a.lamina} bench train failed:\n{p.stderr}", file=sys.stderr)
        return 1
    lam = json.loads(p.stdout)
    out = {"threads": a.threads, "steps": a.steps, "blas_core": core, "torch": best, "lamina": lam,
           "speedup": lam["tokens_per_s"] / best["tokens_per_s"]}
    if a.json:
        json.dump(out, sys.stdout, indent=1)
        print()
        return 0
    print(f"GPT layers 4, heads 4, dim 256, ctx 128, batch 16; threads {a.threads}; mean over {a.steps} steps; "
          f"OpenBLAS core {core} for both")
    print(f"torch  ({best['policy']:>7}): {best['tokens_per_s']:8.0f} tokens/s  ({best['step_mean_ms']:.1f} ms/step)")
    print(f"lamina (PASSIVE): {lam['tokens_per_s']:8.0f} tokens/s  ({lam['step_mean_ms']:.1f} ms/step), "
          f"{lam['gflops']:.1f} GFLOP/s = {100 * lam['fraction_of_peak']:.1f}% of the FMA peak "
          f"({lam['fma_peak_gflops']:.1f} GFLOP/s, {lam['fma_peak_width']}-bit)")
    print(f"speedup: {out['speedup']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
