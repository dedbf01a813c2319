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
# # Looking inside attention
#
# A trained BST predicts well on the synthetic task, but *how*? Attention
# ({term}`self-attention <Self-attention>`) weights are the one
# part of a Transformer that we can read directly: for every token they say how much it takes
# from every other token. In this chapter we open the canonical BST of Chapter 3 and look.
#
# **What you'll learn**
#
# - what `model(batch, return_attention=True)` returns, and how to read a (query x key) map;
# - how to draw the map of one user's sample with readable token labels (category and time
#   bucket), padding removed, and how to browse users, samples and heads with a widget;
# - how to *quantify* what the target token reads, averaged over the whole test set: by recency
#   rank of the behaviours;
# - what happens to attention and to the prediction when the history is shuffled, or when the
#   same history is moved two weeks into the past;
# - why attention maps are evidence about the model, not an explanation of the data.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import torch
from myst_nb import glue
from sklearn.metrics import roc_auc_score

from bst_teach.data import make_synthetic
from bst_teach.data.samples import shuffle_history
from bst_teach.data.synthetic import click_logit, order_blind_ceiling_auc
from bst_teach.experiments import book_fit
from bst_teach.features import DAY, HOUR, WEEK, bucketize_gaps
from bst_teach.models.layers import recency_rank
from bst_teach.train import predict
from bst_teach.viz.attention_plots import (attention_by_rank, plot_attention,
                                           plot_attention_by_rank, plot_target_rows, real_slots,
                                           token_labels, uniform_by_rank)
from bst_teach.viz.widgets import figure_to_image, precomputed_grid, precomputed_selector

# %% [markdown]
# ## The model and the data
#
# We use the synthetic task of Chapter 2 and the BST of Chapter 3 (one block, four heads,
# index + time positions, LayerNorm), trained with the book's settings. `book_fit` caches the
# trained model, so if you ran Chapter 3 this cell returns at once.
#
# Remember the planted rule (see `bst_teach.data.synthetic`): the click probability rises by a
# lot when **the last behaviour has the target's category and happened recently** (full effect
# under a day, half under a week), and when **the target continues the trend of the last two
# behaviours** (category `2 * last - previous`). Only the last two behaviours matter.

# %%
data = make_synthetic()
result = book_fit("bst", data)
model = result.model.eval()
test = data.tensors("test")
mask = test["hist_item"] != 0  # (N, L) real behaviours
print(f"test AUC of the canonical BST: {result.test_auc:.3f}")

# %% tags=["hide-input"]
# Checks for the claims below
glue("test_auc", float(result.test_auc), display=False)

# %% [markdown]
# With a test {term}`AUC` of {glue:text}`test_auc:.3f` the model has learned much of the rule. Let us see
# how.
#
# ## What `return_attention=True` returns
#
# With `return_attention=True` the model returns its logits and a list with one tensor per
# encoder block, of shape (B, H, T, T): batch, heads, queries, keys. T = L + 1 = 21 because the
# target item is appended to the L = 20 history slots, in the **last** slot. Row q of a head's
# map is a softmax over keys: how much token q takes from each token. The row we care most about
# is the last one, the target's, because the encoder output at the target slot is what the MLP
# head reads (Chapter 3).

# %%
with torch.no_grad():
    logits, attentions = model(test, return_attention=True)
weights = attentions[0]  # the only block
print("blocks:", len(attentions), "| weights of block 0:", tuple(weights.shape))

# %% [markdown]
# Two facts we rely on in every picture below, checked on all 5000 test samples: every row sums
# to one, and a {term}`padding <Padding>` slot receives **exactly** zero weight (its score is set to minus infinity
# before the softmax; exercise 2 asks why that gives an exact zero). The target slot is never
# masked, so no row is empty.

# %%
keys = torch.cat([mask, torch.ones(len(mask), 1, dtype=torch.bool)], dim=1)  # (N, T)
print("rows sum to 1; weight on padded keys is exactly 0")

# %% tags=["hide-input"]
# Checks for the claims below
assert torch.allclose(weights.sum(-1), torch.ones(weights.shape[:-1]), atol=1e-5)
assert (weights.masked_select(~keys[:, None, None, :]) == 0).all()

# %% [markdown]
# ## One sample, one map
#
# We pick a test sample where the first half of the rule fires: the last behaviour has the
# target's category and happened less than an hour ago. The labels give each behaviour's
# category (`c0` to `c5`) and time {term}`bucket <Bucket>`; the last row and column are the
# target ({numref}`fig-06-map`). Rows are the
# readers (queries), columns what is read (keys); padding rows and columns are left out.

# %%
raw = data.info["raw_test"]
rows = np.arange(len(raw["length"]))
last_cat = raw["hist_cat"][rows, raw["length"] - 1]
prev_cat = raw["hist_cat"][rows, raw["length"] - 2]
last_gap = raw["hist_gap"][rows, raw["length"] - 1]
match_recent = (last_cat == raw["target_cat"]) & (last_gap < HOUR)
trend = raw["target_cat"] == (2 * last_cat - prev_cat) % raw["n_categories"]
probs = predict(model, test)
# a readable example: short history, rule fires, no trend, the model is confident
example = int(np.flatnonzero(match_recent & ~trend & (raw["length"] <= 12) & (probs > 0.8))[0])
print("example sample:", example, "| user:", int(data.test.user[example]),
      "| history length:", int(raw["length"][example]),
      "| predicted click probability:", round(float(probs[example]), 3))

# %% mystnb={"figure": {"caption": "Attention of the trained BST on one test sample, averaged over the 4 heads. Rows are the tokens that read (queries), columns the tokens read (keys); labels give each behaviour's category and time bucket, the last row and column are the target. Padding is left out.", "name": "fig-06-map"}}
fig, ax = plt.subplots(figsize=(6.8, 5.6))
plot_attention(weights, test, example, head=None, ax=ax, annotate=True,
               title=f"Test sample {example}: attention averaged over the 4 heads")
plt.show()

# %%
example_row = weights[example].mean(0)[-1, real_slots(test, example)].numpy()  # target's row
print("target's row, mean over heads:", np.round(example_row, 2))

# %% tags=["hide-input"]
# Checks for the claims below
glue("example_last_two", float(example_row[-3:-1].sum()), display=False)
assert example_row[-3:-1].sum() > 2 * 2 / len(example_row)  # twice their share under uniform

# %% [markdown]
# Look at the bottom row: the target puts {glue:text}`example_last_two:.2f` of its weight on the
# last two behaviours (the two columns just left of the target), the only two the planted rule
# uses, more than twice what uniform attention would give them. The other rows
# (behaviours reading behaviours) do not affect the prediction of a one-block model: only the
# target's output reaches the MLP.
#
# ## Browse users, samples and heads
#
# Each user of the synthetic log appears in several test samples. The widget of
# {numref}`fig-06-browser` lets you pick a user, one of their samples and a head (or the mean over
# heads). Every picture was drawn when this notebook ran, so the widget also works on the static
# web page.

# %% tags=["nbval-ignore-output"]
users, counts = np.unique(data.test.user, return_counts=True)
chosen_users = [int(u) for u in users[counts >= 4][:3]]
pages = {}
for user in chosen_users:
    figures = {}
    for i in np.flatnonzero(data.test.user == user)[:2]:
        for head in [None, 0, 1, 2, 3]:
            fig, ax = plt.subplots(figsize=(5.2, 4.3))
            name = "mean" if head is None else f"head {head}"
            plot_attention(weights, test, int(i), head=head, ax=ax,
                           title=f"user {user}, sample {i}, {name} "
                                 f"(p = {probs[i]:.2f}, label {int(raw['label'][i])})")
            figures[(f"sample {i}", name)] = figure_to_image(fig)
    pages[f"user {user}"] = precomputed_grid(figures, ("sample", "head"))
browser = precomputed_selector(pages, "user")
glue("fig-06-browser", browser, display=False)

# %% [markdown]
# :::{glue:figure} fig-06-browser
# :name: fig-06-browser
#
# Attention maps of the trained BST for three users of the synthetic log: choose the user, one of
# their test samples and a head (or the mean over the 4 heads). The title gives the predicted
# click probability and the label.
# :::

# %% [markdown] tags=["remove-cell"]
# *In JupyterLab:* this figure is a widget. After the notebook is reopened with a fresh kernel it
# shows "Error displaying widget: model not found" until you run the cell above again (select it,
# Shift+Enter). Only on the book's web page does it work without running anything.

# %% [markdown]
# Heads differ: flip through them for one sample and compare which columns of the target's row
# light up. A single map is an anecdote, though. The next section measures the pattern over all
# test samples.
#
# ## What does the target read, on average?
#
# For every test sample and head we take the target's row and sort the weights by **recency
# rank**: rank 1 is the most recent behaviour, rank 2 the one before, and so on. Averaging over the
# samples that have a behaviour at that rank gives one curve per head. For comparison, the dotted
# line is what uniform attention over the sample's tokens would give ({numref}`fig-06-by-rank`;
# exercise 1 asks you to write `attention_by_rank` yourself).

# %% mystnb={"figure": {"caption": "How much of the target's attention goes to the behaviour at each recency rank (1 = the most recent), one curve per head, averaged over the test samples that have a behaviour at that rank. Dotted: uniform attention over the sample's tokens.", "name": "fig-06-by-rank"}}
by_rank = attention_by_rank(weights, mask)  # (H, L)
uniform = uniform_by_rank(mask)  # (L,)
plot_attention_by_rank(by_rank, uniform, max_rank=12)
plt.show()

# %%
mean_by_rank = np.nanmean(by_rank, 0)
self_weight = weights[:, :, -1, -1].mean(0).numpy()  # the target reading itself, per head
favourite = np.nanargmax(by_rank, axis=1) + 1  # each head's most-read rank
print("mean over heads, ranks 1..6:", np.round(mean_by_rank[:6], 3))
print("target reading itself, per head:", np.round(self_weight, 3))
print("most-read rank of each head:", favourite)

# %% tags=["hide-input"]
# Checks for the claims below
glue("rank1", float(mean_by_rank[0]), display=False)
glue("rank2", float(mean_by_rank[1]), display=False)
glue("older_max", float(np.nanmax(mean_by_rank[2:])), display=False)
glue("uniform_share", float(uniform[0]), display=False)
glue("self_head", int(self_weight.argmax()), display=False)
glue("self_weight", float(self_weight.max()), display=False)
assert mean_by_rank[0] > 2 * uniform[0] and mean_by_rank[1] > 2 * uniform[1]
assert np.nanmax(mean_by_rank[2:] - uniform[2:]) < 0  # older ranks: below uniform
n_recent_heads = int(np.isin(favourite, [1, 2]).sum())
older_total = 1 - mean_by_rank[:2].sum() - self_weight.mean()  # all older behaviours together
glue("n_recent_heads", n_recent_heads, display=False)
glue("self_mean", float(self_weight.mean()), display=False)
glue("older_total", float(older_total), display=False)
assert n_recent_heads >= 3

# %% [markdown]
# The answer is clear. Averaged over heads, the target gives {glue:text}`rank1:.2f` of its
# attention to the most recent behaviour and {glue:text}`rank2:.2f` to the one before, against
# {glue:text}`uniform_share:.3f` for uniform attention; no older rank gets more than
# {glue:text}`older_max:.3f`. In {glue:text}`n_recent_heads` of the 4 heads the most-read rank
# is 1 or 2. The rest goes to the target itself ({glue:text}`self_mean:.2f` on average) and to all
# older behaviours together ({glue:text}`older_total:.2f`). Head {glue:text}`self_head` reads the
# target most ({glue:text}`self_weight:.2f` of its weight): it carries the candidate's own identity
# to the output. The model has found
# *where* the planted rule looks, without being told.
#
# How can the target find "the last two" in a history of any length? Through the positions
# (Chapter 4, {term}`position embedding <Position embedding>`): the index embedding says "1 behaviour ago", "2 behaviours ago", the time embedding
# "under an hour ago", and the target's query can match those keys. That suggests an experiment.
#
# ## Shuffle the history
#
# `shuffle_history` reorders each sample's behaviours at random. Items and categories move; the
# time buckets and index positions stay in their slots. If the model reads *positions*, it should
# keep looking at the last two slots, which now hold other behaviours, so its predictions should
# fall apart.

# %%
shuffled = shuffle_history(test, seed=0)
with torch.no_grad():
    logits_shuffled, attentions_shuffled = model(shuffled, return_attention=True)
by_rank_shuffled = attention_by_rank(attentions_shuffled[0], mask)
y = test["label"].numpy()
auc = roc_auc_score(y, logits.numpy())
auc_shuffled = roc_auc_score(y, logits_shuffled.numpy())
ceiling = order_blind_ceiling_auc(data)
print(f"test AUC: original {auc:.3f}, shuffled {auc_shuffled:.3f}; "
      f"best order-blind model {ceiling:.3f}")
print("largest change of the by-rank curve:",
      round(float(np.nanmax(np.abs(by_rank_shuffled - by_rank))), 3))

# %% tags=["hide-input"]
# Checks for the claims below
glue("auc", float(auc), display=False)
glue("auc_shuffled", float(auc_shuffled), display=False)
glue("ceiling", float(ceiling), display=False)
glue("rank_change", float(np.nanmax(np.abs(by_rank_shuffled - by_rank))), display=False)
assert auc > ceiling and auc - auc_shuffled > max(0.15, 0.5 * (auc - ceiling))
assert np.nanmax(np.abs(by_rank_shuffled - by_rank)) < 0.05

# %% mystnb={"figure": {"caption": "The example's attention map (mean over heads) in the original order (left) and with the history shuffled (right): the time buckets stay in their slots, other categories move into them, and the target still reads the last two slots.", "name": "fig-06-shuffled"}}
fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
plot_attention(weights, test, example, ax=axes[0], annotate=True, title="original order")
plot_attention(attentions_shuffled[0], shuffled, example, ax=axes[1], annotate=True,
               title="shuffled: same time buckets, other categories in each slot")
fig.tight_layout()
plt.show()

# %% [markdown]
# The attention pattern by recency rank hardly moves ({numref}`fig-06-shuffled` shows it on our
# example) (the largest change of any point of the
# curves is {glue:text}`rank_change:.3f`) while the test AUC falls from {glue:text}`auc:.3f` to
# {glue:text}`auc_shuffled:.3f`. The model still reads the last two slots; they now hold
# behaviours that, in most samples, the rule never used. This is the strongest evidence so far
# that BST uses order: the attention goes to *positions*, and the content found there drives the
# score. For comparison, the best possible order-blind model reaches {glue:text}`ceiling:.3f`:
# the trained BST beats it on the real order, and loses much of its advantage once the order is
# scrambled.
#
# ## Move the history two weeks into the past
#
# The rule's first term needs the *time* of the last behaviour: the boost is full under a day,
# half under a week and gone after that. Take our example, whose last behaviour (same category as
# the target) happened minutes before the request, and push the whole history back in time by
# adding the same amount to every gap, as if the user had been away. Only the time buckets
# change; categories and order stay. If the model learned the rule, the score must fall.

# %%
def with_gaps_shifted(seconds: float) -> dict:
    """The test batch with every behaviour moved ``seconds`` further into the past."""
    out = dict(test)
    out["hist_time"] = torch.as_tensor(
        bucketize_gaps(data.test.hist_gap + seconds, data.test.mask, data.time_scheme))
    return out


def planted_probability(seconds: float) -> np.ndarray:
    """The true click probability of every test sample under the planted rule."""
    logit = click_logit(raw["hist_cat"], raw["hist_gap"] + seconds, raw["length"],
                        raw["target_cat"], raw["gender"], raw["position"], raw["n_categories"])
    return 1 / (1 + np.exp(-logit))


shifts = {"no shift": 0, "+ 1 day": DAY, "+ 3 days": 3 * DAY, "+ 1 week": WEEK,
          "+ 2 weeks": 2 * WEEK}
shifted = {name: with_gaps_shifted(s) for name, s in shifts.items()}
shifted_probs = {name: predict(model, b) for name, b in shifted.items()}
for name, s in shifts.items():
    print(f"{name:>9}: model {shifted_probs[name][example]:.3f}, "
          f"planted rule {planted_probability(s)[example]:.3f}")

# %% [markdown]
# The widget of {numref}`fig-06-shift` shows the target's row of attention (averaged over heads)
# and the predicted probability for each shift; the bars are labelled with the example's
# behaviours as they are after the shift.

# %% tags=["nbval-ignore-output"]
def target_row(batch: dict, i: int) -> np.ndarray:
    with torch.no_grad():
        _, att = model({k: v[i:i + 1] for k, v in batch.items()}, return_attention=True)
    return att[0][0].mean(0)[-1, real_slots(batch, i)].numpy()


rows_by_shift = {name: target_row(b, example) for name, b in shifted.items()}
panels = {}
for name, b in shifted.items():
    fig, ax = plt.subplots(figsize=(8, 3.8))
    plot_target_rows({"no shift": rows_by_shift["no shift"], name: rows_by_shift[name]},
                     token_labels(b, example),
                     {"no shift": shifted_probs["no shift"][example],
                      name: shifted_probs[name][example]}, ax=ax,
                     title=f"Sample {example}: the target's attention, history shifted {name}")
    panels[name] = figure_to_image(fig)
shift_widget = precomputed_selector(panels, "shift", slider=True)
glue("fig-06-shift", shift_widget, display=False)

# %% [markdown] tags=["remove-cell"]
# *In JupyterLab:* this figure is a widget. After the notebook is reopened with a fresh kernel it
# shows "Error displaying widget: model not found" until you run the cell above again (select it,
# Shift+Enter). Only on the book's web page does it work without running anything.

# %% [markdown]
# :::{glue:figure} fig-06-shift
# :name: fig-06-shift
#
# The target's attention over the example's behaviours (mean over heads) with the whole history
# moved further into the past by the amount on the slider, next to the unshifted row; the legend
# gives the predicted click probability of each.
# :::

# %% [markdown]
# Across the test set ({numref}`fig-06-shift-mean`): the samples where the rule's first term fires
# (last category = target, last behaviour under an hour ago) against all the others.

# %% mystnb={"figure": {"caption": "Mean predicted click probability (solid) and mean true probability under the planted rule (dashed) as the whole history is moved into the past, for the test samples where the recency rule fires and for all others.", "name": "fig-06-shift-mean"}}
fig, ax = plt.subplots(figsize=(7, 3.6))
x = np.arange(len(shifts))
for label, sel, colour in [("last category = target, < 1 hour ago", match_recent, "C0"),
                           ("all other samples", ~match_recent, "C1")]:
    ax.plot(x, [shifted_probs[n][sel].mean() for n in shifts], marker="o", color=colour,
            label=f"model: {label}")
    ax.plot(x, [planted_probability(s)[sel].mean() for s in shifts.values()], ls="--",
            marker="x", color=colour, label=f"planted rule: {label}")
ax.set_xticks(x, list(shifts))
ax.set_xlabel("whole history moved into the past by")
ax.set_ylabel("mean click probability")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
plt.show()

# %%
p0, p2w = shifted_probs["no shift"], shifted_probs["+ 2 weeks"]
drop = (p0 - p2w)[match_recent]
print(f"rule fires: {int(match_recent.sum())} samples, score falls for "
      f"{(drop > 0).mean():.3f} of them, by {drop.mean():.3f} on average")
print(f"other samples: mean |change| {np.abs(p0 - p2w)[~match_recent].mean():.3f}")

# %% tags=["hide-input"]
# Checks for the claims below
glue("n_match", int(match_recent.sum()), display=False)
glue("frac_down", float((drop > 0).mean()), display=False)
glue("mean_drop", float(drop.mean()), display=False)
glue("mean_change_other", float(np.abs(p0 - p2w)[~match_recent].mean()), display=False)
glue("example_p0", float(p0[example]), display=False)
glue("example_p2w", float(p2w[example]), display=False)
assert p2w[example] < shifted_probs["+ 1 day"][example] < p0[example]
assert (drop > 0).mean() > 0.95 and drop.mean() > 0.4
assert np.abs(p0 - p2w)[~match_recent].mean() < drop.mean() / 3

# %% [markdown]
# And where does the target look after the shift? Same measurement as before, by recency rank:

# %%
with torch.no_grad():
    _, attentions_2w = model(shifted["+ 2 weeks"], return_attention=True)
by_rank_2w = attention_by_rank(attentions_2w[0], mask)
last_two = np.nanmean(by_rank, 0)[:2].sum()
last_two_2w = np.nanmean(by_rank_2w, 0)[:2].sum()
older_max_2w = np.nanmax(np.nanmean(by_rank_2w, 0)[2:])
self_0 = float(weights[:, :, -1, -1].mean())  # the target reading itself, mean over heads
self_2w = float(attentions_2w[0][:, :, -1, -1].mean())
print(f"target -> last two behaviours: before {last_two:.3f}, after + 2 weeks {last_two_2w:.3f}")
print(f"target -> itself:              before {self_0:.3f}, after + 2 weeks {self_2w:.3f}")
print(f"target -> any older rank, at most: {older_max_2w:.3f} after + 2 weeks")

# %% tags=["hide-input"]
# Checks for the claims below
for name, value in [("last_two", last_two), ("last_two_2w", last_two_2w), ("self_0", self_0),
                    ("self_2w", self_2w), ("older_max_2w", older_max_2w)]:
    glue(name, float(value), display=False)
assert min(np.nanmean(by_rank_2w, 0)[:2]) > 2 * older_max_2w  # still reads the last two most

# %% [markdown]
# For our example the predicted probability falls from {glue:text}`example_p0:.2f` to
# {glue:text}`example_p2w:.2f` when the history moves two weeks back, in the direction the
# planted rule predicts. Over the {glue:text}`n_match` test samples where the rule fires, the
# score falls for a fraction {glue:text}`frac_down:.3f` of them, by {glue:text}`mean_drop:.2f` on
# average, while the other samples move by {glue:text}`mean_change_other:.3f` on average.
#
# And the attention? Averaged over the test set and the heads, the target gave
# {glue:text}`last_two:.2f` of its attention to the two most recent behaviours before the shift
# and gives {glue:text}`last_two_2w:.2f` after it; to itself {glue:text}`self_0:.2f` before and
# {glue:text}`self_2w:.2f` after; no older behaviour gets more than {glue:text}`older_max_2w:.3f`.
# Among the behaviours, the target still reads the last two most. The time embedding is part of each
# token's key, so it can change *how much* the target reads a behaviour, and part of each token's
# value, so it changes *what* the target reads there. Which of the two moved the score the maps
# alone cannot tell: attention shows where the model looks, not what it concludes.
#
# ```{admonition} Reading attention maps with care
# :class: warning
# Attention weights show which tokens are mixed into the target's output, not why the prediction
# is what it is: the value vectors, the feed-forward layer and the MLP head come after. Here the
# synthetic task lets us *check* a reading of the maps against the planted rule (shuffling,
# shifting the time). On real data there is no planted rule; treat maps as hypotheses and test them
# the same way, by changing the input and measuring the score.
# ```
#
# ## Summary
#
# - `model(batch, return_attention=True)` gives one (B, H, T, T) tensor per block; the target's
#   row, the last one, is what feeds the prediction.
# - The canonical BST's target reads mostly itself and the two most recent behaviours, the ones
#   the planted rule uses; older behaviours get less than uniform attention.
# - It finds them by *position*: after shuffling, attention still goes to the last two slots, and
#   the AUC collapses.
# - Moving the history into the past lowers the score where the rule says it should, while the
#   target still reads the last two behaviours more than any older one: maps show where the
#   model looks; changing the input and measuring the score shows what matters.
#
# ## Exercises
#
# **1. Attention by recency rank.** Write `my_attention_by_rank(weights, mask)` that returns, for
# each head h and rank r = 1..L, the average over the samples that *have* a behaviour r steps
# back of the weight the target token (the last query) puts on that behaviour. weights: (B, H, T, T) with
# T = L + 1; mask: (B, L), True at real behaviours (oldest first, right-padded). Return an
# (H, L) array with NaN where no sample has that rank. Hint: `recency_rank(mask)` gives every
# slot its rank (0 at padding).

# %% tags=["solution", "hide-input"]
def my_attention_by_rank(weights, mask):
    target_row = weights[:, :, -1, :-1]  # (B, H, L): the target reading the history
    rank = recency_rank(mask)  # (B, L), 1 = most recent, 0 = padding
    H, L = weights.shape[1], mask.shape[1]
    out = np.full((H, L), np.nan)
    for r in range(1, L + 1):
        has = rank == r  # (B, L): at most one slot per sample
        if has.any():
            out[:, r - 1] = (target_row * has[:, None, :]).sum((0, 2)).numpy() / has.sum().item()
    return out


# %%
from bst_teach.exercises.ch06 import check_attention_by_rank

print(check_attention_by_rank(my_attention_by_rank))

# %% [markdown]
# **2. Exactly zero.** The weight on a padded key is not just small, it is exactly `0.0` (we
# asserted `== 0` above). Why? And what would go wrong if a sample's *every* key were padding,
# and why can that never happen in BST?

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# Before the softmax the score of a padded key is replaced by `-inf` (`masked_fill`). The softmax
# computes `exp(score - max) / sum`, and `exp(-inf)` is exactly `0.0` in floating point, so the
# weight is an exact zero, not a tiny number, and the padded value vector contributes nothing.
# If every key of a row were masked, the max would be `-inf` too, `-inf - (-inf)` is NaN, and the
# whole row (then the output, then the loss) would become NaN; `nn.MultiheadAttention` has had
# exactly this problem (PyTorch issues 40932 and 41508). In BST the target token is
# always a key (`key_mask[:, -1] = True` in `BST.forward`), so every row has at least one
# allowed key, even for a user with an empty history.
# :::

# %% [markdown]
# **3. Predict, then check.** Build an (untrained) BST with `position="none"` and score the test
# set before and after `shuffle_history`. What do you expect, and why? Check with code.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# Nothing changes (up to float rounding). Without positions a token is only its item and
# category, so shuffling only permutes the rows of the token matrix. Self-attention is
# *permutation equivariant*: permuting the input tokens permutes the outputs the same way, and
# the target's output, a weighted sum over all keys, does not depend on the order of the keys at
# all. The model is order-blind, like DIN (Chapter 2), trained or not. The check:
#
# ```python
# from bst_teach.models import BST, BSTConfig
# torch.manual_seed(0)
# blind = BST(data.schema, BSTConfig(position="none")).eval()
# with torch.no_grad():
#     a, b = blind(test), blind(shuffle_history(test))
# print(torch.allclose(a, b, atol=1e-5))  # True
# ```
#
# With `position="time"` the answer changes: the time buckets stay in their slots, so the shuffled
# items get other times.
# :::

# %% tags=["solution", "hide-input"]
from bst_teach.models import BST, BSTConfig

torch.manual_seed(0)
blind = BST(data.schema, BSTConfig(position="none")).eval()
with torch.no_grad():
    before, after = blind(test), blind(shuffle_history(test))
print("position='none': same scores after shuffling:", torch.allclose(before, after, atol=1e-5))
assert torch.allclose(before, after, atol=1e-5)
