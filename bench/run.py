"""Benchmarks of our WDL, DIN and BST against the peers' BST and DIN, side by side.

One command (after ``bash bench/setup.sh`` has built ``.venv-bench`` with the peers)::

    .venv-bench/bin/python bench/run.py [--quick] [--out bench/results]

It writes ``results.json`` (everything, machine-readable) and ``results.md`` (the tables) to
``--out``.  Run it on an otherwise idle machine: every timing is wall-clock.  What it measures:

1. **Training throughput** (samples/s): forward + loss + backward + Adam step on identical synthetic
   batches of 256 samples at L = 20, 50, 200, every model in one process at every thread count of
   ``--threads``, *interleaved*: round after round, each (model, thread count) runs one timed
   window (about ``window_s`` seconds, ``torch.set_num_threads`` before it) in a rotating order,
   so drift of the machine hits all of them alike.  Reported: the median over rounds, and the
   ratios ours / peer per L and thread count.
2. **Quality**: test AUC of our BST and torch-rechub's BST on MovieLens-100K (same split, same
   training loop ``bst_teach.train.train`` on the first count of ``--threads``, same epochs and seeds).
3. **Serving**: latency of scoring 100 candidates for one user (one forward pass over a batch of
   100 that share a full history of L behaviours; ``torch.inference_mode``), p50 and p95 over many
   calls, at L = 20 ... 400, on ``--serving-threads`` threads (default 1), with the FLOPs of that pass counted by
   ``torch.utils.flop_counter.FlopCounterMode``.  Rows "history once" call
   ``bst_teach.serving.score_candidates``; rows "catalogue precomputed" a
   ``bst_teach.serving.Server``, built once per model before the timed calls.
4. **Before / after**: one training step of our BST *with its batch building* (a batch cut from
   the split's tensors, forward, loss, backward, optimiser) at L = 20, 50, 200 on one thread,
   against the reference step of ``bench/reference_step.py`` (the same model as it was before
   the leaner step: per-tensor indexing, unfused Adam), interleaved; with the FLOPs of a step
   (``FlopCounterMode``) as GFLOP/s and as a fraction of a 1024 x 1024 matmul on one thread.
5. **Busy machine**: training throughput of every model with one competing busy process
   (``python -c 'while True: pass'``) as a ratio to the throughput without it, interleaved round
   by round in the same run, on the largest count of ``--threads`` (threads that wait on each
   other are what a busy core hurts; one thread has nothing to wait for).
6. **Memory**: peak resident set size (VmHWM of /proc/self/status) of a fresh subprocess per row
   that builds the model and its data, then runs 3 training steps (or 5 serving passes);
   "increase" is the peak during those steps minus the RSS just before them.  RSS counts the whole
   process (Python, torch, the batches), not tensors alone.

``--device`` (default ``cpu``; ``auto``, ``cuda[:N]``, ``mps``) puts the models and batches of
sections 1 and 2 on that device, with the device synchronised before every clock read; the other
sections measure the CPU by design (one thread, one request, a busy CPU, CPU memory).  Peers run
on the CPU only (DeepCTR's BST is known to fail on GPU), so with another device section 1 times
our models alone.

``--threads`` (default ``1 2``) lists the torch thread counts of section 1; the first is the
primary one, the one of the main tables (results.md, the book).  Section 4 runs on one thread,
section 3 on ``--serving-threads``, section 5 on the largest count, section 2 on the first;
all reported, with the load average before and after.
``--quick`` keeps every table but takes fewer rounds, repetitions, seeds and epochs (about a
third of the time).
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata as md
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts: bst_teach/__init__.py

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
warnings.filterwarnings("ignore", message="enable_nested_tensor is True")

from peers import MISMATCHES, SETTINGS, batch_independent, build_peer  # noqa: E402
import reference_step  # noqa: E402

from bst_teach.features import Feature, Schema, n_time_buckets  # noqa: E402
from bst_teach.experiments import BOOK_TRAIN  # noqa: E402
from bst_teach.device import resolve_device, to_device  # noqa: E402

DEVICE = torch.device("cpu")  # set by --device: sections 1 (training) and 2 (quality)


def synchronize() -> None:
    """Wait for the device's queued work, so that a clock read after it is honest."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)
    elif DEVICE.type == "mps":
        torch.mps.synchronize()


def on_device(x):
    """A prepared batch (a tensor, a dict or a tuple of them) on :data:`DEVICE`."""
    if isinstance(x, torch.Tensor):
        return x.to(DEVICE)
    if isinstance(x, dict):
        return to_device(x, DEVICE)
    return type(x)(on_device(v) for v in x)
from bst_teach.models import build_model  # noqa: E402
from bst_teach.models.layers import init_embedding_  # noqa: E402
from bst_teach.serving import Server, score_candidates  # noqa: E402
from bst_teach.train import batches, make_optimizer, train_step  # noqa: E402

B = SETTINGS["batch_size"]
N_CANDIDATES = 100
TRAIN_LENGTHS = (20, 50, 200)
BUSY_LENGTHS = (20, 50)
SERVE_LENGTHS = (20, 50, 100, 200, 400)

# key: (label, family).  "bst_full" is our BST with the whole last block computed;
# "bst_reference" the model and optimiser of bench/reference_step.py.
MODELS = {
    "wdl": ("ours WDL (EmbeddingMLP)", "wdl"),
    "din": ("ours DIN", "din"),
    "bst": ("ours BST", "bst"),
    "bst_full": ("ours BST, full last block", "bst"),
    "bst_reference": ("reference step (per-tensor indexing, unfused Adam)", "bst"),
    "bst_shared": ("ours BST, history once (serving.score_candidates)", "bst"),
    "bst2": ("ours BST, 2 blocks", "bst"),
    "bst2_shared": ("ours BST, 2 blocks, history once (serving.score_candidates)", "bst"),
    "bst_server": ("ours BST, catalogue precomputed (serving.Server)", "bst"),
    "bst2_server": ("ours BST, 2 blocks, catalogue precomputed (serving.Server)", "bst"),
    "rechub_bst": ("torch-rechub BST, matched (FFN 128, no attention dropout)", "bst"),
    "rechub_bst_shipped": ("torch-rechub BST as shipped (FFN 2048)", "bst"),
    "rechub_din": ("torch-rechub DIN", "din"),
    "deepctr_din": ("deepctr-torch DIN", "din"),
    # quality only: our BST with PyTorch's default N(0, 1) in every embedding table
    "bst_default_init": ("ours BST, embeddings N(0, 1)", "bst"),
}
TRAIN_MODELS = ["wdl", "din", "bst", "bst_full", "bst_reference", "rechub_bst",
                "rechub_bst_shipped", "rechub_din", "deepctr_din"]
QUALITY_MODELS = ["bst", "rechub_bst", "bst_default_init"]
SERVE_MODELS = ["wdl", "din", "bst", "bst_shared", "bst_server", "bst_full", "bst2", "bst2_shared",
                "bst2_server", "rechub_bst"]
# Ratios reported: (ours, peer)
RATIOS = [("bst", "rechub_bst"), ("bst", "rechub_bst_shipped"), ("bst_full", "rechub_bst"),
          ("bst", "bst_reference"), ("din", "rechub_din"), ("din", "deepctr_din")]


# ---------------------------------------------------------------------------------------------
# Data: a schema sized like MovieLens-100K and random batches in our batch format
# ---------------------------------------------------------------------------------------------
FEATURES = (("user_id", "user", 945), ("gender", "user", 4), ("age_bucket", "user", 9),
            ("occupation", "user", 23), ("zip_region", "user", 13),
            ("release_decade", "item", 12), ("time_of_day", "context", 6),
            ("day_of_week", "context", 9), ("gender_x_category", "cross", 42))
USER_COLUMNS = 5  # the first five sparse columns describe the user


def bench_schema(max_len: int) -> Schema:
    """The vocabulary sizes of ``build_dataset(load_movielens())`` (1,682 movies, 19 genres)."""
    return Schema(tuple(Feature(n, g, v, SETTINGS["other_dim"]) for n, g, v in FEATURES),
                  n_items=1684, n_categories=21, max_len=max_len,
                  n_time_buckets=n_time_buckets("calendar"))


def random_batch(schema: Schema, size: int, seed: int, full: bool = False) -> dict:
    """Uniform random ids; history lengths uniform in 1..L (``full``: all L), right-padded."""
    g = torch.Generator().manual_seed(seed)
    L = schema.max_len
    lengths = torch.full((size,), L) if full else torch.randint(1, L + 1, (size,), generator=g)
    mask = torch.arange(L)[None, :] < lengths[:, None]

    def ids(high, shape):
        return torch.randint(2, high, shape, generator=g)

    return {"sparse": torch.stack([ids(f.vocab_size, (size,)) for f in schema.features], 1),
            "target_item": ids(schema.n_items, (size,)), "target_cat": ids(schema.n_categories, (size,)),
            "hist_item": ids(schema.n_items, (size, L)) * mask,
            "hist_cat": ids(schema.n_categories, (size, L)) * mask,
            "hist_time": ids(schema.n_time_buckets, (size, L)) * mask,
            "label": torch.randint(0, 2, (size,), generator=g).float()}


def candidates_batch(schema: Schema, seed: int = 0) -> dict:
    """100 candidate items for one user: one full history and profile, repeated; items vary."""
    b = random_batch(schema, N_CANDIDATES, seed, full=True)
    for k in ("hist_item", "hist_cat", "hist_time"):
        b[k] = b[k][:1].repeat(N_CANDIDATES, 1)
    b["sparse"][:, :USER_COLUMNS] = b["sparse"][:1, :USER_COLUMNS]
    b["sparse"][:, 6:8] = b["sparse"][:1, 6:8]  # same context (time of day, day of week)
    return b


# ---------------------------------------------------------------------------------------------
# Models behind one interface
# ---------------------------------------------------------------------------------------------
class Runner:
    """One model of the benchmark: ``prepare(batch)`` (untimed) -> x; ``loss(x)``; ``score(x)``."""

    def __init__(self, key: str, schema: Schema, max_len: int, seed: int = 0):
        self.key, (self.label, self.family) = key, MODELS[key]
        torch.manual_seed(seed)
        s = SETTINGS
        if key == "wdl":
            m = build_model("wdl", schema, item_dim=s["item_dim"], cat_dim=s["cat_dim"],
                            hidden=s["hidden"], dropout=s["din_dropout"])
        elif key == "din":
            m = build_model("din", schema, item_dim=s["item_dim"], cat_dim=s["cat_dim"],
                            attention_hidden=s["attention_hidden"], hidden=s["hidden"],
                            dropout=s["din_dropout"])
        elif key == "bst_reference":
            m = reference_step.BST(schema, reference_step.BSTConfig(
                item_dim=s["item_dim"], cat_dim=s["cat_dim"], pos_dim=s["pos_dim"],
                blocks=s["blocks"], heads=s["heads"], ffn_mult=s["ffn_mult"],
                dropout=s["bst_dropout"], hidden=s["hidden"]))
        elif key in ("bst", "bst_full", "bst_default_init", "bst_shared", "bst2", "bst2_shared",
                     "bst_server", "bst2_server"):
            m = build_model("bst", schema, item_dim=s["item_dim"], cat_dim=s["cat_dim"],
                            pos_dim=s["pos_dim"], blocks=2 if key.startswith("bst2") else s["blocks"],
                            heads=s["heads"], ffn_mult=s["ffn_mult"], dropout=s["bst_dropout"],
                            hidden=s["hidden"])
            m.target_only_last_block = key != "bst_full"
            if key == "bst_default_init":  # nn.Embedding's own N(0, 1), padding row zero
                for e in (mod for mod in m.modules() if isinstance(mod, torch.nn.Embedding)):
                    init_embedding_(e, std=1.0)
        elif key == "rechub_bst":
            m = build_peer("rechub_bst", schema, max_len, ffn=s["ffn_mult"] * 32)
        elif key == "rechub_bst_shipped":
            m = build_peer("rechub_bst", schema, max_len)
        else:
            m = build_peer(key, schema, max_len)
        self.model, self.peer = m, hasattr(m, "core")
        self.shared = key.endswith("_shared")  # serving: bst_teach.serving.score_candidates
        self.server = None  # "_server" keys: a bst_teach.serving.Server, see serving_server()

    def prepare(self, batch):
        return (self.model.convert(batch) if self.peer else batch), batch["label"]

    def loss(self, x, y):
        if self.peer:  # the peers output probabilities and train on BCE of them
            return F.binary_cross_entropy(self.model.proba(x), y)
        return F.binary_cross_entropy_with_logits(self.model(x), y)

    def serving_server(self):
        """For a "_server" key: the Server of the eval-mode model, built once (untimed)."""
        if self.server is None and self.key.endswith("_server"):
            self.server = Server(self.model.eval())
        return self.server

    def score(self, x):
        if not (self.shared or self.key.endswith("_server")):
            return self.model.proba(x) if self.peer else torch.sigmoid(self.model(x))
        user = {k: x[k][0] for k in ("hist_item", "hist_cat", "hist_time")}  # shared by all rows
        if self.shared:
            return torch.sigmoid(score_candidates(self.model, user, x))
        return torch.sigmoid(self.serving_server()(user, x))  # the catalogue precomputed

    def optimizer(self):
        """Our package's optimiser (fused Adam, BOOK_TRAIN's learning rate) for every model but
        the reference step, which keeps PyTorch's unfused default."""
        if self.key == "bst_reference":
            return reference_step.reference_optimizer(self.model, BOOK_TRAIN.lr)
        return make_optimizer(self.model, BOOK_TRAIN)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def make_step(runner: Runner):
    opt = runner.optimizer()
    runner.model.train()

    def step(x, y):
        loss = runner.loss(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


# ---------------------------------------------------------------------------------------------
# 1. Training throughput, interleaved
# ---------------------------------------------------------------------------------------------
def training_throughput(lengths, keys, threads, rounds: int, window: float, log) -> list[dict]:
    """Samples/s of every model at every thread count in ``threads``; each round runs one window
    per (model, count) in a rotating order, ``torch.set_num_threads`` before each window."""
    before = torch.get_num_threads()
    rows = []
    for L in lengths:
        schema = bench_schema(L)
        pool = [random_batch(schema, B, seed) for seed in range(8)]
        runners = {k: Runner(k, schema, L) for k in keys}
        for r in runners.values():
            r.model.to(DEVICE)
        data = {k: [on_device(r.prepare(b)) for b in pool] for k, r in runners.items()}
        steps = {k: make_step(r) for k, r in runners.items()}
        runs = [(k, n) for k in keys for n in threads]
        n_steps = {}
        for k, n in runs:  # warm-up (2 steps), then one timed step sizes the window
            torch.set_num_threads(n)
            for x, y in data[k][:2]:
                steps[k](x, y)
            synchronize()
            t = time.perf_counter()
            steps[k](*data[k][2])
            synchronize()
            n_steps[k, n] = max(1, round(window / (time.perf_counter() - t)))
        per_window = {run: [] for run in runs}
        i = 0
        for rnd in range(rounds):
            for k, n in runs[rnd % len(runs):] + runs[:rnd % len(runs)]:
                torch.set_num_threads(n)
                synchronize()
                t = time.perf_counter()
                for _ in range(n_steps[k, n]):
                    steps[k](*data[k][i % len(pool)])
                    i += 1
                synchronize()
                per_window[k, n].append(n_steps[k, n] * B / (time.perf_counter() - t))
        for n in threads:
            for k in keys:
                sps = per_window[k, n]
                rows.append({"L": L, "threads": n, "model": k, "label": runners[k].label,
                             "family": runners[k].family, "samples_per_s": statistics.median(sps),
                             "samples_per_s_min": min(sps), "samples_per_s_max": max(sps),
                             "ms_per_step": 1e3 * B / statistics.median(sps), "windows": len(sps),
                             "steps_per_window": n_steps[k, n],
                             "parameters": runners[k].n_parameters()})
                log(f"  train L={L:<4} {n} thr {runners[k].label:<42} "
                    f"{statistics.median(sps):9.0f} samples/s")
    torch.set_num_threads(before)
    return rows


def ratios(rows: list[dict]) -> list[dict]:
    """Ours / peer samples/s for every pair of ``RATIOS``, per L and thread count."""
    by = {(r["L"], r["threads"], r["model"]): r for r in rows}
    out = []
    for L, n in dict.fromkeys((r["L"], r["threads"]) for r in rows):
        for ours, peer in RATIOS:
            if (L, n, ours) in by and (L, n, peer) in by:
                a, b = by[L, n, ours], by[L, n, peer]
                out.append({"L": L, "threads": n, "ours": ours, "peer": peer,
                            "ours_label": a["label"], "peer_label": b["label"],
                            "ratio": a["samples_per_s"] / b["samples_per_s"]})
    return out


# ---------------------------------------------------------------------------------------------
# Before / after: the whole training step of our BST, batch building included, on one thread
# ---------------------------------------------------------------------------------------------
def matmul_gflops(n: int = 1024, reps: int = 10) -> float:
    """GFLOP/s of an (n, n) x (n, n) float32 matmul on the current threads (median of reps)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def step_flops(runner: Runner, batch) -> int:
    """FLOPs of forward + loss + backward of one training step (the optimiser is not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    runner.model.train()
    sdpa = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    with FlopCounterMode(display=False, custom_mapping={sdpa: _cpu_sdpa_flops}) as counter:
        runner.loss(*runner.prepare(batch)).backward()
    runner.model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def step_before_after(lengths, rounds: int, window: float, log) -> dict:
    """ms per training step, batch 256, one thread, batch building included: ours (bst_teach.train:
    packed batches, train_step, fused Adam) against the reference step (reference_step.batches,
    the old model, unfused Adam).  Interleaved windows; wall clock and process CPU time."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    peak = matmul_gflops()
    rows = []
    for L in lengths:
        schema = bench_schema(L)
        data = random_batch(schema, B * 16, seed=L)  # 16 batches, reshuffled every pass
        runners = {k: Runner(k, schema, L) for k in ("bst_reference", "bst")}
        loops = {}
        for k, r in runners.items():
            opt, gen = r.optimizer(), torch.Generator().manual_seed(0)
            make = reference_step.batches if k == "bst_reference" else batches
            state = {"it": iter(())}

            def one(r=r, opt=opt, gen=gen, make=make, state=state, k=k):
                try:
                    b = next(state["it"])
                except StopIteration:
                    state["it"] = iter(make(data, B, gen))
                    b = next(state["it"])
                if k == "bst_reference":
                    loss = r.loss(b, b["label"])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    loss.item()
                else:
                    train_step(r.model, opt, b)

            r.model.train()
            loops[k] = one
        flops = {k: step_flops(r, random_batch(schema, B, seed=1)) for k, r in runners.items()}
        for k in loops:
            for _ in range(3):
                loops[k]()
        n = {}
        for k in loops:
            t = time.perf_counter()
            loops[k]()
            n[k] = max(2, round(window / (time.perf_counter() - t)))
        wall, cpu = {k: [] for k in loops}, {k: [] for k in loops}
        for rnd in range(rounds):
            for k in (list(loops) if rnd % 2 == 0 else list(loops)[::-1]):
                t, c = time.perf_counter(), time.process_time()
                for _ in range(n[k]):
                    loops[k]()
                wall[k].append((time.perf_counter() - t) / n[k] * 1e3)
                cpu[k].append((time.process_time() - c) / n[k] * 1e3)
        for k, r in runners.items():
            ms = statistics.median(wall[k])
            ref_flops = flops["bst_reference"]
            rows.append({"L": L, "model": k, "label": r.label, "ms_per_step": ms,
                         "cpu_ms_per_step": statistics.median(cpu[k]),
                         "samples_per_s": B / ms * 1e3, "flops_per_step": flops[k],
                         "gflops": flops[k] / ms / 1e6, "fraction_of_matmul": flops[k] / ms / 1e6 / peak,
                         "reference_flops_gflops": ref_flops / ms / 1e6})
            log(f"  step L={L:<4} {r.label:<52} {ms:7.2f} ms (CPU {rows[-1]['cpu_ms_per_step']:.2f})  "
                f"{rows[-1]['gflops']:5.1f} GFLOP/s = {rows[-1]['fraction_of_matmul']:.0%} of matmul")
        before, after = rows[-2], rows[-1]
        log(f"  step L={L:<4} speed-up {before['ms_per_step'] / after['ms_per_step']:.2f}x (wall), "
            f"{before['cpu_ms_per_step'] / after['cpu_ms_per_step']:.2f}x (CPU time)")
    torch.set_num_threads(threads)
    return {"threads": 1, "matmul_1024_gflops": peak, "rows": rows}


# ---------------------------------------------------------------------------------------------
# Busy machine: throughput with one competing busy process, as a ratio to without it
# ---------------------------------------------------------------------------------------------
HOG = [sys.executable, "-c", "while True: pass"]


def busy_ratios(lengths, keys, threads: int, rounds: int, window: float, log) -> list[dict]:
    """Every round: one window per model without, then one with a busy process running; on
    ``threads`` torch threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows = []
    for L in lengths:
        schema = bench_schema(L)
        pool = [random_batch(schema, B, seed) for seed in range(8)]
        runners = {k: Runner(k, schema, L) for k in keys}
        data = {k: [r.prepare(b) for b in pool] for k, r in runners.items()}
        steps = {k: make_step(r) for k, r in runners.items()}
        n_steps = {}
        for k in keys:
            for x, y in data[k][:2]:
                steps[k](x, y)
            t = time.perf_counter()
            steps[k](*data[k][2])
            n_steps[k] = max(1, round(window / (time.perf_counter() - t)))
        sps = {(k, phase): [] for k in keys for phase in ("idle", "busy")}
        for rnd in range(rounds):
            for phase in ("idle", "busy"):
                hog = subprocess.Popen(HOG) if phase == "busy" else None
                if hog:
                    time.sleep(0.2)
                try:
                    for k in keys[rnd % len(keys):] + keys[:rnd % len(keys)]:
                        t = time.perf_counter()
                        for i in range(n_steps[k]):
                            steps[k](*data[k][i % len(pool)])
                        sps[k, phase].append(n_steps[k] * B / (time.perf_counter() - t))
                finally:
                    if hog:
                        hog.kill()
                        hog.wait()
        for k in keys:
            idle, busy = statistics.median(sps[k, "idle"]), statistics.median(sps[k, "busy"])
            rows.append({"L": L, "threads": threads, "model": k, "label": runners[k].label,
                         "idle_samples_per_s": idle, "busy_samples_per_s": busy,
                         "ratio": busy / idle})
            log(f"  busy L={L:<4} {runners[k].label:<52} {busy:8.0f} / {idle:8.0f} = {busy / idle:.2f}")
    torch.set_num_threads(before)
    return rows


# ---------------------------------------------------------------------------------------------
# 3. Serving latency and FLOPs
# ---------------------------------------------------------------------------------------------
def _cpu_sdpa_flops(q, k, v, *args, out_shape=None, **kw):
    from torch.utils.flop_counter import sdpa_flop_count
    return sdpa_flop_count(q, k, v)


def count_flops(fn, bmm_is_attention: bool = False) -> dict:
    """FLOPs of one call: total and attention.

    Attention counts F.scaled_dot_product_attention (QK^T and AV; the peers' nn.MultiheadAttention
    and our full blocks use it) and, for our models (``bmm_is_attention``), every batched matrix
    product: our target-only block and ``bst_teach.serving`` write their attention as products of
    small matrices, and our Linear layers run as mm / addmm.  (torch-rechub's BST also runs a
    bmm outside attention, so not for the peers.)  The CPU attention kernel has no FLOP formula
    in torch, so we give it one.
    """
    from torch.utils.flop_counter import FlopCounterMode

    sdpa = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    with FlopCounterMode(display=False, custom_mapping={sdpa: _cpu_sdpa_flops}) as counter:
        fn()
    per_op = counter.get_flop_counts().get("Global", {})
    attention = sum(v for op, v in per_op.items()
                    if "scaled_dot_product" in str(op)
                    or (bmm_is_attention and str(op).startswith("aten.bmm")))
    return {"flops": counter.get_total_flops(), "attention_flops": attention}


def serving_latency(lengths, keys, reps: int, budget: float, log) -> list[dict]:
    rows = []
    for L in lengths:
        schema = bench_schema(L)
        batch = candidates_batch(schema, seed=L)
        runners = {k: Runner(k, schema, L) for k in keys}
        xs = {k: r.prepare(batch)[0] for k, r in runners.items()}
        calls, flops, times = {}, {}, {k: [] for k in keys}
        for k, r in runners.items():
            r.model.eval()
            r.serving_server()  # built before timing and FLOP counting
            with torch.inference_mode():
                flops[k] = count_flops(lambda: r.score(xs[k]), bmm_is_attention=not r.peer)
                for _ in range(3):
                    r.score(xs[k])
                t = time.perf_counter()
                for _ in range(3):
                    r.score(xs[k])
                per_call = (time.perf_counter() - t) / 3
            calls[k] = int(min(reps, max(20, budget / per_call)))
        block = 10
        with torch.inference_mode():
            for start in range(0, max(calls.values()), block):
                keys_now = [k for k in keys if start < calls[k]]
                rot = (start // block) % len(keys_now)
                for k in keys_now[rot:] + keys_now[:rot]:
                    r, x = runners[k], xs[k]
                    for _ in range(min(block, calls[k] - start)):
                        t = time.perf_counter_ns()
                        r.score(x)
                        times[k].append((time.perf_counter_ns() - t) / 1e6)
        for k in keys:
            ms = sorted(times[k])
            rows.append({"L": L, "model": k, "label": runners[k].label, "family": runners[k].family,
                         "candidates": N_CANDIDATES, "calls": len(ms),
                         "p50_ms": _quantile(ms, 0.5), "p95_ms": _quantile(ms, 0.95),
                         "mean_ms": statistics.fmean(ms), **flops[k]})
            log(f"  serve L={L:<4} {runners[k].label:<42} p50 {rows[-1]['p50_ms']:8.2f} ms  "
                f"p95 {rows[-1]['p95_ms']:8.2f} ms  {rows[-1]['flops'] / 1e6:9.1f} MFLOP")
    return rows


def _cpu_model() -> str:
    """The processor's name from /proc/cpuinfo ("unknown" elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _quantile(sorted_values, q):
    """Linear interpolation between closest ranks (numpy's default)."""
    pos = (len(sorted_values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


# ---------------------------------------------------------------------------------------------
# 4. Memory: one fresh subprocess per row
# ---------------------------------------------------------------------------------------------
def _status_mib(field: str) -> float:
    """VmHWM (peak) or VmRSS (now) of this process from /proc/self/status, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise KeyError(field)


def memory_row(kind: str, key: str, L: int) -> dict:
    """Runs in the subprocess: build model and data, reset the peak, run the work, read the peak.

    Reads VmHWM from /proc/self/status, not ``getrusage().ru_maxrss``: on Linux a child's ru_maxrss
    starts from its parent's RSS at fork time, so it would report the (large) benchmark process.
    Writing "5" to /proc/self/clear_refs resets VmHWM to the current RSS just before the steps.
    """
    schema = bench_schema(L)
    r = Runner(key, schema, L)
    if kind == "train":
        data = [r.prepare(random_batch(schema, B, seed)) for seed in range(3)]
        step = make_step(r)
    else:
        x = r.prepare(candidates_batch(schema, seed=L))[0]
        r.model.eval()
    built = _status_mib("VmHWM")
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_mib("VmRSS")
    if kind == "train":
        for x, y in data:
            step(x, y)
    else:
        with torch.inference_mode():
            for _ in range(5):
                r.score(x)
    during = _status_mib("VmHWM")
    return {"kind": kind, "L": L, "model": key, "label": MODELS[key][0],
            "rss_peak_mib": max(built, during), "rss_increase_mib": during - before,
            "rss_before_steps_mib": before, "parameters_mib": r.n_parameters() * 4 / 2**20}


def memory_rows(rows_wanted, jobs: int, log) -> list[dict]:
    def one(job):
        kind, key, L = job
        cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-row", kind, key, str(L),
               "--threads", "1"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    with ThreadPoolExecutor(jobs) as pool:
        rows = list(pool.map(one, rows_wanted))
    for r in rows:
        log(f"  memory {r['kind']:<5} L={r['L']:<4} {r['label']:<42} peak {r['rss_peak_mib']:7.0f} MiB"
            f"  (+{r['rss_increase_mib']:.0f})")
    return rows


# ---------------------------------------------------------------------------------------------
# 2. Quality on MovieLens-100K
# ---------------------------------------------------------------------------------------------
def quality(seeds, epochs: int, log) -> dict:
    from bst_teach.data import build_dataset, load_movielens
    from bst_teach.data.errors import DataError
    from bst_teach.train import set_seed, train

    shared = HERE.parent.parent / "shared" / "data" / "ml-100k"
    if "BST_TEACH_ML100K" not in os.environ and (shared / "u.data").is_file():
        os.environ["BST_TEACH_ML100K"] = str(shared)
    try:
        data = build_dataset(load_movielens(), max_len=20)
    except DataError as e:
        log(f"  quality skipped: {e}")
        return {"skipped": str(e)}
    rows = []
    for seed in seeds:
        for key in QUALITY_MODELS:
            set_seed(seed)
            r = Runner(key, data.schema, 20, seed=seed)
            res = train(r.model, data, replace(BOOK_TRAIN, epochs=epochs, seed=seed,
                                               device=str(DEVICE)))
            rows.append({"seed": seed, "model": key, "label": r.label, "test_auc": res.test_auc,
                         "test_gauc": res.test_gauc, "test_logloss": res.test_logloss, "val_auc": res.val_auc,
                         "best_epoch": res.best_epoch, "epochs": len(res.history),
                         "train_seconds": res.train_seconds,
                         "val_auc_by_epoch": [h["val_auc"] for h in res.history]})
            log(f"  quality seed {seed} {r.label:<42} test AUC {res.test_auc:.4f}, gAUC "
                f"{res.test_gauc:.4f} ({res.train_seconds:.1f} s)")
    summary = {}
    for key in QUALITY_MODELS:
        aucs = [r["test_auc"] for r in rows if r["model"] == key]
        summary[key] = {"label": MODELS[key][0], "mean_test_auc": statistics.fmean(aucs),
                        "mean_test_gauc": statistics.fmean(
                            r["test_gauc"] for r in rows if r["model"] == key),
                        "std_test_auc": statistics.stdev(aucs) if len(aucs) > 1 else 0.0,
                        "mean_train_seconds": statistics.fmean(
                            r["train_seconds"] for r in rows if r["model"] == key)}
    return {"data": "MovieLens-100K, build_dataset(max_len=20): chronological 80/10/10 split, "
                    "rating >= 4 positive", "samples": {s: len(getattr(data, s)) for s in
                                                       ("train", "val", "test")},
            "epochs": epochs, "patience": BOOK_TRAIN.patience, "seeds": list(seeds),
            "batch_size": BOOK_TRAIN.batch_size, "lr": BOOK_TRAIN.lr,
            "threads": torch.get_num_threads(),  # the primary count of --threads
            "selection": "weights of the best validation epoch (bst_teach.train.train)",
            "runs": rows, "summary": summary}


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------
def checks() -> dict:
    schema = bench_schema(20)
    batch, other = random_batch(schema, 64, seed=123), random_batch(schema, 64, seed=321)
    out = {}
    for key in ("bst", "rechub_bst", "rechub_bst_shipped"):
        out[f"{key}_batch_independent"] = batch_independent(Runner(key, schema, 20).model, batch,
                                                            other)
    # torch-rechub <= 0.5 built nn.TransformerEncoderLayer without batch_first (so seq-first) and
    # fed it (B, T, D): the same mistake, reproduced on a bare encoder, mixes the batch.
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=128)
    legacy = torch.nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False).eval()
    x, y = torch.randn(64, 21, 32), torch.randn(64, 21, 32)
    with torch.no_grad():
        mixed = torch.cat([x[:32], y[32:]])
        out["legacy_seq_first_encoder_fed_BTD_batch_independent"] = bool(
            torch.allclose(legacy(x)[:32], legacy(mixed)[:32], atol=1e-5))
    ours, full = Runner("bst", schema, 20).model.eval(), Runner("bst_full", schema, 20).model.eval()
    with torch.no_grad():
        out["bst_target_only_vs_full_max_abs_logit_diff"] = float((ours(batch) - full(batch)).abs().max())
    return out


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def markdown(res: dict) -> str:
    m = res["meta"]
    counts = m["threads"] if isinstance(m["threads"], list) else [m["threads"]]  # int: older files
    lines = [f"# Benchmark results ({m['date']})", "",
             f"Command: `{m['command']}`. Machine: {m['cpus']} CPUs, {m['platform']}; torch "
             f"{m['torch']}, training timed on {' and '.join(map(str, counts))} thread(s) (primary: "
             f"{counts[0]}); torch-rechub {m['peers']['torch-rechub']}, "
             f"deepctr-torch {m['peers']['deepctr-torch']}. Load average (1, 5, 15 min) before: "
             f"{_fmt_load(m['loadavg_start'])}; after: {_fmt_load(m['loadavg_end'])}."
             + (" **--quick run.**" if m["quick"] else ""), "",
             "## Training throughput (samples/s, median of interleaved windows; batch 256)", "",
             "| L | threads | model | samples/s | min – max | ms/step | parameters | "
             "peak RSS MiB (+ during steps) |", "|---|---|---|---|---|---|---|---|"]
    mem = {(r["L"], r["model"]): r for r in res["memory"] if r["kind"] == "train"}
    for r in res["training"]:
        mm = mem.get((r["L"], r["model"]))
        rss = f"{mm['rss_peak_mib']:.0f} (+{mm['rss_increase_mib']:.0f})" if mm else "–"
        lines.append(f"| {r['L']} | {r.get('threads', counts[0])} | {r['label']} | "
                     f"{r['samples_per_s']:.0f} | "
                     f"{r['samples_per_s_min']:.0f} – {r['samples_per_s_max']:.0f} | "
                     f"{r['ms_per_step']:.1f} | {r['parameters']:,} | {rss} |")
    lines += ["", "## Ours / peer (training throughput ratio; > 1: ours is faster)", "",
              "| L | threads | ours | peer | ratio |", "|---|---|---|---|---|"]
    for r in res["ratios"]:
        lines.append(f"| {r['L']} | {r.get('threads', counts[0])} | {r['ours_label']} | "
                     f"{r['peer_label']} | {r['ratio']:.2f} |")
    if len(counts) > 1 and res["training"]:
        lo, hi = min(counts), max(counts)
        sps = {(r["L"], r["model"], r["threads"]): r["samples_per_s"] for r in res["training"]}
        lines += ["", "## One thread or two (training samples/s by torch thread count)", "",
                  "| L | model | " + " | ".join(f"{n} thread{'s' * (n > 1)}" for n in counts)
                  + f" | {hi} / {lo} threads |", "|---|---|" + "---|" * (len(counts) + 1)]
        for r in res["training"]:
            if r["threads"] == counts[0]:
                L, k = r["L"], r["model"]
                lines.append(f"| {L} | {r['label']} | "
                             + " | ".join(f"{sps[L, k, n]:.0f}" for n in counts)
                             + f" | {sps[L, k, hi] / sps[L, k, lo]:.2f} |")
    st = res.get("steps", {})
    if st:
        lines += ["", "## Training step before / after (batch 256, one thread, batch building included)",
                  "", f"1024 x 1024 float32 matmul on one thread: {st['matmul_1024_gflops']:.1f} GFLOP/s.",
                  "", "| L | step | ms/step | CPU ms/step | MFLOP/step | GFLOP/s | of matmul |",
                  "|---|---|---|---|---|---|---|"]
        for r in st["rows"]:
            lines.append(f"| {r['L']} | {r['label']} | {r['ms_per_step']:.2f} | "
                         f"{r['cpu_ms_per_step']:.2f} | {r['flops_per_step'] / 1e6:.0f} | "
                         f"{r['gflops']:.1f} | {r['fraction_of_matmul']:.0%} |")
        by = {(r["L"], r["model"]): r for r in st["rows"]}
        lines += ["", "| L | speed-up (wall) | speed-up (CPU time) |", "|---|---|---|"]
        for L in sorted({r["L"] for r in st["rows"]}):
            a, b = by[L, "bst_reference"], by[L, "bst"]
            lines.append(f"| {L} | {a['ms_per_step'] / b['ms_per_step']:.2f} | "
                         f"{a['cpu_ms_per_step'] / b['cpu_ms_per_step']:.2f} |")
    if res.get("busy"):
        lines += ["", f"## Busy machine: throughput with one busy process / without (same run, "
                      f"{m.get('busy_threads', counts[0])} threads)", "",
                  "| L | model | without | with | ratio |", "|---|---|---|---|---|"]
        for r in res["busy"]:
            lines.append(f"| {r['L']} | {r['label']} | {r['idle_samples_per_s']:.0f} | "
                         f"{r['busy_samples_per_s']:.0f} | {r['ratio']:.2f} |")
    lines += ["", f"## Serving: {N_CANDIDATES} candidates for one user, one forward pass", "",
              "| L | model | p50 ms | p95 ms | calls | MFLOP | of which attention | "
              "peak RSS MiB (+ during calls) |", "|---|---|---|---|---|---|---|---|"]
    smem = {(r["L"], r["model"]): r for r in res["memory"] if r["kind"] == "serve"}
    for r in res["serving"]:
        mm = smem.get((r["L"], r["model"]))
        rss = f"{mm['rss_peak_mib']:.0f} (+{mm['rss_increase_mib']:.0f})" if mm else "–"
        lines.append(f"| {r['L']} | {r['label']} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | "
                     f"{r['calls']} | {r['flops'] / 1e6:.1f} | {r['attention_flops'] / 1e6:.1f} | {rss} |")
    q = res["quality"]
    lines += ["", "## Quality on MovieLens-100K (test AUC)", ""]
    if "skipped" in q:
        lines.append(f"Skipped: {q['skipped']}")
    else:
        lines += [f"{q['data']}; up to {q['epochs']} epoch(s), early-stopping patience "
                  f"{q.get('patience', 2)}, seeds {q['seeds']}, {q['selection']}"
                  + (f", {q['threads']} thread(s)" if "threads" in q else "") + ".", "",
                  "| model | mean test AUC | std | per seed | mean test gAUC | train s (mean) |",
                  "|---|---|---|---|---|---|"]
        for key, s in q["summary"].items():
            per = " ".join(f"{r['test_auc']:.4f}" for r in q["runs"] if r["model"] == key)
            g = f"{s['mean_test_gauc']:.4f}" if "mean_test_gauc" in s else "not measured"
            lines.append(f"| {s['label']} | {s['mean_test_auc']:.4f} | {s['std_test_auc']:.4f} | "
                         f"{per} | {g} | {s['mean_train_seconds']:.1f} |")
    lines += ["", "## Checks", ""]
    lines += [f"- `{k}`: {v}" for k, v in res["checks"].items()]
    lines += ["", "## Settings that could not be matched", ""]
    for peer, items in res["mismatches"].items():
        lines.append(f"**{peer}**")
        lines += [f"- {x}" for x in items]
        lines.append("")
    return "\n".join(lines) + "\n"


def _python_name() -> str:
    """The interpreter as typed from the repository root (.venv-bench/bin/python), else python."""
    exe = Path(sys.executable)
    try:
        return str(exe.relative_to(HERE.parent))
    except ValueError:
        return "python"


def _fmt_load(avg):
    return ", ".join(f"{x:.2f}" for x in avg)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer rounds, repetitions, seeds, epochs")
    p.add_argument("--out", default=str(HERE / "results"), help="folder for results.json / .md")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                   help="torch thread counts for the training throughput, every model at each "
                        "(default 1 2); the first is the primary one, the one of the main tables")
    p.add_argument("--serving-threads", type=int, default=1,
                   help="torch threads for the serving latencies (default 1: one request's small "
                        "operations gain nothing from a second thread and pay for waking it)")
    p.add_argument("--device", default="cpu",
                   help="cpu (default), auto, cuda[:N] or mps: where sections 1 and 2 train")
    p.add_argument("--skip", nargs="*", default=[],
                   choices=["training", "steps", "busy", "serving", "memory", "quality"])
    p.add_argument("--memory-row", nargs=3, metavar=("KIND", "MODEL", "L"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    global DEVICE
    try:
        DEVICE = resolve_device(a.device)  # a device that is not there: refused before any work
    except ValueError as e:
        p.error(str(e))
    torch.set_num_threads(a.threads[0])
    if a.memory_row:
        kind, key, L = a.memory_row
        print(json.dumps(memory_row(kind, key, int(L))))
        return

    def log(msg):
        print(msg, flush=True)

    rounds, window, reps, budget = (3, 0.25, 60, 1.5) if a.quick else (9, 0.6, 300, 4.0)
    # quality: the book's schedule (BOOK_TRAIN: up to 20 epochs, early stopping) unless --quick
    seeds, epochs = ((0,), 2) if a.quick else ((0, 1, 2), BOOK_TRAIN.epochs)
    busy_threads = max(a.threads)  # threads that can wait on each other: what a busy core hurts
    meta = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": " ".join([_python_name(), "bench/run.py",
                                 *(sys.argv[1:] if argv is None else argv)]),
            "quick": a.quick, "threads": a.threads, "busy_threads": busy_threads,
            "cpus": os.cpu_count(),
            "platform": platform.platform(), "cpu_model": _cpu_model(),
            "python": platform.python_version(),
            "torch": torch.__version__, "loadavg_start": list(os.getloadavg()),
            "peers": {n: md.version(n) for n in ("torch-rechub", "deepctr-torch")},
            "rounds": rounds, "window_s": window, "serving_reps": reps,
            "serving_threads": a.serving_threads, "device": str(DEVICE),
            "memory": "VmHWM of a fresh subprocess per row (whole-process peak RSS)"}
    res = {"meta": meta, "settings": {k: list(v) if isinstance(v, tuple) else v
                                      for k, v in SETTINGS.items()},
           "mismatches": MISMATCHES, "training": [], "ratios": [], "serving": [], "memory": [],
           "steps": {}, "busy": [],
           "quality": {"skipped": "--skip quality"}}
    t0 = time.perf_counter()
    log("checks")
    res["checks"] = checks()
    log(f"  {res['checks']}")
    if "training" not in a.skip:
        log(f"training throughput ({rounds} interleaved rounds, windows of about {window} s, "
            f"threads {a.threads})")
        keys = [k for k in TRAIN_MODELS  # the peers on the CPU only
                if DEVICE.type == "cpu" or not k.startswith(("rechub", "deepctr"))]
        res["training"] = training_throughput(TRAIN_LENGTHS, keys, a.threads, rounds, window, log)
        res["ratios"] = ratios(res["training"])
    if "steps" not in a.skip:
        log("training step before / after (one thread, batch building included)")
        res["steps"] = step_before_after(TRAIN_LENGTHS, rounds, window, log)
    if "busy" not in a.skip:
        log(f"busy machine: every model with and without one busy process ({rounds} rounds, "
            f"{busy_threads} threads)")
        res["busy"] = busy_ratios(BUSY_LENGTHS, TRAIN_MODELS, busy_threads, rounds, window / 2, log)
    if "serving" not in a.skip:
        log(f"serving latency (up to {reps} calls or {budget} s per model and L, "
            f"{a.serving_threads} thread(s))")
        torch.set_num_threads(a.serving_threads)
        res["serving"] = serving_latency(SERVE_LENGTHS, SERVE_MODELS, reps, budget, log)
        torch.set_num_threads(a.threads[0])
    if "quality" not in a.skip:
        log(f"quality on MovieLens-100K (seeds {seeds}, {epochs} epoch(s))")
        res["quality"] = quality(seeds, epochs, log)
    if "memory" not in a.skip:
        log("peak memory (one subprocess per row, two at a time)")
        wanted = [("train", k, L) for L in TRAIN_LENGTHS for k in TRAIN_MODELS]
        wanted += [("serve", k, L) for L in SERVE_LENGTHS for k in SERVE_MODELS]
        res["memory"] = memory_rows(wanted, 2, log)
    meta["loadavg_end"] = list(os.getloadavg())
    meta["seconds"] = time.perf_counter() - t0
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "results.md").write_text(markdown(res))
    log(f"wrote {out / 'results.json'} and {out / 'results.md'} in {meta['seconds']:.0f} s")


if __name__ == "__main__":
    main()
