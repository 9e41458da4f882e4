#!/usr/bin/python3
"""PyTorch vs lamina: the feed-forward layer, forward and forward+backward.

Times nn.Linear(768, 3072) -> nn.GELU(approximate='tanh') -> nn.Linear(3072, 768)
on 4096 rows with the given threads (in its own process, once with
OMP_WAIT_POLICY=PASSIVE and once with the default policy; torch's better
one is kept), then `lamina bench ffn --json` the same way, and repeats the
pair --rounds times, so that a noisy shared machine slows both alike.  Prints torch /
lamina (> 1: lamina is faster) from the best times over all rounds and per
round from the medians, and lamina / its bare GEMMs.

    /usr/bin/python3 bench/torch_ffn.py [--threads N] [--reps N] [--rounds N] [--lamina PATH] [--json]
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import better_policy, blas_env, lamina_bench_runs, median, torch_worker_runs  # noqa: E402

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
    ap.add_argument("--rounds", type=int, default=3, help="alternate torch and lamina this many times (3)")
    ap.add_argument("--lamina", default=os.environ.get("LAMINA_BIN", "build/lamina"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_worker:
        torch_worker(a.threads, a.reps)
        return 0
    if a.rounds < 1 or a.reps < 1:
        print("torch_ffn: --rounds and --reps must be at least 1", file=sys.stderr)
        return 2
    base_env, core = blas_env(a.lamina)
    rounds = []   # per round: {pass: {"torch": best-policy result, "lamina": lamina's result}}
    try:
        for _ in range(a.rounds):
            t = better_policy(torch_worker_runs(__file__, ["--threads", str(a.threads), "--reps", str(a.reps)],
                                                base_env),
                              lambda out: out, lambda r: r["pass"], lambda r: r["median_ms"])
            lm = better_policy(lamina_bench_runs(a.lamina, ["ffn", "--threads", str(a.threads), "--reps",
                                                            str(a.reps)]),
                               lambda out: [dict(r, isa=out["isa"]) for r in out["results"]], lambda r: r["pass"], lambda r: r["ffn_median_ms"])
            rounds.append({p: {"torch": t[p], "lamina": lm[p]} for p in t})
    except RuntimeError as e:
        print(f"torch_ffn: {e}", file=sys.stderr)
        return 1
    isa = next(iter(rounds[0].values()))["lamina"]["isa"]
    rows_out = []
    for pass_ in rounds[0]:
        rs = [rnd[pass_] for rnd in rounds]
        t_best = min(r["torch"]["best_ms"] for r in rs)
        l_best = min(r["lamina"]["ffn_best_ms"] for r in rs)
        per_round = [r["torch"]["median_ms"] / r["lamina"]["ffn_median_ms"] for r in rs]
        rows_out.append({"pass": pass_, "torch_best_ms": t_best,
                         "torch_median_ms": median([r["torch"]["median_ms"] for r in rs]),
                         "torch_policies": [r["torch"]["policy"] for r in rs],
                         "lamina_policies": [r["lamina"]["policy"] for r in rs], "lamina_best_ms": l_best,
                         "lamina_median_ms": median([r["lamina"]["ffn_median_ms"] for r in rs]),
                         "bare_gemm_best_ms": min(r["lamina"]["gemm_best_ms"] for r in rs),
                         "lamina_over_gemms_best": l_best / min(r["lamina"]["gemm_best_ms"] for r in rs),
                         "lamina_over_gemms_median": median([r["lamina"]["ratio"] for r in rs]),
                         "speedup_best": t_best / l_best, "speedup_median": median(per_round),
                         "speedup_rounds": per_round})
    if a.json:
        json.dump({"threads": a.threads, "reps": a.reps, "rounds": a.rounds, "blas_core": core,
                   "isa": isa, "results": rows_out}, sys.stdout, indent=1)
        print()
        return 0
    print(f"FFN {ROWS} rows, {DIM}->{HIDDEN}->{DIM}, GELU-tanh; threads {a.threads}; {a.rounds} rounds alternating "
          f"torch and lamina, {a.reps} reps each; lamina isa {isa}, OpenBLAS core {core} for both")
    print("ms: best over all rounds (median of the rounds' medians); lam/GEMMs: lamina over its bare GEMMs, "
          "best / best (median of the rounds' ratios)")
    print(f"{'pass':<17} {'torch ms':>15} {'lamina ms':>15} {'bare GEMMs':>10} {'lam/GEMMs':>14} "
          f"{'speedup best':>12} {'speedup per round':>20}")
    for r in rows_out:
        tt = f"{r['torch_best_ms']:.0f} ({r['torch_median_ms']:.0f})"
        lt = f"{r['lamina_best_ms']:.0f} ({r['lamina_median_ms']:.0f})"
        lg = f"{r['lamina_over_gemms_best']:.3f} ({r['lamina_over_gemms_median']:.3f})"
        pr = " ".join(f"{x:.2f}" for x in r["speedup_rounds"])
        print(f"{r['pass']:<17} {tt:>15} {lt:>15} {r['bare_gemm_best_ms']:>10.0f} {lg:>14} "
              f"{r['speedup_best']:>11.2f}x {pr:>20}")
    print("speedup best = torch best / lamina best; per round = torch median / lamina median in that round")
    return 0


if __name__ == "__main__":
    sys.exit(main())
