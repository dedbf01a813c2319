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
# # DIN and what it cannot see
#
# The baseline of Chapter 1 averages a user's history: every past behaviour counts the same,
# whatever the candidate. The **Deep Interest Network** (DIN) {cite}`zhou2018din` fixed the
# obvious flaw ({term}`DIN`): when the candidate is a swimsuit, the goggles the user bought last week matter
# and the phone case does not. DIN weighs each behaviour by its relevance to the candidate.
# It was the model to beat when BST appeared, and BST's paper compares against it
# {cite}`chen2019bst`. This chapter builds DIN's pooling, then shows, with a proof and a
# test, the one thing it cannot see: the **order** in which things happened.
#
# **What you'll learn**
#
# - target attention: DIN's local activation unit and its weighted sum, drawn and run;
# - why a weighted sum is blind to order, in two lines of algebra and one `assert`;
# - the synthetic task of this book, where the order and recency of behaviour carry the signal,
#   and the two ceilings we can compute on it: the best AUC of any order-blind model and the
#   best AUC of any model;
# - how the embedding + MLP baseline and DIN do on it, and why.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from myst_nb import glue

from bst_teach.data import bayes_auc, make_synthetic, order_blind_ceiling_auc
from bst_teach.data.synthetic import click_logit
from bst_teach.data.samples import shuffle_history
from bst_teach.experiments import book_fit
from bst_teach.features import DAY, WEEK
from bst_teach.models import DIN, DINConfig, build_model
from bst_teach.train import predict
from bst_teach.viz.din_plots import din_pool, draw_din, plot_din_weights

# %% [markdown]
# ## Target attention
#
# Write $e_1, \dots, e_L$ for the embeddings of the history's behaviours (item and category
# embeddings concatenated, as in Chapter 1) and $e_t$ for the candidate's, the **target**. DIN
# computes one weight per behaviour with a small MLP, the
# **{term}`local activation unit <Local activation unit>`**, that sees
# the behaviour and the target side by side, their difference and their element-wise product:
#
# $$
# w_i = a(e_i, e_t) = \mathrm{MLP}\big([\,e_i,\ e_t,\ e_i - e_t,\ e_i \odot e_t\,]\big),
# \qquad
# v_U = \sum_{i=1}^{L} w_i \, e_i ,
# $$
#
# with $w_i = 0$ at padded slots. The user vector $v_U$ replaces Chapter 1's average, and the
# rest is unchanged: concatenate with the target, user and context embeddings, feed the MLP.
# Two details from the DIN paper: the weights are **not** normalised by a softmax (so $v_U$ also
# carries how *much* interest there is, not only in what), and the target is the *query*: the
# same history gives a different $v_U$ for every candidate. This is
# **{term}`target attention <Target attention>`** ({numref}`fig-02-din`).

# %% mystnb={"figure": {"caption": "DIN's pooling: the local activation unit scores each behaviour embedding $e_i$ against the target $e_t$, and the user vector $v_U$ is the sum of the behaviours weighted by those scores.", "name": "fig-02-din"}}
draw_din()
plt.show()

# %% [markdown]
# In code (`bst_teach.models.DIN`), the activation unit is `LocalActivationUnit` and the pooling
# is two lines. `din_pool` repeats the forward pass step by step on an untrained DIN, so we can
# look at the intermediates; the `assert` checks that the steps are the model's own.

# %%
data = make_synthetic()  # the book's synthetic task, described below
test = data.tensors("test")
batch = {k: v[:4] for k, v in test.items()}

torch.manual_seed(0)
din = build_model("din", data.schema).eval()
steps = din_pool(din, batch)
for name in ("hist", "target", "weights", "pooled", "logits"):
    print(f"{name:>8}: {tuple(steps[name].shape)}")

# %% tags=["hide-input"]
# Checks for the claims below
with torch.no_grad():
    assert torch.allclose(steps["logits"], din(batch), atol=1e-6)
assert (steps["weights"][~steps["mask"]] == 0).all()  # padding gets weight exactly 0

# %% [markdown]
# ## Why DIN cannot see order
#
# Look at the formula for $w_i$ again: it depends on $e_i$ and $e_t$ and on nothing else, not on
# the slot $i$. Reorder the history with a permutation $\pi$, so that slot $i$ now holds
# behaviour $\pi(i)$. The new user vector is
#
# $$
# v_U' = \sum_{i=1}^{L} a(e_{\pi(i)}, e_t)\, e_{\pi(i)}
#      = \sum_{j=1}^{L} a(e_j, e_t)\, e_j = v_U ,
# $$
#
# because the second sum has exactly the same terms as the first, only added in another order
# (substitute $j = \pi(i)$; addition is commutative). The MLP head then receives the same input
# and returns the same score. Nothing in DIN knows which behaviour came last, or how long ago
# anything happened. The same argument holds for Chapter 1's average (all weights equal).
#
# A claim like this deserves a test. `shuffle_history` reorders the real behaviours of every
# test sample at random (padding stays at the end); we compare the scores of an untrained DIN
# before and after.

# %% tags=["nbval-ignore-output"]
shuffled = shuffle_history(test, seed=0)
moved = ((shuffled["hist_item"] != test["hist_item"]).any(1)).float().mean().item()
p_before, p_after = predict(din, test), predict(din, shuffled)
max_diff = float(np.abs(p_before - p_after).max())
print(f"samples whose history order changed: {moved:.0%}")
print(f"largest change of a predicted probability: {max_diff:.1e}")

# %% tags=["hide-input"]
# Checks for the claims below
assert moved > 0.99 and max_diff < 1e-5

# %% [markdown]
# The history of practically every sample was reordered, and no prediction moved by more than
# float rounding. (This cell's second number is rounding noise and may differ slightly on your
# machine.)
#
# ## A task where order is the signal
#
# On real logs we never know what the truth is, so we cannot tell whether a model missed
# something. The book therefore uses a **synthetic** task with a planted rule
# (`bst_teach.data.synthetic`, all randomness seeded). Six item categories, c0 to c5. A user's
# history holds 8 to 20 behaviours whose categories are drawn independently and uniformly; the
# candidate's category is drawn the same way, independently of the history. The true click
# probability is
#
# $$
# \begin{aligned}
# P(\text{click}) = \sigma\Big(&-3 + 6\,[\text{last} = \text{target}]\cdot r(\text{gap of last}) \\
#   &+ 6\,[\text{target} = 2\cdot\text{last} - \text{previous} \bmod 6] \\
#   &+ 0.3\,[\text{gender} = 1] - 0.15\cdot\text{position}\Big),
# \end{aligned}
# $$
#
# where "last" and "previous" are the categories of the two most recent behaviours and
# $r$ = 1 if the last behaviour was less than a day before the request, 0.5 if less than a
# week, 0 otherwise. In words:
#
# - **recency**: a user who just looked at the target's category is likely to click it, and the
#   effect fades with time;
# - **trend**: a user who went c2 then c3 is likely to click c4 (the next step of the trend);
# - small effects of the profile (gender) and the display position (context).
#
# Everything that matters is in the *last two* behaviours and *when* the last one happened.
# Here is the first test sample of each kind, with the last six behaviours of its history, its
# true click probability and the label drawn from it:

# %%
raw = data.info["raw_test"]
C, lengths = data.info["n_categories"], raw["length"]
n = len(lengths)
last = raw["hist_cat"][np.arange(n), lengths - 1]
previous = raw["hist_cat"][np.arange(n), lengths - 2]
gap = raw["hist_gap"][np.arange(n), lengths - 1]
p_true = 1 / (1 + np.exp(-raw["logit"]))
fired = np.select([(last == raw["target_cat"]) & (gap < DAY),
                   (last == raw["target_cat"]) & (gap < WEEK),
                   raw["target_cat"] == (2 * last - previous) % C],
                  ["recency, < 1 day", "recency, < 1 week", "trend"], "none")
rows = [int(np.flatnonzero((fired == kind) & (last != previous))[0])  # a visible trend
        for kind in ("none", "recency, < 1 day", "recency, < 1 week", "trend")]
histories = ["... " + " ".join(f"c{c}" for c in raw["hist_cat"][i, lengths[i] - 6:lengths[i]])
             for i in rows]
table = pd.DataFrame({
    "history (-> newest)": histories,
    "last gap (h)": (gap[rows] / 3600).round(1),
    "target": [f"c{c}" for c in raw["target_cat"][rows]],
    "rule that fires": fired[rows],
    "true P(click)": p_true[rows].round(3),
    "label": raw["label"][rows].astype(int),
})
print(table.to_string(index=False))

# %% tags=["hide-input"]
# Checks for the claims below
glue("positive_rate", float(data.train.label.mean()), display=False)
glue("n_train", len(data.train), display=False)
glue("n_test", len(data.test), display=False)
glue("n_users", next(f.vocab_size - 2 for f in data.schema.features if f.name == "user_id"),
     display=False)

# %% [markdown]
# What could a model that ignores order still use? Only the *multiset* of past categories
# (which ones, how often), plus profile and context. Since the history is random, the count of
# the target's category in the history is nearly all it tells. {numref}`fig-02-signals` compares
# that weak signal with what order-aware information gives:

# %% mystnb={"figure": {"caption": "Mean true click probability on the test set. Left: by how often the target's category occurs anywhere in the history, all an order-blind model can use. Right: by whether the last behaviour has the target's category, and how long ago it happened.", "name": "fig-02-signals"}}
count = ((raw["hist_cat"] == raw["target_cat"][:, None]) & raw["mask"]).sum(1)
recent_match = np.select([(last == raw["target_cat"]) & (gap < DAY),
                          (last == raw["target_cat"]) & (gap < WEEK),
                          last == raw["target_cat"]],
                         ["< 1 day", "< 1 week", "older"], "last is another category")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), sharey=True)
by_count = pd.Series(p_true).groupby(np.minimum(count, 6)).mean()
axes[0].bar(by_count.index, by_count.values, color="tab:blue")
axes[0].set_xticks(by_count.index, [str(k) if k < 6 else "6+" for k in by_count.index])
axes[0].set_xlabel("times the target's category occurs in the history")
axes[0].set_ylabel("mean true P(click)")
axes[0].set_title("what an order-blind model can see", fontsize=10)
order = ["last is another category", "older", "< 1 week", "< 1 day"]
by_last = pd.Series(p_true).groupby(recent_match).mean().reindex(order)
axes[1].bar(range(4), by_last.values, color=["gray", "tab:orange", "tab:orange", "tab:red"])
axes[1].set_xticks(range(4), ["last: other\ncategory", "last = target,\n> 1 week ago",
                              "last = target,\n< 1 week", "last = target,\n< 1 day"], fontsize=8)
axes[1].set_title("what order and time reveal", fontsize=10)
fig.tight_layout()
plt.show()

# %% tags=["hide-input"]
# Checks for the claims below
glue("p_last_day", float(by_last["< 1 day"]), display=False)
glue("p_last_other", float(by_last["last is another category"]), display=False)
assert by_last["< 1 day"] > 3 * by_last["last is another category"]
assert by_count.max() - by_count.min() < by_last["< 1 day"] - by_last["last is another category"]

# %% [markdown]
# When the last behaviour has the target's category and happened within a day, the mean click
# probability is {glue:text}`p_last_day:.2f`, against {glue:text}`p_last_other:.2f` when the last
# behaviour is another category. Counting occurrences of the category spreads far less.
#
# Because we know the rule, we can compute two **ceilings** on the test set:
#
# - `bayes_auc`: the AUC of the true click probability itself, the best any model can reach
#   (labels are random draws, so even the truth is not perfect);
# - `order_blind_ceiling_auc`: the best AUC of any model that sees the history only as a
#   multiset. Given a multiset, every order of it was equally likely to be the real one (the
#   categories were drawn independently), so the best order-blind guess is the true probability
#   *averaged over random reorderings* of the history. The function averages over 64 random
#   reorderings of each test history. It moves the categories and keeps the time gaps in their
#   slots, so it even knows how long ago the last behaviour happened, only not what it was: if
#   anything, the ceiling is generous.

# %%
ceiling = order_blind_ceiling_auc(data)
bayes = bayes_auc(data)
print(f"order-blind ceiling AUC: {ceiling:.3f}")
print(f"Bayes (best possible) AUC: {bayes:.3f}")

# %% tags=["hide-input"]
# Checks for the claims below
glue("ceiling", ceiling, display=False)
glue("bayes", bayes, display=False)
assert bayes - ceiling > 0.2

# %% [markdown]
# No order-blind model can beat {glue:text}`ceiling:.3f` (up to the noise of a finite test set),
# while a model that reads order and time could reach {glue:text}`bayes:.3f`.
#
# ## Training the baseline and DIN
#
# Both models (the {term}`WDL` baseline and DIN) train with the book's settings through `book_fit` (cached: later chapters reuse
# them). The training set has {glue:text}`n_train:,` samples, validation and test
# {glue:text}`n_test:,` each; the positive rate is {glue:text}`positive_rate:.1%`.

# %%
results = {name: book_fit(name, data) for name in ("wdl", "din")}
for name, r in results.items():
    print(f"{name}: test AUC {r.test_auc:.3f}  (best epoch {r.best_epoch} of {len(r.history)})")
wdl_auc, din_auc = results["wdl"].test_auc, results["din"].test_auc

# %% tags=["hide-input"]
# Checks for the claims below
glue("wdl_auc", wdl_auc, display=False)
glue("din_auc", din_auc, display=False)
assert din_auc <= ceiling + 0.03 and wdl_auc <= ceiling + 0.03  # not above the order-blind ceiling
assert bayes - din_auc > 0.3  # far below what the data allows

# %% mystnb={"figure": {"caption": "Test AUC on the synthetic task: the embedding + MLP baseline and DIN, next to the best AUC any order-blind model can reach and the Bayes AUC of the true click probability. The dotted line is chance (0.5).", "name": "fig-02-aucs"}}
names = ["embedding + MLP", "DIN", "order-blind\nceiling", "Bayes\n(any model)"]
values = [wdl_auc, din_auc, ceiling, bayes]
fig, ax = plt.subplots(figsize=(6.5, 3.2))
bars = ax.bar(names, values, color=["tab:blue", "tab:green", "gray", "black"])
ax.bar_label(bars, fmt="%.3f", fontsize=9)
ax.axhline(0.5, color="k", lw=0.8, ls=":")
ax.set_ylim(0.4, 1.0)
ax.set_ylabel("test AUC")
ax.set_title("synthetic task: order-blind models stay under the order-blind ceiling", fontsize=10)
plt.show()

# %% [markdown]
# DIN reaches {glue:text}`din_auc:.3f` and the baseline {glue:text}`wdl_auc:.3f`
# ({numref}`fig-02-aucs`): both under the
# order-blind ceiling of {glue:text}`ceiling:.3f` and far from the {glue:text}`bayes:.3f` that
# the data allows. Target attention does not help here, because what matters is not *which*
# behaviours resemble the target but *where* they sit in the sequence. Both models are even
# below the ceiling: the ceiling is what a *perfect* order-blind predictor would reach, and the
# count signal it relies on is weak and easily drowned by the noise of
# {glue:text}`n_train:,` samples.
#
# ## What DIN's attention looks like
#
# Take a test sample where the rule fires: the last behaviour has the target's category and is
# less than a day old, so the true click probability is high. {numref}`fig-02-weights` shows the
# trained DIN's weights on each behaviour, then the same after shuffling the history.

# %%
din = results["din"].model.eval()
is_case = ((last == raw["target_cat"]) & (gap < DAY) & (count >= 3) & (lengths >= 10)
           & (raw["target_cat"] != (2 * last - previous) % C))  # only the recency rule


def true_p_shuffled(i, shuffled):
    """True click probability of sample i in the shuffled order (same times, categories moved)."""
    return 1 / (1 + np.exp(-click_logit(
        shuffled["hist_cat"].numpy() - 2, raw["hist_gap"][i:i + 1], lengths[i:i + 1],
        raw["target_cat"][i:i + 1], raw["gender"][i:i + 1], raw["position"][i:i + 1],
        data.info["n_categories"])))[0]


for i in map(int, np.flatnonzero(is_case)):  # the first case whose shuffle moves the match away
    one = {k: v[i:i + 1] for k, v in test.items()}
    one_shuffled = shuffle_history(one, seed=3)
    p_true_shuffled = true_p_shuffled(i, one_shuffled)
    if p_true[i] - p_true_shuffled > 0.3:
        break
with torch.no_grad():
    logit, w = din(one, return_attention=True)
    logit_s, w_s = din(one_shuffled, return_attention=True)

# %% mystnb={"figure": {"caption": "The trained DIN's weight on each behaviour of one test sample (red: behaviours of the target's category), as it happened (top) and with the same behaviours shuffled (bottom). The weights move with their behaviours and the score stays the same, although the true click probability changes.", "name": "fig-02-weights"}}
ymax = 1.15 * float(w.max())
fig, axes = plt.subplots(2, 1, figsize=(8, 5))
plot_din_weights(w, one, 0, ax=axes[0], ymax=ymax,
                 title=f"as it happened: DIN says P(click) = {torch.sigmoid(logit).item():.3f}, "
                       f"true P(click) = {p_true[i]:.3f}")
plot_din_weights(w_s, one_shuffled, 0, ax=axes[1], ymax=ymax,
                 title=f"shuffled: DIN says P(click) = {torch.sigmoid(logit_s).item():.3f}, "
                       f"true P(click) = {p_true_shuffled:.3f}")
fig.tight_layout()
plt.show()

# %% tags=["hide-input"]
# Checks for the claims below
assert torch.allclose(torch.sigmoid(logit), torch.sigmoid(logit_s), atol=1e-5)
assert torch.allclose(w.sort().values, w_s.sort().values, atol=1e-5)  # same weights, permuted
assert p_true[i] - p_true_shuffled > 0.3

# %% [markdown]
# Red bars are behaviours of the target's category. The same bars, permuted, give the same
# score, although the truth differs a lot: in the top history the target's category was the
# very last thing the user looked at; in the shuffled one it was not. DIN cannot tell the two
# apart.
#
# In one sample the weights look noisy, since they depend on the item ids as well as the
# categories. Averaged over the whole test set, they show what DIN did learn:

# %%
with torch.no_grad():
    _, w_all = din(test, return_attention=True)
real = test["hist_item"] != 0
same = (test["hist_cat"] == test["target_cat"][:, None]) & real
is_last = real & ~torch.cat([real[:, 1:], torch.zeros_like(real[:, :1])], 1)  # last real slot
w_same, w_other = w_all[same].mean().item(), w_all[real & ~same].mean().item()
w_last, w_earlier = w_all[is_last].mean().item(), w_all[real & ~is_last].mean().item()
print(f"mean weight, target's category: {w_same:.3f}   other categories: {w_other:.3f}")
print(f"mean weight, last behaviour:    {w_last:.3f}   earlier behaviours: {w_earlier:.3f}")

# %% tags=["hide-input"]
# Checks for the claims below
for name, v in (("w_same", w_same), ("w_other", w_other), ("w_last", w_last),
                ("w_earlier", w_earlier)):
    glue(name, v, display=False)
assert w_same - w_other > 0.02  # DIN weights the relevant category up ...
assert abs(w_last - w_earlier) < 0.1 * (w_same - w_other)  # ... but not the most recent behaviour

# %% [markdown]
# DIN has learnt *which* behaviours are relevant: behaviours of the target's category get a mean
# weight of {glue:text}`w_same:.3f` against {glue:text}`w_other:.3f` for the others (DIN's weights
# are not normalised and can be negative: what counts is the difference). It has not
# learnt *when* they matter: the last behaviour gets {glue:text}`w_last:.3f` on average, like
# the earlier ones ({glue:text}`w_earlier:.3f`). It could not, because nothing in its input says
# which behaviour is the last.
#
# ## A DIN with time features is no longer order-blind
#
# DIN as published has no notion of position, but nothing stops us from adding one:
# concatenate to each behaviour an embedding of its **time gap** {term}`bucket <Bucket>`
# ($t_\text{request} - t_\text{behaviour}$, Chapter 4 explains the buckets), and to the target
# the bucket "now". The weight $w_i$ then
# depends on *when* behaviour $i$ happened, and the argument above breaks. `shuffle_history`
# keeps the time buckets in their slots while moving items, so the scores of such a DIN change
# (shown here untrained, so the changes are small, since fresh embeddings start small; the
# plain DIN's "changes" are floating-point rounding. Chapter 4 trains it):

# %%
torch.manual_seed(0)
din_time = DIN(data.schema, DINConfig(time_features=True)).eval()
torch.manual_seed(0)
din_plain = DIN(data.schema, DINConfig()).eval()
change, change_plain = (np.abs(predict(m, test) - predict(m, shuffled)).max()
                        for m in (din_time, din_plain))
print(f"largest change of P(click) after shuffling, untrained DIN with time features: {change:.1e}")
print(f"                                          untrained DIN without:              {change_plain:.1e}")

# %% tags=["hide-input"]
# Checks for the claims below
assert change > 100 * change_plain  # a real change, not floating-point rounding

# %% [markdown]
# So "DIN cannot see order" is a statement about DIN *as published*, without time features; in
# Chapter 4 a DIN with time features learns the recency part of our rule. What it still has no
# direct way to express is a relation *between* two behaviours, like the trend "c2 then c3, so
# c4": each weight is computed from one behaviour and the target alone, and the head only sees
# the weighted sum, in which the last two behaviours are blended with all the others.
# {term}`Self-attention`, where behaviours attend to each other, can express such relations. That is
# BST, and Chapter 3 builds it.

# %% [markdown]
# ## Exercises
#
# **1. DIN's pooling.** Write `weighted_pool(hist, weights, mask)`: `hist` is (B, L, E), `weights`
# (B, L) the raw outputs of the activation unit, `mask` (B, L) True at real behaviours. Return
# (B, E): the sum of the behaviour vectors weighted by their weights, with padding weighted 0 and
# no normalisation (no softmax). In the checker, padded slots hold non-zero vectors *and*
# non-zero weights.

# %% tags=["solution", "hide-input"]
def weighted_pool(hist, weights, mask):
    w = weights * mask.to(weights.dtype)  # padding -> 0
    return (w.unsqueeze(-1) * hist).sum(1)  # (B, E)


# %%
from bst_teach.exercises.ch02 import check_weighted_pool

print(check_weighted_pool(weighted_pool))

# %% [markdown]
# **2. Permutation invariance, the other way round.** We showed that reordering the history
# leaves $v_U$ unchanged. Which *single* change to DIN's formula for $w_i$ would make the score
# depend on order, and why is "apply a softmax to the weights" not such a change?

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# The weight must depend on the slot: $w_i = a(e_i, e_t, p_i)$ with $p_i$ some position
# information, a learned embedding of the index $i$, or of the time gap of behaviour $i$ (the
# time-feature DIN above). Then permuting the behaviours while the positions stay in their slots
# changes the terms of the sum. A softmax does not help:
# $\mathrm{softmax}(s)_i = e^{s_i} / \sum_j e^{s_j}$, and both the numerator (which depends only
# on $e_i$ and $e_t$) and the denominator (a sum over all behaviours, the same for any order)
# are unchanged by a permutation, so softmax weights are permuted along with the behaviours and
# the weighted sum is again the same. The same reasoning covers the mean (all weights $1/n$),
# max pooling, and any function of the *multiset* of behaviours.
# :::

# %% [markdown]
# **3. Predict, then run: a repeated behaviour.** Take a sample whose history is not full and
# append a copy of its most recent behaviour in the next free slot (as if the user had clicked
# the same item twice). Does DIN's pooled vector $v_U$ change? By how much? Predict, then run.

# %%
j = int(np.flatnonzero(raw["length"] < data.schema.max_len)[0])
orig = {k: v[j:j + 1].clone() for k, v in test.items()}
dup = {k: v.clone() for k, v in orig.items()}
length = int((orig["hist_item"] != 0).sum())
for key in ("hist_item", "hist_cat", "hist_time"):
    dup[key][0, length] = orig[key][0, length - 1]  # repeat the last behaviour
a, b = din_pool(din, orig), din_pool(din, dup)
w_last, e_last = a["weights"][0, length - 1], a["hist"][0, length - 1]
print("pooled vector changed:", not torch.allclose(a["pooled"], b["pooled"]))
print("change equals w_last * e_last:",
      torch.allclose(b["pooled"] - a["pooled"], w_last * e_last, atol=1e-5))
p_a, p_b = torch.sigmoid(a["logits"]).item(), torch.sigmoid(b["logits"]).item()
print(f"P(click): {p_a:.3f} -> {p_b:.3f}")

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# It changes, by exactly $w_\text{last}\, e_\text{last}$: the duplicate is one more term of the
# sum, with the same weight as the original (the weight depends only on the behaviour and the
# target). DIN is blind to *order*, not to *multiplicity*: it is a function of the multiset of
# behaviours, and a multiset knows how many times each behaviour occurs. Because DIN does not
# normalise its weights, two identical clicks count twice as much as one, which is what the DIN
# paper wants ("intensity" of interest). With a softmax, the duplicate would also change the
# result, but by redistributing the weights rather than adding to them. The score changes too,
# unless the MLP head happens to ignore that direction of $v_U$.
# :::

# %% [markdown]
# **4. Below the ceiling.** DIN's test AUC is below the order-blind ceiling, not at it. Name two
# reasons, and one experiment that would tell them apart.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# (a) *Estimation*: the ceiling is reached by the exact Bayes-optimal order-blind predictor;
# DIN must learn from {glue:text}`n_train:,` noisy labels a weak, non-linear function of how
# often the target category occurs, next to {glue:text}`n_users:,` user-id embeddings that
# invite memorising. (b) *Optimisation
# and capacity*: early stopping on a noisy validation AUC may stop before the weak signal is
# learnt, and the architecture must represent "count of the target's category" through
# unnormalised weights. Experiment: train on more data (e.g. `make_synthetic(n_train=200_000)`)
# and watch whether the gap to the ceiling closes (then (a) dominates); or remove `user_id` and
# check whether the AUC rises (memorisation); or fit a simple logistic regression on the count
# feature alone to see what a perfectly specified model gets from the same samples.
# :::
