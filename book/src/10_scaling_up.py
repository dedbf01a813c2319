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
# # Appendix: scaling up: more processes, a GPU, several machines
#
# Everything in this book trains in one process on a laptop-sized CPU. The same trainer also runs
# *data parallel*: several processes, each with a full copy of the model, each working on its own
# share of every epoch's batches, kept in step by PyTorch's DistributedDataParallel (DDP)
# {cite}`li2020ddp,pytorch_ddp_docs`. This appendix says what changes when one process becomes
# N, measures one process against two on MovieLens-100K, and shows the commands for a GPU and for
# several machines.
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
# - how to launch the same training on GPUs and on several machines with `torchrun`.
#
# As in the performance appendix, the numbers here are **read from a file**, not measured while
# the page runs: `bench/results/scaling.json`, written by `bench/scaling.py` in the repository
# (read with `bst_teach.resources.scaling_results()`; set `BST_TEACH_SCALING_RESULTS` to a copy
# of the file to run this page elsewhere). Nothing on this page is trained.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from myst_nb import glue

from bst_teach.resources import scaling_results
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
