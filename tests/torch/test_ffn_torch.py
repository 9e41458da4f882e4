#!/usr/bin/python3
"""PyTorch as the oracle for lamina's Linear, activations and fused FFN.

torch.nn.functional.linear / relu / gelu (exact and approximate='tanh') /
silu and a gated FFN built from them, in float64, against lamina in float32,
over odd shapes (1x1x1, primes, hidden not a multiple of the vector width),
every activation, gated or not, with and without biases; gradients through
autograd; lamina's weight and bias gradients accumulated onto a start value.
"""
import ctypes

import numpy as np
import torch
import torch.nn.functional as Fn

from lamina_ctypes import F, Report, S, lib, ptr, rel_err, sig, lam_set_isa, lam_set_num_threads


class Ffn(ctypes.Structure):
    _fields_ = [("dim", S), ("hidden", S), ("act", ctypes.c_int), ("gated", ctypes.c_int),
                ("w1", F), ("b1", F), ("w3", F), ("b3", F), ("w2", F), ("b2", F)]


linear_fwd = sig("lam_linear_forward", None, F, F, F, F, S, S, S)
linear_bwd = sig("lam_linear_backward", None, F, F, F, F, F, F, S, S, S)
act_fwd = sig("lam_act_forward", None, F, F, S, ctypes.c_int)
act_bwd = sig("lam_act_backward", None, F, F, F, S, ctypes.c_int)
cache_floats = sig("lam_ffn_cache_floats", S, ctypes.POINTER(Ffn), S)
ffn_fwd = sig("lam_ffn_forward", None, ctypes.POINTER(Ffn), F, F, F, S)
ffn_bwd = sig("lam_ffn_backward", None, ctypes.POINTER(Ffn), ctypes.POINTER(Ffn), F, F, F, F, S)

ACTS = {0: ("relu", Fn.relu), 1: ("gelu", Fn.gelu), 2: ("gelu_tanh", lambda t: Fn.gelu(t, approximate="tanh")),
        3: ("silu", Fn.silu)}
rng = np.random.default_rng(1234)
rep = Report("ffn vs torch")


def randn(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def t64(a, grad=False):
    return torch.tensor(a.astype(np.float64), requires_grad=grad)


def tol(*sizes):
    return 3e-6 * (1 + max(sizes) ** 0.5)


def check_linear(rows, n_in, n_out, bias):
    x, w, b, dy = randn(rows, n_in), randn(n_out, n_in, scale=n_in ** -0.5), randn(n_out), randn(rows, n_out)
    y = np.zeros((rows, n_out), np.float32)
    linear_fwd(ptr(y), ptr(x), ptr(w), ptr(b) if bias else None, rows, n_in, n_out)
    tx, tw, tb = t64(x, True), t64(w, True), t64(b, True)
    ty = Fn.linear(tx, tw, tb if bias else None)
    ty.backward(t64(dy))
    rep.check(rel_err(y, ty.detach()) <= tol(n_in), f"linear {rows}x{n_in}x{n_out} bias={bias} forward")
    dx = np.full_like(x, 1e30)
    dw, db = np.full_like(w, 0.5), np.full_like(b, -0.5)
    linear_bwd(ptr(dx), ptr(dw), ptr(db) if bias else None, ptr(dy), ptr(x), ptr(w), rows, n_in, n_out)
    rep.check(rel_err(dx, tx.grad) <= tol(n_out), f"linear {rows}x{n_in}x{n_out} dx")
    rep.check(rel_err(dw, tw.grad.numpy() + 0.5) <= tol(rows), f"linear {rows}x{n_in}x{n_out} dw accumulated")
    if bias:
        rep.check(rel_err(db, tb.grad.numpy() - 0.5) <= tol(rows), f"linear {rows}x{n_in}x{n_out} db accumulated")


def check_act(act):
    name, fn = ACTS[act]
    # the range torch evaluates accurately in float64: its 0.5·x·(1 + tanh u) and
    # 0.5·x·(1 + erf) cancel to 0 in the negative tail (lamina's tails are checked
    # against long-double references in tests/c/test_activation.c)
    x = np.concatenate([np.linspace(-5, 8, 4001), np.clip(randn(997) * 3, -5, None)]).astype(np.float32)
    y, dx = np.zeros_like(x), np.zeros_like(x)
    dy = randn(x.size)
    act_fwd(ptr(y), ptr(x), x.size, act)
    act_bwd(ptr(dx), ptr(dy), ptr(x), x.size, act)
    tx = t64(x, True)
    ty = fn(tx)
    ty.backward(t64(dy))
    ref = ty.detach().numpy()
    err = np.max(np.abs(y - ref) / np.maximum(np.abs(ref), 1e-30))
    rep.check(err <= 1e-6, f"{name} forward: max relative error {err:.3g}")
    g = tx.grad.numpy()
    err = np.max(np.abs(dx - g) / np.maximum(np.abs(g), np.abs(dy)))
    rep.check(err <= 4e-6, f"{name} backward: max error {err:.3g} (relative to |dy|)")


def check_ffn(rows, dim, hidden, act, gated, bias):
    name, fn = ACTS[act]
    x, dy = randn(rows, dim), randn(rows, dim)
    w1, w3 = randn(hidden, dim, scale=dim ** -0.5), randn(hidden, dim, scale=dim ** -0.5)
    w2 = randn(dim, hidden, scale=hidden ** -0.5)
    b1, b3, b2 = randn(hidden, scale=0.5), randn(hidden, scale=0.5), randn(dim, scale=0.5)
    nb = lambda a: ptr(a) if bias else None
    f = Ffn(dim, hidden, act, gated, ptr(w1), nb(b1), ptr(w3) if gated else None, nb(b3) if gated else None,
            ptr(w2), nb(b2))
    cache = np.zeros(cache_floats(ctypes.byref(f), rows), np.float32)
    y = np.zeros((rows, dim), np.float32)
    ffn_fwd(ctypes.byref(f), ptr(y), ptr(cache), ptr(x), rows)
    grads = [np.full_like(a, 0.25) for a in (w1, b1, w3, b3, w2, b2)]
    g = Ffn(dim, hidden, act, gated, *[ptr(a) for a in grads])
    dx = np.zeros_like(x)
    ffn_bwd(ctypes.byref(f), ctypes.byref(g), ptr(dx), ptr(dy), ptr(x), ptr(cache), rows)

    T = [t64(a, True) for a in (w1, b1, w3, b3, w2, b2, x)]
    tb = (lambda t: t) if bias else (lambda t: None)
    h = fn(Fn.linear(T[6], T[0], tb(T[1])))
    if gated:
        h = h * Fn.linear(T[6], T[2], tb(T[3]))
    out = Fn.linear(h, T[4], tb(T[5]))
    out.backward(t64(dy))
    what = f"ffn {rows}x{dim}x{hidden} {name} gated={gated} bias={bias}"
    t = tol(rows, dim, hidden)
    rep.check(rel_err(y, out.detach()) <= t, f"{what}: forward {rel_err(y, out.detach()):.3g}")
    rep.check(rel_err(dx, T[6].grad) <= t, f"{what}: dx {rel_err(dx, T[6].grad):.3g}")
    names = ["w1", "b1", "w3", "b3", "w2", "b2"]
    for i, (a, tt) in enumerate(zip(grads, T[:6])):
        if (not gated and names[i] in ("w3", "b3")) or (not bias and names[i].startswith("b")):
            rep.check(np.all(a == 0.25), f"{what}: d{names[i]} must be untouched")
            continue
        e = rel_err(a, tt.grad.numpy() + 0.25)
        rep.check(e <= t, f"{what}: d{names[i]} accumulated, error {e:.3g}")


def main():
    lam_set_num_threads(2)
    for isa in (b"generic", b"avx2", b"avx512"):
        if lam_set_isa(isa) != 0:
            continue
        for act in ACTS:
            check_act(act)
    lam_set_isa(b"avx512") == 0 or lam_set_isa(b"avx2") == 0 or lam_set_isa(b"generic")
    for shape in ((1, 1, 1), (2, 3, 5), (7, 13, 11), (1, 64, 1), (131, 67, 37)):
        for bias in (0, 1):
            check_linear(*shape, bias)
    for rows, dim, hidden in ((1, 1, 1), (5, 7, 13), (31, 17, 43), (600, 24, 36)):
        for act in ACTS:
            for gated in (0, 1):
                for bias in (0, 1):
                    check_ffn(rows, dim, hidden, act, gated, bias)
    rep.done()


if __name__ == "__main__":
    main()
