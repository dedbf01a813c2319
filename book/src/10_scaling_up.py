# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Appendix: scaling up: more processes, a GPU, several machines, logs larger than memory
#
# Everything in this book trains in one process on a laptop-sized CPU. The same trainer also runs
# *data parallel*: several processes, each with a full copy of the model, each working on its own
# share of every epoch's batches, kept in step by PyTorch's DistributedDataParallel (DDP)
# {cite}`li2020ddp,pytorch_ddp_docs`. This appendix says what changes when one process becomes
# N, measures one process against two on MovieLens-100K, shows the commands for a GPU and for
# several machines, and trains on a log of events too large to hold in memory.
#
# **What you'll learn**
#
# - what DDP does in each step (the same initial weights, a share of the batches, averaged
#   gradients) and what this trainer adds (one evaluation, one early-stopping decision, one
#   writer);
# - why the effective batch grows with the number of processes, and what that does to the
#   number of optimiser steps;
# - why {term}`LayerNorm` needs no synchronisation between processes and {term}`BatchNorm` does;
# - what two processes measured against one on a 2-core CPU: {term}`AUC`, {term}`gAUC`,
#   throughput and memory;
# - how to launch the same training on GPUs and on several machines with `torchrun`;
# - how a log of ten million events trains in the memory of a log of one million: shards of
#   whole users on disk, one shard at a time.
#
# As in the performance appendix, the numbers here are **read from files**, not measured while
# the page runs: `bench/results/scaling.json`, written by `bench/scaling.py` in the repository
# (read with `bst_teach.resources.scaling_results()`; set `BST_TEACH_SCALING_RESULTS` to a copy
# of the file to run this page elsewhere), and `bench/results/memory_scaling.json`, written by
# `bench/memory_scaling.py` (`bst_teach.resources.memory_results()`,
# `BST_TEACH_MEMORY_RESULTS`). Nothing on this page is trained.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from myst_nb import glue

from bst_teach.resources import memory_results, scaling_results
from bst_teach.results import t_interval

res = scaling_results()
meta = res["meta"]
runs = pd.DataFrame(res["runs"])
one, two = (runs[runs.processes == w].set_index("seed").sort_index() for w in (1, 2))
assert list(one.index) == list(two.index) == meta["seeds"]

# %% [markdown]
# ## What changes between one process and N
#
# `torchrun --nproc-per-node N -m bst_teach train ...` starts N copies of the same program, the
# *ranks* 0 to N-1, and sets environment variables (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, the
# address of a rendezvous) through which they find each other and form a *process group*.
# Every rank loads the whole data set and builds the whole model. Then, in this trainer
# (`bst_teach/distributed.py`):
#
# - **Same start.** Wrapping the model in DDP copies rank 0's weights to every rank, so all
#   ranks start from the same parameters.
# - **A share of the batches.** Every rank shuffles the training rows with the same seeded
#   generator, so all ranks see the same order, cuts it into batches of `--batch-size` rows, and
#   takes batches `rank, rank + N, rank + 2N, ...`. This is the split
#   `torch.utils.data.DistributedSampler` makes, applied to whole batches. The shares are
#   disjoint and together cover the epoch; a rank with one batch fewer is handled by DDP's
#   `join()`.
# - **Averaged gradients.** In the backward pass DDP averages every parameter's gradient over
#   the ranks with an all-reduce, in buckets that overlap with the rest of the backward pass
#   {cite}`li2020ddp`. Every rank then takes the same Adam step and the copies stay identical.
#   Only the dropout masks differ between ranks (each rank seeds its own).
# - **A larger effective batch, fewer steps.** One optimiser step now averages N batches of
#   `--batch-size` rows: with N = 2 and `--batch-size 256` a step sees 512 rows, and an epoch has
#   half as many steps. This is a different optimisation, not the same one done faster. To keep
#   the step of a single process, pass `--batch-size 256/N`; to keep the larger batch, the usual
#   heuristic is to scale the learning rate with it {cite}`goyal2017largebatch`, which should then
#   be checked on the validation split.
# - **One evaluation, one decision, one writer.** After every epoch each rank scores a
#   contiguous slice of the validation split and the predictions are gathered, so AUC is computed
#   once over exactly the split's rows, with the same value on every rank. Rank 0 decides whether
#   to stop early and broadcasts the decision (all ranks must stop together, or the next
#   all-reduce would wait forever). Only rank 0 prints the JSON report and writes the checkpoint.
#
# **Normalisation layers.** {term}`LayerNorm` normalises each token over its own features: its
# output for one row does not depend on the other rows, so every rank computes exactly what one
# process would and nothing needs to be exchanged. {term}`BatchNorm` normalises each feature over
# the *batch*: on N ranks each rank sees only its own batch, so its statistics are those of
# `--batch-size` rows, not of the N x `--batch-size` rows of the step, and its running averages
# drift apart from the other ranks'. `torch.nn.SyncBatchNorm` all-reduces the batch statistics in
# every forward pass so that all ranks normalise with the statistics of the global batch; the
# trainer converts BatchNorm to it on GPUs. On the CPU (the gloo backend) it keeps plain
# BatchNorm: each rank normalises with its own batch's statistics, and DDP copies rank 0's
# running averages to the other ranks before every forward pass. The book's BST uses LayerNorm,
# as the paper does {cite}`chen2019bst`, so the runs below are not affected.

# %% tags=["hide-input"]
# Checks for the claims below
n_train = int(one.n_train.iloc[0])
steps1 = int(one.steps_per_epoch.iloc[0])
steps2 = int(two.steps_per_epoch.iloc[0])
assert steps1 == -(-n_train // meta["batch_size_per_rank"])
assert steps2 == -(-n_train // (2 * meta["batch_size_per_rank"])) and steps2 < steps1
glue("n_train", n_train, display=False)
glue("steps1", steps1, display=False)
glue("steps2", steps2, display=False)
glue("batch", int(meta["batch_size_per_rank"]), display=False)
glue("global_batch", 2 * int(meta["batch_size_per_rank"]), display=False)

# %% [markdown]
# On the {glue:text}`n_train` training rows of MovieLens-100K with batches of
# {glue:text}`batch`, one process takes {glue:text}`steps1` optimiser steps per epoch; two
# processes take {glue:text}`steps2`, each averaging the gradients of
# {glue:text}`global_batch` rows.
#
# ## How the numbers were measured
#
# `bench/scaling.py` trains the book's BST (one block, four heads, both position signals, the
# log time scheme, LayerNorm, L = 20, Adam at 0.001, batches of 256, at most 40 epochs, patience
# 4) on MovieLens-100K for seeds 0, 1 and 2, once as one process and once as two `torchrun`
# ranks, every process on one thread. The runs alternate (one process, two processes, next seed)
# so that a drift in the machine's speed hits both sides alike, and a pair during which another
# training, test or notebook run started is discarded and measured again. The commands, with
# `RSS_DIR` a temporary folder:

# %%
print(f"measured {meta['date']} on {meta['cpus']} CPUs ({meta['cpu']}), torch {meta['torch']}")
for world, cmd in meta["commands"].items():
    print(f"\n{world} process{'es' if world != '1' else ''}:\n  {cmd}")
print("\nenvironment:", " ".join(f"{k}={v}" for k, v in meta["env"].items()))
print("load average (1, 5, 15 min) before:", ", ".join(f"{x:.2f}" for x in meta["loadavg_before"]),
      "| after:", ", ".join(f"{x:.2f}" for x in meta["loadavg_after"]))
print(f"pairs discarded because another run started meanwhile: {len(meta['discarded_runs']) // 2}")

# %% tags=["hide-input"]
# Checks for the claims below
assert all(not r for r in runs.others_running)  # every kept run had the machine to itself
assert meta["waited_for_idle_seconds"] > 0  # it waited for another run to finish
assert meta["loadavg_before"][0] > 0.5  # so the load average had not yet fallen
glue("cpus", int(meta["cpus"]), display=False)
glue("load_before", float(meta["loadavg_before"][0]), display=False)
glue("load_after", float(meta["loadavg_after"][0]), display=False)

# %% [markdown]
# Each rank runs under GNU `time`, whose `%M` is the process's peak resident memory; the
# `torchrun` launcher's own peak is read from `/proc` while it runs. Throughput is training rows
# times epochs divided by `train_seconds`, the trainer's own clock from the first batch to the
# end of the last epoch (the per-epoch validation included, data loading and process start-up
# not). The 1-minute load average was {glue:text}`load_before:.1f` before the first run, the
# tail of the notebook run the script had waited for, and {glue:text}`load_after:.1f` after the
# last, which counts the benchmark's own two ranks on {glue:text}`cpus` CPUs.
#
# ## One process against two

# %%
table = pd.DataFrame({
    "procs": runs.processes, "seed": runs.seed,
    "AUC": runs.test_auc.round(3), "gAUC": runs.test_gauc.round(3),
    "epochs": runs.epochs, "train s": runs.train_seconds.round(1),
    "rows/s": runs.throughput.round(-2).astype(int),
    "MiB/rank": ["/".join(f"{m:.0f}" for m in r) for r in runs.rss_mib_per_rank],
    "MiB": runs.rss_mib_total.round().astype(int)})
print(table.to_string(index=False))

# %% mystnb={"figure": {"caption": "One process (grey) against two `torchrun` ranks (blue), seeds 0-2 on MovieLens-100K. Left: test AUC of each seed, a line joining the two runs of a seed. Middle: training throughput, rows per second. Right: peak resident memory, one bar segment per rank, with the launcher of the two-rank run hatched.", "name": "fig-10-scaling"}}
fig, (ax_auc, ax_tp, ax_mem) = plt.subplots(1, 3, figsize=(11, 3.4))
colors = {1: "0.55", 2: "tab:blue"}
x = {1: 0, 2: 1}
for seed in meta["seeds"]:
    ax_auc.plot([0, 1], [one.test_auc[seed], two.test_auc[seed]], color="0.8", zorder=1)
for w, df in ((1, one), (2, two)):
    ax_auc.scatter([x[w]] * len(df), df.test_auc, color=colors[w], zorder=2)
ax_auc.set_xticks([0, 1], ["1 process", "2 processes"])
ax_auc.set_xlim(-0.5, 1.5)
ax_auc.set_ylabel("test AUC")
width = 0.38
seeds = np.arange(len(meta["seeds"]))
for w, df, off in ((1, one, -width / 2), (2, two, width / 2)):
    ax_tp.bar(seeds + off, df.throughput, width, color=colors[w], label=f"{w} proc.")
    bottom = np.zeros(len(df))
    for r in range(w):
        part = np.array([m[r] for m in df.rss_mib_per_rank])
        ax_mem.bar(seeds + off, part, width, bottom=bottom, color=colors[w], edgecolor="white")
        bottom += part
    if w == 2:
        ax_mem.bar(seeds + off, df.launcher_rss_mib, width, bottom=bottom, color="white",
                   edgecolor=colors[w], hatch="//", label="launcher")
for ax in (ax_tp, ax_mem):
    ax.set_xticks(seeds, [f"seed {s}" for s in meta["seeds"]])
ax_tp.set_ylabel("training rows / s")
ax_tp.set_ylim(0, 1.25 * runs.throughput.max())
ax_tp.legend(loc="upper center", ncol=2, fontsize=8)
ax_mem.set_ylabel("peak resident memory (MiB)")
ax_mem.legend(loc="upper left", fontsize=8)
fig.tight_layout()
plt.show()

# %% tags=["hide-input"]
# Checks for the claims below
d_auc = t_interval(two.test_auc - one.test_auc)
d_gauc = t_interval(two.test_gauc - one.test_gauc)
seed_sd = float(one.test_auc.std(ddof=1))
assert d_auc[1] < 0 < d_auc[2], d_auc  # the paired interval contains zero
assert d_gauc[1] < 0 < d_gauc[2], d_gauc
assert abs(d_auc[0]) < seed_sd  # the mean difference is smaller than the spread between seeds
ratio = t_interval(two.throughput / one.throughput)
assert ratio[1] < 1 < ratio[2], ratio  # the paired interval of the ratio contains 1
assert ratio[2] < 1.5, ratio  # and is far from the 2 of perfect scaling
step_ms1 = float((one.train_seconds / (one.epochs * one.steps_per_epoch)).mean() * 1000)
step_ms2 = float((two.train_seconds / (two.epochs * two.steps_per_epoch)).mean() * 1000)
assert 1.7 < step_ms2 / step_ms1 < 2.3  # a rank's step ~ two steps of a lone process
per_rank = np.array([m for ms in two.rss_mib_per_rank for m in ms])
mem_ratio = float(two.rss_mib_total.mean() / one.rss_mib_total.mean())
assert 1.9 < mem_ratio < 2.1, mem_ratio  # two ranks: twice the memory
assert abs(per_rank.mean() / one.rss_mib_total.mean() - 1) < 0.05  # a rank ~ one process
for name, value in [("d_auc", d_auc[0]), ("d_auc_lo", d_auc[1]), ("d_auc_hi", d_auc[2]),
                    ("d_gauc", d_gauc[0]), ("d_gauc_lo", d_gauc[1]), ("d_gauc_hi", d_gauc[2]),
                    ("seed_sd", seed_sd), ("tp_ratio", ratio[0]), ("tp_lo", ratio[1]),
                    ("tp_hi", ratio[2]), ("tp1", one.throughput.mean()),
                    ("tp2", two.throughput.mean()), ("step_ms1", step_ms1),
                    ("step_ms2", step_ms2), ("mem1", one.rss_mib_total.mean()),
                    ("mem2", two.rss_mib_total.mean()), ("mem_ratio", mem_ratio),
                    ("rank_mem", per_rank.mean()), ("launcher_mem", two.launcher_rss_mib.mean()),
                    ("epochs1", one.epochs.mean()), ("epochs2", two.epochs.mean())]:
    glue(name, float(value), display=False)

# %% [markdown]
# {numref}`fig-10-scaling` and the table show three things.
#
# **Quality: the two cannot be told apart.** Over the three seeds, two processes minus one
# process is {glue:text}`d_auc:+.4f` in test AUC (95% paired interval {glue:text}`d_auc_lo:+.4f`
# to {glue:text}`d_auc_hi:+.4f`) and {glue:text}`d_gauc:+.4f` in gAUC
# ({glue:text}`d_gauc_lo:+.4f` to {glue:text}`d_gauc_hi:+.4f`). Both intervals contain zero and
# the mean AUC difference is smaller than the spread between seeds of one process (standard
# deviation {glue:text}`seed_sd:.4f`), even though two processes take steps of twice the rows,
# half as often. Three seeds detect only large differences; they do say that doubling the batch
# did not cost this model anything visible. The two-process runs trained
# {glue:text}`epochs2:.1f` epochs on average against {glue:text}`epochs1:.1f` (early stopping
# decides, on validation AUC).
#
# **Speed: no measurable gain on this machine.** One process trained {glue:text}`tp1:,.0f` rows per
# second on average, two processes {glue:text}`tp2:,.0f`: a ratio of {glue:text}`tp_ratio:.2f`
# (paired interval {glue:text}`tp_lo:.2f` to {glue:text}`tp_hi:.2f`). The interval contains 1,
# so these three pairs cannot tell two processes from one, and it lies far below the 2 that
# perfect scaling on two cores would give. Per optimiser step, a lone process needed
# {glue:text}`step_ms1:.1f` ms and each rank {glue:text}`step_ms2:.1f` ms, so each rank's step
# costs about what the two batches would cost in one process. These runs do not separate where
# the time goes; the candidates are the all-reduce of every gradient through gloo in every step,
# gloo's own threads competing with the two training threads for the {glue:text}`cpus` cores,
# and two processes sharing the caches and memory bandwidth of one small machine. A step of a
# one-block BST at batch 256 lasts a few milliseconds, so any fixed cost per step weighs heavily
# (the performance appendix measures how little work one step is). On this machine two
# processes buy nothing measurable and cost twice the memory, so one process is the better way
# to train.
#
# **Memory: each rank is a whole process.** A rank peaked at {glue:text}`rank_mem:.0f` MiB, about
# as much as a lone process ({glue:text}`mem1:.0f` MiB), because each holds the Python
# interpreter, PyTorch, the whole data set and the whole model; two ranks together need
# {glue:text}`mem_ratio:.2f` times the memory of one process, plus the `torchrun` launcher's
# {glue:text}`launcher_mem:.0f` MiB. Data parallelism multiplies memory by the number of ranks.
#
# ## On a GPU
#
# GPU throughput was **not measured** for this book: no GPU machine was available. The commands
# are the same with `--device cuda`:
#
# ```bash
# # one GPU
# python -m bst_teach train --data ml-100k --model bst --device cuda --json
# # every GPU of one machine, one rank per GPU (NCCL; rank r uses cuda:LOCAL_RANK)
# torchrun --standalone --nproc-per-node 4 -m bst_teach train --data ml-100k --model bst \
#     --device cuda --json
# ```
#
# On CUDA the trainer picks the NCCL backend, puts rank r on GPU `LOCAL_RANK` and converts
# BatchNorm to SyncBatchNorm. What to expect: a one-block BST at batch 256 is a few small
# matrix products per step, far too little work to keep a GPU busy, so the time per step is
# mostly the fixed cost of launching kernels; more rows per step (a larger `--batch-size`, with
# the learning rate checked on validation) is the first lever, and more GPUs help only once one
# GPU is busy. NCCL's all-reduce between GPUs of one machine is fast, and much cheaper relative
# to a step than gloo's on two CPU cores. Measure before concluding, with `bench/scaling.py`'s
# approach: the same seeds, one against N, AUC and throughput side by side.
#
# ## On several machines
#
# `torchrun` starts the ranks of each machine; a *rendezvous* lets the machines find each other.
# With the elastic c10d rendezvous, run the same command on every machine:
#
# ```bash
# torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d \
#     --rdzv-endpoint host0.example:29400 --rdzv-id bst-run-1 \
#     -m bst_teach train --data ml-100k --model bst --device cuda --json
# ```
#
# where `host0.example:29400` is a machine and port every machine can reach (one of them hosts
# the rendezvous) and `--rdzv-id` names the job. Ranks are assigned by the rendezvous. With a
# fixed rendezvous instead, each machine gives its own `--node-rank` (0, 1, ...) and the address
# of machine 0, `--master-addr host0.example --master-port 29500`
# {cite}`pytorch_ddp_docs`. Every machine needs the same code, the same PyTorch and the data
# set at the same `BST_TEACH_ML100K` (each rank loads all of it); the checkpoint and the JSON come
# from global rank 0, on its machine. What to expect: every step now waits for an all-reduce
# across the network, which costs far more than within a machine, so for a model this small
# several machines are slower than one; they pay off for models and data sets that do not fit
# in, or take too long on, a single machine.
#
# ## Logs larger than memory
#
# Everything above, one process or N, holds the whole data set in every process. The samples are
# the big part: a sample carries its history, L item ids, L category ids and L time gaps, about
# 500 bytes at L = 20, so ten million events become about 5 GB of samples before any model
# exists, plus the strings of the raw log while it is read. `build_dataset` refuses a request
# above `MAX_HISTORY_CELLS` (50 million history slots) with an estimate, rather than running
# out of memory after minutes of work. A shop's click log, MovieLens-20M or the Taobao
# UserBehavior data set is far beyond that.
#
# `python -m bst_teach train --data csv --interactions log.csv --stream` takes another route
# (`bst_teach/data/stream.py`, `bst_teach/streaming.py`):
#
# 1. **Shards of whole users.** The CSV is read in chunks of 200,000 lines, each chunk checked as
#    `load_csv` checks the whole file (a bad value stops the run with its file, line, column and
#    value), its ids turned into integer codes and every row appended to the file of its user's
#    shard (the user's code modulo the number of shards, chosen for about 200,000 events each).
#    A user's events all land in one shard, so every history can be built from one shard.
# 2. **The split, exactly.** The chronological cutoffs are order statistics of all timestamps;
#    they are found without sorting them all, by counting timestamps into 65,536 bins,
#    keeping the bin that holds the wanted rank and counting again inside it.
# 3. **Vocabularies from the training period,** collected shard by shard, as the chunked builder
#    of MovieLens-1M and 20M does.
# 4. **Encoded events, not samples, on disk.** Each shard is stored as one row of integers per
#    event, about 100 bytes. The samples (with their histories) of a shard are built when the
#    trainer asks for them, in a few vectorised NumPy operations.
#
# Training then visits the shards in a new random order every epoch and shuffles the samples
# within each shard. Because users are spread over the shards at random, a batch is still a
# random draw of users; it is not a draw from the whole split, as in `train`. Evaluation scores
# the validation or test split shard by shard and keeps one probability, label and user per
# sample (16 bytes) for the exact AUC and gAUC. The samples are exactly those of the in-memory
# builder, only grouped by shard; the cell below builds a small generated log both ways and
# compares every array (`tests/test_stream.py` does so for many more settings).

# %%
import tempfile
from pathlib import Path

from bst_teach.data import build_dataset, load_csv
from bst_teach.data.samples import Samples
from bst_teach.data.stream import build_shards

rng = np.random.default_rng(0)
with tempfile.TemporaryDirectory() as tmp:
    log_csv = Path(tmp) / "log.csv"
    pd.DataFrame({"user_id": rng.integers(0, 300, 20_000), "item_id": rng.integers(0, 500, 20_000),
                  "timestamp": 1_700_000_000 + rng.integers(0, 90 * 86400, 20_000),
                  "label": rng.integers(0, 2, 20_000)}).to_csv(log_csv, index=False)
    in_memory = build_dataset(load_csv(log_csv))
    sharded = build_shards(log_csv, folder=Path(tmp) / "shards", shard_rows=5_000, progress=False)
    for split in ("train", "val", "test"):
        parts = [sharded.samples(i, split) for i in range(len(sharded))]
        joined = Samples(**{k: np.concatenate([getattr(p, k) for p in parts])
                            for k in vars(parts[0])})
        joined = joined.subset(np.lexsort((joined.user, joined.timestamp)))  # in-memory order
        assert all(np.array_equal(getattr(joined, k), getattr(getattr(in_memory, split), k))
                   for k in vars(joined))
print(f"{len(sharded)} shards; train / val / test samples:",
      " / ".join(f"{sharded.n_samples(s):,}" for s in ("train", "val", "test")),
      "- identical to build_dataset's")

# %% [markdown]
# ### Memory: one million events against ten million
#
# `bench/memory_scaling.py` writes a log of N events (about 100 per user, 50,000 items, random
# labels: the point is memory, not a model), then for each way of building runs a fresh Python
# process that builds the samples and trains the book's BST for one epoch (batch 256, one
# thread), and reads the process's peak resident memory (`VmHWM` in `/proc/self/status`, reset
# after building, so the training peak is the training phase's own). The peak includes Python,
# PyTorch, pandas and everything the process holds.

# %%
mem = memory_results()
mmeta, mruns = mem["meta"], pd.DataFrame(mem["runs"])
print(f"measured {mmeta['date']} on {mmeta['cpus']} CPUs ({mmeta['cpu']}), torch {mmeta['torch']}")
print("command:", mmeta["command"])
print("load average (1, 5, 15 min) before:", ", ".join(f"{x:.2f}" for x in mmeta["loadavg_before"]),
      "| after:", ", ".join(f"{x:.2f}" for x in mmeta["loadavg_after"]))
refused = mruns["error"].notna() if "error" in mruns else pd.Series(False, index=mruns.index)
rows = []
for (_, r), no in zip(mruns.iterrows(), refused):
    cells = (["refused"] * 4 if no else
             [f"{r.read_s + r.build_s:.1f}", f"{r.peak_rss_build / 1e9:.2f}", f"{r.train_s:.0f}",
              f"{r.peak_rss_train / 1e9:.2f}"])
    rows.append([f"{r.rows:,}", r.builder, *cells])
print(pd.DataFrame(rows, columns=["events", "builder", "build s", "peak build GB", "train s",
                                  "peak train GB"]).to_string(index=False))
for _, r in mruns[refused].iterrows():
    print(f"\n{r.rows:,} events, {r.builder}: {r.error}")

# %% mystnb={"figure": {"caption": "Peak resident memory of building the samples (left) and of training one epoch on them (right), for one million and ten million generated events: the in-memory builder, the chunked builder, and shards on disk (`--stream`). A cross marks a builder that refused the size before building (it would need more than `MAX_HISTORY_CELLS`).", "name": "fig-10-memory"}}
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
builders = ["in-memory", "chunked", "stream"]
sizes = sorted(mruns.rows.unique())
colors_b = {"in-memory": "0.55", "chunked": "tab:orange", "stream": "tab:blue"}
for ax, col, title in zip(axes, ("peak_rss_build", "peak_rss_train"), ("building", "training")):
    for j, b in enumerate(builders):
        for i, n in enumerate(sizes):
            r = mruns[(mruns.rows == n) & (mruns.builder == b)].iloc[0]
            x = i + (j - 1) * 0.27
            if isinstance(r.get("error"), str):
                ax.scatter([x], [0.1], marker="x", color=colors_b[b], s=50)
                ax.annotate("refused", (x, 0.1), xytext=(0, 8), textcoords="offset points",
                            ha="center", fontsize=7, color="0.3", rotation=90)
            else:
                ax.bar(x, r[col] / 1e9, 0.25, color=colors_b[b], label=b if i == 0 else None)
    ax.set_xticks(range(len(sizes)), [f"{n / 1e6:.0f} M events" for n in sizes])
    ax.set_title(title)
axes[0].set_ylabel("peak resident memory (GB)")
axes[1].legend(fontsize=8, loc="upper right")
fig.tight_layout()
plt.show()

# %% tags=["hide-input"]
# Checks for the claims below
def run(n, b):
    return mruns[(mruns.rows == n) & (mruns.builder == b)].iloc[0]


small, large = sizes[0], sizes[-1]
assert large >= 10 * small
assert isinstance(run(large, "in-memory").get("error"), str)  # refused at ten million
assert isinstance(run(large, "chunked").get("error"), str)
s_small, s_large = run(small, "stream"), run(large, "stream")
grow_build = s_large.peak_rss_build / s_small.peak_rss_build
grow_train = s_large.peak_rss_train / s_small.peak_rss_train
assert grow_build < 1.5 and grow_train < 1.5  # ten times the events, not ten times the memory
mem_small = run(small, "in-memory")
assert s_small.peak_rss_train < 0.5 * mem_small.peak_rss_train
assert s_small.peak_rss_build < 0.5 * mem_small.peak_rss_build
for name, value in [("m_small", small / 1e6), ("m_large", large / 1e6),
                    ("sb_small", s_small.peak_rss_build / 1e9),
                    ("sb_large", s_large.peak_rss_build / 1e9),
                    ("st_small", s_small.peak_rss_train / 1e9),
                    ("st_large", s_large.peak_rss_train / 1e9),
                    ("grow_build", grow_build), ("grow_train", grow_train),
                    ("mb_small", mem_small.peak_rss_build / 1e9),
                    ("mt_small", mem_small.peak_rss_train / 1e9),
                    ("cb_small", run(small, "chunked").peak_rss_build / 1e9),
                    ("s_build_large", (s_large.read_s + s_large.build_s) / 60),
                    ("s_train_large", s_large.train_s / 60),
                    ("s_train_small", s_small.train_s), ("m_train_small", mem_small.train_s)]:
    glue(name, float(value), display=False)

# %% [markdown]
# {numref}`fig-10-memory` and the table: with {glue:text}`m_small:.0f` million events, the
# in-memory builder peaked at {glue:text}`mb_small:.2f` GB while building and
# {glue:text}`mt_small:.2f` GB while training; the chunked builder lowers the building peak
# to {glue:text}`cb_small:.2f` GB but still holds every sample for training. Shards peaked at
# {glue:text}`sb_small:.2f` GB building and {glue:text}`st_small:.2f` GB training. With
# {glue:text}`m_large:.0f` million events both in-memory builders refuse before building, and
# shards peaked at {glue:text}`sb_large:.2f` GB building and {glue:text}`st_large:.2f` GB
# training: {glue:text}`grow_build:.2f` and {glue:text}`grow_train:.2f` times the peaks of one
# million events, for ten times the events. What grows is what depends on the number of
# distinct users and items, not events: the id tables and vocabularies (this generated log has
# a user per 100 events, so ten times the users), and the 16 bytes per evaluated sample. Time
# does grow with the events: building ten million took {glue:text}`s_build_large:.1f` minutes
# and one epoch {glue:text}`s_train_large:.1f` minutes on one thread. One epoch over one
# million took {glue:text}`s_train_small:.0f` s from shards against {glue:text}`m_train_small:.0f`
# s in memory; the shards' route does more work per epoch: it reads every shard from disk and
# builds its histories again, for training and for every evaluation.
#
# The bound, then: one CSV chunk, one shard's samples (set by `shard_rows`, about 200,000 events)
# and the id tables, plus 16 bytes per sample of the split being evaluated. A single user with
# more events than a shard can hold still needs that memory, since a history never crosses
# shards. `--data ml-1m --stream` and `--data ml-20m --stream` build the same shards from the
# official MovieLens archives (`build_movielens_shards`; 20M's ratings stream from the zip), so
# MovieLens-20M, which the in-memory builders refuse at L = 20, trains too (not timed for this
# book: the archive is not on these machines). What `--stream` does not do: sampled negatives (they are drawn with the whole log in
# memory; a log of clicks only must be labelled first) and `torchrun` (one process).
#

# ## Exercises
#
# **1. The same step on two processes.** How would you run two processes so that each optimiser
# step sees the same 256 rows as a single process's step? Will the two runs then produce the
# same model?

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# Pass `--batch-size 128`. Both ranks shuffle with the same generator and cut the same order into
# batches of 128; rank 0 takes batches 0, 2, 4, ... and rank 1 batches 1, 3, 5, ..., so step k
# averages batches 2k and 2k + 1, which together are rows 256k to 256k + 255 of the shuffle:
# the single process's batch k. The average of two equal-sized batch means is the mean over the
# 256 rows, so the gradient is the same up to the order of floating-point sums. The runs still
# differ: rank 1's dropout masks come from another seed, and at the end of an epoch a last
# partial batch may have no partner, so one rank's gradient is averaged with nothing (DDP's
# `join()` stands in with zeros), which halves that step's gradient.
# :::

# %% [markdown]
# **2. BatchNorm on two CPU processes.** Train with `--norm batch` under `torchrun` on the CPU.
# Which statistics does each rank normalise with during training, and which running averages end
# up in the checkpoint? What would SyncBatchNorm change, and at what cost?

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# In training mode each rank normalises with the mean and variance of its own batch (256 rows,
# not the 512 of the step). Each rank also updates its running averages, but DDP broadcasts rank
# 0's buffers to the other ranks before every forward pass, so rank 1's updates are overwritten
# and the checkpoint, written by rank 0, holds running averages estimated from rank 0's batches
# only (half of every epoch). SyncBatchNorm all-reduces each BatchNorm layer's per-feature sums
# and sums of squares in the forward pass (and the matching terms in the backward pass), so every
# rank normalises with the statistics of the 512 rows: one more communication per BatchNorm layer
# per step, which on a small model can cost as much as the layer itself.
# :::

# %% [markdown]
# **3. Four processes on four cores.** From the table, predict the memory of a four-rank run on a
# machine with four cores. Why does every rank hold the whole training set, and what would a
# fixed split of the rows between ranks change?

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# About four times a single process plus the launcher: each rank is a whole Python process with
# PyTorch, the model and the data. Every rank holds every row because each epoch's shuffle deals
# out *all* rows, and a given row can go to any rank. With a fixed split (each rank loads only
# its quarter and shuffles it itself) memory for the data falls to a quarter per rank, but a
# batch is then always drawn from one quarter: the batches differ from one process's, and the
# split itself becomes a choice that can bias training if the quarters differ (for example if
# rows are split by user). `DistributedSampler` keeps the whole data set on every rank and
# reshuffles between epochs (`set_epoch`) for this reason.
# :::
