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
# - how to compare depths honestly: several seeds, every run shown, the spread next to the mean;
# - the cost of depth: parameters per block and the time of a forward pass;
# - why a shallow encoder suits behaviour sequences: short sequences, signal concentrated in a few
#   recent behaviours, and deeper post-norm stacks that are harder to optimise.

# %%
# %matplotlib inline
from dataclasses import replace

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
from bst_teach.train import TrainConfig
from bst_teach.viz.results_plots import (forward_ms, parameter_split, plot_depth_cost,
                                         plot_depth_results, plot_val_curves, seed_table)

# %% [markdown]
# ## What the paper found
#
# Table 4 of the BST paper {cite}`chen2019bst` reports the offline AUC on eight days of Taobao
# logs for 1, 2 and 3 encoder blocks (written b = 1, 2, 3). One run per depth, no spread given.

# %%
PAPER_DEPTH_AUC = {1: 0.7894, 2: 0.7885, 3: 0.7823}  # Chen et al. 2019, Table 4 (offline AUC)
for b, auc in PAPER_DEPTH_AUC.items():
    glue(f"paper_b{b}", auc, display=False)
glue("paper_drop_b3", PAPER_DEPTH_AUC[1] - PAPER_DEPTH_AUC[3], display=False)
glue("paper_items", 12_166_060, display=False)  # Table 2: items in the Taobao data set
for name, ms in {"wdl": 13, "din": 16, "bst": 20}.items():  # Table 4: average response time
    glue(f"paper_rt_{name}", ms, display=False)
pd.Series(PAPER_DEPTH_AUC, name="offline AUC (Taobao)").rename_axis("blocks").to_frame()

# %% [markdown]
# One block scored {glue:text}`paper_b1:.4f`, two blocks {glue:text}`paper_b2:.4f` and three
# blocks {glue:text}`paper_b3:.4f`: the deepest model lost {glue:text}`paper_drop_b3:.4f` of
# AUC. On billions of samples a difference of a few thousandths is worth having, and the
# direction is clear: more blocks did not help. The paper's explanation is one sentence: the
# sequential dependency in users' behaviour sequences "is not as complex as that in sentences in
# machine translation task, thus smaller number of blocks are enough", adding that SASRec, a
# self-attentive model for next-item recommendation, made a similar observation
# {cite}`kang2018sasrec`. Let us unpack that, then test it.
#
# ## What one block already does, and what a second adds
#
# Recall the encoder of Chapter 3. The target item is appended to the L behaviours, so the
# encoder sees T = L + 1 tokens, and one block computes
#
# $$S' = \mathrm{LayerNorm}(S + \mathrm{Dropout}(\mathrm{MultiHead}(S))), \qquad
# F = \mathrm{LayerNorm}(S' + \mathrm{Dropout}(\mathrm{FFN}(S'))).$$
#
# The attention step compares **every token with every other token**: a T x T matrix of scores
# per head. But look at what the rest of the model reads: only the encoder's output **at the
# target slot** goes to the MLP head. In a one-block BST that output is the target's own row of
# attention, a softmax-weighted mix of the tokens, where each behaviour's weight comes from how
# its key matches the target's query. Because a token carries its position, a head can pick "the
# most recent behaviour" or "the one before" as easily as "the behaviour most like the target",
# and different heads can fetch different behaviours for the MLP to combine. The other T - 1
# rows, every behaviour attending to the other behaviours, are computed and then thrown away.
#
# So one block gives **target-to-behaviour** relations, each behaviour seen directly (no
# distance to cover: unlike a convolution, attention reaches the whole sequence in one step).
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
full = make_synthetic()  # the book's full-size synthetic task (histories of 20)
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
schema = full.schema
D = 16 + 8 + 8  # item + category + position widths of a token (BSTConfig defaults)
per_block = count_parameters(EncoderBlock(D, 4, 4, 0.1, "layer"))
assert per_block == reference_block_params(D)
split = pd.DataFrame({b: parameter_split(build_model("bst", schema, blocks=b))
                      for b in (1, 2, 3)}).T.rename_axis("blocks")
assert (split["encoder"] == split.index * per_block).all()
glue("per_block", per_block, display=False)
glue("token_dim", D, display=False)
glue("enc_share_1", float(split.loc[1, "encoder"] / split.loc[1, "total"]), display=False)
glue("enc_share_3", float(split.loc[3, "encoder"] / split.loc[3, "total"]), display=False)
split

# %% [markdown]
# With tokens of width D = {glue:text}`token_dim` one block holds {glue:text}`per_block`
# parameters: the attention's four D x D projections, the feed-forward's D x 4D and 4D x D
# matrices, their biases and two LayerNorms. On our small synthetic vocabularies the encoder is
# {glue:text}`enc_share_1:.0%` of the model with one block and {glue:text}`enc_share_3:.0%` with
# three. On Taobao the picture is the opposite: embedding tables for
# {glue:text}`paper_items:,` items {cite}`chen2019bst` dwarf any encoder, so parameters are not
# the cost of depth there; time is (see below).
#
# ## An experiment sized for a notebook
#
# To measure depth we train BSTs with 1, 2 and 3 blocks, with three seeds each: nine models.
# A seed fixes the initial weights and the order of the training batches, nothing else, so the
# spread over seeds shows how much of a difference is luck.
#
# Nine full-size trainings on the book's synthetic task would take minutes, too long for a
# notebook. We shrink the task instead of changing the model: {glue:text}`small_n_train`
# training samples, histories of at most {glue:text}`small_max_len` behaviours,
# {glue:text}`small_C` categories of {glue:text}`small_ipc` items, {glue:text}`small_users`
# users, and {glue:text}`n_epochs` epochs at a learning rate of {glue:text}`small_lr` (three times
# the book's default, which needs more epochs). The planted rule is the same as in Chapter 2
# (recency of the last behaviour, and the trend of the last two).
# The full-size version of this experiment, with WDL and DIN for comparison, is one command:
#
# ```bash
# python bench/auc_table.py --data synthetic --seeds 0 1 2
# ```
#
# (it trains every model with the book's settings, 20 epochs with early stopping, and prints
# the test AUC of each seed).

# %%
SMALL = dict(n_train=4000, n_val=1000, n_test=2000, max_len=10, n_categories=4,
             items_per_category=5, n_users=100)
small = make_synthetic(**SMALL)
for key, name in (("n_train", "small_n_train"), ("max_len", "small_max_len"),
                  ("n_categories", "small_C"), ("items_per_category", "small_ipc"),
                  ("n_users", "small_users")):
    glue(name, SMALL[key], display=False)
ceiling, blind = bayes_auc(small), order_blind_ceiling_auc(small)
glue("small_bayes", ceiling, display=False)
glue("small_blind", blind, display=False)
print(f"best possible test AUC: {ceiling:.3f};  best order-blind AUC: {blind:.3f}")
small.summary().round(3)

# %% [markdown]
# No model can beat {glue:text}`small_bayes:.3f` on this test set (the AUC of the true click
# probability), and no order-blind model can beat {glue:text}`small_blind:.3f`, so there is a
# wide band in which depth could make a difference.
#
# `cached_fit` trains and stores each run, keyed by the data, the settings and the code, so
# running the notebook again reuses them.

# %%
DEPTHS, SEEDS = (1, 2, 3), (0, 1, 2)
# no early stop (full curves); 3x the book's learning rate, so ten epochs go a long way
SMALL_TRAIN = TrainConfig(epochs=10, patience=10, lr=3e-3, progress=False)
glue("small_lr", SMALL_TRAIN.lr, display=False)
glue("n_epochs", SMALL_TRAIN.epochs, display=False)
results = {(b, s): cached_fit("bst", small, replace(SMALL_TRAIN, seed=s), blocks=b)
           for s in SEEDS for b in DEPTHS}
runs = pd.DataFrame([{"blocks": b, "seed": s, "test_auc": r.test_auc,
                      "best_epoch": r.best_epoch, "train_seconds": r.train_seconds}
                     for (b, s), r in results.items()])
runs.pivot(index="seed", columns="blocks", values="test_auc").round(3)

# %% [markdown]
# Each row is one seed, each column one depth. Here is the same table summarised per depth,
# then drawn next to the paper's numbers, one dot per run.

# %%
summary = seed_table(runs, by="blocks")
summary

# %%
fig = plot_depth_results(runs, PAPER_DEPTH_AUC, "small synthetic task (3 seeds each)")
plt.show()

# %%
means = runs.groupby("blocks")["test_auc"].mean()
spread = runs.groupby("blocks")["test_auc"].agg(lambda x: x.max() - x.min())
depth_gap = means.max() - means.min()
glue("depth_gap", float(depth_gap), display=False)
glue("seed_spread_max", float(spread.max()), display=False)
glue("seed_spread_b1", float(spread[1]), display=False)
glue("best_mean_blocks", int(means.idxmax()), display=False)
glue("mean_b3", float(means[3]), display=False)
glue("best_mean", float(means.max()), display=False)
# the lesson of this experiment: seeds move the AUC more than depth does, and the depths' ranges
# over seeds overlap (one seed per depth could rank them either way)
lo, hi = runs.groupby("blocks")["test_auc"].min(), runs.groupby("blocks")["test_auc"].max()
assert spread.max() > depth_gap and all(hi[a] > lo[b] for a in DEPTHS for b in DEPTHS)
# the deepest model is not the best on average, as in the paper
assert means[3] < means.max()
print(f"largest gap between depth means: {depth_gap:.3f};  largest spread over seeds: "
      f"{spread.max():.3f}")

# %% [markdown]
# Two things stand out.
#
# - **The seeds disagree more than the depths do.** The means of the three depths lie within
#   {glue:text}`depth_gap:.3f` of each other, while the three seeds of a single depth span up to
#   {glue:text}`seed_spread_max:.3f`. Pick one seed per depth and you can rank the depths in
#   almost any order. The paper reports one run per depth on a data set many orders of
#   magnitude larger, where the noise from one run is far smaller, but a gap of a few
#   thousandths is still the size at which seeds matter.
# - **Three blocks did not win.** The best mean belongs to {glue:text}`best_mean_blocks` block(s)
#   ({glue:text}`best_mean:.3f`); three blocks average {glue:text}`mean_b3:.3f`. The direction
#   agrees with the paper, but on this evidence the honest summary is "no reliable gain from
#   depth", not "one block is best".
#
# How did the runs get there? The validation AUC after every epoch tells the rest.

# %%
histories = pd.DataFrame([{"blocks": b, "seed": s, **h} for (b, s), r in results.items()
                          for h in r.history])
fig = plot_val_curves(histories)
plt.show()

# %%
first_epochs = histories[histories["epoch"] == 1]
glue("early_max", float(first_epochs["val_auc"].max()), display=False)
assert first_epochs["val_auc"].max() < 0.56  # every run starts near chance
assert (runs["best_epoch"] >= SMALL_TRAIN.epochs - 2).all()  # ...and is still improving at the end
print(runs.groupby("blocks")["best_epoch"].agg(list))

# %% [markdown]
# Every run spends its first epoch near chance (validation AUC at most
# {glue:text}`early_max:.3f`), then climbs, some runs much sooner than others.
# And every run is still improving when training stops: the best validation epoch is one of the
# last three of {glue:text}`n_epochs`. So this small experiment compares how fast each depth
# learns in a fixed budget, which is also the paper's regime: BST was trained for **one epoch**
# over Taobao {cite}`chen2019bst`, with no chance to recover from a slow start.
#
# :::{admonition} A failure to watch for
# :class: warning
# Deeper post-norm stacks sometimes stay near AUC 0.5 for several epochs before they find the
# signal, and early stopping (the book's `patience=4`) can end such a run while it is still
# stuck. This is one reason the book trains with Adam's default learning rate, 1e-3: while the
# book was written, at 3e-3 (the setting of this small experiment), one seed of a full-size
# 3-block BST sat on its plateau until early stopping ended it. If a run reports a test AUC far under its siblings', look at its history rather
# than concluding that 3 blocks "cannot learn" the task.
# :::
#
# ## The cost side: parameters and time
#
# Accuracy is half of the question. A block adds {glue:text}`per_block` parameters in our
# sizes and, more importantly for serving, time. Below we time one forward pass over a batch of
# 256 test samples of the full-size synthetic task for 1 to 4 blocks, both as `bst_teach` runs
# it (last block: target row only) and computing every row. Timings depend on the machine and
# on what else it is doing, so read the *shape* of the curves, not the milliseconds.

# %%
cost_rows = {}
for b in range(1, 5):
    torch.manual_seed(0)
    model = build_model("bst", full.schema, blocks=b)
    row = {**parameter_split(model), "ms": forward_ms(model, batch, repeats=10)}
    model.target_only_last_block = False
    row["ms, all rows"] = forward_ms(model, batch, repeats=10)
    cost_rows[b] = row
cost = pd.DataFrame(cost_rows).T.rename_axis("blocks")
cost = cost.astype({c: int for c in ("embeddings", "encoder", "MLP head", "total")})
assert (cost["encoder"].diff().dropna() == per_block).all()  # each block adds the same count

# %% tags=["nbval-ignore-output"]
# ms: forward time per batch as the model runs; "ms, all rows": with every row of every block
ms = cost["ms"]
glue("fwd_ms_1", float(ms[1]), display=False)
glue("fwd_ms_2", float(ms[2]), display=False)
glue("fwd_ms_step", float(ms.diff().iloc[2:].mean()), display=False)  # from 2 blocks on
glue("fwd_full_1", float(cost.loc[1, "ms, all rows"]), display=False)
train_s = runs.groupby("blocks")["train_seconds"].median()
glue("train_ratio_3", float(train_s[3] / train_s[1]), display=False)
cost.round(2)

# %%
fig = plot_depth_cost(cost)
plt.show()

# %% [markdown]
# Every block adds the same number of parameters. The time tells a sharper story. With one
# block, only the target's row is computed: {glue:text}`fwd_ms_1:.1f` ms per batch on the
# machine that ran this page, against {glue:text}`fwd_full_1:.1f` ms for the full block. A
# second block needs the first block's output at *every* token, so the first block must run in
# full: {glue:text}`fwd_ms_2:.1f` ms. From there each block adds about the same, here
# {glue:text}`fwd_ms_step:.1f` ms on average. Training the small models with three blocks took
# {glue:text}`train_ratio_3:.1f` times as long as with one (median over seeds). The jump from one
# block to two is the expensive one: it is the step from "the target reads the behaviours" to
# "the behaviours read each other, then the target reads them".
#
# In production this is the cost that matters. The paper's online table gives an average
# response time of {glue:text}`paper_rt_bst` ms for BST with one block against
# {glue:text}`paper_rt_din` ms for DIN and {glue:text}`paper_rt_wdl` ms for WDL
# {cite}`chen2019bst`; every extra block would add to it for every request, for a gain that the
# offline table says is negative.
#
# ## Why shallow suffices for behaviour sequences
#
# Putting the pieces together:
#
# 1. **The sequences are short.** A history of 20 behaviours plus the target makes 21 tokens, and
#    the target's row of attention reads every one of them directly, in one step. There is no
#    long-range structure for extra layers to bridge, as there is across the sentences of a
#    document.
# 2. **The signal sits in a few recent behaviours and their relation to the target.** What a
#    user clicked in the last minutes, and whether the candidate resembles it, is most of what
#    the history says about the next click. In our synthetic task that is true by construction
#    (only the last two behaviours matter). Relations of that kind are target-to-behaviour,
#    exactly what a single block's target row computes, and when two behaviours matter jointly
#    (our "trend"), two heads can fetch them separately for the MLP to combine.
#    Behaviour-to-behaviour relations need a second block; the paper's table suggests they add
#    little on Taobao, and our experiment finds no reliable gain either.
# 3. **Depth is harder to optimise.** The BST block is *post-norm*: the LayerNorm comes after the
#    residual sum. Stacks of post-norm blocks are known to need learning-rate warm-up or careful
#    tuning to train well {cite}`xiong2020layernorm`; the paper trained one epoch with a fixed
#    learning rate. Our curves show every depth starting slowly, and a slow start can turn into
#    a stuck run (see the warning above).
# 4. **Each block costs latency on every request**, as measured above, while the offline gain
#    is nil or negative.
#
# None of this says depth never helps recommendation: with long sequences (hundreds of
# behaviours), richer tokens, or far more data per parameter, later work does use deeper
# encoders. For a 20-click history and a ranking model that must answer in milliseconds, one
# block is the sensible default, and the way to find out for your own data is the experiment
# above with several seeds.
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
# **4. How many seeds?** Using the table of this chapter, suppose you could afford only one run
# per depth. How often would the ranking of depths you get match the ranking of the means? What
# would you need before writing "2 blocks beat 1" in a report?

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# The seeds of one depth spread over up to {glue:text}`seed_spread_max:.3f` of AUC while the
# depth means differ by at most {glue:text}`depth_gap:.3f`, so with one run per depth the
# ranking is largely decided by which seeds you happened to draw. Before claiming a gain, show
# every run (as the strip plot does), use enough seeds that the difference of the means is
# larger than their uncertainty (for example a paired comparison, same seed for both depths, or a
# bootstrap interval as in Chapter 8), and check the result on a second data set. With three
# seeds and differences this small, "no detectable difference" is the correct report.
# :::
