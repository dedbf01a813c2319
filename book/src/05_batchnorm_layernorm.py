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
#
# $$
# \begin{aligned}
# S' &= \mathrm{LayerNorm}\big(S + \mathrm{Dropout}(\mathrm{MultiHead}(S))\big),\\
# F &= \mathrm{LayerNorm}\big(S' + \mathrm{Dropout}(\mathrm{FFN}(S'))\big).
# \end{aligned}
# $$
#
# {term}`LayerNorm` {cite}`ba2016layernorm` comes with the Transformer
# {cite}`vaswani2017attention`. {term}`BatchNorm` {cite}`ioffe2015batchnorm` is the other
# normaliser every practitioner knows, so a natural question in class is: why not BatchNorm?
# Both turn activations into "mean 0, variance 1" numbers; they differ in *which* numbers share a
# mean and a variance. For a batch of padded behaviour sequences that choice has consequences you
# can measure.
#
# **What you'll learn**
#
# - what LayerNorm and BatchNorm average over in a (B, T, D) tensor of tokens, as a picture and
#   in five lines of code;
# - what BatchNorm does with a batch of one, and with the {term}`padding <Padding>` slots of
#   short histories;
# - what the records of fifteen full-size runs (LayerNorm, BatchNorm, no norm; five seeds each)
#   say about test {term}`AUC` and about how fast each variant learns;
# - a measurement: in training mode BatchNorm makes one sample's prediction depend on the other
#   samples of its batch and on their padding, by how much at each batch size from 1 to 256, and
#   how many pairs of samples change order because of it; LayerNorm does not;
# - how evaluation mode (running statistics) removes that dependence, what the mismatch between
#   the two modes costs, and why BatchNorm, unlike LayerNorm, needs synchronising when several
#   processes train one model.

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
from bst_teach.experiments import BOOK_TRAIN, cached_fit, data_fingerprint
from bst_teach.models import build_model
from bst_teach.results import experiment, load_records, paired_difference, summary, t_interval
from bst_teach.viz.norm_plots import (batch_size_dependence, batch_statistics, dependence_table,
                                      pad_batch, plot_batch_size_dependence, plot_mode_scatter,
                                      plot_norm_axes)
from bst_teach.viz.record_plots import (interval_table, paired, paired_table, plot_histories,
                                        plot_seed_dots, verdict)

# %% [markdown]
# ## Two ways to normalise a batch of tokens
#
# Inside the encoder a batch is a tensor of shape (B, T, D): B samples, T = L + 1 tokens each
# (the L history slots, then the target), D features per token. Short histories are padded,
# so some of the B x T tokens are padding.
#
# - **LayerNorm** takes *one token* at a time and normalises its D features with their own mean
#   and variance: B x T separate pairs of statistics,
#   $\mu_{b,t} = \frac1D \sum_d x_{b,t,d}$ and
#   $\sigma^2_{b,t} = \frac1D \sum_d (x_{b,t,d} - \mu_{b,t})^2$.
# - **BatchNorm** takes *one feature* at a time and normalises it over every token of the batch:
#   D pairs of statistics, $\mu_d = \frac1{BT} \sum_{b,t} x_{b,t,d}$ and likewise $\sigma^2_d$.
#
# Both then compute $\gamma \, (x - \mu) / \sqrt{\sigma^2 + \epsilon} + \beta$ with a learned
# scale $\gamma$ and shift $\beta$ per feature. In {numref}`fig-05-norm-axes`, each cube is a
# batch of four samples with six token slots and five features; the highlighted values share one
# mean and one variance.

# %% mystnb={"figure": {"caption": "Which values share one mean and one variance in a (B, T, D) batch of tokens: one token's features for LayerNorm (left), one feature over every token of the batch, padding slots (orange) included, for BatchNorm (right).", "name": "fig-05-norm-axes"}}
plot_norm_axes(lengths=(6, 4, 6, 3), n_features=5)
plt.show()

# %% [markdown]
# LayerNorm's group (left) lies inside one token of one sample: nothing outside that token can
# change its output. BatchNorm's group (right) cuts across all samples and all token slots,
# padding slots included.
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
layer_out, batch_out = layer_norm(x), batch_norm(x.transpose(1, 2)).transpose(1, 2)
print("LayerNorm statistics:", tuple(mean_tok.shape), "| BatchNorm statistics:",
      tuple(mean_feat.shape))

# %% tags=["hide-input"]
# Checks for the claims below
assert torch.allclose(layer_out, layer_by_hand, atol=1e-5)
assert torch.allclose(batch_out, batch_by_hand, atol=1e-5)

# %% [markdown]
# Both recipes match PyTorch, and both use the *biased* variance (divide by the count, not
# count - 1) to normalise. BatchNorm also keeps a **running** mean and variance for evaluation
# mode, updated at every training step with momentum 0.1, and, a detail that surprises people, it
# updates the running variance with the *unbiased* estimate:

# %%
expected_running_var = 0.9 * 1.0 + 0.1 * x.var((0, 1), unbiased=True)  # started at 1
print("running statistics of BatchNorm:", tuple(batch_norm.running_mean.shape),
      "| buffers of LayerNorm:", [name for name, _ in layer_norm.named_buffers()])

# %% tags=["hide-input"]
# Checks for the claims below
assert torch.allclose(batch_norm.running_var, expected_running_var, atol=1e-5)
assert torch.allclose(batch_norm.running_mean, 0.1 * mean_feat, atol=1e-5)  # started at 0
assert not list(layer_norm.buffers())

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

# %% tags=["hide-input"]
# Checks for the claims below
assert erased.abs().max() < 1e-3
assert batch_norm.eval()(token[None]).abs().max() > 0.1

# %% [markdown]
# In BST a "batch of one" still has T = 21 tokens (20 history slots and the target), so
# training-mode BatchNorm runs, but its statistics come from one user's tokens, padding included.
# We measure below what that does.
#
# ## Three BSTs: layer, batch, none
#
# Does the choice of norm change how well BST ranks? The experiment `norms` (declared in
# `bst_teach.results`, run by `make results`) trains BST on the canonical synthetic task of
# Chapter 2 at full size with three norms in its blocks, LayerNorm (the book's BST), BatchNorm
# and none, with otherwise identical settings: five seeds each, up to
# {glue:text}`max_epochs` epochs with early stopping on validation AUC (patience
# {glue:text}`patience`, and never before epoch {glue:text}`min_epochs`, so that a slow start
# is not taken for convergence; Chapter 4 shows why). The keyword `norm=...` goes to `BSTConfig`; each encoder block then
# holds two `TokenNorm` layers of that kind. The table gives the mean test AUC with its 95%
# interval over the seeds.

# %%
NORM_LABELS = {"layer": "LayerNorm", "batch": "BatchNorm", "none": "no norm"}
NORM_COLORS = {"layer": "#2f6db5", "batch": "#c2571a", "none": "#8c8c8c"}
norms = summary("norms")
norm_records = load_records("norms")
canonical = make_synthetic(time_scheme="log")  # the records' data set
bayes = bayes_auc(canonical)
print("test AUC, mean [95% interval] over seeds")
print(interval_table(norms, NORM_LABELS).to_string())
print(f"Bayes AUC of the task: {bayes:.3f}")

# %% tags=["hide-input"]
# Checks for the claims below
norms_by_variant = norms.set_index("variant")
settings = experiment("norms").train
assert len(norm_records) == 15 and (norms_by_variant["n"] == 5).all()
assert (norm_records["best_epoch"] < norm_records["epochs"]).all()  # all stopped early
assert norm_records["epochs"].max() < settings["epochs"]  # none reached the cap
for v, row in norms_by_variant.iterrows():
    glue(f"auc_{v}", float(row["mean"]), display=False)
    glue(f"lo_{v}", float(row["lo"]), display=False)
    glue(f"hi_{v}", float(row["hi"]), display=False)
gap_to_bayes = float(np.ceil(1000 * (bayes - norms["mean"].min())) / 1000)  # rounded up
mean_range = float(norms["mean"].max() - norms["mean"].min())
assert gap_to_bayes <= 0.01 and mean_range < 0.002
glue("bayes", float(bayes), display=False)
glue("gap_to_bayes", gap_to_bayes, display=False)
glue("mean_range", mean_range, display=False)
glue("max_epochs", int(settings["epochs"]), display=False)
glue("patience", int(settings["patience"]), display=False)
min_epochs = norm_records["train"].map(lambda t: t["min_epochs"])
assert min_epochs.nunique() == 1  # the same minimum for every run
glue("min_epochs", int(min_epochs.iloc[0]), display=False)
glue("norm_runs", int(len(norm_records)), display=False)
glue("most_epochs", int(norm_records["epochs"].max()), display=False)

# %% [markdown]
# {numref}`fig-05-norms` shows every run as a dot. All {glue:text}`norm_runs` runs stopped
# early, with their best epoch before their last, and the longest took
# {glue:text}`most_epochs` epochs, well under the cap of {glue:text}`max_epochs`: each run
# converged by its early-stopping rule. {numref}`fig-05-norm-histories` shows what early stopping
# saw, run by run, with each run's best epoch (the model kept) marked.

# %% mystnb={"figure": {"caption": "Test AUC of the `norms` experiment, one dot per seed; black: the mean and its 95% interval. Dotted: the Bayes AUC of the task, the best any model can do.", "name": "fig-05-norms"}}
plot_seed_dots(norm_records, norms, NORM_LABELS, {"synthetic": "canonical synthetic task"},
               {"synthetic": {"Bayes": bayes}}, NORM_COLORS, panel_width=5.0)
plt.show()

# %% mystnb={"figure": {"caption": "Validation AUC per epoch of every run of the `norms` experiment (one line per seed), each run's best epoch marked; dotted: the Bayes AUC.", "name": "fig-05-norm-histories"}}
plot_histories(norm_records, NORM_LABELS, NORM_COLORS, reference={"Bayes": bayes})
plt.show()

# %% [markdown]
# The three means lie within {glue:text}`mean_range:.4f` of each other. Whether such a
# difference is real is a question for the *paired* differences: runs of the same seed share
# the random generator that orders the training batches, so we compare seed by seed.

# %%
NORM_PAIRS = [("synthetic", "batch", "layer"), ("synthetic", "none", "layer"),
              ("synthetic", "none", "batch")]
print("test AUC, a - b over the five paired seeds, with its 95% interval")
print(paired_table("norms", NORM_PAIRS, NORM_LABELS).drop(columns="data").to_string(index=False))

# %% tags=["hide-input"]
# Checks for the claims below: no pair can be told apart (every interval contains zero)
for data, a, b in NORM_PAIRS:
    mean, lo, hi = paired("norms", a, b, data)
    assert lo < 0 < hi, (a, b, lo, hi)
    glue(f"v_{a}_{b}", verdict(NORM_LABELS[a], NORM_LABELS[b], (mean, lo, hi)), display=False)
    _, g_lo, g_hi = paired_difference("norms", a, b, data, metric="test_gauc")
    assert g_lo < 0 < g_hi, (a, b, "gAUC", g_lo, g_hi)  # by gAUC too
first_epoch_auc = norm_records["history"].map(lambda h: h[0]["val_auc"])
assert first_epoch_auc.max() < 0.55
glue("first_lo", float(first_epoch_auc.min()), display=False)
glue("first_hi", float(first_epoch_auc.max()), display=False)

# %% [markdown]
# LayerNorm reaches {glue:text}`auc_layer:.3f` (95% interval {glue:text}`lo_layer:.3f` to
# {glue:text}`hi_layer:.3f`), BatchNorm {glue:text}`auc_batch:.3f`
# ({glue:text}`lo_batch:.3f` to {glue:text}`hi_batch:.3f`) and BST without a norm
# {glue:text}`auc_none:.3f` ({glue:text}`lo_none:.3f` to {glue:text}`hi_none:.3f`); all three
# end within {glue:text}`gap_to_bayes:.3f` of the Bayes AUC, {glue:text}`bayes:.3f`. Paired over
# seeds:
#
# - {glue:text}`v_batch_layer`;
# - {glue:text}`v_none_layer`;
# - {glue:text}`v_none_batch`.
#
# Every interval contains zero: by test AUC the three norms **cannot be told apart at five
# seeds** on this task. The same holds by gAUC, the AUC within each user averaged over users
# (Chapter 4), which the records also hold: every paired interval of the gAUC contains zero as
# well.
#
# The histories in {numref}`fig-05-norm-histories` differ in another way. After its first epoch
# every run is still near chance, at a validation AUC between {glue:text}`first_lo:.3f` and
# {glue:text}`first_hi:.3f`, and the runs leave that plateau at different epochs. Do the
# BatchNorm runs learn the rule sooner? We count, per run, the first epoch whose validation AUC
# reaches 0.9, and compare seed by seed.

# %%
def first_epoch_reaching(history, threshold):
    return next((h["epoch"] for h in history if h["val_auc"] >= threshold), np.nan)


reach = {}  # threshold -> (seed x variant) table of first epochs
for threshold in (0.8, 0.9):
    first = norm_records.assign(
        first=[first_epoch_reaching(h, threshold) for h in norm_records["history"]])
    reach[threshold] = first.pivot(index="seed", columns="variant", values="first")
print("first epoch with validation AUC >= 0.9, by seed")
print(reach[0.9][list(NORM_LABELS)].rename(columns=NORM_LABELS).to_string())

# %% tags=["hide-input"]
# Checks for the claims below
assert all(by_seed.notna().all().all() for by_seed in reach.values())  # every run got there
reach_diff = {(t, a): t_interval(reach[t][a] - reach[t]["layer"])
              for t in reach for a in ("batch", "none")}
mean90, lo90, hi90 = reach_diff[0.9, "batch"]
assert hi90 < 0  # BatchNorm reaches 0.9 in fewer epochs than LayerNorm
assert reach_diff[0.8, "batch"][1] < 0 < reach_diff[0.8, "batch"][2]  # at 0.8: cannot tell
assert reach_diff[0.9, "none"][1] < 0 < reach_diff[0.9, "none"][2]
for v in NORM_LABELS:
    glue(f"reach90_{v}", float(reach[0.9][v].mean()), display=False)
glue("reach90_diff", float(-mean90), display=False)
glue("reach90_lo", float(-hi90), display=False)
glue("reach90_hi", float(-lo90), display=False)
glue("reach80_lo", float(reach_diff[0.8, "batch"][1]), display=False)
glue("reach80_hi", float(reach_diff[0.8, "batch"][2]), display=False)

# %% [markdown]
# The LayerNorm runs first reach 0.9 after {glue:text}`reach90_layer:.1f` epochs on average, the
# BatchNorm runs after {glue:text}`reach90_batch:.1f`: BatchNorm gets there
# {glue:text}`reach90_diff:.1f` epochs sooner (paired 95% interval {glue:text}`reach90_lo:.1f` to
# {glue:text}`reach90_hi:.1f` epochs), while BST without a norm ({glue:text}`reach90_none:.1f`)
# cannot be told apart from LayerNorm. The finding depends on the threshold: for 0.8 instead of
# 0.9 the interval of BatchNorm minus LayerNorm, {glue:text}`reach80_lo:.1f` to
# {glue:text}`reach80_hi:.1f` epochs, contains zero. Faster in epochs, then, not better at the
# end; and an epoch is not a unit of time (exercise 4).
#
# The rest of the chapter is about what AUC on an i.i.d. test set does not show.
#
# ## A demonstration model
#
# The measurements below need a trained BatchNorm BST in memory, so we train one here, live.
# It is a demonstration, not evidence: the comparisons above come from the records. It is the
# records' BatchNorm run of seed 0, same data, same settings, stopped after three epochs instead
# of early stopping, which is enough to leave the plateau (the slowest cell of the page on a
# first run, cached afterwards). For LayerNorm we do not need training at all: whether a
# token's output can depend on other samples is a property of the layer, not of its weights, so
# a freshly initialised LayerNorm BST shows it as well as a trained one.

# %%
demo = cached_fit("bst", canonical, replace(BOOK_TRAIN, epochs=3), norm="batch")
is_record = (norm_records["variant"] == "batch") & (norm_records["seed"] == 0)
record = norm_records[is_record].iloc[0]
for h, r in zip(demo.history, record["history"]):
    print(f"epoch {h['epoch']}: training loss {h['train_loss']:.3f}, "
          f"validation AUC {h['val_auc']:.3f} (the record of seed 0: {r['val_auc']:.3f})")
print(f"BatchNorm BST: test AUC {demo.test_auc:.3f}")
torch.manual_seed(0)
models = {"LayerNorm": build_model("bst", canonical.schema, norm="layer").eval(),
          "BatchNorm": demo.model.eval()}
print(models["BatchNorm"].blocks[0].norm1)

# %% tags=["hide-input"]
# Checks for the claims below
assert data_fingerprint(canonical) == record["data_fingerprint"]  # the records' data
assert demo.history[-1]["val_auc"] > demo.history[0]["val_auc"] + 0.1 and demo.test_auc > 0.65
test = canonical.tensors("test")
assert test["hist_item"].shape[1] + 1 == 21  # T = 21 tokens per sample

# %% [markdown]
# The demonstration's validation AUC is printed next to the record's: the record ran with one
# thread, this page may use more, and floating-point sums in another order can move a run a
# little, so the two need not agree to the last digit.
#
# ## One sample, two batches
#
# Take one test sample and score it twice, once inside one batch of 256 test samples and once
# inside another batch of 256 (same sample, different batch mates); then score the first batch
# again with 20 extra padding slots appended to every history, as a system that pads to length
# 40 instead of 20 would do. We run BatchNorm with *batch statistics*, as in training (the
# helper `batch_statistics` switches only the BatchNorm layers to training behaviour, so dropout
# stays off and the comparison is clean).

# %%
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

rows, padding_shift = {}, {}
for name, model in models.items():
    with batch_statistics(model):
        in_a = score(model, take(batch_a))
        in_b = score(model, take(batch_b))[0]
        padded = score(model, pad_batch(take(batch_a), 20))
    rows[name] = (in_a[i], in_b)
    padding_shift[name] = np.abs(padded - in_a)
    print(f"{name}: sample {i} in batch A {in_a[i]:.4f}, in batch B {in_b:.4f}")
    print(f"  batch A with 20 more padding slots: mean |change| {padding_shift[name].mean():.4f},"
          f" largest {padding_shift[name].max():.4f}")

# %% tags=["hide-input"]
# Checks for the claims below
ln_a, ln_b = rows["LayerNorm"]
bn_a, bn_b = rows["BatchNorm"]
assert abs(ln_a - ln_b) < 1e-5 and padding_shift["LayerNorm"].max() < 1e-5
assert abs(bn_a - bn_b) > 1e-4 and padding_shift["BatchNorm"].mean() > 0.005
glue("bn_a", round(float(bn_a), 4), display=False)  # rounded: float noise between runs
glue("bn_b", round(float(bn_b), 4), display=False)
glue("pad_mean", round(float(padding_shift["BatchNorm"].mean()), 4), display=False)
glue("pad_max", round(float(padding_shift["BatchNorm"].max()), 4), display=False)

# %% [markdown]
# LayerNorm gives the same probabilities every time (to float rounding, below 1e-5). BatchNorm
# gives the sample {glue:text}`bn_a:.4f` in batch A and {glue:text}`bn_b:.4f` in batch B, and the
# extra padding moves the probabilities of batch A's samples by {glue:text}`pad_mean:.3f` on
# average, by up to {glue:text}`pad_max:.3f`: nothing about the users or the candidates changed.
# Padding tokens enter every feature's mean and variance, so a system that pads to another
# length scores differently.
#
# ## How far a sample moves, by batch size
#
# Smaller batches average over fewer tokens. To see how much that matters we take 512 test
# samples (the *pool*) and score each of them inside random batches of 1, 4, 16, 64 and 256
# samples drawn from the pool: for every size, five random partitions of the pool into batches,
# so every sample meets five sets of batch mates (`batch_size_dependence` in
# `bst_teach.viz.norm_plots`). We do it with batch statistics (training mode) and, with two
# partitions per size, with running statistics (evaluation mode). Per batch size and mode we
# record:
#
# - **spread**: how far a sample's probability moves between its batches (the standard
#   deviation over its five batches, averaged over the 512 samples), and **largest**, the range
#   (largest minus smallest) of the sample that moves most;
# - **|p - p_eval|**: how far a probability lies from the same sample's evaluation-mode
#   probability, averaged over samples and partitions;
# - **pairs flipped**: the share of the 512 x 511 / 2 pairs of samples that come out in the
#   other order than in evaluation mode: how much the *ranking* changes.
#
# A batch of one has no batch mates, so it is scored once; it moves nowhere, but it is
# normalised with one user's own 21 tokens. In batches of 256 a sample's mates in two partitions
# overlap by about half (they all come from the 512), so the spread there is, if anything, an
# underestimate of what fully fresh batch mates would do.

# %%
pool = torch.randperm(len(test["label"]), generator=torch.Generator().manual_seed(1))[:512]
pool_batch = take(pool)
sizes = (1, 4, 16, 64, 256)
dependence = {}
for name, model in models.items():
    repeats = 5 if name == "BatchNorm" else 2  # LayerNorm: two partitions show it never moves
    dependence[name] = batch_size_dependence(model, pool_batch, sizes, repeats=repeats, seed=0)
tables = {name: dependence_table(d) for name, d in dependence.items()}
bn_table = tables["BatchNorm"]
SHORT_NAMES = {"spread over batches": "spread", "largest spread": "largest",
               "mean |p - p_eval|": "|p - p_eval|", "pairs reordered": "pairs flipped"}
print("BatchNorm BST, click probabilities of the 512 pool samples:")
print(bn_table.rename(columns=SHORT_NAMES).round(4).to_string(index=False))
ln_moves = tables["LayerNorm"][["largest spread", "mean |p - p_eval|"]].to_numpy().max()
print("LayerNorm BST: any probability moved by 1e-5 or more, in either mode?", ln_moves >= 1e-5)

# %% mystnb={"figure": {"caption": "BatchNorm BST (the demonstration model): how far a test sample's click probability moves between random batches of the same size (left) and how far it lies from its evaluation-mode probability (right), by batch size; 512 test samples. Training mode (batch statistics) against evaluation mode (running statistics); a LayerNorm BST gives zero everywhere.", "name": "fig-05-batch-size"}}
plot_batch_size_dependence(bn_table)
plt.show()

# %% tags=["hide-input"]
# Checks for the claims below
train_rows = bn_table[bn_table["mode"] == "train"].set_index("batch size")
eval_rows = bn_table[bn_table["mode"] == "eval"].set_index("batch size")
spread = train_rows["spread over batches"]
offset = train_rows["mean |p - p_eval|"]
flipped = train_rows["pairs reordered"]
assert ln_moves < 1e-5
assert eval_rows["largest spread"].max() < 1e-5 and eval_rows["mean |p - p_eval|"].max() < 1e-5
assert eval_rows["pairs reordered"].max() < 1e-3
assert spread[1] == 0 and all(spread[a] > spread[b] > 0 for a, b in zip(sizes[1:], sizes[2:]))
assert offset.idxmax() == 1 and offset[1] > offset[4] > offset[16] > offset[256] > 0
assert flipped[1] > flipped[256] > 0
for size in sizes:
    glue(f"spread_{size}", round(float(spread[size]), 4), display=False)
    glue(f"largest_{size}", round(float(train_rows.loc[size, "largest spread"]), 4),
         display=False)
    glue(f"offset_{size}", round(float(offset[size]), 4), display=False)
    glue(f"flipped_{size}", round(100 * float(flipped[size]), 2), display=False)
glue("spread_ratio", round(float(spread[4] / spread[256]), 1), display=False)

# %% [markdown]
# In training mode the same sample's probability moves by {glue:text}`spread_4:.3f` on average
# (standard deviation over its batches) in batches of 4, {glue:text}`spread_16:.3f` in batches of
# 16, {glue:text}`spread_64:.3f` in batches of 64 and {glue:text}`spread_256:.3f` in batches of
# 256, the size the model was trained with ({numref}`fig-05-batch-size`, left): 64 times the
# batch size divides the spread by {glue:text}`spread_ratio:.1f`. The average hides the samples
# that move most: the largest range of one sample's probability is {glue:text}`largest_4:.3f` in
# batches of 4 and still {glue:text}`largest_256:.3f` in batches of 256.
#
# For a ranking model the order matters more than the probabilities. Against the order of
# evaluation mode, {glue:text}`flipped_4:.2f`% of all pairs of pool samples change places in
# batches of 4 and {glue:text}`flipped_256:.2f`% in batches of 256. Alone in its batch, a sample
# does not move, but it lies {glue:text}`offset_1:.3f` on average from its evaluation-mode
# probability, further than in any larger batch ({glue:text}`offset_4:.3f` with 4 samples,
# {glue:text}`offset_256:.3f` with 256; {numref}`fig-05-batch-size`, right), and
# {glue:text}`flipped_1:.2f`% of the pairs change places. In evaluation mode none of these numbers
# differs from zero beyond float rounding, at any batch size; nor, in either mode, does anything
# for the LayerNorm BST.
#
# During training every gradient step sees such a batch, so BatchNorm adds noise that depends on
# who else is in the batch; some call it a regulariser. For a ranking model it is also a
# correctness problem: a user's score should not depend on which other users happen to be scored
# with them.
#
# ## Evaluation mode: running statistics
#
# In evaluation mode (`model.eval()`, which `bst_teach.train.predict` uses) BatchNorm normalises
# with the running mean and variance accumulated during training, fixed numbers. The dependence
# disappears, for batch mates and for padding alike:

# %%
bn_model = models["BatchNorm"]  # in eval mode
alone = score(bn_model, take(torch.tensor([i])))[0]
print(f"BatchNorm, eval mode: {alone:.4f} alone, in batch A, in batch B and with extra padding")

# %% tags=["hide-input"]
# Checks for the claims below
assert np.isclose(score(bn_model, take(batch_a))[i], alone, atol=1e-5)
assert np.isclose(score(bn_model, take(batch_b))[0], alone, atol=1e-5)
assert np.isclose(score(bn_model, pad_batch(take(batch_a), 20))[i], alone, atol=1e-5)

# %% [markdown]
# So a BatchNorm BST is fine *if* it is always put in evaluation mode to score. But it was
# trained with batch statistics and is evaluated with running statistics: two different
# functions. How different? The measurement above already holds the answer for the pool: its AUC
# when scored in evaluation mode, and with batch statistics in batches of each size (one of the
# five partitions); {numref}`fig-05-mode-scatter` plots the probabilities against each other.

# %%
y = pool_batch["label"].numpy()
eval_probs = dependence["BatchNorm"]["eval"][1][0]
train_probs = dependence["BatchNorm"]["train"]
aucs = {"eval": roc_auc_score(y, eval_probs)}
aucs.update({size: roc_auc_score(y, train_probs[size][0]) for size in sizes})
print(f"{aucs['eval']:.3f}  evaluation mode (running statistics)")
for size in sizes:
    print(f"{aucs[size]:.3f}  batch statistics, batches of {size}")

# %% mystnb={"figure": {"caption": "Per-sample click probabilities of the BatchNorm BST on the 512 pool samples: evaluation mode (x) against batch statistics in batches of 256, 16 and 1 (y). On the diagonal, the two modes agree.", "name": "fig-05-mode-scatter"}}
plot_mode_scatter(eval_probs, {"batches of 256": train_probs[256][0],
                               "batches of 16": train_probs[16][0],
                               "one sample at a time": train_probs[1][0]})
plt.show()

# %% tags=["hide-input"]
# Checks for the claims below
assert aucs[1] < aucs["eval"] and aucs[1] < aucs[256]
for key, value in aucs.items():
    glue(f"auc_mode_{key}", round(float(value), 4), display=False)
glue("auc_drop_1", round(float(aucs["eval"] - aucs[1]), 4), display=False)

# %% [markdown]
# With batches of 256, the size of the training batches, the AUCs are
# {glue:text}`auc_mode_eval:.3f` (evaluation mode) and {glue:text}`auc_mode_256:.3f` (batch
# statistics), and a probability lies {glue:text}`offset_256:.3f` from its evaluation-mode value
# on average: the running statistics summarise batch statistics of batches *that look like the
# training batches*. Scored one sample at a time with batch statistics (a forgotten
# `model.eval()` in a service that scores one request at a time), the same model reaches an AUC
# of {glue:text}`auc_mode_1:.3f`, {glue:text}`auc_drop_1:.3f` below evaluation mode: one user's 21
# tokens, padding included, are a poor estimate of a feature's mean and variance. The scatter
# plots show the same per sample: the smaller the batch, the further the points leave the
# diagonal.
#
# ## Many processes, one model
#
# A model too slow to train on one machine is often trained *data-parallel*: each of several
# processes takes a slice of the batch, computes gradients on it, and the processes average their
# gradients. With LayerNorm nothing else needs to travel: every sample is normalised over its own
# features, token by token, so each process computes for its samples exactly what one process
# with the whole batch would, and (for equal slices) the averaged gradient is the whole batch's.
# With BatchNorm each process would normalise with the statistics of its own slice, a smaller
# batch with all the dependence measured above, so frameworks offer `torch.nn.SyncBatchNorm`,
# which exchanges every BatchNorm layer's means and variances between the processes at every
# training step: one more round of communication per layer and step.
#
# ```{admonition} Why BST (and the Transformer) use LayerNorm
# :class: tip
# - A token's output depends on that token only: no batch mates, no padding, no batch size, no
#   train / evaluation switch, no running statistics to store, synchronise across processes or
#   get wrong.
# - Padding never enters anyone's statistics, so sequences of any length can share a batch.
# - It works for a batch of one token.
#
# BatchNorm can work for BST, but it needs care that LayerNorm does not: evaluation mode at
# serving time, batches that look like training batches, synchronised statistics in
# data-parallel training, and a masked version if padding should not count (exercise 2).
# ```
#
# ## Summary
#
# - LayerNorm normalises each token over its D features; BatchNorm normalises each feature over
#   all B x T tokens of the batch, padding included.
# - By test AUC over five seeds on the synthetic task, LayerNorm, BatchNorm and no norm cannot be
#   told apart; the BatchNorm runs reached a validation AUC of 0.9 in fewer epochs. The argument
#   for LayerNorm is about correctness and serving, not about a higher AUC.
# - In training mode BatchNorm fails for one value per feature, erases identical tokens, and
#   makes a sample's prediction depend on its batch mates (a spread of {glue:text}`spread_4:.3f`
#   in batches of 4, {glue:text}`spread_256:.3f` in batches of 256, where still
#   {glue:text}`flipped_256:.2f`% of the pairs change order) and on their padding; LayerNorm's
#   prediction does not change.
# - Evaluation mode replaces batch statistics by running statistics; the dependence disappears, at
#   the price of two different functions in training and serving.
# - LayerNorm needs no communication between processes in data-parallel training; BatchNorm needs
#   `SyncBatchNorm` to see the whole batch.
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

# %% [markdown]
# **4. Epochs or seconds?** The BatchNorm runs of the records reach a validation AUC of 0.9 in
# fewer epochs than the LayerNorm runs. Does that make BatchNorm the faster choice for training
# BST? Name two things you would have to measure before saying so, and say why an epoch count
# alone cannot settle it.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution
# :class: dropdown
# An epoch is one pass over the training data, not a unit of time. (1) The time per epoch of
# each variant: BatchNorm and LayerNorm do different work at every step, and in data-parallel
# training `SyncBatchNorm` adds communication at every layer and step; a fair comparison times
# both on the same machine with nothing else running (the records' `train_seconds` come from
# runs made two at a time on a shared machine, so they do not settle it). (2) The time to the
# quality you need: "first
# epoch with AUC 0.9" is one threshold, and at 0.8 the records cannot tell the two apart, so
# measure the wall-clock time until the validation AUC you actually require, over several
# seeds, and compare the paired differences as in this chapter. Early stopping also decides
# when a run ends; what counts is the time until the model you keep.
# :::
