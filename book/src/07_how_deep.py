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
# # How deep?
#
# The Transformers that read text stack many encoder blocks (six in the original
# {cite}`vaswani2017attention`, more in later models). The BST paper tried 1, 2
# and 3 and kept **one**. This chapter asks why, measures depth on our own task with several
# seeds, and weighs what each extra block costs.
#
# **What you'll learn**
#
# - what a single encoder block already does (the target reads every behaviour directly), and
#   what stacking more blocks adds (behaviours read each other first);
# - how to compare depths honestly: several seeds per depth, every run shown, a 95% interval
#   for each mean and for each paired difference, and a claim only where the interval allows it;
# - the cost of depth: parameters per block and the time of a forward pass;
# - why a shallow encoder can suit {term}`behaviour sequences <Behaviour sequence>`: short
#   sequences, signal concentrated in a few recent behaviours, and deeper post-norm stacks that
#   are harder to optimise.

# %%
# %matplotlib inline
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from myst_nb import glue

from bst_teach.data import bayes_auc, make_synthetic, order_blind_ceiling_auc
from bst_teach.exercises.ch07 import (check_block_params, check_make_encoder, count_parameters,
                                      reference_block_params)
from bst_teach.experiments import cached_fit
from bst_teach.models import build_model
from bst_teach.models.bst import EncoderBlock
from bst_teach.results import experiment, load_records, paired_difference, summary
from bst_teach.train import TrainConfig
from bst_teach.viz.positions_plots import patience_stops
from bst_teach.viz.results_plots import (forward_mflop, forward_ms, parameter_split, plot_depth_cost,
                                         plot_depth_results, plot_val_curves)

# %% [markdown]
# ## What the paper found
#
# Table 4 of the BST paper {cite}`chen2019bst` reports the offline {term}`AUC` on eight days of
# Taobao logs for 1, 2 and 3 encoder blocks (written b = 1, 2, 3): one number per depth, with no
# spread over runs.

# %%
PAPER_DEPTH_AUC = {1: 0.7894, 2: 0.7885, 3: 0.7823}  # Chen et al. 2019, Table 4 (offline AUC)
pd.Series(PAPER_DEPTH_AUC, name="offline AUC (Taobao)").rename_axis("blocks").to_frame()

# %% tags=["hide-input"]
# Checks for the claims below
for b, auc in PAPER_DEPTH_AUC.items():
    glue(f"paper_b{b}", auc, display=False)
assert PAPER_DEPTH_AUC[1] > PAPER_DEPTH_AUC[2] > PAPER_DEPTH_AUC[3]
glue("paper_drop_b2", PAPER_DEPTH_AUC[1] - PAPER_DEPTH_AUC[2], display=False)
glue("paper_drop_b3", PAPER_DEPTH_AUC[1] - PAPER_DEPTH_AUC[3], display=False)
PAPER_ITEMS = 12_166_060  # Table 2: items in the Taobao data set
glue("paper_items", PAPER_ITEMS, display=False)
for name, ms in {"wdl": 13, "din": 16, "bst": 20}.items():  # Table 4: average response time
    glue(f"paper_rt_{name}", ms, display=False)

# %% [markdown]
# One block scored {glue:text}`paper_b1:.4f`, two blocks {glue:text}`paper_b2:.4f` and three
# blocks {glue:text}`paper_b3:.4f`: the second block cost {glue:text}`paper_drop_b2:.4f` of AUC
# and the third {glue:text}`paper_drop_b3:.4f` in all. On billions of samples a difference of a
# few thousandths is worth having, and the paper reads its table as: more blocks did not help.
# The paper's explanation is one sentence: the sequential dependency in users' behaviour
# sequences "is not as complex as that in sentences in machine translation task, thus smaller
# number of blocks are enough", adding that SASRec, a self-attentive model for next-item
# recommendation, made a similar observation {cite}`kang2018sasrec`. Let us unpack that, then
# test it.
#
# ## What one block already does, and what a second adds
#
# Recall the encoder of Chapter 3 ({term}`self-attention <Self-attention>` over the behaviours
# and the target). The target item is appended to the L behaviours, so the encoder sees
# T = L + 1 tokens, and one block computes
#
# $$
# \begin{aligned}
# S' &= \mathrm{LayerNorm}(S + \mathrm{Dropout}(\mathrm{MultiHead}(S))),\\
# F &= \mathrm{LayerNorm}(S' + \mathrm{Dropout}(\mathrm{FFN}(S'))).
# \end{aligned}
# $$
#
# The attention step compares **every token with every other token**: a T x T matrix of scores
# per head. But look at what the rest of the model reads: only the encoder's output **at the
# target slot** goes to the MLP head. In a one-block BST that output is the target's own row of
# attention, a softmax-weighted mix of the tokens, where each behaviour's weight comes from how
# its key matches the target's query. Because a token carries its
# {term}`position <Position embedding>`, a head can pick "the most recent behaviour" or "the one
# before" as easily as "the behaviour most like the target", and different heads can fetch
# different behaviours for the MLP to combine. The other T - 1 rows, every behaviour attending
# to the other behaviours, are computed and then thrown away.
#
# So one block gives **target-to-behaviour** relations (for what reaches the prediction, a form
# of {term}`target attention <Target attention>`), each behaviour seen directly (no distance to
# cover: unlike a convolution, attention reaches the whole sequence in one step).
# **Behaviour-to-behaviour** relations reach the prediction only from the second block on: the
# first block's behaviour rows, each a behaviour re-described in the light of the others ("this
# click continues a trend"), become the keys and values that the second block's target row
# reads. That is what depth buys in language, where meaning is built in layers (words, phrases,
# clauses). A deeper BST is the same loop run more times; in `bst_teach.models.bst` it reads
#
# ```python
# for block in self.blocks:           # an nn.ModuleList of `blocks` separate EncoderBlocks
#     s, weights = block(s, key_mask)
# ```
#
# `bst_teach` uses the thrown-away rows to save time: the **last** block computes the target's
# row only (the flag `BST.target_only_last_block`). The check below shows that this changes
# nothing: the logits are the same with the full computation.

# %%
# the book's full-size synthetic task (histories of 20), time buckets on the log scale as in the
# records below
full = make_synthetic(time_scheme="log")
batch = {k: v[:256] for k, v in full.tensors("test").items()}
for b in (1, 2):
    torch.manual_seed(0)
    model = build_model("bst", full.schema, blocks=b).eval()
    with torch.no_grad():
        target_row_only = model(batch)
        model.target_only_last_block = False  # compute every row of every block
        every_row = model(batch)
    assert torch.allclose(target_row_only, every_row, atol=1e-5)
    print(f"{b} block(s): same logits with or without the other rows of the last block")

# %% [markdown]
# Each block has its own weights. Let us count them.

# %%
D = 16 + 8 + 8  # item + category + position widths of a token (BSTConfig defaults)
per_block = count_parameters(EncoderBlock(D, 4, 4, 0.1, "layer"))
split = pd.DataFrame({b: parameter_split(build_model("bst", full.schema, blocks=b))
                      for b in (1, 2, 3)}).T.rename_axis("blocks")
split

# %% tags=["hide-input"]
# Checks for the claims below
assert per_block == reference_block_params(D)
assert (split["encoder"] == split.index * per_block).all()  # b blocks: b times one block
glue("max_len", full.schema.max_len, display=False)
glue("n_tokens", full.schema.max_len + 1, display=False)
glue("timing_batch", len(batch["target_item"]), display=False)
glue("per_block", per_block, display=False)
glue("token_dim", D, display=False)
glue("enc_share_1", float(split.loc[1, "encoder"] / split.loc[1, "total"]), display=False)
glue("enc_share_3", float(split.loc[3, "encoder"] / split.loc[3, "total"]), display=False)
assert PAPER_ITEMS > 100 * split.loc[3, "encoder"]  # Taobao's item ids alone outnumber our encoder

# %% [markdown]
# With tokens of width D = {glue:text}`token_dim` one block holds {glue:text}`per_block`
# parameters: the attention's four D x D projections, the feed-forward's D x 4D and 4D x D
# matrices, their biases and two {term}`LayerNorms <LayerNorm>`. On our small synthetic
# vocabularies the encoder is {glue:text}`enc_share_1:.0%` of the model with one block and
# {glue:text}`enc_share_3:.0%` with three. On Taobao the picture is the opposite: the
# {term}`embedding <Embedding>` tables for {glue:text}`paper_items:,` items {cite}`chen2019bst`
# dwarf any encoder, so parameters are not the cost of depth there; time is (see below).
#
# ## The experiment, from the records
#
# To measure depth we train BSTs with 1, 2 and 3 blocks on the book's full-size synthetic task
# (histories of {glue:text}`max_len`), with everything else at the book's settings,
# {glue:text}`n_seeds` seeds each: {glue:text}`n_runs` models. A seed fixes the initial
# weights and the order of the training batches, nothing else, so the spread over seeds shows
# how much of a difference is luck. Each run trains with early stopping on the validation AUC
# (at most {glue:text}`max_epochs` epochs, stopping after {glue:text}`patience` epochs without
# a better one, but never before epoch {glue:text}`min_epochs`, the same for every run) and is
# tested with the weights of its best epoch.
#
# That many full-size trainings take far longer than a notebook may, so this page does not
# train them: it reads their *records*. The experiment is declared once in `bst_teach.results`
# under the name `depth`; `make results ONLY=depth` runs it and writes one record per run (the
# test AUC, the history of every epoch, the exact command that re-runs it), and
# `python -m bst_teach results table depth` prints the summary below.

# %%
records = load_records("depth")
runs = records.assign(blocks=records["variant"].str.removeprefix("blocks-").astype(int))
stats = summary("depth")
stats = (stats.assign(blocks=stats["variant"].str.removeprefix("blocks-").astype(int))
         .set_index("blocks"))
DEPTHS = tuple(stats.index)
TRAIN = experiment("depth").train


def interval(lo, hi):
    return f"[{lo:.4f}, {hi:.4f}]"


table = pd.DataFrame({
    "seeds": stats["n"],
    "test AUC": stats["mean"].round(4),
    "95% interval": [interval(r.lo, r.hi) for r in stats.itertuples()],
    "best < last": stats["best_before_last"].map("{:.0%}".format),
    "epochs": stats["epochs"].round(1),
    "paper": pd.Series(PAPER_DEPTH_AUC),
}).rename_axis("blocks")
table

# %% tags=["hide-input"]
# Checks for the claims below
n_seeds = len(experiment("depth").seeds)
assert (stats["n"] == n_seeds).all() and len(runs) == n_seeds * len(DEPTHS)  # every record
assert set(runs["data"]) == {"synthetic"} and DEPTHS == (1, 2, 3)
glue("max_epochs", TRAIN["epochs"], display=False)
glue("patience", TRAIN["patience"], display=False)
run_min_epochs = runs["train"].map(lambda t: t["min_epochs"])
assert run_min_epochs.nunique() == 1  # declared for the synthetic task, every depth alike
MIN_EPOCHS = int(run_min_epochs.iloc[0])
glue("min_epochs", MIN_EPOCHS, display=False)
glue("n_seeds", n_seeds, display=False)
glue("n_runs", len(runs), display=False)
full_bayes = bayes_auc(full)
glue("full_bayes", full_bayes, display=False)
assert (stats["hi"] < full_bayes).all()  # no depth reaches the best possible AUC
for b in DEPTHS:
    glue(f"mean_b{b}", float(stats.loc[b, "mean"]), display=False)
    glue(f"lo_b{b}", float(stats.loc[b, "lo"]), display=False)
    glue(f"hi_b{b}", float(stats.loc[b, "hi"]), display=False)
n_converged = int((runs["best_epoch"] < runs["epochs"]).sum())
glue("n_converged", n_converged, display=False)
assert n_converged == len(runs)  # every run's best epoch came before its last
glue("mean_epochs", float(runs["epochs"].mean()), display=False)
glue("max_run_epochs", int(runs["epochs"].max()), display=False)
assert runs["epochs"].max() < TRAIN["epochs"]  # every run was ended by early stopping...
assert (runs["epochs"] - runs["best_epoch"] == TRAIN["patience"]).all()  # ...patience after best
assert runs["test_auc"].min() > 0.9  # no run stayed near chance (0.5)
glue("min_run_auc", float(runs["test_auc"].min()), display=False)
# for Exercise 4: every way to pick one recorded run per depth, and how it ranks the depths
auc = runs.pivot(index="seed", columns="blocks", values="test_auc")
mean_rank = tuple(np.argsort(-stats["mean"].to_numpy()))
picks = [(s1, s2, s3) for s1 in auc.index for s2 in auc.index for s3 in auc.index]
same_rank = [tuple(np.argsort(-np.array([auc.loc[s1, 1], auc.loc[s2, 2], auc.loc[s3, 3]])))
             == mean_rank for s1, s2, s3 in picks]
glue("n_picks", len(picks), display=False)
glue("rank_match", float(np.mean(same_rank)), display=False)
spread = runs.groupby("blocks")["test_auc"].agg(lambda x: x.max() - x.min())
depth_gap = float(stats["mean"].max() - stats["mean"].min())
assert spread.max() > depth_gap  # one depth's seeds spread wider than the depths' means differ
glue("seed_spread_max", float(spread.max()), display=False)
glue("depth_gap", depth_gap, display=False)

# %% [markdown]
# Each row is one depth: the number of seeds, the mean test AUC over them, its 95% interval
# (Student's t over the seeds: where the mean of many more seeds would lie), the share of runs
# whose best validation epoch came before their last, the mean number of epochs, and the
# paper's number for the same depth. **The runs converged**: in {glue:text}`n_converged` of the
# {glue:text}`n_runs` runs the best epoch came before the last, and every run was ended by early
# stopping, after {glue:text}`mean_epochs:.1f` epochs on average (at most
# {glue:text}`max_run_epochs`, well under the limit of {glue:text}`max_epochs`). No run stayed
# near chance: the lowest test AUC of any run is {glue:text}`min_run_auc:.3f`. So the table
# compares trained models, not how fast each depth learns in a fixed budget. For scale: no
# model can beat {glue:text}`full_bayes:.3f` on this test set (the AUC of the true click
# probability).
#
# {numref}`fig-07-depth` draws the same records next to the paper's Table 4, one dot per seed.

# %% mystnb={"figure": {"caption": "Test AUC against the number of encoder blocks. Left: the paper's offline AUC on Taobao, one number per depth (Table 4). Right: the book's synthetic task, one dot per seed, the bar at the mean and the black line its 95% interval.", "name": "fig-07-depth"}}
fig = plot_depth_results(runs[["blocks", "seed", "test_auc"]], PAPER_DEPTH_AUC,
                         f"synthetic task ({n_seeds} seeds per depth)")
ax = fig.axes[1]
ax.errorbar(np.arange(len(DEPTHS)) + 0.3, stats["mean"], yerr=[stats["mean"] - stats["lo"],
            stats["hi"] - stats["mean"]], fmt="none", ecolor="black", capsize=6, lw=1.5)
plt.show()

# %% [markdown]
# Overlapping intervals do not settle a comparison by themselves: the seeds are *paired* (seed 3
# draws the same training batches for every depth), so the right question is how the
# difference between two depths, seed by seed, varies. Its 95% interval decides: "A beats B"
# only where the interval of A − B lies above zero.

# %%
PAIRS = ((2, 1), (3, 1), (3, 2))


def blocks_name(b):
    return f"{b} block" + ("s" if b > 1 else "")


def verdict(a, b, lo, hi):
    """What a paired interval of a - b allows us to say."""
    if lo > 0:
        return f"{blocks_name(a)} beat {blocks_name(b)}"
    if hi < 0:
        return f"{blocks_name(b)} beat {blocks_name(a)}"
    return f"cannot be told apart at {n_seeds} seeds"


diffs = {}
for a, b in PAIRS:
    diffs[(a, b)] = paired_difference("depth", f"blocks-{a}", f"blocks-{b}", "synthetic")
paired = pd.DataFrame(
    [{"difference": f"{a} - {b} blocks", "mean": round(m, 4), "95% interval": interval(lo, hi),
      "verdict": verdict(a, b, lo, hi)} for (a, b), (m, lo, hi) in diffs.items()]
).set_index("difference")
paired

# %% tags=["hide-input"]
# Checks for the claims below
for (a, b), (m, lo, hi) in diffs.items():
    glue(f"d{a}{b}", m, display=False)
    glue(f"d{a}{b}_lo", lo, display=False)
    glue(f"d{a}{b}_hi", hi, display=False)
    glue(f"verdict_{a}{b}", verdict(a, b, lo, hi), display=False)
    _, g_lo, g_hi = paired_difference("depth", f"blocks-{a}", f"blocks-{b}", "synthetic",
                                      metric="test_gauc")
    assert g_lo < 0 < g_hi  # by gAUC too, no depth beats another
# "one block is best" would need both intervals of (deeper - 1 block) below zero; here every
# paired interval contains zero: no depth beats another at this many seeds
assert all(lo < 0 < hi for _, lo, hi in diffs.values())
assert diffs[(2, 1)][0] > 0 and diffs[(3, 1)][0] > 0  # the deeper means are a little higher
assert diffs[(3, 1)][1] > PAPER_DEPTH_AUC[3] - PAPER_DEPTH_AUC[1]  # paper's 3-block loss: ruled out
assert diffs[(2, 1)][1] < PAPER_DEPTH_AUC[2] - PAPER_DEPTH_AUC[1]  # its 2-block loss: not

# %% [markdown]
# Read against the intervals:
#
# - **2 blocks against 1**: a mean difference of {glue:text}`d21:+.4f`, interval
#   [{glue:text}`d21_lo:+.4f`, {glue:text}`d21_hi:+.4f`]: {glue:text}`verdict_21`.
# - **3 blocks against 1**: {glue:text}`d31:+.4f`, interval [{glue:text}`d31_lo:+.4f`,
#   {glue:text}`d31_hi:+.4f`]: {glue:text}`verdict_31`.
# - **3 blocks against 2**: {glue:text}`d32:+.4f`, interval [{glue:text}`d32_lo:+.4f`,
#   {glue:text}`d32_hi:+.4f`]: {glue:text}`verdict_32`.
#
# So the paper's "one block is best" is **not confirmed here**: on our task the three depths
# cannot be told apart at {glue:text}`n_seeds` seeds. Nor does depth help detectably: the
# deeper encoders' means are a little higher, by {glue:text}`d21:.4f` (two blocks) and
# {glue:text}`d31:.4f` (three), but both paired intervals contain zero, so that may be the
# luck of the seeds. What the intervals do rule out are large effects. The interval of
# 3 − 1 blocks starts at {glue:text}`d31_lo:+.4f`, so a loss as large as the paper's
# three-block drop of {glue:text}`paper_drop_b3:.4f` is ruled out on this task; the paper's
# two-block drop of {glue:text}`paper_drop_b2:.4f` lies inside our interval for 2 − 1 blocks and
# would be too small to see at {glue:text}`n_seeds` seeds. (Different data: this says that our
# task does not reproduce the paper's three-block loss, not that the paper's number is wrong.)
# The records also hold each run's gAUC, the AUC within each user averaged over users
# (Chapter 4); by gAUC as well, every one of the three paired intervals contains zero.
# Note also what the paper's own table can and cannot say: one number per depth, differences
# of a few thousandths, and no spread over runs, so it cannot tell a real gap from a lucky run;
# several seeds and a paired interval can, for gaps larger than the interval's width.
#
# How did the runs get there? {numref}`fig-07-curves` shows the validation AUC after every
# epoch, read from the records' histories.

# %% mystnb={"figure": {"caption": "Validation AUC after every epoch of every recorded run, one panel per depth, one line per seed (dotted: chance, 0.5). Each run stops once its validation AUC has not improved for the patience of early stopping; its test AUC comes from the weights of its best epoch.", "name": "fig-07-curves"}}
histories = pd.DataFrame([{"blocks": r.blocks, "seed": r.seed, **h}
                          for r in runs.itertuples() for h in r.history])
fig = plot_val_curves(histories)
plt.show()

# %% tags=["hide-input"]
# Checks for the claims below
first = histories[histories["epoch"] == 1]["val_auc"]
glue("first_min", float(first.min()), display=False)
glue("first_max", float(first.max()), display=False)
assert first.max() < 0.55  # every run starts near chance
best_epoch = runs.groupby("blocks")["best_epoch"].median()
for b in DEPTHS:
    glue(f"best_epoch_b{b}", float(best_epoch[b]), display=False)
assert best_epoch[1] > best_epoch[2] and best_epoch[1] > best_epoch[3]  # deeper: best epoch sooner
PASS = 0.6  # leaving the plateau: the first epoch with a validation AUC above this
passed = histories[histories["val_auc"] > PASS].groupby(["blocks", "seed"])["epoch"].min()
assert len(passed) == len(runs)  # every run left it
one, deeper = passed.loc[1], passed.loc[[2, 3]]
glue("pass_auc", PASS, display=False)
glue("pass_min_b1", int(one.min()), display=False)
glue("pass_max_b1", int(one.max()), display=False)
glue("pass_min_deep", int(deeper.min()), display=False)
glue("pass_max_deep", int(deeper.max()), display=False)
assert one.max() > deeper.max() and one.min() > deeper.min()  # the deeper runs left it sooner


def plateau_stall(history):
    """Longest run of epochs without a new best validation AUC before it first passes PASS."""
    best, stall, longest = -1.0, 0, 0
    for h in history:
        if h["val_auc"] > PASS:
            break
        best, stall = (h["val_auc"], 0) if h["val_auc"] > best else (best, stall + 1)
        longest = max(longest, stall)
    return longest


max_stall = max(plateau_stall(h) for h in runs["history"])
glue("max_stall", max_stall, display=False)
assert max_stall < TRAIN["patience"]  # on the plateau early stopping never came near firing
assert passed.max() < MIN_EPOCHS  # every run had left the plateau before the minimum ran out
# Chapter 4's runs that patience alone would have ended on the plateau (best AUC under 0.55)
positions_runs = load_records("positions")
stops = patience_stops(positions_runs, TRAIN["patience"])
stopped_early = stops[(stops["stop_epoch"] < MIN_EPOCHS) & (stops["stop_val_auc"] < 0.55)]
assert len(stopped_early) == 4 and set(stopped_early["data"]) == {"synthetic"}
glue("n_ch4_plateau", len(stopped_early), display=False)

# %% [markdown]
# Every run starts near chance: after one epoch the validation AUC lies between
# {glue:text}`first_min:.3f` and {glue:text}`first_max:.3f`. The one-block runs needed
# {glue:text}`pass_min_b1` to {glue:text}`pass_max_b1` epochs to pass a validation AUC of
# {glue:text}`pass_auc`, the deeper ones {glue:text}`pass_min_deep` to
# {glue:text}`pass_max_deep`, and the deeper runs also reached their best epoch sooner: in the
# median over seeds at epoch {glue:text}`best_epoch_b1:.0f` with one block,
# {glue:text}`best_epoch_b2:.0f` with two and {glue:text}`best_epoch_b3:.0f` with three. Per
# epoch, though, a deeper model costs more (see the cost section below).
#
# :::{admonition} A failure to watch for
# :class: warning
# A BST can sit near AUC 0.5 for several epochs before it finds the signal, as every run here
# did at first. Patience alone ends a run that is still stuck once it goes
# {glue:text}`patience` epochs without a new best validation AUC: in Chapter 4's records it
# would have ended {glue:text}`n_ch4_plateau` runs that way, which is why every run on the
# synthetic tasks trains at least {glue:text}`min_epochs` epochs before early stopping may end
# it. These runs did not need the minimum: their validation AUC crept up during the plateau,
# none went more than {glue:text}`max_stall` epoch(s) without a new best before leaving it, and
# every one had passed {glue:text}`pass_auc` before epoch {glue:text}`min_epochs`. With a
# plateau that is flat, a smaller patience or no minimum, a run can be stopped while still
# stuck. If one run reports a test AUC far under its siblings', look at its history before
# concluding that a depth "cannot learn" the task.
# :::
#
# ## A demonstration: one small model, trained here
#
# The records are not made on this page; to *see* a deeper BST train, here is one small run
# trained here, a **demonstration** only (the tables above, from the records, are the
# evidence). We shrink the task, not the
# model: {glue:text}`small_n_train` training samples, histories of at most
# {glue:text}`small_max_len` behaviours, {glue:text}`small_C` categories of {glue:text}`small_ipc`
# items, {glue:text}`small_users` users, the same planted rule as in Chapter 2 (the recency of
# the last behaviour, and the trend of the last two). A two-block BST trains for
# {glue:text}`n_epochs` epochs at a learning rate of {glue:text}`small_lr`, three times the
# book's, so that a few epochs go a long way. `cached_fit` stores the run, keyed by the data,
# the settings and the code, so building the page again reuses it.

# %%
SMALL = dict(n_train=4000, n_val=1000, n_test=2000, max_len=10, n_categories=4,
             items_per_category=5, n_users=100)
small = make_synthetic(**SMALL, time_scheme="log")
SMALL_TRAIN = TrainConfig(epochs=8, patience=8, lr=3e-3, progress=False)
demo = cached_fit("bst", small, SMALL_TRAIN, blocks=2)
ceiling, blind = bayes_auc(small), order_blind_ceiling_auc(small)
print(f"two-block BST on the small task: test AUC {demo.test_auc:.3f} "
      f"(best possible {ceiling:.3f}, best order-blind {blind:.3f})")
pd.DataFrame(demo.history).set_index("epoch")[["train_loss", "val_auc"]].round(3)

# %% tags=["hide-input"]
# Checks for the claims below
for key, name in (("n_train", "small_n_train"), ("max_len", "small_max_len"),
                  ("n_categories", "small_C"), ("items_per_category", "small_ipc"),
                  ("n_users", "small_users")):
    glue(name, SMALL[key], display=False)
assert math.isclose(SMALL_TRAIN.lr, 3 * TRAIN["lr"])  # three times the records' learning rate
glue("small_lr", SMALL_TRAIN.lr, display=False)
glue("n_epochs", SMALL_TRAIN.epochs, display=False)
glue("small_bayes", float(ceiling), display=False)
glue("demo_auc", float(demo.test_auc), display=False)
demo_loss = [h["train_loss"] for h in demo.history]
demo_val = [h["val_auc"] for h in demo.history]
assert len(demo.history) == SMALL_TRAIN.epochs  # no early stop: every epoch is shown
assert demo_loss[-1] < demo_loss[0] and demo_val[-1] > demo_val[0]  # the demonstration learns
assert demo.test_auc < ceiling  # and no model beats the true click probability

# %% [markdown]
# Over the epochs the training loss falls and the validation AUC rises; the test AUC of
# {glue:text}`demo_auc:.3f` lies under the best possible {glue:text}`small_bayes:.3f` (the AUC of
# the true click probability of this test set). One run of one depth, on a small task, says
# nothing about which depth is better: that is what the records are for.
#
# ## The cost side: parameters and time
#
# Accuracy is half of the question. A block adds {glue:text}`per_block` parameters in our
# sizes and, more importantly for serving, time. Below we time one forward pass over a batch of
# {glue:text}`timing_batch` test samples of the full-size synthetic task for 1 to 4 blocks,
# both as `bst_teach` runs it (last block: target row only) and computing every row. Timings
# depend on the machine and on what else it is doing, so read the *shape* of the curves, not
# the milliseconds.

# %% tags=["nbval-ignore-output"]
# ms: forward time per batch as the model runs; "ms, all rows": with every row of every block;
# MFLOP: the matrix-product operations of the same passes (machine-independent)
cost_rows = {}
for b in range(1, 5):
    torch.manual_seed(0)
    model = build_model("bst", full.schema, blocks=b)
    row = {**parameter_split(model), "ms": forward_ms(model, batch, repeats=10),
           "MFLOP": forward_mflop(model, batch)}
    model.target_only_last_block = False
    row["ms, all rows"] = forward_ms(model, batch, repeats=10)
    row["MFLOP, all rows"] = forward_mflop(model, batch)
    cost_rows[b] = row
cost = pd.DataFrame(cost_rows).T.rename_axis("blocks")
cost = cost.astype({c: int for c in ("embeddings", "encoder", "MLP head", "total")})
cost.round(2)

# %% mystnb={"figure": {"caption": "The cost of depth. Left: trainable parameters split into embeddings, encoder blocks and MLP head. Right: the time of one forward pass over one batch of test samples on the machine that built this page, as `bst_teach` runs it (the last block computes the target's row only) and with every row of every block.", "name": "fig-07-cost"}}
fig = plot_depth_cost(cost)
plt.show()

# %% tags=["hide-input", "nbval-ignore-output"]
# Checks for the claims below (the timings change from run to run: outputs not compared)
assert (cost["encoder"].diff().dropna() == per_block).all()  # each block adds the same count
ms, ms_all = cost["ms"], cost["ms, all rows"]
glue("fwd_ms_1", float(ms[1]), display=False)
glue("fwd_ms_2", float(ms[2]), display=False)
glue("fwd_full_1", float(ms_all[1]), display=False)
glue("fwd_ms_step", float(ms.diff().iloc[1:].mean()), display=False)  # per extra block
# The claims on work are asserted on operation counts, which do not depend on the machine's load
flop, flop_all = cost["MFLOP"], cost["MFLOP, all rows"]
glue("flop_1", float(flop[1]), display=False)
glue("flop_full_1", float(flop_all[1]), display=False)
glue("flop_2", float(flop[2]), display=False)
assert flop_all[1] > 2 * flop[1]  # the target's row alone is much cheaper than the full block
assert flop[2] > 2 * flop[1]  # a second block makes the first one run in full
per_epoch = (runs["train_seconds"] / runs["epochs"]).groupby(runs["blocks"]).median()
glue("epoch_s_1", float(per_epoch[1]), display=False)
glue("epoch_s_2", float(per_epoch[2]), display=False)
glue("epoch_s_3", float(per_epoch[3]), display=False)
glue("train_ratio_3", float(per_epoch[3] / per_epoch[1]), display=False)
assert per_epoch[1] < per_epoch[2] < per_epoch[3]  # in the records, each block made epochs longer

# %% [markdown]
# Every block adds the same number of parameters ({numref}`fig-07-cost`). The time tells a
# sharper story. With one block, only the target's row is computed: {glue:text}`flop_1:.1f`
# million operations per batch ({glue:text}`fwd_ms_1:.1f` ms on the machine that ran this page),
# against {glue:text}`flop_full_1:.1f` million ({glue:text}`fwd_full_1:.1f` ms) for the full
# block. A second block needs the first block's output at *every* token, so the first block
# must run in full: {glue:text}`flop_2:.1f` million ({glue:text}`fwd_ms_2:.1f` ms). Each further block adds, in principle, one
# more full block (here {glue:text}`fwd_ms_step:.1f` ms per extra block, on average from one
# block to four). So the step from one block to two is the expensive one *relative to what one
# block costs*: it is the step from "the target reads the behaviours" to "the behaviours read
# each other, then the target reads them". Training pays for depth as well: in the records, an epoch
# (with its validation pass) took {glue:text}`epoch_s_1:.1f` s with one block,
# {glue:text}`epoch_s_2:.1f` s with two and {glue:text}`epoch_s_3:.1f` s with three, in the
# median over seeds: {glue:text}`train_ratio_3:.1f` times as long with three blocks as with one.
# (One thread per run, two runs at a time on a shared machine, the records made at different
# times: read these as rough.)
#
# In production this is the cost that matters. The paper's online table gives an average
# response time of {glue:text}`paper_rt_bst` ms for BST with one block against
# {glue:text}`paper_rt_din` ms for {term}`DIN` and {glue:text}`paper_rt_wdl` ms for
# {term}`WDL` {cite}`chen2019bst`; every extra block would add to it for every request, for a
# gain that the paper's offline table puts below zero and that our records cannot tell from
# zero.
#
# ## Why one block can be enough for behaviour sequences
#
# The reasons the paper and the structure of the model give:
#
# 1. **The sequences are short.** A history of {glue:text}`max_len` behaviours plus the target
#    makes {glue:text}`n_tokens` tokens, and
#    the target's row of attention reads every one of them directly, in one step. There is no
#    long-range structure for extra layers to bridge, as there is across the sentences of a
#    document.
# 2. **The signal sits in a few recent behaviours and their relation to the target.** What a
#    user clicked in the last minutes, and whether the candidate resembles it, is most of what
#    the history says about the next click. In our synthetic task that is true by construction
#    (only the last two behaviours matter). Relations of that kind are target-to-behaviour,
#    exactly what a single block's target row computes, and when two behaviours matter jointly
#    (our "trend"), two heads can fetch them separately for the MLP to combine.
#    Behaviour-to-behaviour relations need a second block; on our task, 2 blocks against 1:
#    {glue:text}`verdict_21`.
# 3. **Depth can be harder to optimise.** The BST block is *post-norm*: the LayerNorm comes after
#    the residual sum. Stacks of post-norm blocks are known to need learning-rate warm-up or
#    careful tuning to train well {cite}`xiong2020layernorm`; the paper trained for a single
#    epoch and reports no warm-up, a setting in which a slow start is never recovered. This
#    reason does not show on our task: with the book's optimiser, learning rate and early
#    stopping, the deeper stacks left the plateau *sooner* than one block did
#    ({numref}`fig-07-curves`).
# 4. **Each block costs latency on every request**, as measured above.
#
# None of this says depth never helps recommendation: with long sequences, richer tokens, or
# far more data per parameter, later work does use deeper encoders, for example HSTU, which
# stacks many blocks over histories of thousands of actions {cite}`zhai2024hstu`. For a short
# history like ours and a ranking model that must answer in milliseconds, one block is the
# sensible default unless an experiment like this one, with several seeds and paired intervals,
# shows that a second block pays for its cost on your data.
#
# ## Exercises
#
# **1. Count the parameters of one block by hand.** Write `block_params(dim, ffn_mult)` that
# returns the number of trainable parameters of one `EncoderBlock` with token width `dim`, a
# feed-forward of width `ffn_mult * dim` and LayerNorm. (Hint: a `Linear(a, b)` has `a * b`
# weights and `b` biases; a `LayerNorm(d)` has a weight and a bias of size `d`. The number of
# heads does not change the count: why?)

# %% tags=["solution", "hide-input"]
def block_params(dim, ffn_mult):
    attention = (dim * 3 * dim + 3 * dim) + (dim * dim + dim)  # qkv projection + output projection
    norms = 2 * (2 * dim)  # two LayerNorms, weight + bias each
    ffn = (dim * ffn_mult * dim + ffn_mult * dim) + (ffn_mult * dim * dim + dim)
    return attention + norms + ffn


# %%
print(check_block_params(block_params))

# %% [markdown]
# **2. Stack the blocks.** Write `make_encoder(n_blocks, dim, heads)` returning an `nn.Module`
# whose `forward(s, key_mask)` applies `n_blocks` encoder blocks one after the other and returns
# the tokens, shape (B, T, D). Use `EncoderBlock(dim, heads, 4, 0.1, "layer")` from
# `bst_teach.models.bst`; remember that a block returns `(tokens, attention weights)`. The
# checker catches the classic mistake of writing `[block] * n_blocks`: what is wrong with it?

# %% tags=["solution", "hide-input"]
class Encoder(torch.nn.Module):
    def __init__(self, n_blocks, dim, heads):
        super().__init__()
        # a *new* block per layer: [EncoderBlock(...)] * n would repeat one block (shared weights)
        self.blocks = torch.nn.ModuleList(EncoderBlock(dim, heads, 4, 0.1, "layer")
                                          for _ in range(n_blocks))

    def forward(self, s, key_mask):
        for block in self.blocks:
            s, _ = block(s, key_mask)  # each block reads the previous block's output
        return s


def make_encoder(n_blocks, dim, heads):
    return Encoder(n_blocks, dim, heads)


# %%
print(check_make_encoder(make_encoder))

# %% [markdown]
# **3. Predict, then check: three blocks without normalisation.** `BSTConfig(norm="none")`
# removes both LayerNorms of every block, leaving `S' = S + MultiHead(S)` and
# `F = S' + FFN(S')`. Before running anything, predict: what happens to the scale of the tokens
# as they pass through three such blocks, at initialisation? And what would you expect during
# training? Then measure the standard deviation of the tokens after each block for `norm="none"`
# and `norm="layer"`.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# Without a norm each block *adds* its attention and feed-forward outputs to the residual
# stream and nothing rescales the sum, so the tokens' spread grows block after block; with
# LayerNorm every block hands on tokens of unit spread. The cell below measures it at
# initialisation: the growth is modest there (the residual branches start small), but training
# makes the branch weights larger, each block's output feeds the next one's attention scores,
# and the softmax saturates; the post-norm LayerNorm is what keeps a deep stack's inputs on
# one scale. Train it to see (`cached_fit("bst", small, SMALL_TRAIN, blocks=3, norm="none")`)
# and compare the curves with the ones above; Chapter 5 discusses the norms in detail.
# :::

# %% tags=["solution", "hide-input"]
def token_std_per_block(norm, blocks=3):
    torch.manual_seed(0)
    model = build_model("bst", full.schema, blocks=blocks, norm=norm).eval()
    with torch.no_grad():
        s, key_mask = model.embed(batch)
        key_mask[:, -1] = True
        stds = [s[key_mask].std().item()]
        for block in model.blocks:
            s, _ = block(s, key_mask)
            stds.append(s[key_mask].std().item())
    return stds


stds = pd.DataFrame({n: token_std_per_block(n) for n in ("none", "layer")},
                    index=["embeddings", "after block 1", "after block 2", "after block 3"])
assert stds["none"].is_monotonic_increasing  # without a norm, the spread grows with depth
assert np.allclose(stds["layer"].iloc[1:], 1.0, atol=0.01)  # with LayerNorm it is reset to 1
stds.round(3)

# %% [markdown]
# **4. How many seeds?** Using the records of this chapter, suppose you could afford only one
# run per depth. How often would the ranking of depths you get match the ranking of the means?
# What would you need before writing "2 blocks beat 1" in a report?

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# Of the {glue:text}`n_picks` ways to pick one recorded run per depth, only
# {glue:text}`rank_match:.0%` rank the depths as their means do. The seeds of one depth spread
# over up to {glue:text}`seed_spread_max:.4f` of AUC while the depth means differ by at most
# {glue:text}`depth_gap:.4f`, so with one run per depth the ranking is largely decided by which
# seeds you happened to draw. Before claiming a gain, show every run (as {numref}`fig-07-depth`
# does), use enough seeds that the difference is larger than its uncertainty (a paired
# comparison, same seed for both depths, with its interval above zero, as in this chapter), and
# check the result on a second data set. In this chapter every paired interval contains zero:
# "cannot be told apart at {glue:text}`n_seeds` seeds" is the correct report.
# :::
