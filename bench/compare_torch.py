#!/usr/bin/env python3
"""lamina against PyTorch, side by side in one run.

    /usr/bin/python3 bench/compare_torch.py [norm|ffn|train|all] [--threads N] [--lamina PATH]

Runs the per-topic comparison scripts beside this file (torch_norm.py,
torch_ffn.py, torch_train.py), each of which times PyTorch and `lamina bench`
on the same shapes and threads in the same run and prints the ratios.
Use Debian's /usr/bin/python3 (python3-torch).
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOPICS = ["norm", "ffn", "train"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("topic", nargs="?", default="all", choices=TOPICS + ["all"])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--lamina", default=os.environ.get("LAMINA_BIN", os.path.join(HERE, "..", "build", "lamina")))
    args = ap.parse_args()
    status = 0
    for t in TOPICS if args.topic == "all" else [args.topic]:
        script = os.path.join(HERE, f"torch_{t}.py")
        if not os.path.exists(script):
            print(f"compare_torch: {script} is missing", file=sys.stderr)
            status = 1
            continue
        print(f"==== {t}", flush=True)
        rc = subprocess.call([sys.executable, script, "--threads", str(args.threads), "--lamina", args.lamina])
        status = status or rc
    sys.exit(status)


if __name__ == "__main__":
    main()
