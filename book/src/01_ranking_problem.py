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
# # The ranking problem and its features
#
# Open a shopping app and its "guess you like" page shows you a handful of items out of millions.
# Behind that page, a **ranking model** has just scored a few hundred candidates *for you, at
# this moment*, and the page shows the best-scored ones. This chapter sets up that problem: what
# is ranked, what the model reads, how logs become training samples, and the simplest deep
# model that solves it. Every later chapter builds on it.
#
# **What you'll learn**
#
# - what a ranking model ranks, and why it is trained as click-through-rate (CTR) prediction and
#   measured with AUC;
# - the feature groups of an industrial ranker (user profile, item, context, cross features,
#   behaviour sequence), shown on the real columns of MovieLens-100K;
# - how a label, a *chronological* split and vocabularies with a padding index (0) and an
#   out-of-vocabulary index (1) turn raw logs into samples;
# - the embedding + MLP baseline, step by step, trained end to end and compared with a one-line
#   baseline;
# - how to rank the candidates for one user with `predict`.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from myst_nb import glue
from sklearn.metrics import roc_auc_score

from bst_teach.data import build_dataset, load_movielens
from bst_teach.data.movielens import movielens_titles
from bst_teach.experiments import book_fit
from bst_teach.features import OOV, PAD, Vocabulary
from bst_teach.models import build_model
from bst_teach.train import predict
from bst_teach.viz.features_plots import (candidate_batch, decode_sample, feature_table,
                                          plot_history_lengths, plot_positive_rate_over_time)

pd.set_option("display.width", 120)

# %% [markdown]
# ## What a ranking model ranks
#
# A large recommender works in stages. A cheap **retrieval** stage narrows millions of items to a
# few hundred candidates that might interest the user. The **ranking** stage then gives each
# candidate a score, the candidates are sorted by score, and the top of the list is shown. This
# book is about the ranking stage.
#
# The score is a probability: given *this* user, *this* candidate item, the *context* of the
# request (time, page, position on the page) and what the user did before, how likely is a click?
#
# $$
# \hat y = P(\text{click} \mid \text{user},\ \text{candidate},\ \text{context},\ \text{history}).
# $$
#
# That is **click-through-rate ({term}`CTR`) prediction**. It is trained as binary classification
# on logged impressions (label 1 = clicked, 0 = shown but not clicked) with the
# {term}`log loss <Log-loss>`. A good ranker does not need perfectly calibrated probabilities, it
# needs the *order* to be right, so the standard metric is the **{term}`AUC`**: the probability that a randomly chosen positive sample gets
# a higher score than a randomly chosen negative one. 0.5 is a coin flip, 1.0 a perfect order.
#
# The Behavior Sequence Transformer (BST) {cite}`chen2019bst` is such a ranking model, deployed
# on Taobao. Before its architecture (Chapter 3) we need its inputs.

# %% [markdown]
# ## The feature groups
#
# The BST paper groups what a ranker reads as follows (its Table 1; the examples are the
# paper's):
#
# | group | examples in the BST paper |
# |---|---|
# | user profile | gender, age, city |
# | item | category, shop, tag (of the candidate) |
# | context | match type, display position, page number |
# | cross | age x item, os x item, gender x category |
# | {term}`behaviour sequence <Behaviour sequence>` | the items the user clicked before, with their category and *when* |
#
# Every feature is **categorical** (sparse): a user's city is one value out of thousands, an item
# id one out of millions. A model reads such a value by looking up a learned vector, its
# **{term}`embedding <Embedding>`**, in a table with one row per value. A
# {term}`cross feature <Cross feature>` combines two values into
# one (`"F|Comedy"`): its embedding can learn an interaction (women and comedies) that the
# two separate embeddings would have to learn inside the network.
#
# We use **MovieLens-100K** {cite}`harper2015movielens`: ratings of movies by users with a
# small profile. It has no impressions, so we make a ranking problem of it: every rating
# is a behaviour, and a rating of 4 or 5 stars counts as a positive ("the user liked what they
# picked"). The raw tables first.

# %%
raw = load_movielens()
print(raw.events.head(), "\n")
print(raw.users.head(), "\n")
print(raw.items.head())

# %% tags=["hide-input"]
# Checks for the claims below
glue("n_events", len(raw.events), display=False)
glue("n_users", int(raw.events["user_id"].nunique()), display=False)
glue("n_items", int(raw.events["item_id"].nunique()), display=False)

# %% [markdown]
# {glue:text}`n_events:,` ratings by {glue:text}`n_users:,` users of {glue:text}`n_items:,`
# movies. `build_dataset` turns these tables into samples and describes every model input in a
# `Schema`. Here are MovieLens' columns sorted into the paper's groups (the vocabulary size
# counts the two reserved indices explained below; a `-` embedding width is set by the model,
# not the schema):

# %%
ml = build_dataset(raw, max_len=20)
print(feature_table(ml.schema).to_string(index=False))

# %% [markdown]
# The mapping to the paper's table is direct for the user profile (gender, age bucket,
# occupation, and the first digit of the zip code as a coarse "city"). The candidate item is its
# id, its category (the movie's first listed genre) and its release decade. MovieLens logs have
# no page or display position, so the **context** is what the timestamp tells: the time of day
# and the day of the week. The **cross** feature is the paper's own example, gender x
# category. Titles are *not* features; we only use them to print results.
#
# ## The label
#
# A rating of at least 4 stars is a positive ({numref}`fig-01-ratings`):

# %% mystnb={"figure": {"caption": "How many ratings MovieLens-100K has of each number of stars. The red bars (4 and 5 stars) are the positives.", "name": "fig-01-ratings"}}
counts = raw.events["rating"].value_counts().sort_index()
positive_rate = raw.events["label"].mean()
fig, ax = plt.subplots(figsize=(5, 2.8))
ax.bar(counts.index, counts.values, color=["tab:blue"] * 3 + ["tab:red"] * 2)
ax.set_xlabel("rating (stars)")
ax.set_ylabel("ratings")
ax.set_title(f"red = positive (rating >= 4): {positive_rate:.1%} of all ratings", fontsize=9)
plt.show()

# %% tags=["hide-input"]
# Checks for the claims below
assert (raw.events["label"] == (raw.events["rating"] >= 4)).all()
glue("positive_rate", float(positive_rate), display=False)

# %% [markdown]
# So {glue:text}`positive_rate:.1%` of the samples are positives: a balanced problem, unlike real
# CTR data where a few percent of impressions are clicked.
#
# ## One event, one sample
#
# `build_dataset` sorts each user's ratings by time and makes every rating a sample whose
# **history** is the same user's previous ratings (at most `max_len` = L = 20, strictly earlier,
# oldest first). Histories shorter than L are right-{term}`padded <Padding>` with index 0. Each sample also keeps
# the time gap between its target and each behaviour (`hist_gap`, Chapter 4 uses it). Here is one
# training sample decoded back into readable values:

# %%
titles = movielens_titles()
row = int(np.flatnonzero(ml.train.mask.sum(1) >= 5)[100])
for key, value in decode_sample(ml, "train", row, titles).items():
    if isinstance(value, list):  # one behaviour per line
        print(f"{key:>36}: " + ("\n" + " " * 38).join(map(str, value)))
    else:
        print(f"{key:>36}: {value}")

# %% [markdown]
# ## A chronological split
#
# The model will be used on *tomorrow's* requests, trained on what happened until today. So we
# split by time: the earliest 80% of the ratings train, the next 10% validate (early stopping),
# the last 10% test. A random split would let the model train on a user's ratings from *after*
# the moment it is tested on, which flatters every model and especially those that memorise
# users.

# %%
t_val = pd.to_datetime(ml.info["t_val"], unit="s")
t_test = pd.to_datetime(ml.info["t_test"], unit="s")
first, last = pd.to_datetime(raw.events["timestamp"].agg(["min", "max"]), unit="s")
print(f"ratings from {first:%Y-%m-%d} to {last:%Y-%m-%d}")
print(f"validation starts {t_val:%Y-%m-%d %H:%M}, test starts {t_test:%Y-%m-%d %H:%M} (UTC)\n")
print(ml.summary().round(3))

# %% tags=["hide-input"]
# Checks for the claims below
for name, t in (("first_date", first), ("last_date", last), ("t_val_date", t_val),
                ("t_test_date", t_test)):
    glue(name, f"{t:%Y-%m-%d}", display=False)
assert ml.train.timestamp.max() < ml.info["t_val"] <= ml.val.timestamp.min()
assert ml.val.timestamp.max() < ml.info["t_test"] <= ml.test.timestamp.min()

# %% [markdown]
# The ratings span {glue:text}`first_date` to {glue:text}`last_date`; validation starts on
# {glue:text}`t_val_date` and test on {glue:text}`t_test_date` (the asserts check that no
# training sample is later than a validation one, and so on). Because ratings come in bursts,
# 10% of the ratings is a very different stretch of calendar time in each part, as the weekly
# counts show ({numref}`fig-01-time`).

# %% mystnb={"figure": {"caption": "Left: ratings per week and the share of positives, with the validation and test cutoffs. Right: how many earlier ratings a user has at the moment of each rating (histories are cut to the last L = 20).", "name": "fig-01-time"}}
fig, axes = plt.subplots(1, 2, figsize=(12, 3.4), gridspec_kw={"width_ratios": [1.6, 1]})
plot_positive_rate_over_time(raw.events, ml.info["t_val"], ml.info["t_test"], ax=axes[0])
axes[0].set_title("events per week and share of positives", fontsize=10)
plot_history_lengths(raw.events, ml.schema.max_len, ax=axes[1])
axes[1].set_title("how much history there is", fontsize=10)
fig.tight_layout()
plt.show()

# %% tags=["hide-input"]
# Checks for the claims below
rate = ml.summary()["positive rate"]
full = float((ml.train.mask.sum(1) == ml.schema.max_len).mean())
glue("full_history", full, display=False)
assert abs(rate["test"] - rate["train"]) < 0.03 and full > 0.5

# %% [markdown]
# Two things to notice. The positive rate drifts only a little over time (train and test differ
# by less than 3 points), so the label means the same in both. And most users have rated far
# more than L = 20 movies before a typical event, so {glue:text}`full_history:.0%` of the
# training samples have a full history of 20 behaviours: MovieLens users rate many movies,
# often in one sitting. The truncation to the last 20 is a choice (the BST paper uses 20 too);
# it bounds the cost of attention, which grows with the square of L.
#
# ## Vocabularies: 0 is padding, 1 is unknown
#
# An embedding table is indexed by integers, so every raw value (a user id, `"Comedy"`, `"F|Drama"`)
# is first mapped to an index by a **vocabulary**. Two indices are reserved:
#
# - **0 = `PAD`** fills the empty slots of a short history. Its embedding is fixed at zero
#   (`padding_idx=0`), and the models mask it out.
# - **1 = `OOV`** ({term}`out of vocabulary <OOV>`) stands for any value not seen when the vocabulary was
#   fitted. Vocabularies are fitted on the **training period only**, as they would be in
#   production, where tomorrow brings new items and new users.

# %%
vocab = Vocabulary.fit(["Drama", "Comedy", "Drama", "Action"])
print("values:", vocab.values, " size with PAD and OOV:", len(vocab))
query = ["Comedy", "Western", "Action"]
print("encode", query, "->", vocab.encode(query).tolist())

# %% tags=["hide-input"]
# Checks for the claims below
assert vocab.encode(["Western"])[0] == OOV and PAD == 0

# %% [markdown]
# On MovieLens, a movie rated for the first time after the training cutoff gets index 1:

# %%
train_items = set(ml.info["items"])  # raw ids of the item vocabulary (training period only)
test_raw_items = raw.events.loc[raw.events["timestamp"] >= ml.info["t_test"], "item_id"]
new_item = int(next(i for i in test_raw_items if i not in train_items))
new_title = titles.set_index("item_id").loc[new_item, "title"]
item_vocab = Vocabulary(ml.info["items"])
print(f"item {new_item} ({new_title}) -> index {item_vocab.encode([new_item])[0]}")

# %% tags=["hide-input"]
# Checks for the claims below
assert item_vocab.encode([new_item])[0] == OOV

# %% [markdown]
# How often does that happen in the test period?

# %%
user_col = [f.name for f in ml.schema.features].index("user_id")
unseen_user = float((ml.test.sparse[:, user_col] == OOV).mean())
unseen_item = float((ml.test.target_item == OOV).mean())
span_days = raw.events.groupby("user_id")["timestamp"].agg(lambda t: (t.max() - t.min()) / 86400)
one_day = float((span_days < 1).mean())
print(f"test samples whose user_id is unseen:     {unseen_user:.1%}")
print(f"test samples whose target item is unseen: {unseen_item:.1%}")
print(f"users who did all their rating within one day: {one_day:.1%}")

# %% tags=["hide-input"]
# Checks for the claims below
glue("unseen_user", unseen_user, display=False)
glue("unseen_item", unseen_item, display=False)
glue("one_day", one_day, display=False)
assert unseen_user > 0.8 and unseen_item < 0.05

# %% [markdown]
# {glue:text}`unseen_user:.1%` of the test samples belong to a user the training period never
# saw, while only {glue:text}`unseen_item:.1%` have an unseen movie. The reason is how
# MovieLens was collected: {glue:text}`one_day:.1%` of the users did all their rating within a
# single day, so the users of the last weeks are mostly newcomers. For them the `user_id`
# embedding is the OOV row, which no training sample ever used, so it still holds its random
# initial vector. (That is why our user / item / context tables start small, N(0, 0.01²), rather
# than at PyTorch's N(0, 1): the untrained row is then close to zero instead of a large random
# signal; see `bst_teach.models.layers.OtherFeatures`.) What the model knows about such a user
# is their profile and, above all, their **history**: the behaviours of the last minutes are the
# best description of a new user. This
# is why the behaviour sequence matters, and why the rest of the book is about reading it well.
#
# ## The embedding + MLP baseline
#
# The simplest deep ranker, and the baseline of the BST paper ({term}`WDL` {cite}`cheng2016wdl`, and
# "WDL(+Seq)" when it also reads the history), works like this:
#
# 1. look up an embedding for every categorical feature (user, context, cross features);
# 2. embed the candidate as its item embedding concatenated with its category embedding;
# 3. embed every behaviour of the history with **the same** item and category tables, and
#    **average** them over the real (non-padded) behaviours;
# 4. concatenate everything and feed an MLP that outputs one logit, $\hat y = \sigma(\text{logit})$.
#
# In the package this is the model `"wdl"` (`bst_teach.models.EmbeddingMLP`). Let us run its
# forward pass by hand on four test samples and print every shape: B is the batch size, L the
# history length, E = 24 the width of an item vector (16 for the item id and 8 for the category,
# set by the model's config).

# %%
torch.manual_seed(0)
model = build_model("wdl", ml.schema).eval()
test = ml.tensors("test")
batch = {k: v[:4] for k, v in test.items()}

mask = (batch["hist_item"] != PAD).unsqueeze(-1)  # (B, L, 1): True at real behaviours
hist = model.items(batch["hist_item"], batch["hist_cat"])  # (B, L, E): item + category embeddings
pooled = (hist * mask).sum(1) / mask.sum(1).clamp(min=1)  # (B, E): mean over the REAL length
target = model.items(batch["target_item"], batch["target_cat"])  # (B, E): the candidate
other = model.other(batch["sparse"])  # (B, sum of feature dims): user/context/cross
x = torch.cat([other, target, pooled], dim=-1)
logits = model.head(x).squeeze(-1)  # (B,)
for name, t in [("sparse", batch["sparse"]), ("hist_item", batch["hist_item"]), ("hist", hist),
                ("pooled", pooled), ("target", target), ("other", other), ("MLP input", x),
                ("logits", logits)]:
    print(f"{name:>10}: {tuple(t.shape)}")

# %% tags=["hide-input"]
# Checks for the claims below
with torch.no_grad():
    assert torch.allclose(logits, model(batch), atol=1e-6)  # same as the model's own forward

# %% [markdown]
# The `assert` confirms that these lines are what `model(batch)` computes. Two details
# matter. The sum is divided by the number of **real** behaviours, not by L: dividing by L (a
# bug that has shipped in a public CTR library) shrinks the average of a short history towards
# zero, so the model would confuse "short history" with "uninteresting history". And an average does
# not change when the history is reordered: this model cannot tell what the user did *last*.
# Chapter 2 shows that a smarter pooling, DIN's, has the same blind spot.
#
# Where are the parameters? In an industrial ranker almost all of them sit in embedding tables.
# Here:

# %%
n_embed = sum(p.numel() for n, p in model.named_parameters() if "weight" in n and p.dim() == 2
              and ("items" in n or "other" in n))
n_total = sum(p.numel() for p in model.parameters())
print(f"parameters: {n_total:,} in total, {n_embed:,} in embedding tables "
      f"({n_embed / n_total:.0%})")

# %% tags=["hide-input"]
# Checks for the claims below
glue("embed_share", n_embed / n_total, display=False)
assert n_embed / n_total > 0.5

# %% [markdown]
# On MovieLens the tables are small and hold {glue:text}`embed_share:.0%` of the parameters; at
# Taobao's scale (the BST paper counts about 12 million
# items {cite}`chen2019bst`) the embedding tables are nearly the whole model.
#
# ## Training it
#
# `book_fit` trains with the book's settings (Adam, batch 256, up to 20 epochs, early stopping
# on the validation AUC with patience 4, seed 0) and caches the result, so running the chapter
# again loads it instead of training. It reports the test AUC of the best validation epoch.

# %%
result = book_fit("wdl", ml)
wdl_auc = result.test_auc
print(f"test AUC {wdl_auc:.3f}  (best epoch {result.best_epoch} of {len(result.history)})")

# %% tags=["hide-input"]
# Checks for the claims below
glue("wdl_auc", wdl_auc, display=False)
glue("wdl_best_epoch", result.best_epoch, display=False)
assert wdl_auc > 0.6
assert result.best_epoch < len(result.history)  # stopped early: later epochs were worse
assert result.history[-1]["train_loss"] < result.history[result.best_epoch - 1]["train_loss"]

# %% mystnb={"figure": {"caption": "Training the embedding + MLP model on MovieLens-100K: validation AUC (blue, left axis) and training log loss (orange, right axis) per epoch. The dashed line marks the epoch whose weights early stopping keeps.", "name": "fig-01-training"}}
hist_df = pd.DataFrame(result.history)
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(hist_df["epoch"], hist_df["val_auc"], marker="o", label="validation AUC")
ax.axvline(result.best_epoch, color="gray", ls="--", lw=1, label="best epoch (kept)")
ax.set_xlabel("epoch")
ax.set_ylabel("AUC")
ax2 = ax.twinx()
ax2.plot(hist_df["epoch"], hist_df["train_loss"], color="tab:orange", marker=".",
         label="training loss")
ax2.set_ylabel("training log loss")
ax.legend(loc="lower center", fontsize=8)
ax2.legend(loc="center right", fontsize=8)
plt.show()

# %% [markdown]
# The training loss keeps falling while the validation AUC stops improving after a few epochs
# ({numref}`fig-01-training`):
# the model starts to memorise the training period. Early stopping keeps the weights of epoch
# {glue:text}`wdl_best_epoch`.
#
# Is a test AUC of {glue:text}`wdl_auc:.3f` good? An AUC only means something next to a
# baseline. The simplest one scores a candidate by how often that movie was rated positively in
# the training period (smoothed towards the global rate for rarely seen movies):

# %%
train = ml.train
n_seen = np.bincount(train.target_item, minlength=ml.schema.n_items)
n_pos = np.bincount(train.target_item, weights=train.label, minlength=ml.schema.n_items)
prior = train.label.mean()
item_rate = (n_pos + 10 * prior) / (n_seen + 10)  # 10 pseudo-ratings at the global rate
popularity_auc = roc_auc_score(ml.test.label, item_rate[ml.test.target_item])
print(f"item positive rate: test AUC {popularity_auc:.3f}")
print(f"embedding + MLP:    test AUC {wdl_auc:.3f}")

# %% tags=["hide-input"]
# Checks for the claims below
glue("popularity_auc", float(popularity_auc), display=False)
glue("wdl_vs_popularity", float(wdl_auc - popularity_auc), display=False)
assert abs(wdl_auc - popularity_auc) < 0.03  # the deep model is within 0.03 of the one-liner

# %% [markdown]
# The one-line baseline scores {glue:text}`popularity_auc:.3f`: the trained embedding + MLP
# model, with all its parameters, ends within a few hundredths of it
# ({glue:text}`wdl_vs_popularity:+.3f`). Whether a movie is liked depends mostly on the movie,
# and the movie's average verdict is the strongest single signal in this small data set; the deep
# model
# must learn the same thing through embeddings, with a user id that is unknown for most test
# samples and a history it can only average. Keep this number in mind: beating a well-chosen
# simple baseline, not beating 0.5, is the bar, and Chapter 8 puts BST against it.
#
# ## Ranking the candidates of one user
#
# At serving time the model scores many candidates for **one** user at **one** moment. We can
# stage that with the test data: take a test user, freeze the user's profile, context and
# history at their first test rating, and score as candidates the movies that user went on to
# rate in the test period (so we know what they thought of each). `candidate_batch` builds the
# batch: every row has the same user, context and history, and a different candidate.

# %%
def first_ten(u):
    return np.flatnonzero(ml.test.user == u)[:10]  # the user's first 10 test ratings, in time order


# the first user (by id) whose first ten test ratings hold both likes and dislikes
user = next(int(u) for u in np.unique(ml.test.user)
            if len(first_ten(u)) == 10 and 3 <= ml.test.label[first_ten(u)].sum() <= 7)
rows = first_ten(user)
cands = candidate_batch(ml.test, rows[0], rows, ml.schema, ml.time_scheme)
scores = predict(result.model, cands)

movies = titles.set_index("item_id")
raw_ids = [ml.info["items"][i - 2] for i in cands["target_item"].tolist()]
def short(text, width):
    return text if len(text) <= width else text[:width - 1] + "…"


table = pd.DataFrame({"score": scores.round(3),  # what the ranker sorts by, first
                      "liked": cands["label"].numpy().astype(int),
                      "movie": [short(movies.loc[i, "title"], 34) for i in raw_ids],
                      "genres": [short(movies.loc[i, "genres"], 18) for i in raw_ids]})
table = table.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
table.index += 1
user_auc = roc_auc_score(cands["label"].numpy(), scores)
print(f"user {user}: {len(rows)} candidates; AUC within this user's list = {user_auc:.3f}\n")
print(table.to_string(justify="left", formatters={"movie": lambda t: t.ljust(34),
                                                  "genres": lambda t: t.ljust(18)}))
print("\nliked = the user rated the movie 4 or 5 stars")

# %% tags=["hide-input"]
# Checks for the claims below
glue("demo_user_auc", float(user_auc), display=False)

# %% [markdown]
# This is the ranker's job in miniature: the same user and moment, different candidates, a
# sorted list. The AUC within this one list is {glue:text}`demo_user_auc:.3f`; one list of ten is
# a tiny sample, so read it as an illustration, not a measurement. Notice what the model does
# *not* use: which of the user's past movies came last. The next chapter asks whether DIN's
# target attention fixes that.

# %% [markdown]
# ## Exercises
#
# **1. Mean pooling over a padded history.** Write `mean_pool(hist, mask)`: `hist` is (B, L, E),
# `mask` is (B, L) and True at real behaviours. Return (B, E): the average of each sample's real
# behaviour vectors, and a zero vector for a sample with no behaviour at all. (The padded slots
# of `hist` in the checker are *not* zero, as they would not be after, say, a linear layer.)

# %% tags=["solution", "hide-input"]
def mean_pool(hist, mask):
    m = mask.unsqueeze(-1).to(hist.dtype)  # (B, L, 1)
    return (hist * m).sum(1) / m.sum(1).clamp(min=1)  # true length, at least 1


# %%
from bst_teach.exercises.ch01 import check_mean_pool

print(check_mean_pool(mean_pool))

# %% [markdown]
# **2. A vocabulary with reserved indices.** Write `encode(train_values, values)`: fit a
# vocabulary on `train_values` and return a NumPy integer array with one index per element of
# `values`. Known values get indices 2, 3, ...; index 0 is reserved for padding and every value
# not in `train_values` gets 1.

# %% tags=["solution", "hide-input"]
def encode(train_values, values):
    index = {v: i + 2 for i, v in enumerate(sorted(set(train_values)))}
    return np.array([index.get(v, 1) for v in values], dtype=np.int64)


# %%
from bst_teach.exercises.ch01 import check_encode

print(check_encode(encode))

# %% [markdown]
# **3. Predict, then run.** Suppose a data pipeline labels *every* logged interaction as
# positive (it forgot that a rating of 1 star is not a like). What AUC would you get on such a
# test set? Predict first, then run the cell.

# %%
import warnings

all_positive = np.ones(len(ml.test.label))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    auc = roc_auc_score(all_positive, predict(result.model, test))
print("AUC:", auc)
for w in caught:
    print(f"{w.category.__name__}: {w.message}")

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# There is no AUC: it compares positives with negatives, and there are no negatives, so
# scikit-learn warns and returns `nan` (older versions raise a `ValueError`). The danger is a
# pipeline that *does* produce an AUC anyway, by sampling "negatives" at random from items the
# user never touched. Then the task becomes "tell an item the user interacted with from a random
# item", which popularity alone solves well, and impressively high AUCs appear that say nothing
# about whether the model can tell what a user *likes*. Always
# check what the negatives are before you compare AUCs. The log loss, for its part, is happily
# minimised by predicting 1 for everything, which is just as meaningless.
# :::

# %% [markdown]
# **4. The unknown user.** We saw that the OOV row of the `user_id` table is never used in
# training, so it keeps its random initial value, and most test samples use it. What does that
# do to the predictions, and name two ways to make the OOV row useful.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# Every new user gets the same random vector, which the MLP never learned to interpret: it adds
# a fixed, arbitrary shift to the MLP input of every new user's samples, on top of the profile
# and the history. (Our tables start at N(0, 0.01²), so the shift is small; with PyTorch's
# default N(0, 1) it is as large as a trained embedding, and on MovieLens the test AUC was
# visibly lower: `bench/run.py` measures both.) Ways out: (a) give the OOV row training
# signal, by mapping rare ids (seen fewer than k times) to OOV when fitting the vocabulary, or by
# replacing a random few percent of
# training ids with OOV ("id dropout"), so the row learns "a user we know nothing about";
# (b) drop `user_id` altogether (`build_dataset(..., use_user_id=False)`) and let the profile and
# the history describe the user, which is what a sequence model is for; (c) in production,
# retrain often, so that yesterday's new users are in today's vocabulary.
# :::
