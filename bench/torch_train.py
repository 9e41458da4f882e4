#!/usr/bin/python3
"""PyTorch vs lamina: training steps of the same GPT on the same threads.

Trains the float32 PyTorch reference (tests/torch/ref_model.py) at layers 4,
heads 4, dim 256, ctx 128, batch 16, pre-LayerNorm, GELU-tanh, with AdamW
and gradient clipping on random bytes — in its own process, once with
OMP_WAIT_POLICY=PASSIVE and once with the default policy (torch's better
one is kept) — then `lamina bench train --json` the same way, and repeats the pair
--rounds times so that a noisy shared machine slows both alike.  Prints
tokens/s of both per round and their ratio (> 1: lamina is faster), and the
ratio of the best steps over all rounds.

    /usr/bin/python3 bench/torch_train.py [--threads N] [--steps N] [--rounds N] [--lamina PATH] [--json]
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import better_policy, blas_env, lamina_bench_runs, median, torch_worker_runs  # noqa: E402

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
    ap.add_argument("--rounds", type=int, default=3, help="alternate torch and lamina this many times (3)")
    ap.add_argument("--lamina", default=os.environ.get("LAMINA_BIN", "build/lamina"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_worker:
        torch_worker(a.threads, a.steps)
        return 0
    if a.rounds < 1 or a.steps < 1:
        print("torch_train: --rounds and --steps must be at least 1", file=sys.stderr)
        return 2
    base_env, core = blas_env(a.lamina)
    rounds = []   # per round: (torch's better policy, lamina)
    try:
        for _ in range(a.rounds):
            one = (lambda out: [out], lambda r: 0, lambda r: -r["tokens_per_s"])
            best = better_policy(torch_worker_runs(__file__, ["--threads", str(a.threads), "--steps",
                                                              str(a.steps)], base_env), *one)[0]
            lam = better_policy(lamina_bench_runs(a.lamina, ["train", "--threads", str(a.threads), "--steps",
                                                             str(a.steps)]), *one)[0]
            rounds.append((best, lam))
    except RuntimeError as e:
        print(f"torch_train: {e}", file=sys.stderr)
        return 1
    per_round = [lam["tokens_per_s"] / t["tokens_per_s"] for t, lam in rounds]
    t_best = min(t["step_best_ms"] for t, _ in rounds)
    l_best = min(lam["step_best_ms"] for _, lam in rounds)
    lam = max((lam for _, lam in rounds), key=lambda r: r["tokens_per_s"])
    out = {"threads": a.threads, "steps": a.steps, "rounds": a.rounds, "blas_core": core,
           "torch": [t for t, _ in rounds], "lamina": [l for _, l in rounds],
           "speedup_best_step": t_best / l_best, "speedup_median": median(per_round), "speedup_rounds": per_round}
    if a.json:
        json.dump(out, sys.stdout, indent=1)
        print()
        return 0
    print(f"GPT layers 4, heads 4, dim 256, ctx 128, batch 16; threads {a.threads}; {a.rounds} rounds alternating "
          f"torch and lamina, {a.steps} steps each; OpenBLAS core {core} for both; lamina isa {lam['isa']}")
    for i, (t, l) in enumerate(rounds):
        print(f"round {i + 1}: torch ({t['policy']:>7}) {t['tokens_per_s']:6.0f} tokens/s, lamina ({l['policy']:>7}) "
              f"{l['tokens_per_s']:6.0f} tokens/s -> {per_round[i]:.2f}x")
    print(f"best step: torch {t_best:.1f} ms, lamina {l_best:.1f} ms -> {out['speedup_best_step']:.2f}x; "
          f"median of the rounds: {out['speedup_median']:.2f}x")
    print(f"lamina's best round: {lam['gflops']:.1f} GFLOP/s = {100 * lam['fraction_of_peak']:.1f}% of the FMA peak "
          f"({lam['fma_peak_gflops']:.1f} GFLOP/s, {lam['fma_peak_width']}-bit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
