#!/usr/bin/env python3
"""Chebyshev coefficients for erfcx(a) = exp(a^2)·erfc(a), a >= 0, in the
variable t = (a - K)/(a + K), as used by the AVX2 exact-GELU kernel
(src/kernels/avx2/act_avx2.c).  Prints the C array and the fit's largest
relative error on a dense grid of a in [0, 22] (x down to -31 in GELU).

    /usr/bin/python3 scripts/fit_erfcx.py [N] [K]     (default 18 terms, K = 3)

The reference is Python's math.erfc (correctly rounded to ~1 ulp in double)
times exp(a^2), and the asymptotic series beyond a = 25 where exp(a^2) would
overflow; the coefficients come from the discrete cosine transform at M
Chebyshev nodes.
"""
import math
import sys

import numpy as np


def erfcx(a):
    if a < 25:
        return math.exp(a * a) * math.erfc(a)
    s, term = 1.0, 1.0
    for k in range(1, 14):
        term *= -(2 * k - 1) / (2 * a * a)
        s += term
    return s / (a * math.sqrt(math.pi))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 18
    k = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    m = 256
    j = np.arange(m)
    t = np.cos(np.pi * (j + 0.5) / m)
    f = np.array([erfcx(k * (1 + v) / (1 - v)) for v in t])
    c = np.array([2.0 / m * np.sum(f * np.cos(np.pi * i * (j + 0.5) / m)) for i in range(n)])
    c[0] /= 2
    a = np.concatenate([np.linspace(0, 1, 4001), np.linspace(1, 22, 40001)])
    approx = np.polynomial.chebyshev.chebval((a - k) / (a + k), c)
    ref = np.array([erfcx(v) for v in a])
    print(f"/* erfcx in t = (a - {k:g})/(a + {k:g}): {n} Chebyshev terms, largest relative error "
          f"{np.max(np.abs(approx / ref - 1)):.2e} for a in [0, 22] (scripts/fit_erfcx.py) */")
    print(f"static const double erfcx_cheb[{n}] = {{")
    for i in range(0, n, 3):
        print("    " + ", ".join(f"{v:.17e}" for v in c[i:i + 3]) + ",")
    print("};")


if __name__ == "__main__":
    main()
