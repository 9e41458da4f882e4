#!/usr/bin/python3
"""PyTorch vs lamina: the feed-forward layer, forward and forward+backward.

Times nn.Linear(768, 3072) -> nn.GELU(approximate='tanh') -> nn.Linear(3072, 768)
on 4096 rows with the given threads (in its own process, once with
OMP_WAIT_POLICY=PASSIVE and once with the default policy; torch's best is
kept), then runs `lamina bench ffn --json` in the same run and prints
torch / lamina (> 1: lamina is faster) and lamina / its bare GEMMs.

    /usr/bin/python3 bench/torch_ffn.py [--threads N] [--reps N] [--lamina PATH] [--json]
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import blas_env  # noqa: E402

ROWS, DIM, HIDDEN = 4096, 768, 3072


def torch_worker(threads, reps):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(DIM, HIDDEN), torch.nn.GELU(approximate="tanh"),
                                torch.nn.Linear(HIDDEN, DIM))
    x = torch.randn(ROWS, DIM, requires_grad=True)
    dy = torch.randn(ROWS, DIM)
    out = []
    for pass_ in ("forward", "forward+backward"):
        times = []
        for r in range(reps + 1):
            model.zero_grad(set_to_none=False)
            x.grad = None
            t0 = time.perf_counter()
            if pass_ == "forward":
                with torch.no_grad():
                    model(x)
            else:
                model(x).backward(dy)
            dt = time.perf_counter() - t0
            if r:
                times.append(dt)
        times.sort()
        out.append({"pass": pass_, "best_ms": 1e3 * times[0], "median_ms": 1e3 * times[len(times) // 2]})
    json.dump(out, sys.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--lamina", default=os.environ.get("LAMINA_BIN", "build/lamina"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_worker:
        torch_worker(a.threads, a.reps)
        return 0
    torch_res = {}
    base_env, core = blas_env(a.lamina)
    for policy in ("PASSIVE", None):
        env = dict(base_env)
        env.pop("OMP_WAIT_POLICY", None)
        if policy:
            env["OMP_WAIT_POLICY"] = policy
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--torch-worker", "--threads", str(a.threads),
                            "--reps", str(a.reps)], env=env, capture_output=True, text=True)
        if p.returncode:
            print(f"torch_ffn: torch worker failed ({policy or 'default'} policy):\n{p.stderr}", file=sys.stderr)
            return 1
        for r in json.loads(p.stdout):
            r["policy"] = policy or "default"
            if r["pass"] not in torch_res or r["median_ms"] < torch_res[r["pass"]]["median_ms"]:
                torch_res[r["pass"]] = r
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    p = subprocess.run([a.lamina, "bench", "ffn", "--json", "--threads", str(a.threads), "--reps", str(a.reps)],
                       capture_output=True, text=True, env=env)
    if p.returncode:
        print(f"torch_ffn: {a.lamina} bench ffn failed:\n{p.stderr}", file=sys.stderr)
        return 1
    lam = json.loads(p.stdout)
    rows_out = []
    for r in lam["results"]:
        t = torch_res[r["pass"]]
        rows_out.append({"pass": r["pass"], "torch_best_ms": t["best_ms"], "torch_median_ms": t["median_ms"],
                         "torch_policy": t["policy"], "lamina_best_ms": r["ffn_best_ms"],
                         "lamina_median_ms": r["ffn_median_ms"], "bare_gemm_median_ms": r["gemm_median_ms"],
                         "lamina_over_gemms": r["ratio"], "speedup": t["median_ms"] / r["ffn_median_ms"]})
    if a.json:
        json.dump({"threads": a.threads, "reps": a.reps, "isa": lam["isa"], "results": rows_out}, sys.stdout, indent=1)
        print()
        return 0
    print(f"FFN {ROWS} rows, {DIM}->{HIDDEN}->{DIM}, GELU-tanh; threads {a.threads}, reps {a.reps}, "
          f"lamina isa {lam['isa']}, OpenBLAS core {core} for both; best (median) ms; speedup = torch median / lamina median")
    print(f"{'pass':<17} {'torch ms':>17} {'policy':>8} {'lamina ms':>17} {'bare GEMMs':>10} {'lam/GEMMs':>9} "
          f"{'speedup':>8}")
    for r in rows_out:
        tt = f"{r['torch_best_ms']:.1f} ({r['torch_median_ms']:.1f})"
        lt = f"{r['lamina_best_ms']:.1f} ({r['lamina_median_ms']:.1f})"
        print(f"{r['pass']:<17} {tt:>17} {r['torch_policy']:>8} {lt:>17} {r['bare_gemm_median_ms']:>10.1f} "
              f"{r['lamina_over_gemms']:>9.3f} {r['speedup']:>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
