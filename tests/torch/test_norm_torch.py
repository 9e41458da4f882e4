"""LayerNorm, RMSNorm and BatchNorm against PyTorch (float64 as the oracle).

Random and adversarial inputs, with and without gamma/beta, forward and
backward (autograd), BatchNorm running statistics over several steps and eval
mode, on both ISA paths.  RMSNorm is written out by hand (no nn.RMSNorm in
torch 1.13).
"""
import ctypes
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lamina_ctypes import F, S, Report, lam_set_isa, lam_set_num_threads, ptr, sig  # noqa: E402

c_float, c_int = ctypes.c_float, ctypes.c_int
ln_fwd = sig("lam_layernorm_forward", None, F, F, F, F, F, F, S, S, c_float)
ln_bwd = sig("lam_layernorm_backward", None, F, F, F, F, F, F, F, F, S, S)
rms_fwd = sig("lam_rmsnorm_forward", None, F, F, F, F, S, S, c_float)
rms_bwd = sig("lam_rmsnorm_backward", None, F, F, F, F, F, F, S, S)
bn_fwd = sig("lam_batchnorm_forward", None, F, F, F, F, F, F, F, F, S, S, c_float, c_float, c_int)
bn_bwd = sig("lam_batchnorm_backward", None, F, F, F, F, F, F, F, F, S, S)

torch.set_num_threads(1)
rep = Report("test_norm_torch")
EPS = 1e-5


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def lamina_rowwise(kind, x, gamma, beta, dy, eps):
    """LayerNorm or RMSNorm through lamina: y, dx, dgamma, dbeta (accumulated on 0.5)."""
    rows, dim = x.shape
    y = np.empty_like(x)
    mean = np.empty(rows, np.float32)
    rstd = np.empty(rows, np.float32)
    dx = np.empty_like(x)
    dg = np.full(dim, 0.5, np.float32)
    db = np.full(dim, 0.5, np.float32)
    if kind == "layernorm":
        ln_fwd(ptr(y), ptr(mean), ptr(rstd), ptr(x), ptr(gamma), ptr(beta), rows, dim, eps)
        ln_bwd(ptr(dx), ptr(dg), ptr(db), ptr(dy), ptr(x), ptr(gamma), ptr(mean), ptr(rstd), rows, dim)
    else:
        rms_fwd(ptr(y), ptr(rstd), ptr(x), ptr(gamma), rows, dim, eps)
        rms_bwd(ptr(dx), ptr(dg), ptr(dy), ptr(x), ptr(gamma), ptr(rstd), rows, dim)
    return y, dx, dg - 0.5, db - 0.5


def torch_rowwise(kind, x, gamma, beta, dy, eps):
    """The float64 oracle: y, dx, dgamma, dbeta, and per-row mean, rstd."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    # Without gamma/beta lamina gets NULL and still accumulates dgamma (and
    # dbeta); the oracle uses ones/zeros, which is the same function.
    dim = x.shape[1]
    gt = torch.tensor(gamma if gamma is not None else np.ones(dim), dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(beta if beta is not None else np.zeros(dim), dtype=torch.float64, requires_grad=True)
    if kind == "layernorm":
        y = torch.nn.functional.layer_norm(xt, (x.shape[1],), gt, bt, eps)
        mean = xt.detach().mean(-1)
        rstd = torch.rsqrt(xt.detach().var(-1, unbiased=False) + eps)
    else:  # RMSNorm by hand: x·rsqrt(mean(x²) + eps)·gamma
        rstd_t = torch.rsqrt(xt.pow(2).mean(-1, keepdim=True) + eps)
        y = xt * rstd_t * gt
        mean = torch.zeros(x.shape[0], dtype=torch.float64)
        rstd = rstd_t.detach()[:, 0]
    y.backward(torch.tensor(dy, dtype=torch.float64))
    dbeta = bt.grad.numpy() if kind == "layernorm" else np.zeros(dim)
    return y.detach().numpy(), xt.grad.numpy(), gt.grad.numpy(), dbeta, mean.numpy(), rstd.numpy()


def allowance_check(what, got, ref, tol, extra=0.0):
    """|got - ref| <= tol·max|ref| + extra (elementwise, extra broadcast); NaN fails."""
    got = np.asarray(got, np.float64)
    scale = max(float(np.max(np.abs(ref))), 1e-30)
    ok = np.abs(got - ref) <= tol * scale + extra
    worst = float(np.max(np.abs(got - ref) / (tol * scale + extra)))
    return rep.check(bool(np.all(ok)), f"{what}: error {worst:.3g} x allowance (tol {tol:g})")


def check_rowwise(kind, isa, x, affine, eps, what, seed):
    rng = np.random.default_rng(seed)
    rows, dim = x.shape
    gamma = f32(rng.normal(1.0, 0.5, dim)) if affine else None
    beta = f32(rng.normal(0.0, 0.5, dim)) if affine and kind == "layernorm" else None
    dy = f32(rng.normal(0.0, 1.0, x.shape))
    y, dx, dg, db = lamina_rowwise(kind, x, gamma, beta, dy, eps)
    yr, dxr, dgr, dbr, mr, rr = torch_rowwise(kind, x, gamma, beta, dy, eps)
    # The mean has to be rounded to float: x̂ may be off by a = 2^-23·|mean|·rstd
    # (see tests/c/test_norm.c); dx is a difference of terms of size
    # d = rstd·max|dy·gamma| per row.
    a = (2.0 ** -23 * np.abs(mr) * rr)[:, None]
    g = np.abs(gamma.astype(np.float64)) if gamma is not None else 1.0
    d = (rr * np.max(np.abs(dy * (gamma if gamma is not None else 1.0)), axis=1))[:, None]
    tag = f"{isa} {kind} {what} {rows}x{dim} affine={affine}"
    allowance_check(tag + " y", y, yr, 2e-6, a * g)
    dxscale = max(float(np.max(np.abs(dxr))), 1e-30)
    allowance_check(tag + " dx", dx, dxr, 3e-5, 3e-5 * np.maximum(d - dxscale, 0) + a * d)
    allowance_check(tag + " dgamma", dg, dgr, 3e-5, np.sum(np.abs(dy) * a, axis=0) + 1e-6)
    if kind == "layernorm":
        allowance_check(tag + " dbeta", db, dbr, 3e-5, 1e-6)


def lamina_bn(x, gamma, beta, rm, rv, training, dy, momentum=0.1):
    rows, dim = x.shape
    y = np.empty_like(x)
    mean = np.empty(dim, np.float32)
    rstd = np.empty(dim, np.float32)
    bn_fwd(ptr(y), ptr(mean), ptr(rstd), ptr(rm), ptr(rv), ptr(x), ptr(gamma), ptr(beta), rows, dim, EPS,
           momentum, int(training))
    if dy is None:
        return y, None, None, None
    dx = np.empty_like(x)
    dg = np.zeros(dim, np.float32)
    db = np.zeros(dim, np.float32)
    bn_bwd(ptr(dx), ptr(dg), ptr(db), ptr(dy), ptr(x), ptr(gamma), ptr(mean), ptr(rstd), rows, dim)
    return y, dx, dg, db


def check_batchnorm(isa, seed):
    rng = np.random.default_rng(seed)
    for rows, dim, affine in [(2, 3, True), (64, 17, True), (300, 100, False), (1000, 33, True)]:
        bn = torch.nn.BatchNorm1d(dim, eps=EPS, momentum=0.1, affine=affine).double()
        gamma = f32(rng.normal(1.0, 0.5, dim)) if affine else None
        beta = f32(rng.normal(0.0, 0.5, dim)) if affine else None
        if affine:
            with torch.no_grad():
                bn.weight.copy_(torch.tensor(gamma, dtype=torch.float64))
                bn.bias.copy_(torch.tensor(beta, dtype=torch.float64))
        rm = np.zeros(dim, np.float32)
        rv = np.ones(dim, np.float32)
        tag = f"{isa} batchnorm {rows}x{dim} affine={affine}"
        for step in range(4):
            offset = [0.0, 1e4, -3.0, 50.0][step]
            x = f32(rng.normal(offset, 1.0 + step, (rows, dim)))
            dy = f32(rng.normal(0.0, 1.0, (rows, dim)))
            y, dx, dg, db = lamina_bn(x, gamma, beta, rm, rv, True, dy)
            bn.train()
            for p in bn.parameters():
                p.grad = None
            xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
            yt = bn(xt)
            yt.backward(torch.tensor(dy, dtype=torch.float64))
            xd = x.astype(np.float64)
            mr, rr = xd.mean(0), 1.0 / np.sqrt(xd.var(0) + EPS)
            a = 2.0 ** -23 * np.abs(mr) * rr
            g = np.abs(gamma.astype(np.float64)) if affine else 1.0
            d = rr * np.max(np.abs(dy * (gamma if affine else 1.0)), axis=0)
            dxs = max(float(np.max(np.abs(xt.grad.numpy()))), 1e-30)
            allowance_check(f"{tag} step {step} y", y, yt.detach().numpy(), 2e-6, a * g)
            allowance_check(f"{tag} step {step} dx", dx, xt.grad.numpy(), 3e-5,
                            3e-5 * np.maximum(d - dxs, 0) + a * d)
            if affine:
                allowance_check(f"{tag} step {step} dgamma", dg, bn.weight.grad.numpy(), 3e-5,
                                np.sum(np.abs(dy) * a, axis=0) + 1e-6)
                allowance_check(f"{tag} step {step} dbeta", db, bn.bias.grad.numpy(), 3e-5, 1e-6)
            # the batch mean is exact to float rounding of the data's magnitude
            allowance_check(f"{tag} step {step} running_mean", rm, bn.running_mean.numpy(), 1e-6,
                            2.0 ** -23 * float(np.max(np.abs(x))))
            allowance_check(f"{tag} step {step} running_var", rv, bn.running_var.numpy(), 1e-6)
        bn.eval()
        x = f32(rng.normal(20.0, 3.0, (rows, dim)))
        rm0, rv0 = rm.copy(), rv.copy()
        y, _, _, _ = lamina_bn(x, gamma, beta, rm, rv, False, None)
        with torch.no_grad():
            yr = bn(torch.tensor(x, dtype=torch.float64)).numpy()
        a = 2.0 ** -23 * np.abs(rm.astype(np.float64)) / np.sqrt(rv.astype(np.float64) + EPS)
        allowance_check(f"{tag} eval y", y, yr, 2e-6, a * (np.abs(gamma) if affine else 1.0))
        rep.check(np.array_equal(rm, rm0) and np.array_equal(rv, rv0), f"{tag} eval changed running stats")


def main():
    seed = 1
    for isa in ("generic", "avx2"):
        if lam_set_isa(isa.encode()) != 0:
            rep.check(False, f"cannot select isa {isa}")
            continue
        lam_set_num_threads(2)
        rng = np.random.default_rng(7)
        for kind in ("layernorm", "rmsnorm"):
            for rows, dim in [(1, 3), (5, 7), (37, 13), (4, 127), (64, 768), (257, 1000), (1, 65536)]:
                for affine in (False, True):
                    seed += 1
                    check_rowwise(kind, isa, f32(rng.normal(0.5, 2.0, (rows, dim))), affine, EPS, "random", seed)
            # adversarial
            cases = [
                ("offset 1e4", lambda r, d: rng.normal(1e4, 1.0, (r, d))),
                ("scale 1e-20", lambda r, d: rng.normal(0.0, 1e-20, (r, d))),
                ("scale 1e20", lambda r, d: rng.normal(0.0, 1e20, (r, d))),
                ("1e20 + N(0,1e19)", lambda r, d: rng.normal(1e20, 1e19, (r, d))),
                ("mixed rows", lambda r, d: rng.normal(0.0, 1.0, (r, d)) * np.logspace(-15, 15, r)[:, None]),
            ]
            for what, gen in cases:
                for affine in (False, True):
                    for eps in (EPS, 0.0):
                        seed += 1
                        check_rowwise(kind, isa, f32(gen(16, 33)), affine, eps, f"{what} eps={eps:g}", seed)
        # constant rows: y = beta
        x = f32(np.repeat(np.array([0.0, 1.0, 1e4 + 0.1, -7.5, 1e20], np.float32)[:, None], 77, axis=1))
        beta = f32(rng.normal(0, 1, 77))
        gamma = f32(rng.normal(1, 0.3, 77))
        y, dx, _, _ = lamina_rowwise("layernorm", x, gamma, beta, f32(rng.normal(0, 1, x.shape)), EPS)
        rep.check(float(np.max(np.abs(y - beta))) <= 1e-3 and np.all(np.isfinite(dx)),
                  f"{isa} layernorm constant rows: |y - beta| = {float(np.max(np.abs(y - beta))):.3g}")
        check_batchnorm(isa, 100 + seed)
    rep.done()


if __name__ == "__main__":
    main()
