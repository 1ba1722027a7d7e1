#!/usr/bin/python3
"""PyTorch peer of `deno task bench:model`: WebShop's choice model at the same shapes, timed.

A reference for the benchmark only, never a run-time dependency. Debian's torch with OpenBLAS:

    apt-get install python3-torch libopenblas0-pthread
    /usr/bin/python3 scripts/bench_model_torch.py --decisions 1,8      # main job's model

The model is `BertModelForWebshop` (WebShop baseline_models/models/bert.py), written in plain
torch like model/choice_model.ts documents it: one BERT (post-LN, erf GELU, HF's additive mask)
encodes states and actions; BiAttention of each action over its state (WebShop repeats the state
per action, as done here), linear_1 + ReLU, mean over the action's tokens, linear_2, log-softmax
within each state's actions; the value head linear_3 on the state's [CLS]. Parameter names are
WebShop's, so our safetensors load with `load_state_dict`.

A training step is ours (train/il.ts imitationMicroStep): train-mode forward (dropout 0.1), the
mean NLL of a target action per state, backward, global-norm clip at 1, AdamW (lr 1e-5, no decay).
A scoring step is an eval-mode forward without gradients. FLOPs are choiceForwardFlops' (matmuls
only; a training step counts 3x), so GFLOP/s compare with the benchmark's.

Prints one JSON line per measurement. `--serve` instead reads JSON commands from stdin, one per
line, and answers each with one JSON line, so bench_model.ts can interleave its reps with ours:
    {"cmd": "case", <shape fields as the flags, snake_case>}  -> {"ok": true, "gflop": ...}
    {"cmd": "rep", "mode": "forward" | "train"}              -> {"ms": ...}
"""

import argparse
import ctypes
import json
import math
import os
import statistics
import sys
import time

# Before torch loads OpenBLAS and libgomp, which read these once (bench_model.ts's child env does
# the same): OpenBLAS detects its core; OpenMP workers wait passively (see scripts/_bench_torch.ts).
for _k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_k, None)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class Shape:
    """The model and batch shape (bench:model's flags; defaults are the main job's model)."""

    def __init__(self, d):
        self.vocab = int(d.get("vocab", 3014))
        self.hidden = int(d.get("hidden", 64))
        self.layers = int(d.get("layers", 1))
        self.heads = int(d.get("heads", 2))
        self.intermediate = int(d.get("intermediate", 256))
        self.max_positions = int(d.get("max_positions", 512))
        self.value_hidden = int(d.get("value_hidden", 128))
        self.dropout = float(d.get("dropout", 0.1))
        self.attention_dropout = float(d.get("attention_dropout", 0.1))
        self.eps = float(d.get("eps", 1e-12))
        self.decisions = int(d.get("decisions", 1))
        self.state_len = int(d.get("state_len", 512))
        self.actions = int(d.get("actions", 16))
        self.action_len = int(d.get("action_len", 64))


# --- the model ------------------------------------------------------------------------------

class Embeddings(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.word_embeddings = nn.Embedding(s.vocab, s.hidden)
        self.position_embeddings = nn.Embedding(s.max_positions, s.hidden)
        self.token_type_embeddings = nn.Embedding(2, s.hidden)
        self.LayerNorm = nn.LayerNorm(s.hidden, eps=s.eps)
        self.dropout = nn.Dropout(s.dropout)

    def forward(self, ids):  # ids (B, T) -> (B, T, C); token types are all 0
        T = ids.shape[1]
        x = (self.word_embeddings(ids) + self.position_embeddings.weight[:T][None]
             + self.token_type_embeddings.weight[0])
        return self.dropout(self.LayerNorm(x))


class SelfAttention(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.query = nn.Linear(s.hidden, s.hidden)
        self.key = nn.Linear(s.hidden, s.hidden)
        self.value = nn.Linear(s.hidden, s.hidden)
        self.dropout = nn.Dropout(s.attention_dropout)
        self.H = s.heads

    def forward(self, x, ext):  # x (B, T, C), ext (B, 1, 1, T) additive mask
        B, T, C = x.shape
        H, D = self.H, C // self.H

        def heads(t):
            return t.view(B, T, H, D).transpose(1, 2)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        p = self.dropout(torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + ext, dim=-1))
        return (p @ v).transpose(1, 2).reshape(B, T, C)


class DenseLN(nn.Module):
    """HF's BertSelfOutput / BertOutput: dense, dropout, residual, LayerNorm."""

    def __init__(self, s, n_in):
        super().__init__()
        self.dense = nn.Linear(n_in, s.hidden)
        self.LayerNorm = nn.LayerNorm(s.hidden, eps=s.eps)
        self.dropout = nn.Dropout(s.dropout)

    def forward(self, h, x):
        return self.LayerNorm(self.dropout(self.dense(h)) + x)


class Attention(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.self = SelfAttention(s)
        self.output = DenseLN(s, s.hidden)


class Intermediate(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.dense = nn.Linear(s.hidden, s.intermediate)


class Layer(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.attention = Attention(s)
        self.intermediate = Intermediate(s)
        self.output = DenseLN(s, s.intermediate)

    def forward(self, x, ext):
        x = self.attention.output(self.attention.self(x, ext), x)
        return self.output(F.gelu(self.intermediate.dense(x)), x)


class Encoder(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.layer = nn.ModuleList([Layer(s) for _ in range(s.layers)])


class Pooler(nn.Module):
    """Present for the weight names only: WebShop never uses it (it gets no gradient)."""

    def __init__(self, s):
        super().__init__()
        self.dense = nn.Linear(s.hidden, s.hidden)


class Bert(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.embeddings = Embeddings(s)
        self.encoder = Encoder(s)
        self.pooler = Pooler(s)

    def forward(self, ids, mask):  # (B, T) ids and 0/1 float mask -> (B, T, C)
        x = self.embeddings(ids)
        ext = (1.0 - mask)[:, None, None, :] * torch.finfo(x.dtype).min
        for layer in self.encoder.layer:
            x = layer(x, ext)
        return x


class BiAttention(nn.Module):
    """WebShop's BiAttention (baseline_models/models/modules.py), without its dropout (0 there)."""

    def __init__(self, s):
        super().__init__()
        C = s.hidden
        self.input_linear = nn.Linear(C, 1, bias=False)
        self.memory_linear = nn.Linear(C, 1, bias=False)
        self.dot_scale = nn.Parameter(torch.empty(C).uniform_(1.0 / math.sqrt(C), 1.0))

    def forward(self, x, mem, mask):  # x (A, Ta, C), mem (A, Tm, C), mask (A, Tm) -> (A, Ta, 4C)
        att = (self.input_linear(x) + self.memory_linear(mem).transpose(1, 2)
               + torch.bmm(x * self.dot_scale, mem.transpose(1, 2)))  # (A, Ta, Tm)
        att = att - 1e30 * (1 - mask[:, None])
        o1 = torch.bmm(torch.softmax(att, dim=-1), mem)  # (A, Ta, C)
        w2 = torch.softmax(att.max(dim=-1)[0], dim=-1)[:, None]  # (A, 1, Ta)
        o2 = torch.bmm(w2, x)  # (A, 1, C)
        return torch.cat([x, o1, x * o1, o2 * o1], dim=-1)


class ChoiceModel(nn.Module):
    """WebShop's BertModelForWebshop (no image token)."""

    def __init__(self, s):
        super().__init__()
        C = s.hidden
        self.bert = Bert(s)
        self.attn = BiAttention(s)
        self.linear_1 = nn.Linear(4 * C, C)
        self.linear_2 = nn.Linear(C, 1)
        self.linear_3 = nn.Sequential(nn.Linear(C, s.value_hidden), nn.LeakyReLU(),
                                      nn.Linear(s.value_hidden, 1))

    def forward(self, b, values=False):
        """Log-probs (A) of every action within its state's group, and values (S) if asked."""
        hs = self.bert(b["state_ids"], b["state_mask"])  # (S, Ts, C)
        ha = self.bert(b["action_ids"], b["action_mask"])  # (A, Ta, C)
        of = b["state_of"]
        cat = self.attn(ha, hs[of], b["state_mask"][of])  # the state repeated per action
        z = F.relu(self.linear_1(cat))  # (A, Ta, C)
        m = b["action_mask"]
        pooled = (z * m[..., None]).sum(1) / m.sum(1, keepdim=True)  # real tokens come first
        score = self.linear_2(pooled)[:, 0]  # (A)
        logp = torch.cat([F.log_softmax(g, dim=0) for g in torch.split(score, b["sizes"])])
        v = self.linear_3(hs[:, 0])[:, 0] if values else None
        return logp, v


def il_loss(logp, b):
    """WebShop's imitation loss: mean over states of -logp of the target action."""
    starts = torch.tensor([0] + list(b["sizes"][:-1])).cumsum(0)
    return -logp[starts + torch.as_tensor(b["targets"])].mean()


def init_like_bert(model, seed):
    """BERT's init (normal 0.02, zero bias, unit LayerNorm); the head keeps torch's defaults."""
    torch.manual_seed(seed)
    for name, p in model.named_parameters():
        if not name.startswith("bert."):
            continue
        with torch.no_grad():
            if "LayerNorm.weight" in name:
                p.fill_(1.0)
            elif name.endswith(".bias"):
                p.zero_()
            else:
                p.normal_(0.0, 0.02)


def random_batch(s, seed=1234):
    """Every state and action full length (as bench:model's decisionsBatch), [CLS] ... [SEP]."""
    g = torch.Generator().manual_seed(seed)
    S, A = s.decisions, s.decisions * s.actions

    def toks(n, T):
        ids = torch.randint(1000, s.vocab, (n, T), generator=g)
        ids[:, 0], ids[:, -1] = 101, 102
        return ids

    return {
        "state_ids": toks(S, s.state_len),
        "state_mask": torch.ones(S, s.state_len),
        "action_ids": toks(A, s.action_len),
        "action_mask": torch.ones(A, s.action_len),
        "sizes": [s.actions] * S,
        "state_of": torch.arange(S).repeat_interleave(s.actions),
        "targets": [0] * S,
    }


# --- FLOPs and BLAS -------------------------------------------------------------------------

def forward_flops(s):
    """choiceForwardFlops (model/choice_model.ts) with bertForwardFlops (model/bert.ts)."""
    C, I = s.hidden, s.intermediate

    def bert(B, T):
        N = B * T
        return (2 * N * C * C * 4 + 2 * N * C * I * 2 + 2 * 2 * B * T * T * C) * s.layers

    S, A, Ts, Ta = s.decisions, s.decisions * s.actions, s.state_len, s.action_len
    return (bert(S, Ts) + bert(A, Ta) + 2 * 2 * A * Ta * Ts * C + 2 * A * Ta * 4 * C * C
            + 2 * A * C)


def blas_info():
    """The BLAS library this process loaded and, for OpenBLAS, its core and thread count."""
    libs = sorted({line.split()[-1] for line in open("/proc/self/maps")
                   if "blas" in line.split()[-1]})
    info = {"blas_libs": libs}
    for lib in libs:
        try:
            ob = ctypes.CDLL(lib)
            ob.openblas_get_corename.restype = ctypes.c_char_p
            info["openblas_core"] = ob.openblas_get_corename().decode()
            info["openblas_threads"] = ob.openblas_get_num_threads()
            break
        except (OSError, AttributeError):
            continue
    return info


# --- timing ---------------------------------------------------------------------------------

class Case:
    """A model, its optimizer and one batch at a shape; `rep(mode)` times one step in ms."""

    def __init__(self, s, seed=1):
        self.s = s
        self.model = ChoiceModel(s)
        init_like_bert(self.model, seed)
        self.batch = random_batch(s)
        params = [p for n, p in self.model.named_parameters() if not n.startswith("bert.pooler.")]
        self.params = params
        self.opt = torch.optim.AdamW(params, lr=1e-5, weight_decay=0.0)
        self.gflop = forward_flops(s) / 1e9

    def rep(self, mode):
        t0 = time.perf_counter()
        if mode == "forward":
            self.model.eval()
            with torch.no_grad():
                self.model(self.batch)
        elif mode == "train":
            self.model.train()
            logp, _ = self.model(self.batch)
            il_loss(logp, self.batch).backward()
            torch.nn.utils.clip_grad_norm_(self.params, 1.0)
            self.opt.step()
            self.opt.zero_grad(set_to_none=True)
        else:
            raise ValueError(f"unknown mode '{mode}' (forward, train)")
        return (time.perf_counter() - t0) * 1000


def environment(threads):
    torch.set_num_threads(threads)
    return {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), **blas_info()}


def serve(threads):
    """Answers the JSON commands on stdin (see the module doc), one JSON line each."""
    env = environment(threads)
    print(json.dumps({"ok": True, **env}), flush=True)
    case = None
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
            if cmd.get("cmd") == "case":
                case = Case(Shape(cmd))
                out = {"ok": True, "gflop": case.gflop}
            elif cmd.get("cmd") == "rep":
                if case is None:
                    raise ValueError("'rep' before any 'case'")
                out = {"ms": case.rep(cmd.get("mode"))}
            else:
                raise ValueError(f"unknown command {line.strip()[:80]}")
        except (ValueError, KeyError, RuntimeError) as e:
            out = {"error": str(e)}
        print(json.dumps(out), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--decisions", default="1,4", help="decisions per batch, comma-separated")
    p.add_argument("--vocab", type=int, default=3014)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--intermediate", type=int, default=256)
    p.add_argument("--state-len", type=int, default=512)
    p.add_argument("--actions", type=int, default=16)
    p.add_argument("--action-len", type=int, default=64)
    p.add_argument("--reps", type=int, default=3, help="timed repetitions (after 1 warm-up)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--modes", default="forward,train")
    p.add_argument("--serve", action="store_true", help="answer JSON commands on stdin")
    a = p.parse_args()
    if a.serve:
        return serve(a.threads)
    env = environment(a.threads)
    for n in [int(x) for x in a.decisions.split(",")]:
        shape = {k: getattr(a, k) for k in ("vocab", "hidden", "layers", "heads", "intermediate",
                                            "state_len", "actions", "action_len")}
        case = Case(Shape({**shape, "decisions": n}))
        for mode in a.modes.split(","):
            case.rep(mode)
            ms = statistics.median(case.rep(mode) for _ in range(a.reps))
            gflop = case.gflop * (3 if mode == "train" else 1)
            print(json.dumps({"bench": "model_torch", "mode": mode, "decisions": n, **shape,
                              "ms": ms, "decisionsPerS": n / (ms / 1000), "gflop": gflop,
                              "gflops": gflop / (ms / 1000), "reps": a.reps, **env}), flush=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (KeyboardInterrupt, BrokenPipeError):  # Ctrl-C reaches the benchmark's child too
        sys.exit(130)
