#!/usr/bin/python3
"""PyTorch vs lamina: LayerNorm and RMSNorm, forward and forward+backward.

Run with /usr/bin/python3 (Debian's python3-torch).  Times torch's
nn.LayerNorm and a hand-written RMSNorm (x·rsqrt(mean(x²)+eps)·w; torch 1.13
has no nn.RMSNorm) at 4096x768 and 16384x1024 with the given thread count,
once with OMP_WAIT_POLICY=PASSIVE and once with the default policy (each in
its own process, since the policy is read at start-up), keeps torch's best,
then runs `lamina bench norm --json` the same way in the same run (the pair --rounds
times, alternating) and prints torch_time / lamina_time (best times over
all rounds; > 1 means lamina is faster).

    /usr/bin/python3 bench/torch_norm.py [--threads N] [--reps N] [--rounds N] [--lamina PATH] [--json]
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import better_policy, blas_env, lamina_bench_runs, median, torch_worker_runs  # noqa: E402

SHAPES = [(4096, 768), (16384, 1024)]


def torch_worker(threads, reps):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    out = []
    for rows, dim in SHAPES:
        x = torch.randn(rows, dim)
        dy = torch.randn(rows, dim)
        ln = torch.nn.LayerNorm(dim, eps=1e-5)
        w = torch.nn.Parameter(torch.ones(dim))

        def rms(t):
            return t * torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + 1e-5) * w

        for op, fn in (("layernorm", ln), ("rmsnorm", rms)):
            for pass_ in ("forward", "forward+backward"):
                xr = x.clone().requires_grad_(pass_ != "forward")
                times = []
                for r in range(reps + 1):
                    xr.grad = None
                    t0 = time.perf_counter()
                    if pass_ == "forward":
                        with torch.no_grad():
                            fn(xr)
                    else:
                        fn(xr).backward(dy)
                    dt = time.perf_counter() - t0
                    if r:
                        times.append(dt)
                times.sort()
                out.append({"op": op, "pass": pass_, "rows": rows, "dim": dim, "best_ms": 1e3 * times[0],
                            "median_ms": 1e3 * times[len(times) // 2]})
    json.dump(out, sys.stdout)


def shape_key(r):
    return (r["op"], r["pass"], r["rows"], r["dim"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1, help="alternate torch and lamina this many times (1)")
    ap.add_argument("--lamina", default=os.environ.get("LAMINA_BIN", "build/lamina"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_worker:
        torch_worker(a.threads, a.reps)
        return 0

    if a.rounds < 1 or a.reps < 1:
        print("torch_norm: --rounds and --reps must be at least 1", file=sys.stderr)
        return 2
    base_env, core = blas_env(a.lamina)
    torch_rounds, lam_rounds = [], []   # per round: {key: torch's better policy}, {key: lamina}
    try:
        for _ in range(a.rounds):
            torch_rounds.append(better_policy(
                torch_worker_runs(__file__, ["--threads", str(a.threads), "--reps", str(a.reps)], base_env),
                lambda out: out, shape_key, lambda r: r["best_ms"]))
            lam_rounds.append(better_policy(
                lamina_bench_runs(a.lamina, ["norm", "--threads", str(a.threads), "--reps", str(a.reps)]),
                lambda out: [dict(r, isa=out["isa"]) for r in out["results"]], shape_key, lambda r: r["best_ms"]))
    except RuntimeError as e:
        print(f"torch_norm: {e}", file=sys.stderr)
        return 1

    isa = next(iter(lam_rounds[0].values()))["isa"]
    rows_out = []
    for key, r in lam_rounds[0].items():
        ts = [tr[key] for tr in torch_rounds]
        ls = [lr[key] for lr in lam_rounds]
        t = min(ts, key=lambda x: x["best_ms"])
        lb = min(ls, key=lambda x: x["best_ms"])
        rows_out.append({"op": r["op"], "pass": r["pass"], "rows": r["rows"], "dim": r["dim"],
                         "torch_best_ms": t["best_ms"], "torch_median_ms": median([x["median_ms"] for x in ts]),
                         "torch_policy": t["policy"], "lamina_best_ms": lb["best_ms"],
                         "lamina_median_ms": median([x["median_ms"] for x in ls]),
                         "lamina_ratio_to_copy": lb["ratio_to_copy"], "speedup": t["best_ms"] / lb["best_ms"]})
    if a.json:
        json.dump({"threads": a.threads, "reps": a.reps, "isa": isa, "results": rows_out}, sys.stdout,
                  indent=1)
        print()
        return 0
    print(f"threads {a.threads}, reps {a.reps}, rounds {a.rounds}, lamina isa {isa}, OpenBLAS core {core}; "
          f"best (median) ms; "
          f"speedup = torch best / lamina best")
    print(f"{'op':<10} {'pass':<17} {'shape':>11} {'torch ms':>17} {'policy':>8} {'lamina ms':>17} {'speedup':>8}")
    for r in rows_out:
        shape = f"{r['rows']}x{r['dim']}"
        tt = f"{r['torch_best_ms']:.3f} ({r['torch_median_ms']:.3f})"
        lt = f"{r['lamina_best_ms']:.3f} ({r['lamina_median_ms']:.3f})"
        print(f"{r['op']:<10} {r['pass']:<17} {shape:>11} {tt:>17} {r['torch_policy']:>8} {lt:>17} "
              f"{r['speedup']:>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
