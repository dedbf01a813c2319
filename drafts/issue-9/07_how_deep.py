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
# - how to compare depths honestly: five seeds per depth, every run shown, a 95% interval for
#   each mean and for each paired difference, and a claim only where the interval allows it;
# - the cost of depth: parameters per block and the time of a forward pass;
# - why a shallow encoder can suit behaviour sequences: short sequences, signal concentrated in a
#   few recent behaviours, and deeper post-norm stacks that are harder to optimise.

# %%
# %matplotlib inline
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
from bst_teach.viz.results_plots import (forward_ms, parameter_split, plot_depth_cost,
                                         plot_depth_results, plot_val_curves)

# %% [markdown]
# ## What the paper found
#
# Table 4 of the BST paper {cite}`chen2019bst` reports the offline {term}`AUC` on eight days of Taobao
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
# paper reads its table as: more blocks did not help. The paper's explanation is one sentence: the
# sequential dependency in users' behaviour sequences "is not as complex as that in sentences in
# machine translation task, thus smaller number of blocks are enough", adding that SASRec, a
# self-attentive model for next-item recommendation, made a similar observation
# {cite}`kang2018sasrec`. Let us unpack that, then test it.
#
# ## What one block already does, and what a second adds
#
# Recall the encoder of Chapter 3 ({term}`self-attention <Self-attention>` over the behaviours
# and the target). The target item is appended to the L behaviours, so the
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
# %% [markdown]
# ## The experiment: five seeds per depth, from the records
#
# To measure depth we train BSTs with 1, 2 and 3 blocks on the book's full-size synthetic task
# (histories of 20), with everything else at the book's settings, five seeds each: fifteen
# models. A seed fixes the initial weights and the order of the training batches, nothing else,
# so the spread over seeds shows how much of a difference is luck. Each run trains with early
# stopping on the validation AUC (at most {glue:text}`max_epochs` epochs, stopping after
# {glue:text}`patience` epochs without a better one) and is tested with the weights of its best
# epoch.
#
# Fifteen full-size trainings take far longer than a notebook may, so this page does not train
# them: it reads their *records*. The experiment is declared once in `bst_teach.results` under
# the name `depth`; `make results ONLY=depth` runs it and writes one record per run (the test
# AUC, the history of every epoch, the exact command that re-runs it), and
# `python -m bst_teach results table depth` prints the summary below.

# %%
PAPER_BLOCKS = pd.Series(PAPER_DEPTH_AUC, name="paper AUC")
records = load_records("depth")
runs = records.assign(blocks=records["variant"].str.removeprefix("blocks-").astype(int))
stats = summary("depth")
stats = (stats.assign(blocks=stats["variant"].str.removeprefix("blocks-").astype(int))
         .set_index("blocks"))
DEPTHS = tuple(stats.index)
n_seeds = int(stats["n"].min())
TRAIN = experiment("depth").train


def interval(lo, hi):
    return f"[{lo:.4f}, {hi:.4f}]"


table = pd.DataFrame({
    "seeds": stats["n"],
    "mean AUC": stats["mean"].round(4),
    "95% interval": [interval(r.lo, r.hi) for r in stats.itertuples()],
    "best epoch < last": stats["best_before_last"].map("{:.0%}".format),
    "epochs": stats["epochs"].round(1),
    "paper (Taobao)": PAPER_BLOCKS,
})
table

# %% tags=["hide-input"]
# Checks for the claims below
assert (stats["n"] == 5).all() and len(runs) == 15  # five seeds per depth, full records
assert set(runs["data"]) == {"synthetic"}
glue("max_epochs", TRAIN["epochs"], display=False)
glue("patience", TRAIN["patience"], display=False)
glue("n_seeds", n_seeds, display=False)
full_bayes = bayes_auc(full)
glue("full_bayes", full_bayes, display=False)
assert (stats["hi"] < full_bayes).all()  # no depth reaches the best possible AUC
for b in DEPTHS:
    glue(f"mean_b{b}", float(stats.loc[b, "mean"]), display=False)
    glue(f"lo_b{b}", float(stats.loc[b, "lo"]), display=False)
    glue(f"hi_b{b}", float(stats.loc[b, "hi"]), display=False)
n_converged = int((runs["best_epoch"] < runs["epochs"]).sum())
glue("n_converged", n_converged, display=False)
glue("n_runs", len(runs), display=False)
glue("mean_epochs", float(runs["epochs"].mean()), display=False)
glue("max_run_epochs", int(runs["epochs"].max()), display=False)
assert runs["epochs"].max() < TRAIN["epochs"]  # every run was ended by early stopping...
assert (runs["epochs"] - runs["best_epoch"] == TRAIN["patience"]).all()  # ...`patience` after its best
# for Exercise 4: the spread of one depth over seeds, and the gap between the depths' means
spread = runs.groupby("blocks")["test_auc"].agg(lambda x: x.max() - x.min())
depth_gap = float(stats["mean"].max() - stats["mean"].min())
glue("seed_spread_max", float(spread.max()), display=False)
glue("depth_gap", depth_gap, display=False)

# %% [markdown]
# Each row is one depth: the mean test AUC over the {glue:text}`n_seeds` seeds, its 95%
# interval (Student's t over the seeds: where the mean of many more seeds would lie), the share
# of runs whose best validation epoch came before their last, and the mean number of epochs.
# **The runs converged**: in {glue:text}`n_converged` of the {glue:text}`n_runs` runs the best
# epoch came before the last, and every run was ended by early stopping after
# {glue:text}`mean_epochs:.1f` epochs on average (at most {glue:text}`max_run_epochs`, well
# under the limit of {glue:text}`max_epochs`). So the table compares trained models, not how
# fast each depth learns in a fixed budget. For scale: no model can beat
# {glue:text}`full_bayes:.3f` on this test set (the AUC of the true click probability).
#
# {numref}`fig-07-depth` draws the same records next to the paper's Table 4, one dot per seed.

# %% mystnb={"figure": {"caption": "Test AUC against the number of encoder blocks. Left: the paper's offline AUC on Taobao, one run per depth (Table 4). Right: the book's synthetic task, one dot per seed (five per depth), the bar at the mean and the black line its 95% interval.", "name": "fig-07-depth"}}
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
one_beats_deeper = [diffs[(a, 1)][2] < 0 for a in (2, 3)]  # interval of (a - 1) below zero
deeper_beats_one = [diffs[(a, 1)][1] > 0 for a in (2, 3)]
if all(one_beats_deeper):
    paper_claim = "holds here: one block beats both deeper encoders"
elif any(deeper_beats_one):
    paper_claim = "does not hold here: a deeper encoder beats one block"
else:
    paper_claim = ("is not confirmed here: no deeper encoder beats one block, but one block does "
                   "not beat both of them either")
glue("paper_claim", paper_claim, display=False)

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
# So the paper's "one block is best" {glue:text}`paper_claim`. Note what the paper's own table
# can and cannot say: one run per depth, differences of a few thousandths, and no spread over
# seeds, so it cannot tell a real gap from a lucky run; five seeds and a paired interval can,
# for gaps larger than the interval's width.
#
# How did the runs get there? {numref}`fig-07-curves` shows the validation AUC after every
# epoch, read from the records' histories.

# %% mystnb={"figure": {"caption": "Validation AUC after every epoch of the fifteen recorded runs, one panel per depth, one line per seed. Each run stops four epochs after its best one; its test AUC comes from the weights of that best epoch.", "name": "fig-07-curves"}}
histories = pd.DataFrame([{"blocks": r.blocks, "seed": r.seed, **h}
                          for r in runs.itertuples() for h in r.history])
fig = plot_val_curves(histories)
plt.show()

# %% tags=["hide-input"]
# Checks for the claims below
first = histories[histories["epoch"] == 1].groupby("blocks")["val_auc"]
glue("first_min", float(first.min().min()), display=False)
glue("first_max", float(first.max().max()), display=False)
best_epoch = runs.groupby("blocks")["best_epoch"].median()
for b in DEPTHS:
    glue(f"best_epoch_b{b}", float(best_epoch[b]), display=False)

# %% [markdown]
# After one epoch the runs' validation AUC lies between {glue:text}`first_min:.3f` and
# {glue:text}`first_max:.3f`; the best epoch comes, in the median over seeds, at epoch
# {glue:text}`best_epoch_b1:.0f` with one block, {glue:text}`best_epoch_b2:.0f` with two and
# {glue:text}`best_epoch_b3:.0f` with three.
#
# :::{admonition} A failure to watch for
# :class: warning
# Deeper post-norm stacks can stay near AUC 0.5 for several epochs before they find the signal,
# and early stopping can end such a run while it is still stuck, most easily with a larger
# learning rate than the book's 1e-3 (Adam's default). If one run reports a test AUC far under
# its siblings', look at its history before concluding that a depth "cannot learn" the task.
# :::
#
# ## A demonstration: one small model, trained here
#
# The records were made elsewhere; to *see* a deeper BST train, here is one small run on this
# page, a demonstration only (the table above is the evidence). We shrink the task, not the
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
small = make_synthetic(**SMALL)
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
glue("small_lr", SMALL_TRAIN.lr, display=False)
glue("n_epochs", SMALL_TRAIN.epochs, display=False)
glue("small_bayes", ceiling, display=False)
glue("small_blind", blind, display=False)
glue("demo_auc", demo.test_auc, display=False)
demo_val = [h["val_auc"] for h in demo.history]
assert demo_val[-1] > demo_val[0]  # the demonstration learns something
assert demo.test_auc < ceiling  # and no model beats the true click probability

# %% [markdown]
# The training loss falls epoch by epoch and the validation AUC rises; the test AUC of
# {glue:text}`demo_auc:.3f` lies under the best possible {glue:text}`small_bayes:.3f` (the AUC of
# the true click probability of this test set). One run of one depth, on a small task, says
# nothing about which depth is better: that is what the fifteen records are for.
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
cost.round(2)

# %% mystnb={"figure": {"caption": "The cost of depth. Left: trainable parameters split into embeddings, encoder blocks and MLP head. Right: the time of one forward pass over 256 samples on the machine that built this page, as `bst_teach` runs it (the last block computes the target's row only) and with every row of every block.", "name": "fig-07-cost"}}
fig = plot_depth_cost(cost)
plt.show()

# %% tags=["hide-input"]
# Checks for the claims below
per_epoch = (runs["train_seconds"] / runs["epochs"]).groupby(runs["blocks"]).median()
glue("epoch_s_1", float(per_epoch[1]), display=False)
glue("epoch_s_3", float(per_epoch[3]), display=False)
glue("train_ratio_3", float(per_epoch[3] / per_epoch[1]), display=False)
assert per_epoch[3] > per_epoch[1]  # an epoch of three blocks takes longer than one of one

# %% [markdown]
# Every block adds the same number of parameters ({numref}`fig-07-cost`). The time tells a
# sharper story. With one block, only the target's row is computed: {glue:text}`fwd_ms_1:.1f` ms
# per batch on the machine that ran this page, against {glue:text}`fwd_full_1:.1f` ms for the
# full block. A second block needs the first block's output at *every* token, so the first block
# must run in full: {glue:text}`fwd_ms_2:.1f` ms. From there each block adds about the same,
# here {glue:text}`fwd_ms_step:.1f` ms on average. In the records, an epoch of training took
# {glue:text}`epoch_s_1:.0f` s with one block and {glue:text}`epoch_s_3:.0f` s with three
# (median over seeds, one thread, two runs at a time on a shared machine):
# {glue:text}`train_ratio_3:.1f` times as long. The jump from one block to two is the expensive
# one: it is the step from "the target reads the behaviours" to "the behaviours read each other,
# then the target reads them".
#
# In production this is the cost that matters. The paper's online table gives an average
# response time of {glue:text}`paper_rt_bst` ms for BST with one block against
# {glue:text}`paper_rt_din` ms for DIN and {glue:text}`paper_rt_wdl` ms for WDL
# {cite}`chen2019bst`; every extra block would add to it for every request, for a gain that the
# paper's offline table puts below zero.
#
# ## Why one block can be enough for behaviour sequences
#
# The reasons the paper and the structure of the model give:
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
#    Behaviour-to-behaviour relations need a second block; on our task, 2 blocks against 1:
#    {glue:text}`verdict_21`.
# 3. **Depth is harder to optimise.** The BST block is *post-norm*: the {term}`LayerNorm` comes
#    after the residual sum. Stacks of post-norm blocks are known to need learning-rate warm-up
#    or careful tuning to train well {cite}`xiong2020layernorm`; the paper trained one epoch with
#    a fixed learning rate, where a slow start is never recovered.
# 4. **Each block costs latency on every request**, as measured above.
#
# None of this says depth never helps recommendation: with long sequences (hundreds of
# behaviours), richer tokens, or far more data per parameter, later work does use deeper
# encoders. For a 20-click history and a ranking model that must answer in milliseconds, one
# block is the sensible default unless an experiment like this one, with several seeds and
# paired intervals, shows that a second block pays for its cost on your data.
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
