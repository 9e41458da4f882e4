"""safetensors interchange with PyTorch tensors, without lamina on the
writing (or reading) side of each direction:

1. A file written here by a hand-rolled writer that follows the format spec
   (tensors from torch: F32, F16, BF16 with subnormals/inf/NaN/-0, plus
   I64, BOOL, F64, U8), read by liblamina: every F32/F16/BF16 tensor must
   equal torch's own .float() conversion bit for bit, and `lamina inspect`
   must list every tensor with its dtype, shape, count and byte range.
2. A file written by liblamina's writer, parsed here by a hand-rolled
   reader: header layout, padding, offsets, metadata and bit-exact values.
"""
import ctypes
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lamina_ctypes import Report, lib  # noqa: E402

R = Report("safetensors_torch")
BIN = os.environ.get("LAMINA_BIN")


class LamError(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("msg", ctypes.c_char * 512)]


def sig(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


VP = ctypes.c_void_p
SZ = ctypes.c_size_t
st_open = sig("lam_st_open", ctypes.c_int, ctypes.POINTER(VP), ctypes.c_char_p, ctypes.POINTER(LamError))
st_close = sig("lam_st_close", None, VP)
st_count = sig("lam_st_count", SZ, VP)
st_read = sig("lam_st_read_f32", ctypes.c_int, VP, ctypes.c_char_p, ctypes.POINTER(ctypes.c_float),
              ctypes.POINTER(SZ), SZ, ctypes.POINTER(LamError))
st_meta = sig("lam_st_metadata", ctypes.c_char_p, VP, ctypes.c_char_p)
w_new = sig("lam_st_writer_new", VP)
w_free = sig("lam_st_writer_free", None, VP)
w_add = sig("lam_st_writer_add", ctypes.c_int, VP, ctypes.c_char_p, ctypes.POINTER(SZ), SZ,
            ctypes.POINTER(ctypes.c_float), ctypes.POINTER(LamError))
w_meta = sig("lam_st_writer_meta", ctypes.c_int, VP, ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(LamError))
w_write = sig("lam_st_writer_write", ctypes.c_int, VP, ctypes.c_char_p, ctypes.POINTER(LamError))

DT = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
      torch.bool: "BOOL", torch.float64: "F64", torch.uint8: "U8"}


def raw_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:          # numpy has no bfloat16: reinterpret the bits
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_st(path, tensors, meta=None):
    """The format from its spec: u64 LE header size, JSON header, data."""
    header, blobs, off = {}, [], 0
    if meta is not None:
        header["__metadata__"] = meta
    for name, t in tensors:
        b = raw_bytes(t)
        header[name] = {"dtype": DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_st(path):
    """A hand-rolled reader: (header dict, data bytes, header length)."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    return json.loads(buf[8:8 + n].decode("utf-8")), buf[8 + n:], n


def lam_read(st, name, shape):
    out = np.empty(int(np.prod(shape)) if shape else 1, dtype=np.float32)
    shp = (SZ * max(len(shape), 1))(*shape)
    err = LamError()
    rc = st_read(st, name.encode(), out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), shp, len(shape),
                 ctypes.byref(err))
    return rc, out, err.msg.decode()


def same_bits(a, b):
    a = np.asarray(a, dtype=np.float32).ravel()
    b = np.asarray(b, dtype=np.float32).ravel()
    nan = np.isnan(a)
    return a.shape == b.shape and bool(np.all(nan == np.isnan(b))) and \
        bool(np.all(a[~nan].view(np.uint32) == b[~nan].view(np.uint32)))


torch.manual_seed(0)
special = torch.tensor([0.0, -0.0, 1.0, -2.5, float("inf"), float("-inf"), float("nan"), 65504.0,
                        6e-8, 3e-5, 1e-40, 3.0e38, -7.1e-39])
tensors = [
    ("transformer.h.0.mlp.c_fc.weight", torch.randn(16, 8)),                 # F32
    ("h16", torch.cat([torch.randn(37) * 100, special]).to(torch.float16)),  # F16, odd count, specials
    ("bf16", torch.cat([torch.randn(3, 5).ravel() * 1e3, special]).to(torch.bfloat16).reshape(2, 14)),
    ("ids", torch.arange(7, dtype=torch.int64)),
    ("mask", torch.tensor([True, False, True])),
    ("f64", torch.randn(2, 2, dtype=torch.float64)),
    ("bytes", torch.arange(5, dtype=torch.uint8)),
    ("scalar", torch.tensor(3.5)),
]
meta = {"format": "pt", "note": "written by a hand-rolled writer \u00e9 \"quoted\""}

with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "torch.safetensors")
    write_st(path, tensors, meta)

    # ---- 1. liblamina reads what another writer wrote
    st = VP()
    err = LamError()
    R.check(st_open(ctypes.byref(st), path.encode(), ctypes.byref(err)) == 0, f"open: {err.msg.decode()}")
    if st:
        R.check(st_count(st) == len(tensors), "tensor count")
        R.check(st_meta(st, b"note").decode() == meta["note"], "metadata value with escapes and UTF-8")
        for name, t in tensors:
            shape = list(t.shape)
            rc, got, msg = lam_read(st, name, shape)
            if t.dtype in (torch.float32, torch.float16, torch.bfloat16):
                ref = t.float().numpy().ravel()    # torch's own widening is the oracle
                R.check(rc == 0 and same_bits(got, ref), f"{name}: lamina's float32 == torch .float() ({msg})")
            else:
                R.check(rc == 3 and name in msg and DT[t.dtype] in msg, f"{name}: {DT[t.dtype]} refused: {msg}")
        rc, _, msg = lam_read(st, "transformer.h.0.mlp.c_fc.weight", [8, 16])
        R.check(rc == 3 and "[16, 8]" in msg and "[8, 16]" in msg, f"wrong shape named: {msg}")
        st_close(st)

    # ---- lamina inspect lists every tensor
    if BIN:
        p = subprocess.run([BIN, "inspect", path], capture_output=True, text=True)
        R.check(p.returncode == 0, f"inspect status {p.returncode}: {p.stderr}")
        lines = p.stdout.splitlines()
        off = 0
        for name, t in tensors:
            nb = len(raw_bytes(t))
            shape = "[" + ", ".join(str(s) for s in t.shape) + "]"
            want = [name, DT[t.dtype], shape, str(t.numel()), f"[{off}, {off + nb})"]
            row = [ln for ln in lines if ln.split(" ")[0] == name]
            ok = len(row) == 1
            if ok:
                rest = row[0][len(name):]
                ok = all(w in rest for w in want[1:])
            R.check(ok, f"inspect line for {name}: {row} want {want}")
            off += nb
        R.check(f"total: {len(tensors)} tensors" in p.stdout, "inspect totals")
        R.check("  format = pt" in lines, "inspect metadata")

    # ---- 2. a hand-rolled reader reads what liblamina wrote
    out = os.path.join(d, "lamina.safetensors")
    arrays = [("b.w1", np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)),
              ("a.bias", np.array([np.inf, -0.0, np.nan, 1e-45], dtype=np.float32)),
              ("s", np.array(2.0, dtype=np.float32))]
    w = w_new()
    for name, a in arrays:
        a = np.require(a, requirements="C")  # (ascontiguousarray would make a scalar 1-d)
        shp = (SZ * max(a.ndim, 1))(*a.shape)
        R.check(w_add(w, name.encode(), shp, a.ndim, a.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                      ctypes.byref(err)) == 0, f"add {name}")
    cfg = json.dumps({"dim": 8, "norm": "rmsnorm", "text": "tab\there"})
    R.check(w_meta(w, b"config", cfg.encode(), ctypes.byref(err)) == 0, "add metadata")
    R.check(w_write(w, out.encode(), ctypes.byref(err)) == 0, f"write: {err.msg.decode()}")
    w_free(w)
    header, data, n = read_st(out)
    R.check(n % 8 == 0, "header padded to a multiple of 8")
    R.check(header.get("__metadata__") == {"config": cfg}, "metadata read back")
    R.check(json.loads(header["__metadata__"]["config"])["norm"] == "rmsnorm", "config JSON survives")
    names = [k for k in header if k != "__metadata__"]
    R.check(names == [a[0] for a in arrays], f"tensors in the order added: {names}")
    off = 0
    for name, a in arrays:
        info = header[name]
        nb = a.size * 4
        R.check(info["dtype"] == "F32" and info["shape"] == list(a.shape) and info["data_offsets"] == [off, off + nb],
                f"{name} entry {info}")
        got = np.frombuffer(data[off:off + nb], dtype="<f4").reshape(a.shape)
        R.check(same_bits(got, a), f"{name} values bit-exact")
        t = torch.from_numpy(got.copy())
        R.check(t.shape == torch.Size(a.shape), f"{name} loads into torch")
        off += nb
    R.check(off == len(data), "no trailing bytes")

R.done()
