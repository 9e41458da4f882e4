"""Shared by the comparison scripts: run PyTorch on the same BLAS kernels as lamina."""
import os
import re
import subprocess


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
    if core and core != "unknown" and "OPENBLAS_CORETYPE" not in env:
        env["OPENBLAS_CORETYPE"] = core
    return env, env.get("OPENBLAS_CORETYPE", core or "unknown")
