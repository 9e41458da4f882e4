"""A PyTorch reference of lamina's byte-level GPT, written from the model
description (include/lamina.h and the model issue), not from the C code.

Weights use the file names and Conv1D (in, out) shapes of Hugging Face GPT-2:
wte.weight (256, C), wpe.weight (ctx, C), h.{i}.ln_1.weight/.bias,
h.{i}.attn.c_attn.weight (C, 3C), h.{i}.attn.c_proj.weight (C, C),
h.{i}.ln_2.*, h.{i}.mlp.c_fc.weight (C, hidden), h.{i}.mlp.c_fc2.* (gated),
h.{i}.mlp.c_proj.weight (hidden, C), ln_f.* (pre-norm only); RMSNorm has no
bias; BatchNorm adds running_mean / running_var.
"""
import math

import torch
import torch.nn.functional as F

GATED = {"swiglu": "silu", "geglu": "gelu"}


def default_hidden(dim, act):
    return (dim + 2) // 3 * 8 if act in GATED else 4 * dim


class Norm(torch.nn.Module):
    def __init__(self, kind, dim, eps, momentum):
        super().__init__()
        self.kind, self.eps, self.momentum = kind, eps, momentum
        if kind == "none":
            return
        self.weight = torch.nn.Parameter(torch.ones(dim))
        if kind != "rmsnorm":
            self.bias = torch.nn.Parameter(torch.zeros(dim))
        if kind == "batchnorm":
            self.register_buffer("running_mean", torch.zeros(dim))
            self.register_buffer("running_var", torch.ones(dim))

    def forward(self, x, training):
        if self.kind == "none":
            return x
        if self.kind == "layernorm":
            return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)
        if self.kind == "rmsnorm":
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight
        shape = x.shape   # batchnorm: each channel over all batch·time rows
        y = F.batch_norm(x.reshape(-1, shape[-1]), self.running_mean, self.running_var, self.weight, self.bias,
                         training, self.momentum, self.eps)
        return y.reshape(shape)


class Conv1D(torch.nn.Module):
    """y = x·W + b with W stored (in, out), as GPT-2's Conv1D."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(n_in, n_out))
        self.bias = torch.nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return x @ self.weight + self.bias


def activation(name):
    return {"relu": F.relu, "gelu": F.gelu, "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
            "silu": F.silu}[GATED.get(name, name)]


class Block(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, H = cfg["dim"], cfg["hidden"]
        self.heads, self.placement, self.gated = cfg["heads"], cfg["placement"], cfg["act"] in GATED
        self.causal = cfg.get("causal", True)   # False only to show that the tests can fail
        self.ln_1 = Norm(cfg["norm"], C, cfg["eps"], cfg["bn_momentum"])
        self.ln_2 = Norm(cfg["norm"], C, cfg["eps"], cfg["bn_momentum"])
        self.attn = torch.nn.Module()
        self.attn.c_attn, self.attn.c_proj = Conv1D(C, 3 * C), Conv1D(C, C)
        self.mlp = torch.nn.Module()
        self.mlp.c_fc, self.mlp.c_proj = Conv1D(C, H), Conv1D(H, C)
        if self.gated:
            self.mlp.c_fc2 = Conv1D(C, H)
        self.act = activation(cfg["act"])

    def attention(self, x):
        B, T, C = x.shape
        hs = C // self.heads
        q, k, v = self.attn.c_attn(x).split(C, dim=-1)
        q, k, v = (t.reshape(B, T, self.heads, hs).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        if self.causal:
            att = att.masked_fill(~mask, float("-inf"))
        att = att.softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.attn.c_proj(y)

    def mlp_forward(self, x):
        h = self.act(self.mlp.c_fc(x))
        if self.gated:
            h = h * self.mlp.c_fc2(x)
        return self.mlp.c_proj(h)

    def forward(self, x, training):
        if self.placement == "pre":
            x = x + self.attention(self.ln_1(x, training))
            return x + self.mlp_forward(self.ln_2(x, training))
        x = self.ln_1(x + self.attention(x), training)
        return self.ln_2(x + self.mlp_forward(x), training)


class RefGPT(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        cfg = dict(cfg)
        cfg.setdefault("eps", 1e-5)
        cfg.setdefault("bn_momentum", 0.1)
        if not cfg.get("hidden"):
            cfg["hidden"] = default_hidden(cfg["dim"], cfg["act"])
        self.cfg = cfg
        C = cfg["dim"]
        self.wte = torch.nn.Module()
        self.wte.weight = torch.nn.Parameter(torch.zeros(256, C))
        self.wpe = torch.nn.Module()
        self.wpe.weight = torch.nn.Parameter(torch.zeros(cfg["ctx"], C))
        self.h = torch.nn.ModuleList(Block(cfg) for _ in range(cfg["layers"]))
        self.final = cfg["placement"] == "pre" and cfg["norm"] != "none"
        if self.final:
            self.ln_f = Norm(cfg["norm"], C, cfg["eps"], cfg["bn_momentum"])

    def forward(self, tokens, targets=None, training=True):
        B, T = tokens.shape
        x = self.wte.weight[tokens] + self.wpe.weight[:T]
        for block in self.h:
            x = block(x, training)
        if self.final:
            x = self.ln_f(x, training)
        logits = x @ self.wte.weight.t()
        loss = None if targets is None else F.cross_entropy(logits.reshape(-1, 256), targets.reshape(-1))
        return logits, loss

    def tensors(self):
        """name -> tensor (parameters and BatchNorm buffers), with the file names."""
        out = dict(self.named_parameters())
        out.update(self.named_buffers())
        return out

    def load(self, weights):
        """Copies {name: array} into the model (every tensor must be given, and only those)."""
        mine = self.tensors()
        missing, extra = set(mine) - set(weights), set(weights) - set(mine)
        assert not missing and not extra, f"missing {sorted(missing)}, extra {sorted(extra)}"
        with torch.no_grad():
            for k, v in weights.items():
                t = torch.as_tensor(v, dtype=mine[k].dtype)
                assert t.shape == mine[k].shape, (k, t.shape, mine[k].shape)
                mine[k].copy_(t)

    def decay_groups(self, weight_decay):
        decay = [p for n, p in self.named_parameters() if p.dim() == 2]
        other = [p for n, p in self.named_parameters() if p.dim() != 2]
        return [{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0.0}]


# ---- the training recipe, from the description (sampler, schedule)

MASK = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


class Xoshiro256:
    def __init__(self, seed):
        st, self.s = seed & MASK, []
        for _ in range(4):
            st, v = splitmix64(st)
            self.s.append(v)

    def next(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & MASK
        out = (rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return out


def lr_at(step, lr, min_lr, warmup, steps):
    if step < warmup:
        return lr * (step + 1) / warmup
    span = steps - 1 - warmup if steps > warmup + 1 else 1
    p = min(1.0, (step - warmup) / span)
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * p))
