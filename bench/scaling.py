#!/usr/bin/env python3
"""Data-parallel scaling on paper: ring all-reduce time against compute time.

    bench/scaling.py [--gflops G] [--latency-us A]

Per optimizer step every rank sends and receives 2·(N−1)/N × the gradient
bytes (a ring all-reduce: reduce-scatter then all-gather), in 2·(N−1) steps
that each pay the link latency.  Compute per token is ≈ 6 × parameters FLOPs
(forward and backward of the matrix products; attention adds a little at
these context lengths).  With no overlap a step takes compute + communication;
with perfect overlap max(compute, communication).  The crossover is the number
of tokens per rank per step at which the two are equal: below it communication
dominates.  --gflops is one node's sustained training FLOP/s (default: what
`lamina bench train` measured on this 2-core machine).  Prints Markdown.
"""
import argparse

MODELS = [  # name, parameters
    ("lamina default (L4, d256)", 3.26e6),
    ("GPT-2 small", 124e6),
    ("GPT-2 medium", 355e6),
    ("GPT-2 large", 774e6),
]
LINKS = [("10 Gb/s", 10e9 / 8), ("100 Gb/s", 100e9 / 8)]
NODES = [2, 4, 8, 16, 32, 64]


def comm_seconds(params, nodes, bandwidth, latency):
    grad_bytes = 4 * params
    return 2 * (nodes - 1) / nodes * grad_bytes / bandwidth + 2 * (nodes - 1) * latency


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gflops", type=float, default=121.0, help="sustained training GFLOP/s of one node")
    ap.add_argument("--latency-us", type=float, default=20.0, help="per-message link latency, microseconds")
    ap.add_argument("--tokens", type=int, default=16 * 128, help="tokens per rank per step for the efficiency table")
    a = ap.parse_args()
    rate = a.gflops * 1e9
    lat = a.latency_us * 1e-6
    print(f"Node: {a.gflops:g} GFLOP/s sustained; link latency {a.latency_us:g} us; "
          f"{a.tokens} tokens per rank per step.\n")
    print("| model | gradient MB | link | " + " | ".join(f"{n} nodes" for n in NODES) + " | crossover tokens/rank (64 nodes) |")
    print("|---|---|---|" + "---|" * len(NODES) + "---|")
    for name, p in MODELS:
        compute = 6 * p * a.tokens / rate
        for lname, bw in LINKS:
            cells = []
            for n in NODES:
                c = comm_seconds(p, n, bw, lat)
                cells.append(f"{compute / (compute + c):.0%} / {min(1.0, compute / c):.0%}")
            cross = comm_seconds(p, 64, bw, lat) * rate / (6 * p)
            print(f"| {name} | {4 * p / 1e6:.0f} | {lname} | " + " | ".join(cells) + f" | {cross:,.0f} |")
    print("\nEach cell: efficiency without overlap / with perfect overlap "
          "(compute ÷ step time; 100 % = linear scaling).")


if __name__ == "__main__":
    main()
