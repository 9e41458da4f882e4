"""ctypes bindings to liblamina for the PyTorch oracle tests.

The library path comes from $LAMINA_LIB (ctest sets it); arrays are numpy
float32, C-contiguous.  `ptr(a)` passes an array (or None for NULL).
"""
import ctypes
import os
import sys

import numpy as np

_path = os.environ.get("LAMINA_LIB")
if not _path:
    here = os.path.dirname(os.path.abspath(__file__))
    _path = os.path.join(here, "..", "..", "build", "liblamina.so")
lib = ctypes.CDLL(_path)

F = ctypes.POINTER(ctypes.c_float)
S = ctypes.c_size_t


def ptr(a):
    """float* for a float32 C-contiguous numpy array, or NULL for None."""
    if a is None:
        return None
    assert a.dtype == np.float32 and a.flags["C_CONTIGUOUS"], "need contiguous float32"
    return a.ctypes.data_as(F)


def sig(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


lam_set_num_threads = sig("lam_set_num_threads", None, ctypes.c_int)
lam_set_isa = sig("lam_set_isa", ctypes.c_int, ctypes.c_char_p)
lam_isa = sig("lam_isa", ctypes.c_char_p)


class Report:
    """Counts checks and ends with the 'N passed, N failed' line."""

    def __init__(self, suite):
        self.suite, self.passed, self.failed = suite, 0, 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL", what, file=sys.stderr)
        return ok

    def done(self):
        print(f"{self.suite}: {self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


def rel_err(got, ref):
    """max |got - ref| / max |ref| (ref float64), NaN-propagating."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    scale = max(np.max(np.abs(ref)) if ref.size else 0.0, 1e-30)
    err = np.max(np.abs(got - ref)) if ref.size else 0.0
    return float(err / scale)
