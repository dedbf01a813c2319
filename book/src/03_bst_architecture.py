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
# # The Behavior Sequence Transformer
#
# Chapter 2 ended with a puzzle: on a task where the *order* of behaviour carries the signal,
# {term}`DIN` and the embedding + MLP baseline stay close to chance, because a weighted sum does not care in
# which order its terms come. The Behavior Sequence Transformer (BST) of Chen et al.
# {cite}`chen2019bst` replaces the sum with a Transformer encoder {cite}`vaswani2017attention`:
# every behaviour, and the candidate item itself, can look at every other one
# ({term}`self-attention <Self-attention>`). In this chapter we
# take the model apart, one module at a time, in the order the data flows through
# `bst_teach/models/bst.py`, and then let it solve the task.
#
# **What you'll learn**
#
# - how BST turns a history into tokens: item ⊕ category ⊕ position, with the target item
#   *appended* to the sequence;
# - multi-head self-attention with a key padding mask (the target slot is never masked), the
#   LeakyReLU feed-forward layer and the post-norm residuals, as the paper writes them;
# - which encoder output reaches the MLP head, where the paper is ambiguous and how public
#   implementations differ;
# - the shape of every tensor on a real batch, and where the parameters sit;
# - that BST solves the synthetic order task that DIN and the baseline cannot.

# %%
# %matplotlib inline
import inspect
import textwrap

import matplotlib.pyplot as plt
import pandas as pd
import torch
from myst_nb import glue

from bst_teach.data import make_synthetic
from bst_teach.data.synthetic import bayes_auc, order_blind_ceiling_auc
from bst_teach.experiments import book_fit
from bst_teach.models import build_model
from bst_teach.models.bst import BST
from bst_teach.viz.architecture import (parameter_table, plot_architecture, plot_training_curves,
                                        shape_table, walk_through)

# %% [markdown]
# ## A batch to follow
#
# We use the canonical synthetic data set of the book (`make_synthetic()`, with
# {glue:text}`n_train:,` training samples). Recall the planted rule: a click is much more likely
# when the **last** behaviour has the target's category and happened recently, and when the
# target **continues the trend** of the last two behaviours. Both parts depend on which behaviour came last; the second relates two
# behaviours to each other.
#
# We take the first four test samples as our batch, B = 4, and build an untrained BST with the
# default settings (seeded, so the numbers below are reproducible). Histories hold up to
# L = 20 behaviours, oldest first, right-padded with index 0.

# %%
data = make_synthetic()
batch = {k: v[:4] for k, v in data.tensors("test").items()}
torch.manual_seed(0)
model = build_model("bst", data.schema).eval()
print(textwrap.fill(repr(model.config), width=88, subsequent_indent="    "))
for name in ("hist_item", "hist_cat", "hist_time", "target_item", "target_cat", "sparse"):
    print(f"{name:12s} {tuple(batch[name].shape)}")
print("history lengths:", (batch["hist_item"] != 0).sum(1).tolist())

# %% tags=["hide-input"]
# Checks for the claims below
glue("n_train", len(data.train), display=False)

# %% [markdown]
# `walk_through` (in `bst_teach.viz.architecture`) runs the model's own modules one at a time,
# keeping every intermediate tensor, and checks at the end that it reproduces `model(batch)`
# exactly; so each step below is the real forward pass, not a re-implementation.

# %%
steps = walk_through(model, batch)
print(len(steps), "steps; the walk reproduces model(batch)")

# %% [markdown]
# ## Step 1: the embedding layer turns behaviours into tokens
#
# The paper embeds every behaviour $v_i$ by its **item id** and **category id**, and adds a
# **{term}`position <Position embedding>`** feature; the three vectors are *concatenated*. The candidate (target) item is
# embedded with the same tables and **appended as the last token**, so the encoder sees a
# sequence of $T = L + 1$ tokens of width $D = 16 + 8 + 8 = 32$ here. Here is the code:

# %%
print(inspect.getsource(BST.embed))

# %% [markdown]
# The position of a behaviour is an embedding of its *recency rank* (1 = the most recent), of the
# bucket of its time gap to the target, or, by default (`position="both"`), the sum of the two;
# Chapter 4 is about that choice. The target's position index is 1, "now". Padding uses index 0
# in every table, whose row is fixed at zero, so a {term}`padded <Padding>` slot is an all-zero token:

# %%
tokens = steps["tokens S"]
for name in ("item embedding", "category embedding", "position embedding", "tokens S"):
    print(f"{name:20s} {tuple(steps[name].shape)}")
pad = batch["hist_item"] == 0
print("padded tokens are zero vectors; the target token (last slot) is not")

# %% tags=["hide-input"]
# Checks for the claims below
assert (tokens[:, :-1][pad] == 0).all() and (tokens[:, -1].abs().sum(-1) > 0).all()

# %% [markdown]
# ## Step 2: multi-head self-attention with a key padding mask
#
# Self-attention lets every token build its new representation from all tokens. Each token is
# projected to a query $q$, a key $k$ and a value $v$; token $i$ gives token $j$ the weight
# $\mathrm{softmax}_j(q_i \cdot k_j / \sqrt{d})$ and takes the weighted sum of the values
# {cite}`vaswani2017attention`. With $H$ heads the $D = 32$ features are split into $H = 4$ groups
# of $d = 8$, each with its own attention pattern, and the heads' outputs are concatenated and
# projected back to $D$.
#
# Two details matter for behaviour sequences:
#
# - **Padding is masked as a key**: the score of every padded column is set to $-\infty$ before
#   the softmax, so no token reads from padding. Padded *queries* are left alone: their outputs
#   are computed and never used.
# - **The target is never masked**, even when its item is out of vocabulary. So every row of
#   scores has at least one finite entry and the softmax never sees an all-$-\infty$ row (which
#   would give NaN, a known pitfall of `nn.MultiheadAttention` with fully padded rows).

# In `MultiHeadSelfAttention.forward` the spelled-out path reads (B = batch, H = heads,
# T = tokens, D = width):
#
# ```python
# q, k, v = self.split_heads(self.qkv(x))                  # 3 x (B, H, T, D/H)
# allowed = key_mask[:, None, None, :]                      # (B, 1, 1, T): a mask on KEYS
# scores = q @ k.transpose(-2, -1) / math.sqrt(D // self.heads)     # (B, H, T, T)
# weights = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
# y = self.out((weights @ v).transpose(1, 2).reshape(B, T, D))      # heads concatenated
# ```
#
# In training the model calls the fused `F.scaled_dot_product_attention` with the same mask;
# `return_attention=True` takes the spelled-out path, which also returns the weights. Let us check the two promises on our batch:
# rows sum to one, padded keys get exactly zero weight, and the target column gets weight in
# every row.

# %%
w = steps["attention weights"]  # (B, H, T, T): batch, heads, queries, keys
key_mask = steps["key mask"]
print("attention weights", tuple(w.shape), "| key mask", tuple(key_mask.shape))
print("rows sum to 1; padded keys get weight 0; every query reads the target")
n_real = int(key_mask[0].sum())
print(f"sample 0 ({n_real - 1} behaviours + target), head 0, the target's row over real keys:")
print([round(x, 3) for x in w[0, 0, -1, :n_real - 1].tolist()], "| target:",
      round(float(w[0, 0, -1, -1]), 3))

# %% tags=["hide-input"]
# Checks for the claims below
assert torch.allclose(w.sum(-1), torch.ones(w.shape[:-1]))
assert (w.masked_select(~key_mask[:, None, None, :]) == 0).all()
assert (w[..., -1] > 0).all()

# %% [markdown]
# The weights are close to uniform because the model is untrained; Chapter 6 looks at the trained
# ones.

# %% [markdown]
# ## Step 3: feed-forward layer and residuals, post-norm
#
# The paper writes the block as
#
# $$S' = \mathrm{LayerNorm}\big(S + \mathrm{Dropout}(\mathrm{MH}(S))\big),$$
# $$F = \mathrm{LayerNorm}\big(S' + \mathrm{Dropout}(\mathrm{LeakyReLU}(S'W^{(1)} + b^{(1)})W^{(2)} + b^{(2)})\big).$$
#
# Two residual connections, each followed by a {term}`LayerNorm` {cite}`ba2016layernorm`: the *post-norm*
# arrangement of the original Transformer (many modern models normalise before each sub-layer
# instead; Chapter 5 looks at the norm). The feed-forward network acts on every token separately,
# widening it from $D$ to $4D$ with a LeakyReLU in between, where the original Transformer used a
# ReLU. In `EncoderBlock.forward` these are two lines:
#
# ```python
# s = self.norm1(s + self.drop(a))              # a = self.attention(s, key_mask)
# s = self.norm2(s + self.drop(self.ffn(s)))    # ffn = Linear(D, 4D), LeakyReLU, Linear(4D, D)
# ```

# %% [markdown]
# LayerNorm normalises every token over its $D$ features. At initialisation its scale is one and
# its shift zero, so every token of $S'$ has mean 0 and standard deviation 1, padding tokens
# included (they are no longer zero after the block, which is harmless: they are never read).

# %%
s1 = steps["S' = Norm(S + MH(S))"]
for name in ("multi-head output", "S' = Norm(S + MH(S))", "feed-forward hidden",
             "F = Norm(S' + FFN(S'))"):
    print(f"{name:24s} {tuple(steps[name].shape)}")
print("every token of S' has mean 0 and std 1 over its", s1.shape[-1], "features")

# %% tags=["hide-input"]
# Checks for the claims below
assert torch.allclose(s1.mean(-1), torch.zeros(s1.shape[:-1]), atol=1e-5)
assert torch.allclose(s1.std(-1, unbiased=False), torch.ones(s1.shape[:-1]), atol=1e-3)

# %% [markdown]
# ## Step 4: the output at the target slot, and the MLP head
#
# After the last block, BST keeps **one** vector: the encoder output at the target's slot, the
# last one. It has attended to every behaviour *with the target as the query*, so it is a summary
# of the history written from the candidate's point of view. It is concatenated with the
# embeddings of the other features (user profile, context, cross features) and an MLP with
# LeakyReLU activations turns it into one logit:
#
# ```python
# x = torch.cat([self.other(batch["sparse"]), s[:, -1]], dim=-1)  # output at the target slot
# logits = self.head(x).squeeze(-1)
# ```

# %%
for name in ("target slot output", "other features", "MLP input", "MLP hidden 1", "MLP hidden 2",
             "logit"):
    print(f"{name:20s} {tuple(steps[name].shape)}")

# %% [markdown]
# Since only the target slot is read, the *last* block does not need the other rows at all: its
# attention needs every token's key and value but only the target's query, and everything after
# the attention acts on each token alone. `BST.forward` exploits this (attention cost grows with T
# instead of T², and the feed-forward runs on one token instead of T). The logits are the same as
# with the full computation, as the walk above (which computes every row) already showed; here it
# is once more, switching the shortcut off:

# %%
with torch.no_grad():
    fast = model(batch)
    model.target_only_last_block = False
    full = model(batch)
    model.target_only_last_block = True
print("logits, target row only:", [round(x, 4) for x in fast.tolist()])
print("logits, full encoder:   ", [round(x, 4) for x in full.tolist()])

# %% tags=["hide-input"]
# Checks for the claims below
assert torch.allclose(fast, full, atol=1e-6)

# %% [markdown]
# :::{admonition} Which output feeds the MLP? The paper is not explicit
# :class: note
# The text says the MLP receives "the output of the Transformer layer applying to the target
# item" {cite}`chen2019bst`, while the figure's caption does not say which positions are used.
# We read it as the target slot only. Public implementations read it in several ways:
#
# | implementation | target in the sequence | positions | padding mask | what the MLP reads |
# |---|---|---|---|---|
# | [Keras example](https://keras.io/examples/structured_data/movielens_recommendations_transformers/) (MovieLens-1M, rating regression) | appended | learned index | none (full windows) | all outputs, flattened |
# | [DeepCTR](https://github.com/shenweichen/DeepCTR) (TF) | no: DIN-style pooling after the encoder | sin/cos-initialised index | yes | target attention over outputs |
# | [FuxiCTR](https://github.com/reczoo/FuxiCTR) {cite}`zhu2022bars` | appended | sin/cos-initialised index, concatenated | yes, target never masked | mean / sum / target / concat (option) |
# | [torch-rechub](https://github.com/datawhalechina/torch-rechub) 0.9 | appended | learned index | yes | target slot |
# | [EasyRec](https://github.com/alibaba/EasyRec) | appended | none (built-in model) | yes | all outputs, flattened |
# | [PaddleRec](https://github.com/PaddlePaddle/PaddleRec) | appended | days between target and behaviour, capped | none | per-token MLP, summed |
# | this book | appended | recency index and/or time bucket | yes, target never masked | target slot |
#
# Only PaddleRec uses time differences as positions, as the paper does. Some peers also shipped
# bugs worth knowing: an older torch-rechub BST fed (B, T, D) tensors to an encoder built with
# `batch_first=False`, so attention mixed *samples* across the batch instead of behaviours;
# PaddleRec concatenated the item embedding twice instead of the category's.
# :::

# %% [markdown]
# ## The whole picture
#
# {numref}`fig-03-architecture` is the model with every shape read from the walk through our batch
# (nothing in the figure is typed by hand). Data flows from the bottom up, as in the paper's
# figure; grey side arrows are the residual connections.

# %% mystnb={"figure": {"caption": "BST as built here, with the shape of every tensor on our batch of B = 4 samples: tokens (item, category and position embeddings, the target appended), one encoder block (multi-head self-attention and feed-forward layer, each with a residual and a LayerNorm), the output at the target slot joined with the other features, and the MLP head.", "name": "fig-03-architecture"}}
plot_architecture(steps, model)
plt.show()

# %% [markdown]
# And the same walk as a table, every step in order:

# %%
print(shape_table(steps).to_string())

# %% [markdown]
# ## Where the parameters are
#
# Counting parameters per part shows where the model's capacity sits. The encoder, the part that
# lets behaviours talk to each other, is small next to the embedding tables and the MLP head.

# %%
params = parameter_table(model)
total = int(params["parameters"].sum())
encoder = int(params.loc["encoder", "parameters"].sum())
print(params.to_string())
print(f"total: {total:,} parameters")

# %% tags=["hide-input"]
# Checks for the claims below
glue("n_params", total, display=False)
glue("encoder_share", 100 * encoder / total, display=False)

# %% [markdown]
# The whole model has {glue:text}`n_params:,` parameters; the encoder block holds
# {glue:text}`encoder_share:.1f` % of them. On Taobao, with millions of items, the item table
# dwarfs everything else; exercise 2 asks you to count an encoder block by hand.

# %% [markdown]
# ## BST on the synthetic order task
#
# Now we train BST with the book's settings (`book_fit`: Adam, batch 256, up to 20 epochs, early
# stopping on validation AUC, cached so later chapters reuse the model) and compare it with the
# DIN and embedding + MLP ({term}`WDL`) runs of Chapter 2, which are the same cached runs. Two reference
# points come from the data generator: the **order-blind ceiling**, the best AUC any model can
# reach when it sees the history as an unordered bag, and the **Bayes AUC** of the true click
# probability, the best any model can reach at all (both in {term}`AUC`). The first cell can take half a minute the
# first time (the cache is empty); afterwards it returns at once.

# %%
results = {"BST": book_fit("bst", data), "DIN": book_fit("din", data),
           "WDL": book_fit("wdl", data)}
ceiling, bayes = order_blind_ceiling_auc(data), bayes_auc(data)
table = pd.DataFrame([{"model": name, "test AUC": round(r.test_auc, 3), "epochs run": len(r.history),
                       "best epoch": r.best_epoch} for name, r in results.items()]).set_index("model")
print(table.to_string())
print(f"order-blind ceiling: {ceiling:.3f} | Bayes AUC: {bayes:.3f}")

# %% tags=["hide-input"]
# Checks for the claims below
bst_auc, din_auc, wdl_auc = (results[k].test_auc for k in ("BST", "DIN", "WDL"))
assert bst_auc > din_auc + 0.2 and bst_auc > wdl_auc + 0.2
assert bst_auc > ceiling + 0.1  # far beyond what any order-blind model can reach
assert max(din_auc, wdl_auc) < ceiling + 0.01  # the order-blind models stay below their ceiling
assert bst_auc < bayes
for key, value in {"bst_auc": bst_auc, "din_auc": din_auc, "wdl_auc": wdl_auc,
                   "ceiling": ceiling, "bayes": bayes, "gap_to_bayes": bayes - bst_auc}.items():
    glue(key, value, display=False)

# %% [markdown]
# BST reaches a test AUC of {glue:text}`bst_auc:.3f`, against {glue:text}`din_auc:.3f` for DIN and
# {glue:text}`wdl_auc:.3f` for WDL. The two order-blind models stay under the order-blind ceiling
# ({glue:text}`ceiling:.3f`), as they must; BST is far above it, and
# {glue:text}`gap_to_bayes:.3f` below the Bayes AUC ({glue:text}`bayes:.3f`). The validation
# curves ({numref}`fig-03-curves`) show how differently the models learn:

# %% mystnb={"figure": {"caption": "Validation AUC per epoch of BST, DIN and WDL on the synthetic order task, with the order-blind ceiling and the Bayes AUC as horizontal lines.", "name": "fig-03-curves"}}
plot_training_curves({name: r.history for name, r in results.items()},
                     {"order-blind ceiling": ceiling, "Bayes AUC": bayes})
plt.title("validation AUC per epoch on the synthetic order task")
plt.show()

# %%
val = [h["val_auc"] for h in results["BST"].history]
print("BST validation AUC at epochs 5, 10, 15, 20:", [round(val[i - 1], 3) for i in (5, 10, 15, 20)
                                                      if i <= len(val)])

# %% tags=["hide-input"]
# Checks for the claims below
climb_epoch = next(e for e, v in enumerate(val, 1) if v > ceiling + 0.1)
level_epoch = next(e for e, v in enumerate(val, 1) if v > max(val) - 0.01)
assert max(val[:3]) < ceiling + 0.1 and climb_epoch >= 4  # first: what order-blind models reach
assert level_epoch - climb_epoch >= 3  # then a climb over several epochs
assert max(val) > bayes - 0.02 and max(val[-5:]) - min(val[-5:]) < 0.01  # levels off near Bayes
glue("climb_epoch", climb_epoch, display=False)
glue("level_epoch", level_epoch, display=False)
glue("bst_best_val", max(val), display=False)
paper = {"DIN": 0.7866, "BST": 0.7894}  # offline AUC on Taobao, the paper's Table 4 (1 block)
glue("paper_din", paper["DIN"], display=False)
glue("paper_bst", paper["BST"], display=False)
glue("paper_gain", paper["BST"] - paper["DIN"], display=False)
glue("bst_best_epoch", results["BST"].best_epoch, display=False)
glue("bst_epochs", len(val), display=False)

# %% [markdown]
# DIN and WDL flatten out after a few epochs, under the order-blind ceiling. BST first learns
# roughly what an order-blind model can (its first three epochs stay within 0.1 of the
# ceiling), then, from epoch {glue:text}`climb_epoch`, climbs steeply: it has found *which* token
# is the most recent one and how to relate the last two. By epoch {glue:text}`level_epoch` it is
# within 0.01 of its best validation AUC ({glue:text}`bst_best_val:.3f`), close to the Bayes AUC,
# and the rest of the {glue:text}`bst_epochs` epochs add little (best epoch:
# {glue:text}`bst_best_epoch`). `python bench/auc_table.py` runs the same comparison over several
# seeds (and with more blocks, the subject of Chapter 7).
#
# :::{admonition} On real data the gap is much smaller
# :class: warning
# This task is built so that order is everything. On Taobao, BST improved offline AUC over DIN
# by only {glue:text}`paper_gain:.4f` ({glue:text}`paper_bst:.4f` against
# {glue:text}`paper_din:.4f`, Table 4 of {cite}`chen2019bst`), and on public benchmarks BST is
# about level with DIN {cite}`zhu2022bars`. Chapter 8 measures it on MovieLens.
# :::

# %% [markdown]
# ## Summary
#
# - BST embeds each behaviour as item ⊕ category ⊕ position and appends the target item as the
#   last token: (B, L + 1, D).
# - A Transformer block (multi-head self-attention with a key padding mask, a LeakyReLU
#   feed-forward layer, post-norm residuals) lets every token read every other; the target slot
#   is never masked.
# - The encoder output at the target slot, concatenated with the other features, goes through an
#   MLP to one logit. The paper is ambiguous on this point and implementations differ.
# - On the synthetic order task BST is far above the order-blind ceiling that bounds DIN and WDL.
#
# ## Exercises
#
# **1. Attention with a key padding mask.** Write `attention(q, k, v, key_mask)` for
# q, k, v of shape (B, H, T, d) and a boolean `key_mask` (B, T) that is True where a token may be
# attended to. Return softmax$(QK^\top/\sqrt{d})V$ with padded keys excluded, shape (B, H, T, d).
# The checker compares with a reference and recognises the classic mistakes (masking queries
# instead of keys, forgetting the $\sqrt{d}$, filling with 0 instead of $-\infty$).

# %% tags=["solution", "hide-input"]
import math


def attention(q, k, v, key_mask):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T, T)
    scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))  # mask keys = columns
    return scores.softmax(dim=-1) @ v


# %%
from bst_teach.exercises.ch03 import check_attention

print(check_attention(attention))

# %% [markdown]
# **2. Count an encoder block.** Write `encoder_params(dim, ffn_mult, blocks)`: the number of
# trainable parameters in `blocks` encoder blocks of width `dim` whose feed-forward layer widens
# to `ffn_mult * dim` (count the Q, K, V and output projections, the two feed-forward layers and
# the two LayerNorms, weights and biases). Then check it against the "encoder" rows of the
# parameter table above.

# %% tags=["solution", "hide-input"]
def encoder_params(dim, ffn_mult, blocks):
    attention = 4 * (dim * dim + dim)  # Q, K, V and output projections, weights + biases
    ffn = (dim * ffn_mult * dim + ffn_mult * dim) + (ffn_mult * dim * dim + dim)
    norms = 2 * (2 * dim)  # two LayerNorms, a scale and a shift each
    return blocks * (attention + ffn + norms)


assert encoder_params(32, 4, 1) == encoder  # the "encoder" row of the table above


# %%
from bst_teach.exercises.ch03 import check_encoder_params

print(check_encoder_params(encoder_params))

# %% [markdown]
# **3. What if the target is not in the sequence?** Suppose we do *not* append the target: the
# encoder sees only the L behaviours, we mean-pool its outputs and concatenate the target's
# embedding to the MLP input instead. Predict what changes for the two parts of the planted rule,
# and for what the attention weights can express. Then compare with the DeepCTR column of the
# table above.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# Without the target in the sequence, attention can no longer depend on the candidate: the
# behaviours attend to each other the same way whatever item is being scored, so the encoder must
# write a *candidate-independent* summary of the history, and every comparison with the target
# is left to the MLP. That is still possible here (the encoder can, for instance, encode "the
# last category, and the category the trend points to" into the pooled vector for the MLP to
# compare with the target), but it is harder: mean pooling blurs which token said what, and the
# MLP must learn an equality test between two embeddings. The target-as-query design lets the
# target *select* the behaviours relevant to it, as DIN's activation unit does, while the
# behaviours still see each other. DeepCTR gets the selection back a different way: a DIN-style
# target attention *after* the encoder.
# :::

# %% [markdown]
# **4. Padding queries.** Padded slots are masked as keys but not as queries, so the encoder
# computes outputs for them. Explain why these outputs cannot affect the prediction, and why
# masking padded *queries* with $-\infty$ as well would break the model.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# A padded slot's output influences nothing: as a key it is masked, so no other token reads it in
# the next block, and the head reads only the target slot. Masking a padded query's whole row
# with $-\infty$ would make that row all $-\infty$, and a softmax over it is 0/0 = NaN. The NaN
# then spreads. In a second block every token multiplies that slot's value (NaN) by its weight of
# exactly 0, and 0 × NaN is NaN, so every token, the target included, becomes NaN. Even with one
# block, training breaks: backpropagation multiplies the zero gradient of those rows by NaN, so
# the gradients of the attention weights become NaN.
# :::
