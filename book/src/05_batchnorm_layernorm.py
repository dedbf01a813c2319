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
# # BatchNorm or LayerNorm
#
# Each BST encoder block normalises twice, as the paper writes it {cite}`chen2019bst`:
# S' = LayerNorm(S + Dropout(MultiHead(S))) and F = LayerNorm(S' + Dropout(FFN(S'))). LayerNorm
# {cite}`ba2016layernorm` comes with the Transformer {cite}`vaswani2017attention`. BatchNorm
# {cite}`ioffe2015batchnorm` is the other normaliser every practitioner knows, so a natural
# question in class is: why not BatchNorm? Both turn activations into "mean 0, variance 1"
# numbers; they differ in *which* numbers share a mean and a variance. For a batch of padded
# behaviour sequences that choice has consequences you can measure.
#
# **What you'll learn**
#
# - what LayerNorm and BatchNorm average over in a (B, T, D) tensor of tokens, as a picture and
#   in five lines of code;
# - what BatchNorm does with a batch of one, and with the padding slots of short histories;
# - a measured fact: in training mode BatchNorm makes one sample's prediction depend on the other
#   samples of its batch and on how much padding they carry; LayerNorm does not;
# - how evaluation mode (running statistics) removes that dependence, and what the mismatch
#   between the two modes costs;
# - how BST trains with LayerNorm, BatchNorm or no normalisation at all.

# %%
# %matplotlib inline
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import torch
from myst_nb import glue
from sklearn.metrics import roc_auc_score
from torch import nn

from bst_teach.data import make_synthetic
from bst_teach.data.synthetic import bayes_auc
from bst_teach.experiments import BOOK_TRAIN, cached_fit
from bst_teach.viz.norm_plots import (batch_statistics, pad_batch, plot_batch_dependence,
                                      plot_mode_scatter, plot_norm_axes, plot_norm_curves)

# %% [markdown]
# ## Two ways to normalise a batch of tokens
#
# Inside the encoder a batch is a tensor of shape (B, T, D): B samples, T = L + 1 tokens each
# (the L history slots, then the target), D features per token. Short histories are padded, so
# some of the B x T tokens are padding.
#
# - **LayerNorm** takes *one token* at a time and normalises its D features with their own mean
#   and variance: B x T separate pairs of statistics,
#   $\mu_{b,t} = \frac1D \sum_d x_{b,t,d}$ and
#   $\sigma^2_{b,t} = \frac1D \sum_d (x_{b,t,d} - \mu_{b,t})^2$.
# - **BatchNorm** takes *one feature* at a time and normalises it over every token of the batch:
#   D pairs of statistics, $\mu_d = \frac1{BT} \sum_{b,t} x_{b,t,d}$ and likewise $\sigma^2_d$.
#
# Both then compute $\gamma \, (x - \mu) / \sqrt{\sigma^2 + \epsilon} + \beta$ with a learned
# scale $\gamma$ and shift $\beta$ per feature. In the picture, each cube is a batch of four
# samples with six token slots and five features; the highlighted values share one mean and one
# variance.

# %%
plot_norm_axes(lengths=(6, 4, 6, 3), n_features=5)
plt.show()

# %% [markdown]
# LayerNorm's group (left) lies inside one token of one sample: nothing outside that token can
# change its output. BatchNorm's group (right) cuts across all samples and all token slots,
# padding slots (orange) included.
#
# ## Build it
#
# The same two recipes in code, checked against PyTorch. `nn.BatchNorm1d` wants the features in
# the second axis, (B, D, T), so we transpose; this is exactly what BST's `TokenNorm` does when
# `norm="batch"`.

# %%
torch.manual_seed(0)
B, T, D = 4, 6, 8
x = 3 * torch.randn(B, T, D) + 1

mean_tok = x.mean(-1, keepdim=True)  # (B, T, 1): one mean per token
var_tok = x.var(-1, unbiased=False, keepdim=True)
layer_by_hand = (x - mean_tok) / torch.sqrt(var_tok + 1e-5)

mean_feat = x.mean((0, 1))  # (D,): one mean per feature
var_feat = x.var((0, 1), unbiased=False)
batch_by_hand = (x - mean_feat) / torch.sqrt(var_feat + 1e-5)

layer_norm, batch_norm = nn.LayerNorm(D), nn.BatchNorm1d(D)  # gamma = 1, beta = 0 at first
assert torch.allclose(layer_norm(x), layer_by_hand, atol=1e-5)
assert torch.allclose(batch_norm(x.transpose(1, 2)).transpose(1, 2), batch_by_hand, atol=1e-5)
print("LayerNorm statistics:", tuple(mean_tok.shape), "| BatchNorm statistics:",
      tuple(mean_feat.shape))

# %% [markdown]
# Both use the *biased* variance (divide by the count, not count - 1) to normalise. BatchNorm
# also keeps a **running** mean and variance for evaluation mode, updated at every training step
# with momentum 0.1, and, a detail that surprises people, it updates the running variance with the
# *unbiased* estimate:

# %%
expected_running_var = 0.9 * 1.0 + 0.1 * x.var((0, 1), unbiased=True)  # started at 1
assert torch.allclose(batch_norm.running_var, expected_running_var, atol=1e-5)
assert torch.allclose(batch_norm.running_mean, 0.1 * mean_feat, atol=1e-5)  # started at 0
print("running statistics of BatchNorm:", tuple(batch_norm.running_mean.shape),
      "| buffers of LayerNorm:", [name for name, _ in layer_norm.named_buffers()])

# %% [markdown]
# LayerNorm has no running statistics: it behaves the same in training and evaluation mode.
#
# ## A batch of one
#
# At serving time a ranking model often scores one request at a time. What does BatchNorm do,
# in training mode, with one sample of one token? A variance over a single value is zero, and
# PyTorch refuses:

# %%
batch_norm = nn.BatchNorm1d(D).train()
one_token = torch.randn(1, D, 1)  # (batch 1, D features, 1 token)
try:
    batch_norm(one_token)
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# With one sample of *several* tokens it runs, normalising over that sample's tokens only. With
# two identical tokens every feature has variance zero, and the output is $\beta$ (here 0) for
# both: whatever the token said is erased. LayerNorm does not care how many tokens or samples
# there are, and evaluation-mode BatchNorm uses its stored statistics, so both work with one token.

# %%
token = torch.randn(D)
twins = torch.stack([token, token])  # (2, D): two identical tokens
erased = batch_norm(twins)
print("BatchNorm, two identical tokens -> largest |output|:", f"{erased.abs().max():.1e}")
print("LayerNorm, one token -> output std:", f"{nn.LayerNorm(D)(token).std(unbiased=False):.3f}")
print("BatchNorm in eval mode, one token -> shape", tuple(batch_norm.eval()(token[None]).shape))
assert erased.abs().max() < 1e-3
assert batch_norm.eval()(token[None]).abs().max() > 0.1

# %% [markdown]
# In BST a "batch of one" still has T = 21 tokens, so training-mode BatchNorm runs, but its
# statistics come from one user's tokens, padding included. We now measure what that does.
#
# ## Three BSTs: layer, batch, none
#
# We train BST three times on the synthetic task of Chapter 2 with identical settings except the
# norm. To fit this page's time budget we train for 6 epochs instead of the book's 20, on the
# full data set and otherwise with the book's settings (`python -m bst_teach train --norm batch`
# trains the full-size model for up to 20 epochs; add `--seed 1` for another seed). The
# LayerNorm run is the model of Chapter 3 with its settings, stopped after six epochs. The keyword
# `norm=...` goes to `BSTConfig`; each encoder block then holds two `TokenNorm` layers of that kind:

# %%
data = make_synthetic()
SHORT = replace(BOOK_TRAIN, epochs=6)
runs = {norm: cached_fit("bst", data, SHORT, norm=norm) for norm in ("layer", "batch", "none")}
for norm, run in runs.items():
    print(f"{norm:>5}: test AUC {run.test_auc:.3f} after {len(run.history)} epochs")
    glue(f"auc_{norm}", float(run.test_auc), display=False)
glue("bayes", float(bayes_auc(data)), display=False)
print(runs["batch"].model.config)
print(runs["batch"].model.blocks[0].norm1)

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
plot_norm_curves({k: r.history for k, r in runs.items()}, "val_auc", ceiling=bayes_auc(data),
                 ax=axes[0])
plot_norm_curves({k: r.history for k, r in runs.items()}, "train_loss", ax=axes[1])
axes[0].set_title("validation AUC")
axes[1].set_title("training loss")
plt.show()

# %% [markdown]
# After six epochs the test AUCs are {glue:text}`auc_layer:.3f` (LayerNorm),
# {glue:text}`auc_batch:.3f` (BatchNorm) and {glue:text}`auc_none:.3f` (no norm); the best any
# model can do is {glue:text}`bayes:.3f`. BatchNorm is **not** worse on this task by AUC: in this
# run it is ahead of LayerNorm after six epochs. (One run is one seed: try others from the
# command line before ranking the norms.) If AUC on an i.i.d. test set were the whole story,
# BatchNorm would do. The rest of the chapter is about what AUC does not show.

# %%
final_val = {norm: run.history[-1]["val_auc"] for norm, run in runs.items()}
assert final_val["batch"] > final_val["layer"] and runs["batch"].test_auc > runs["layer"].test_auc
assert min(run.test_auc for run in runs.values()) > 0.65  # all three learn, well above chance

# %% [markdown]
# ## One sample, two batches
#
# Take one test sample and score it twice with the trained models, once inside one batch of 256
# test samples and once inside another batch of 256 (same sample, different batch mates), then a
# third time with 20 extra padding slots appended to every history of the first batch, as a
# system that pads to length 40 instead of 20 would do. We run BatchNorm with *batch statistics*,
# as in training (the helper `batch_statistics` switches only the BatchNorm layers to training
# behaviour, so dropout stays off and the comparison is clean).

# %%
models = {"LayerNorm": runs["layer"].model.eval(), "BatchNorm": runs["batch"].model.eval()}
test = data.tensors("test")


def take(idx) -> dict:
    return {k: v[idx] for k, v in test.items()}


def score(model, batch) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(model(batch)).numpy()


# the sample: the one of the first 256 whose BatchNorm score (evaluation mode) is closest to 0.5
batch_a = torch.arange(256)
i = int(np.abs(score(models["BatchNorm"], take(batch_a)) - 0.5).argmin())
batch_b = torch.cat([torch.tensor([i]), torch.arange(256, 511)])  # sample i, other batch mates
print("sample", i)

rows = {}
for name, model in models.items():
    with batch_statistics(model):
        in_a = score(model, take(batch_a))[i]
        in_b = score(model, take(batch_b))[0]
        padded = score(model, pad_batch(take(batch_a), 20))[i]
    rows[name] = (in_a, in_b, padded)
    print(f"{name}: batch A {in_a:.4f} | batch B {in_b:.4f} | batch A + 20 padding slots "
          f"{padded:.4f}")

# %%
ln_a, ln_b, ln_pad = rows["LayerNorm"]
bn_a, bn_b, bn_pad = rows["BatchNorm"]
assert abs(ln_a - ln_b) < 1e-6 and abs(ln_a - ln_pad) < 1e-6
assert abs(bn_a - bn_b) > 1e-4 and abs(bn_a - bn_pad) > max(1e-2, 3 * abs(bn_a - bn_b))
glue("bn_a", float(bn_a), display=False)
glue("bn_b", float(bn_b), display=False)
glue("bn_pad", float(bn_pad), display=False)

# %% [markdown]
# LayerNorm gives the same probability three times. BatchNorm gives {glue:text}`bn_a:.4f` in
# batch A, {glue:text}`bn_b:.4f` in batch B and {glue:text}`bn_pad:.4f` once the batch carries
# more padding: nothing about the user or the candidate changed. With 256 samples of 21 tokens,
# each feature's statistics average 256 x 21 values, so new batch mates move them only a little.
# The extra padding moves them much more: it turns a large share of all tokens into padding
# tokens, and those enter every feature's mean and variance.
#
# Smaller batches average over fewer tokens. Here is the same sample scored inside 30 random
# batches of each size (the sample plus random test samples as batch mates):

# %%
generator = torch.Generator().manual_seed(0)
others = torch.tensor([j for j in range(len(test["label"])) if j != i])
sizes = (4, 16, 64, 256)
spreads = {name: {size: [] for size in sizes} for name in models}
for size in sizes:
    for _ in range(30):
        mates = others[torch.randperm(len(others), generator=generator)[:size - 1]]
        batch = take(torch.cat([torch.tensor([i]), mates]))
        for name, model in models.items():
            with batch_statistics(model):
                spreads[name][size].append(score(model, batch)[0])
spreads = {name: {size: np.array(v) for size, v in d.items()} for name, d in spreads.items()}
eval_scores = {name: float(score(model, take(torch.tensor([i])))[0])
               for name, model in models.items()}
plot_batch_dependence(spreads, eval_scores)
plt.show()

# %%
for name in models:
    print(name, "| range of the probability over 30 batches, by batch size:",
          {size: round(float(np.ptp(v)), 4) for size, v in spreads[name].items()})
bn_range = {size: float(np.ptp(v)) for size, v in spreads["BatchNorm"].items()}
glue("range_4", float(bn_range[4]), display=False)
glue("range_256", float(bn_range[256]), display=False)
assert max(float(np.ptp(v)) for v in spreads["LayerNorm"].values()) < 1e-6
assert bn_range[4] > bn_range[16] > bn_range[64] > bn_range[256] > 0

# %% [markdown]
# With batches of 4 the same sample's probability ranges over {glue:text}`range_4:.3f`; with
# batches of 256, over {glue:text}`range_256:.4f`. LayerNorm's dots sit on one line.

# %% [markdown]
# During training every gradient step sees such a batch, so BatchNorm adds noise that depends on
# who else is in the batch; some call it a regulariser. For a ranking model it is also a
# correctness problem: a user's score should not depend on which other users happen to be scored
# with them.
#
# ## Evaluation mode: running statistics
#
# In evaluation mode (`model.eval()`, which `bst_teach.train.predict` uses) BatchNorm normalises
# with the running mean and variance accumulated during training, fixed numbers. The dependence
# disappears, for batch mates and for padding alike. The dashed lines in the plot above are these
# evaluation-mode scores.

# %%
bn_model = models["BatchNorm"]  # already in eval mode
alone = score(bn_model, take(torch.tensor([i])))[0]
assert np.isclose(score(bn_model, take(batch_a))[i], alone, atol=1e-5)
assert np.isclose(score(bn_model, take(batch_b))[0], alone, atol=1e-5)
assert np.isclose(score(bn_model, pad_batch(take(batch_a), 20))[i], alone, atol=1e-5)
print(f"BatchNorm, eval mode: {alone:.4f} alone, in batch A, in batch B and with extra padding")

# %% [markdown]
# So a BatchNorm BST is fine *if* it is always put in evaluation mode to score. But it was
# trained with batch statistics and is evaluated with running statistics: two different
# functions. How different? We score test samples in four ways: evaluation mode; batch
# statistics over random batches of 256 (what training saw); batch statistics over batches of 8;
# and batch statistics one sample at a time (a forgotten `model.eval()` in a service that scores
# one request at a time). The last two run on a random subset of 800 test samples, for speed.

# %%
y = test["label"].numpy()
eval_probs = score(bn_model, test)


def with_batch_statistics(order, size) -> np.ndarray:
    """Scores of the samples in ``order``, in batches of ``size``, with batch statistics."""
    out = []
    with batch_statistics(bn_model):
        for start in range(0, len(order), size):
            out.append(score(bn_model, take(order[start:start + size])))
    return np.concatenate(out)


order = torch.randperm(len(y), generator=torch.Generator().manual_seed(1))
subset = order[:800]
probs_256 = with_batch_statistics(order, 256)
probs_8 = with_batch_statistics(subset, 8)
probs_1 = with_batch_statistics(subset, 1)
aucs = {  # short key -> (label, AUC)
    "eval": ("evaluation mode (running statistics)", roc_auc_score(y, eval_probs)),
    "256": ("batch statistics, batches of 256", roc_auc_score(y[order], probs_256)),
    "eval_subset": ("evaluation mode, 800-sample subset",
                    roc_auc_score(y[subset], eval_probs[subset])),
    "8": ("batch statistics, batches of 8 (same subset)", roc_auc_score(y[subset], probs_8)),
    "1": ("batch statistics, one sample at a time (same subset)",
          roc_auc_score(y[subset], probs_1)),
}
for key, (label, value) in aucs.items():
    print(f"{value:.3f}  {label}")
    glue(f"auc_mode_{key}", float(value), display=False)
plot_mode_scatter(eval_probs[subset.numpy()],
                  {"batches of 256": probs_256[:800], "batches of 8": probs_8,
                   "one sample at a time": probs_1})
plt.show()

# %%
mismatch = np.abs(probs_256 - eval_probs[order.numpy()]).mean()
glue("mismatch", float(mismatch), display=False)
print(f"mean |p(batch statistics, 256) - p(eval)|: {mismatch:.3f}")
on_subset = eval_probs[subset.numpy()]
gaps = [np.abs(p - on_subset).mean() for p in (probs_256[:800], probs_8, probs_1)]
print("on the subset, mean |p - p(eval)| for batches of 256, 8, 1:", np.round(gaps, 3))
assert gaps[0] < gaps[1] < gaps[2]
assert abs(aucs["eval"][1] - aucs["256"][1]) < 0.01
assert aucs["1"][1] < aucs["eval_subset"][1]

# %% [markdown]
# With large random batches the two modes agree well here: the AUCs are
# {glue:text}`auc_mode_eval:.3f` and {glue:text}`auc_mode_256:.3f`, and a probability moves by
# {glue:text}`mismatch:.3f` on average between the modes. The running statistics are a good
# summary of batch statistics *when the batches look like the training batches*. Scored one sample
# at a time with batch statistics, the same model drops to {glue:text}`auc_mode_1:.3f` (against
# {glue:text}`auc_mode_eval_subset:.3f` for the same samples in evaluation mode): one user's 21
# tokens, padding included, are a poor estimate of a feature's mean and variance. The scatter
# plots show the same per sample: the smaller the batch, the further the points leave the
# diagonal.
#
# ```{admonition} Why BST (and the Transformer) use LayerNorm
# :class: tip
# - A token's output depends on that token only: no batch mates, no padding, no batch size, no
#   train / evaluation switch, no running statistics to store, synchronise across machines or
#   get wrong.
# - Padding never enters anyone's statistics, so sequences of any length can share a batch.
# - It works for a batch of one token.
#
# BatchNorm can work for BST, and on this task it trains well, but it needs care that LayerNorm
# does not: evaluation mode at serving time, batches that look like training batches, and a
# masked version if padding should not count (exercise 2).
# ```
#
# ## Summary
#
# - LayerNorm normalises each token over its D features; BatchNorm normalises each feature over
#   all B x T tokens of the batch, padding included.
# - In training mode BatchNorm fails for one value per feature, erases identical tokens, and
#   makes a sample's prediction depend on its batch mates and on their padding (measured above);
#   LayerNorm's prediction does not change.
# - Evaluation mode replaces batch statistics by running statistics; the dependence disappears, at
#   the price of two different functions in training and serving.
# - On the synthetic task all three variants (LayerNorm, BatchNorm, none) learn; this chapter's
#   argument for LayerNorm is about correctness and serving, not about a higher AUC.
#
# ## Exercises
#
# **1. LayerNorm by hand.** Write `my_layer_norm(x, eps)` that normalises every token of
# x (B, T, D) over its D features (no learned scale or shift) and returns a tensor of the same
# shape. The checker compares it with `torch.nn.functional.layer_norm` and tells you if you used
# the wrong axis or the wrong variance.

# %% tags=["solution", "hide-input"]
def my_layer_norm(x, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)  # biased: divide by D
    return (x - mean) / torch.sqrt(var + eps)


# %%
from bst_teach.exercises.ch05 import check_layer_norm, check_masked_batch_norm

print(check_layer_norm(my_layer_norm))

# %% [markdown]
# **2. A BatchNorm that ignores padding.** Write `masked_batch_norm(x, mask, eps)`: x is
# (B, T, D), mask is (B, T) with True at real tokens. Normalise each feature with the mean and
# (biased) variance over the *real* tokens of the batch only, and return a (B, T, D) tensor. The
# checker also changes the padded values and appends more padding: the outputs at real tokens
# must not move.

# %% tags=["solution", "hide-input"]
def masked_batch_norm(x, mask, eps=1e-5):
    m = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
    count = m.sum()
    mean = (x * m).sum((0, 1)) / count  # (D,), real tokens only
    var = (((x - mean) ** 2) * m).sum((0, 1)) / count
    return (x - mean) / torch.sqrt(var + eps)


# %%
print(check_masked_batch_norm(masked_batch_norm))

# %% [markdown]
# Does a masked BatchNorm solve the whole problem? Think about batch mates before you read on:
# it removes the dependence on padding, not the dependence on the other samples.
#
# **3. Predict: BatchNorm at batch size 1.** A BatchNorm BST in *training* mode receives a batch
# of one sample whose history holds one behaviour (T = 21 tokens: one behaviour, 19 padding slots,
# the target). (a) Does PyTorch raise an error? (b) How much of each feature's mean comes from
# padding? (c) What happens with `nn.BatchNorm1d` on an MLP input of shape (1, D), the usual
# place for BatchNorm in a ranking model?

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# (a) No error: `BatchNorm1d` sees (1, D, 21), that is 21 values per feature, so the variance is
# defined. (b) 19 of the 21 tokens are padding, so padding dominates each feature's mean and
# variance: the behaviour and the target are normalised mostly against padding slots, and the
# score can be far from the evaluation-mode score (compare the one-sample-at-a-time AUC above).
# (c) Shape (1, D) has one value per
# feature: PyTorch raises `ValueError: Expected more than 1 value per channel when training`, as
# shown above. In evaluation mode all three cases work, with running statistics; LayerNorm works
# in every case, in both modes.
# :::
