"""Shared by the comparison scripts: run PyTorch on the same BLAS kernels as lamina."""
import json
import os
import re
import subprocess
import sys


def blas_env(lamina):
    """os.environ with OPENBLAS_CORETYPE set to the core lamina runs on.

    PyTorch (Debian's) does its matrix products through the system OpenBLAS,
    which picks its kernels from OPENBLAS_CORETYPE or its own CPU detection;
    lamina corrects a detection it knows to be wrong (lam_blas_core_advice).
    Giving torch the same core keeps the comparison about the code above the
    BLAS.  Returns (env, core)."""
    env = dict(os.environ)
    p = subprocess.run([lamina, "--version"], capture_output=True, text=True)
    m = re.search(r"\(core ([A-Za-z0-9_]+)\)", p.stdout)
    core = m.group(1) if m else None
    for line in p.stdout.splitlines():
        if line.startswith("note: "):   # the user's OPENBLAS_CORETYPE holds the GEMMs back (both sides run on it)
            print(line, file=sys.stderr)
    if core and core != "unknown" and "OPENBLAS_CORETYPE" not in env:
        env["OPENBLAS_CORETYPE"] = core
    return env, env.get("OPENBLAS_CORETYPE", core or "unknown")


def torch_worker_runs(script, worker_args, env):
    """Runs `script --torch-worker WORKER_ARGS` once per OpenMP wait policy
    (PASSIVE, then the default: the policy is read at start-up, so each runs
    in its own process) and returns [(policy, the worker's JSON)].  Raises
    RuntimeError with the worker's stderr if one fails."""
    out = []
    for policy in ("PASSIVE", None):
        e = dict(env)
        e.pop("OMP_WAIT_POLICY", None)
        if policy:
            e["OMP_WAIT_POLICY"] = policy
        p = subprocess.run([sys.executable, os.path.abspath(script), "--torch-worker"] + worker_args, env=e,
                           capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError(f"torch worker failed ({policy or 'default'} policy):\n{p.stderr}")
        out.append((policy or "default", json.loads(p.stdout)))
    return out


def lamina_bench_runs(lamina, args):
    """`lamina bench ARGS --json` once per OpenMP wait policy, as PyTorch is
    run (PASSIVE, then the default), and returns [(policy, its JSON)].
    Raises RuntimeError with its stderr if one fails."""
    out = []
    for policy in ("PASSIVE", None):
        env = dict(os.environ)
        env.pop("OMP_WAIT_POLICY", None)
        if policy:
            env["OMP_WAIT_POLICY"] = policy
        p = subprocess.run([lamina, "bench"] + args + ["--json"], capture_output=True, text=True, env=env)
        if p.returncode:
            raise RuntimeError(f"{lamina} bench {' '.join(args)} failed ({policy or 'default'} policy):\n{p.stderr}")
        out.append((policy or "default", json.loads(p.stdout)))
    return out


def better_policy(runs, items, key, score):
    """From one side's [(policy, output)] runs: for each key(r) over the
    results r in items(output), the r with the lowest score(r) (the first on
    a tie), tagged with its policy.  Returns {key: result}."""
    best = {}
    for policy, out in runs:
        for r in items(out):
            k = key(r)
            if k not in best or score(r) < score(best[k]):
                best[k] = dict(r, policy=policy)
    return best


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
