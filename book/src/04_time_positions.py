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
# # Positions from time
#
# A Transformer sees a set of tokens; whatever it knows about order comes from the position part
# of each token. In language, "position 7" is the whole story. In a behaviour sequence it is not:
# a movie rated a minute ago and one rated three months ago may both sit in slot 7. The BST paper
# {cite}`chen2019bst` therefore defines the position of a behaviour by **time**: how long before
# the moment of recommendation it happened. This chapter builds that feature and measures what it
# buys.
#
# **What you'll learn**
#
# - why index positions are not enough for behaviour, and the paper's
#   $\mathrm{pos}(v_i) = t(v_t) - t(v_i)$;
# - why a raw number of seconds cannot index an embedding table, and how bucketing fixes it
#   (calendar buckets and a log scheme);
# - how bucket boundaries meet the real time gaps of MovieLens (an interactive figure);
# - an ablation that separates what time positions add from what self-attention between
#   behaviours adds: DIN with and without time, BST with no, index, time or both positions.

# %%
# %matplotlib inline
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from myst_nb import glue
from sklearn.metrics import roc_auc_score

from bst_teach.data import build_dataset, load_movielens, make_synthetic
from bst_teach.data.synthetic import bayes_auc, click_logit, order_blind_ceiling_auc
from bst_teach.experiments import BOOK_TRAIN, cached_fit
from bst_teach.features import (DAY, HOUR, MINUTE, bucket_labels, bucketize_gaps,
                                n_time_buckets)
from bst_teach.models.layers import recency_rank
from bst_teach.viz.time_plots import (bucket_edges, gap_bucket_figures, occupancy,
                                      plot_gap_buckets, plot_position_ablation,
                                      plot_two_histories, recent_mask)
from bst_teach.viz.widgets import precomputed_grid


def glue_number(name, value):
    """Glue a number for the prose, as a plain int or float (myst-nb formats only those)."""
    glue(name, int(value) if isinstance(value, (int, np.integer)) else float(value), display=False)

# %% [markdown]
# ## Same order, different story
#
# Take two users who clicked items of the same four categories in the same order, and are now
# shown an item of the last category. User A did it all in one evening; user B over half a year.
# Index positions ("1 = most recent") are identical for the two. The planted rule of our synthetic
# data (Chapter 2) is not: it says a user who *just* looked at a category is likely to click
# another item of it, and one who looked weeks ago is not. We evaluate the rule's true click
# probability on both histories with `click_logit`, the generator's own function.

# %%
cats = np.array([[0, 3, 1, 2], [0, 3, 1, 2]])  # oldest first, categories 0..5
gaps = np.array([[8 * HOUR, 2 * HOUR, 30 * MINUTE, 5 * MINUTE],  # user A: one evening
                 [330 * DAY, 120 * DAY, 45 * DAY, 15 * DAY]], dtype=float)  # user B: half a year
mask = np.ones_like(cats, dtype=bool)
target = np.array([2, 2])  # the candidate has the last behaviour's category
logit = click_logit(cats, gaps, np.array([4, 4]), target, gender=np.zeros(2),
                    position=np.zeros(2), n_categories=6)
p = 1 / (1 + np.exp(-logit))
index_pos = recency_rank(torch.as_tensor(mask)).numpy()
time_pos = bucketize_gaps(gaps, mask, "calendar")
labels = bucket_labels("calendar")
print("index positions  A:", index_pos[0].tolist(), " B:", index_pos[1].tolist())
print("time buckets     A:", [labels[b] for b in time_pos[0]])
print("                 B:", [labels[b] for b in time_pos[1]])
print(f"click probability A: {p[0]:.3f}  B: {p[1]:.3f}")
assert (index_pos[0] == index_pos[1]).all() and (time_pos[0] != time_pos[1]).all()
assert p[0] > 0.9 and p[1] < 0.1

# %%
plot_two_histories({"user A (one evening)": {"cats": cats[0], "gaps": gaps[0], "p": p[0]},
                    "user B (over half a year)": {"cats": cats[1], "gaps": gaps[1], "p": p[1]}})
plt.show()

# %% [markdown]
# A model that sees only index positions gives A and B the same score; the right answers are
# {glue:text}`p_a:.2f` and {glue:text}`p_b:.2f`. Real logs behave the same way: interest decays
# with time, and sessions cluster. Hence the paper's position feature
#
# $$\mathrm{pos}(v_i) = t(v_t) - t(v_i),$$
#
# the time of the recommendation (when the target item $v_t$ is shown) minus the time of the
# click on $v_i$. The paper embeds it and concatenates it to the item features, and reports that
# it beat the sin/cos positions of the original Transformer; it gives neither units nor bucketing.
# That is left to us.

# %%
glue("p_a", float(p[0]), display=False)
glue("p_b", float(p[1]), display=False)

# %% [markdown]
# ## A number of seconds cannot be embedded directly
#
# An embedding table has one row per possible value. Let us see what that means for the time gaps
# of MovieLens-100K {cite}`harper2015movielens` (the histories of up to 20 previous ratings that
# Chapter 8 uses; `bst_teach.data.load_movielens` reads the files).

# %%
raw = load_movielens()
ml = build_dataset(raw, max_len=20)
train_gaps = ml.train.hist_gap[ml.train.mask]  # seconds, every real behaviour of every sample
test_gaps = ml.test.hist_gap[ml.test.mask]
pos_dim = 8  # the width of BST's position embedding
max_gap = int(max(train_gaps.max(), test_gaps.max()))
values, counts = np.unique(train_gaps, return_counts=True)
unseen = ~np.isin(test_gaps, values)
table_rows = {"one row per second": max_gap + 1, "calendar buckets": n_time_buckets("calendar"),
              "log buckets": n_time_buckets("log")}
print(f"longest gap: {max_gap:,} s = {max_gap / DAY:.1f} days")
print(f"distinct gap values in training: {len(values):,}; seen only once: {(counts == 1).mean():.1%}")
print(f"test gaps whose exact value never occurs in training: {unseen.mean():.1%}")
for name, rows in table_rows.items():
    print(f"{name:20s} {rows:>12,} rows x {pos_dim} = {rows * pos_dim:>13,} parameters")
for key, value in {"max_gap_days": max_gap / DAY, "n_values": len(values),
                   "once": 100 * (counts == 1).mean(), "unseen": 100 * unseen.mean(),
                   "second_params": (max_gap + 1) * pos_dim,
                   "calendar_params": n_time_buckets("calendar") * pos_dim}.items():
    glue_number(key, value)

# %% [markdown]
# The longest gap is {glue:text}`max_gap_days:.0f` days, so a table with one row per second would
# hold {glue:text}`second_params:,` parameters for the position alone, against
# {glue:text}`calendar_params:,` for the calendar buckets below. Size is not the worst of it:
# most rows would never be trained. Only {glue:text}`n_values:,` distinct gap values occur in
# training, {glue:text}`once:.0f` % of them once, and {glue:text}`unseen:.0f` % of the gaps in the
# test period have a value never seen in training, so their rows would still hold their random
# initial values. A gap of 3,601 s and one of 3,602 s should mean almost the same thing; separate
# rows cannot share what they learn.
#
# ## Buckets
#
# The fix is to cut the time axis into **buckets** and give each bucket one row. Gaps that mean
# the same to a user share a row, and every row sees plenty of data. `bst_teach.features` has two
# schemes (index 0 is padding, 1 the target itself, "now"):
#
# - **calendar**: under an hour, a day, 3 days, a week, 2 weeks, a month, 3 months, 6 months, a
#   year, and older; edges a person would choose;
# - **log**: doubling widths in minutes (under 1 minute, under 2, 4, 8, ...), open above
#   $2^{14}$ minutes ({glue:text}`log_top_days:.1f` days); fine resolution where gaps are short.
#
# Each edge is an *exclusive* upper bound: a gap of exactly one hour is in "< 1 day".

# %%
glue("log_top_days", float(bucket_edges("log")[-1] / DAY), display=False)
for scheme in ("calendar", "log"):
    print(f"{scheme}: {n_time_buckets(scheme)} indices:", bucket_labels(scheme))
example = np.array([[0, 59, 60 * MINUTE, 2 * HOUR, 3 * DAY, 40 * DAY, 0]], dtype=float)
example_mask = np.array([[True] * 6 + [False]])
for scheme in ("calendar", "log"):
    idx = bucketize_gaps(example, example_mask, scheme)[0]
    print(f"{scheme:9s}", [f"{int(g)} s -> {bucket_labels(scheme)[i]}" for g, i in
                           zip(example[0], idx)])

# %% [markdown]
# ## How the buckets meet real time gaps
#
# Where the edges fall matters: a bucket that holds most behaviours tells the model little, and an
# empty one is wasted. Choose a scheme and how many recent behaviours each sample keeps; the left
# panel is the histogram of MovieLens time gaps (log axis) coloured by bucket, the right panel the
# share of behaviours in each bucket. (The figures are computed when the book is built, so the
# controls work in the static page too.)

# %%
figures = gap_bucket_figures(ml.train.hist_gap, ml.train.mask, ["calendar", "log"], [20, 10, 5])
precomputed_grid(figures, ("bucket scheme", "history length"))

# %% [markdown] tags=["remove-cell"]
# *In JupyterLab:* this figure is a widget. After the notebook is reopened with a fresh kernel it
# shows "Error displaying widget: model not found" until you run the cell above again (select it,
# Shift+Enter). Only on the book's web page does it work without running anything.

# %% [markdown]
# The same figure for the calendar scheme and histories of 20, as a static image:

# %%
plot_gap_buckets(train_gaps, "calendar", "calendar buckets, MovieLens-100K, L = 20")
plt.show()

# %%
cal, log = occupancy(train_gaps, "calendar"), occupancy(train_gaps, "log")
glue("cal_hour", float(100 * cal.iloc[0]), display=False)
glue("log_max", float(100 * log.max()), display=False)
glue("log_top", float(100 * log.iloc[-1]), display=False)
glue("n_empty", int((cal == 0).sum()), display=False)
print(f"calendar: {cal.iloc[0]:.1%} of gaps under an hour; empty buckets: {list(cal.index[cal == 0])}")
print(f"log: fullest bucket {log.idxmax()} with {log.max():.1%}; open top bucket {log.iloc[-1]:.1%}")
assert cal.iloc[0] > 0.8 and log.max() < 0.3

# %% [markdown]
# MovieLens timestamps are the moments ratings were *entered*, and people rate many movies in one
# sitting: {glue:text}`cal_hour:.0f` % of gaps are under an hour, so the calendar scheme puts
# almost everything into its first bucket and leaves {glue:text}`n_empty` buckets empty (no gap
# exceeds {glue:text}`max_gap_days:.0f` days). The log scheme spreads the same gaps over minutes:
# its fullest bucket holds {glue:text}`log_max:.0f` %, and everything older than
# {glue:text}`log_top_days:.1f` days shares the open top bucket ({glue:text}`log_top:.1f` %). Neither is right in general; the edges should follow the
# gaps your data has, which is exactly what this picture is for. Shorter histories shift the mass
# further towards short gaps.
#
# ## What time positions add, and what self-attention adds
#
# Now the experiment. On the synthetic task the click rule has two parts (Chapter 2): a
# **recency** part (last behaviour's category matches and it was recent) and a **trend** part (the
# target continues the last two categories). We compare six models:
#
# | model | sees time? | sees order? | behaviours see each other? |
# |---|---|---|---|
# | DIN | no | no | no |
# | DIN with time features | yes (bucket embedding per behaviour) | only through time | no |
# | BST, no positions | no | no | yes |
# | BST, time positions | yes | only through time buckets | yes |
# | BST, index positions | no | yes | yes |
# | BST, both | yes | yes | yes |
#
# A DIN that sees time gaps is no longer blind to recency: it can score "same category, less than
# a day ago" highly, which is the recency rule. It still cannot express the trend rule, which
# relates *two* behaviours, because its attention scores each behaviour against the target on its
# own and then sums. BST without positions is order-blind too: self-attention without positions
# gives the same target output for any shuffle of the history.
#
# :::{admonition} A smaller configuration, to fit the page's time budget
# :class: note
# Training six models on the canonical data takes minutes, so this section uses the same task
# with histories of at most **10** behaviours (`make_synthetic(max_len=10)`, the same numbers of
# training, validation and test samples) and at most **10 epochs** (the book's other settings
# unchanged), one seed. The full-size comparison, several seeds, comes from `python bench/auc_table.py` (DIN, DIN
# with time, BST) and from `python -m bst_teach train --position time` (and `none`, `index`).
# :::

# %%
small = make_synthetic(max_len=10)
small_train = replace(BOOK_TRAIN, epochs=10)
variants = {"DIN": ("din", {}), "DIN + time": ("din", {"time_features": True}),
            "BST none": ("bst", {"position": "none"}), "BST time": ("bst", {"position": "time"}),
            "BST index": ("bst", {"position": "index"}), "BST both": ("bst", {"position": "both"})}
syn = {label: cached_fit(name, small, small_train, **cfg) for label, (name, cfg) in variants.items()}
ceiling, bayes = order_blind_ceiling_auc(small), bayes_auc(small)
rt = small.info["raw_test"]
recency_only = roc_auc_score(rt["label"], click_logit(
    rt["hist_cat"], rt["hist_gap"], rt["length"], rt["target_cat"], rt["gender"], rt["position"],
    rt["n_categories"], trend_weight=0.0))
print(pd.Series({k: round(r.test_auc, 3) for k, r in syn.items()}, name="test AUC").to_string())
print(f"order-blind ceiling {ceiling:.3f} | true rule without its trend part {recency_only:.3f} "
      f"| Bayes {bayes:.3f}")

# %% [markdown]
# The ablation on MovieLens: BST with the four position choices, histories of 10 ratings and only
# two epochs, which is enough to compare the four with each other under one budget but not to
# train them fully (Chapter 8 trains the full-size models).

# %%
ml10 = build_dataset(raw, max_len=10)
ml_train = replace(BOOK_TRAIN, epochs=2)
ml_runs = {f"BST {pos}": cached_fit("bst", ml10, ml_train, position=pos)
           for pos in ("none", "time", "index", "both")}
print(pd.Series({k: round(r.test_auc, 3) for k, r in ml_runs.items()}, name="test AUC").to_string())

# %%
rows = [{"data": "synthetic task, L = 10", "model": k, "seed": 0, "test_auc": r.test_auc}
        for k, r in syn.items()]
rows += [{"data": "MovieLens-100K, L = 10", "model": k, "seed": 0, "test_auc": r.test_auc}
         for k, r in ml_runs.items()]
plot_position_ablation(pd.DataFrame(rows), {"synthetic task, L = 10": {
    "order-blind ceiling": ceiling, "rule without trend": recency_only, "Bayes": bayes}})
plt.show()

# %%
auc = {k: r.test_auc for k, r in syn.items()}
rt_rows = np.arange(len(rt["length"]))
b = bucketize_gaps(rt["hist_gap"], rt["mask"], "calendar")
same_bucket = float((b[rt_rows, rt["length"] - 1] == b[rt_rows, rt["length"] - 2]).mean())
ml_auc = {k: r.test_auc for k, r in ml_runs.items()}
ml_spread = max(ml_auc.values()) - min(ml_auc.values())
# the claims of the next paragraphs
assert max(auc["DIN"], auc["BST none"]) < ceiling + 0.01  # order-blind models stay under the ceiling
assert auc["DIN + time"] > auc["DIN"] + 0.05 and auc["DIN + time"] > ceiling  # time buys recency
assert auc["DIN + time"] < recency_only + 0.02  # ... but not the trend
assert auc["BST time"] > auc["BST none"] + 0.1 and auc["BST time"] < recency_only + 0.03
assert auc["BST index"] > auc["BST time"] + 0.1 and auc["BST both"] > auc["BST time"] + 0.1
assert abs(auc["BST index"] - auc["BST both"]) < 0.05
assert ml_spread < 0.05
for key, value in {**{k.replace(" ", "_").replace("+", "plus"): v for k, v in auc.items()},
                   "ceiling": ceiling, "recency_only": recency_only, "bayes": bayes,
                   "same_bucket": 100 * same_bucket, "ml_spread": ml_spread,
                   "ml_min": min(ml_auc.values()), "ml_max": max(ml_auc.values())}.items():
    glue_number(key, value)
print(f"last two behaviours in the same calendar bucket: {same_bucket:.1%} of test samples")
print(f"MovieLens: all four position choices within {ml_spread:.3f} AUC")

# %% [markdown]
# Reading the synthetic panel from left to right:
#
# - **DIN** ({glue:text}`DIN:.3f`) and **BST without positions** ({glue:text}`BST_none:.3f`) stay
#   under the order-blind ceiling ({glue:text}`ceiling:.3f`). Self-attention alone buys nothing
#   here: without positions BST cannot tell the last behaviour from the first.
# - **DIN with time features** ({glue:text}`DIN_plus_time:.3f`) clears the ceiling: the time
#   bucket tells it which behaviour is recent, so it learns the recency rule. It stays near the AUC
#   of the true rule *without its trend part* ({glue:text}`recency_only:.3f`): the trend relates
#   two behaviours, and target attention scores each behaviour alone.
# - **BST with time positions** ({glue:text}`BST_time:.3f`) lands in the same place. It could
#   relate the last two behaviours, but it has to know which of them came last, and in
#   {glue:text}`same_bucket:.0f` % of the test samples both fall in the same calendar bucket, where
#   time buckets leave them unordered.
# - **BST with index positions** ({glue:text}`BST_index:.3f`) and **both**
#   ({glue:text}`BST_both:.3f`) know the order exactly, and with self-attention between
#   behaviours they learn the trend as well, far above everything else (the Bayes AUC is
#   {glue:text}`bayes:.3f`).
#
# So on this task the big step comes from self-attention *combined with* an exact order; time
# alone, in DIN or in BST, buys the recency part. Index positions cannot say *how long ago* the
# last behaviour happened, so they miss part of the recency rule (a match counts fully under a
# day, half under a week, not at all after), which adding time positions (`both`) can recover; on
# this task and budget that part is small, and the two end close together
# ({glue:text}`BST_index:.3f` and {glue:text}`BST_both:.3f`). Where the time between sessions
# carries meaning of its own (user B above), time positions are what tells the model.
#
# On **MovieLens** the four position choices end within {glue:text}`ml_spread:.3f` AUC of each
# other ({glue:text}`ml_min:.3f` to {glue:text}`ml_max:.3f`): with one seed and two epochs we cannot
# rank them. This matches the picture on public data, where BST is about level with DIN
# {cite}`zhu2022bars`: real logs do not hide their signal in the order of the last two clicks the
# way our synthetic task does. Chapter 8 looks at MovieLens in full.

# %% [markdown]
# ## Summary
#
# - Index positions say *in what order*; time positions, $\mathrm{pos}(v_i) = t(v_t) - t(v_i)$,
#   say *how long ago*. Behaviour needs the second; the paper uses it.
# - A raw gap in seconds would need a huge, mostly untrained embedding table; buckets (calendar
#   or log) give a few well-trained rows. Check where your data's gaps fall before choosing edges.
# - Time features make DIN recency-aware, but not order-aware across behaviours; BST's
#   self-attention needs an exact order (index positions, or time fine enough to separate the last
#   behaviours) to learn rules that relate two behaviours. This book's default uses both.
#
# ## Exercises
#
# **1. Calendar buckets.** Write `calendar_buckets(gaps, mask)`: gaps in seconds (N, L) and a
# mask (N, L) that is True at real behaviours; return (N, L) integer bucket indices as
# `bucketize_gaps(..., "calendar")` does: 0 at padding, 2 for "< 1 hour", 3 for "< 1 day", and so
# on up to ">= 1 year", each edge (in `bst_teach.features.CALENDAR_EDGES`) an exclusive upper bound.

# %% tags=["solution", "hide-input"]
from bst_teach.features import CALENDAR_EDGES


def calendar_buckets(gaps, mask):
    idx = np.searchsorted(np.asarray(CALENDAR_EDGES), gaps, side="right")  # edge -> next bucket
    return np.where(mask, idx + 2, 0)  # 0 = padding, 1 = the target, 2.. = the buckets


# %%
from bst_teach.exercises.ch04 import check_calendar_buckets

print(check_calendar_buckets(calendar_buckets))

# %% [markdown]
# **2. Recency rank.** BST's index positions count *backwards from the target*: 1 for the most
# recent behaviour, 2 for the one before, and 0 at padding. Write `rank(mask)` for a boolean mask
# (B, L) of right-padded, oldest-first histories, in torch, without a Python loop. Why count from
# the target rather than from the oldest behaviour?

# %% tags=["solution", "hide-input"]
def rank(mask):
    m = mask.long()
    return m.flip(-1).cumsum(-1).flip(-1) * m  # real behaviours at or after each slot


# %%
from bst_teach.exercises.ch04 import check_recency_rank

print(check_recency_rank(rank))

# %% [markdown] tags=["solution"]
# :::{admonition} Solution (the why)
# :class: dropdown
# Counted from the target, index 1 always means "the last thing the user did", whatever the
# history length; the rules that matter here are about the last behaviours. Counted from the
# oldest, the last behaviour of a history of 8 and of a history of 20 would get different
# positions, and the model would have to learn the same rule once per length.
# :::

# %% [markdown]
# **3. A table with a row per second.** A colleague proposes to skip bucketing and use
# `nn.Embedding(max_gap_seconds + 1, 8)` indexed by the raw gap. Using the numbers computed in
# this chapter, give three reasons this fails, and one way to keep fine resolution for short gaps
# without those problems.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# (1) Size: one row per second up to the longest gap is millions of rows (here
# {glue:text}`second_params:,` parameters against {glue:text}`calendar_params:,` with buckets), for
# a single feature. (2) Sparsity: most seconds never occur in training and most that do occur
# once, so their rows stay near their random initial values; a gap seen at test time often has an
# untrained row ({glue:text}`unseen:.0f` % here). (3) No sharing: 3,601 s and 3,602 s get unrelated
# vectors, so nothing learned about one helps the other, and nothing says that larger means older.
# A gap beyond the largest training gap would not even have a row. Fine resolution where it
# matters comes from *logarithmic* buckets (doubling widths: minutes apart matter for short gaps,
# not for long ones), or from feeding a scalar transform of the gap, e.g. $\log(1 + \text{gap})$,
# through a small linear layer instead of a table.
# :::
