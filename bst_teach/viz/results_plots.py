"""Tables and pictures of results over several seeds (chapters 7 and 8).

* :func:`seed_table` -- mean, standard deviation, min and max of a metric over seeds;
* :func:`parameter_split` and :func:`forward_ms` -- the cost side of a model: where its
  parameters sit, and how long one forward pass over a batch takes;
* :func:`plot_depth_results`, :func:`plot_val_curves`, :func:`plot_depth_cost` -- chapter 7;
* :func:`plot_model_results`, :func:`plot_gain_over_baseline` -- chapter 8.

Every plot draws one point per seed: with a handful of runs, the spread is part of the result.
"""
from __future__ import annotations

import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

DEPTH_COLORS = {1: "#2f6db5", 2: "#e0a030", 3: "#c2571a"}
MODEL_COLORS = {"wdl": "#8c8c8c", "din": "#2f9e6e", "bst": "#2f6db5"}


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------
def seed_table(df: pd.DataFrame, by: str, value: str = "test_auc", digits: int = 3) -> pd.DataFrame:
    """One row per value of ``by``: number of seeds, mean, std (ddof=1), min and max of ``value``,
    rounded to ``digits`` (stable for notebook comparisons)."""
    g = df.groupby(by, sort=False)[value]
    out = pd.DataFrame({"seeds": g.size(), "mean": g.mean(), "std": g.std(ddof=1),
                        "min": g.min(), "max": g.max()})
    return out.round(digits)


# ---------------------------------------------------------------------------------------------
# Cost of a model
# ---------------------------------------------------------------------------------------------
def parameter_split(model: torch.nn.Module) -> dict[str, int]:
    """Trainable parameters of a BST-like model split into embeddings, encoder blocks and the rest
    (MLP head).  Works for any model: modules that are ``nn.Embedding`` count as embeddings and a
    ``blocks`` attribute, if present, as the encoder."""
    emb = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding)
              for p in m.parameters())
    blocks = getattr(model, "blocks", None)
    enc = sum(p.numel() for p in blocks.parameters()) if blocks is not None else 0
    total = sum(p.numel() for p in model.parameters())
    return {"embeddings": emb, "encoder": enc, "MLP head": total - emb - enc, "total": total}


@torch.inference_mode()
def forward_ms(model: torch.nn.Module, batch: dict, repeats: int = 30, warmup: int = 3) -> float:
    """Wall-clock milliseconds of one forward pass over ``batch`` in evaluation mode: the fastest
    of ``repeats`` passes, the one least disturbed by other work on the machine."""
    was_training = model.training
    model.eval()
    for _ in range(warmup):
        model(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(batch)
        times.append(time.perf_counter() - start)
    model.train(was_training)
    return 1000 * float(np.min(times))


def forward_mflop(model: torch.nn.Module, batch: dict) -> float:
    """Millions of floating-point operations of one forward pass over ``batch`` (matrix products,
    counted by ``torch.utils.flop_counter``): the same on every machine, unlike the time."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(batch)
    model.train(was_training)
    return counter.get_total_flops() / 1e6


# ---------------------------------------------------------------------------------------------
# Chapter 7: depth
# ---------------------------------------------------------------------------------------------
def plot_depth_results(runs: pd.DataFrame, paper: dict[int, float], ours_label: str):
    """Two panels: the paper's offline AUC per depth (one number each) and ours, one point per
    seed with the mean as a bar.  runs: columns ``blocks``, ``seed``, ``test_auc``."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1, 1.3]})
    depths = sorted(paper)
    ax1.plot(depths, [paper[b] for b in depths], "o-", color="black")
    for b in depths:
        ax1.annotate(f"{paper[b]:.4f}", (b, paper[b]), textcoords="offset points",
                     xytext=(0, 8), ha="center")
    ax1.set(xticks=depths, xlabel="encoder blocks", ylabel="offline AUC",
            title="Taobao (paper, Table 4)", xlim=(min(depths) - 0.4, max(depths) + 0.4))
    lo, hi = min(paper.values()), max(paper.values())
    ax1.set_ylim(lo - 0.6 * (hi - lo), hi + 0.6 * (hi - lo))

    order = sorted(runs["blocks"].unique())
    palette = {b: DEPTH_COLORS.get(b, "gray") for b in order}
    means = runs.groupby("blocks")["test_auc"].mean()
    ax2.bar(range(len(order)), [means[b] for b in order], color=[palette[b] for b in order],
            alpha=0.25, width=0.6)
    sns.stripplot(data=runs, x="blocks", y="test_auc", hue="blocks", palette=palette, order=order,
                  size=8, jitter=0.12, legend=False, ax=ax2)
    ax2.set_xticks(range(len(order)))
    ax2.set_xticklabels([f"{b}\nmean {means[b]:.3f}" for b in order])
    ax2.set(xlabel="encoder blocks", ylabel="test AUC", title=ours_label)
    y = runs["test_auc"]
    ax2.set_ylim(y.min() - 0.05, min(1.0, y.max() + 0.03))
    fig.tight_layout()
    return fig


def plot_val_curves(histories: pd.DataFrame):
    """Validation AUC per epoch, one panel per depth, one line per seed.
    histories: columns ``blocks``, ``seed``, ``epoch``, ``val_auc``."""
    depths = sorted(histories["blocks"].unique())
    fig, axes = plt.subplots(1, len(depths), figsize=(3.4 * len(depths), 3.2), sharey=True)
    for ax, b in zip(np.atleast_1d(axes), depths):
        for seed, h in histories[histories["blocks"] == b].groupby("seed"):
            ax.plot(h["epoch"], h["val_auc"], marker=".", color=DEPTH_COLORS.get(b, "gray"),
                    alpha=0.5 + 0.15 * (seed % 3), label=f"seed {seed}")
        ax.axhline(0.5, color="gray", lw=0.8, ls=":")
        ax.set(title=f"{b} block{'s' if b > 1 else ''}", xlabel="epoch")
    np.atleast_1d(axes)[0].set_ylabel("validation AUC")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_depth_cost(cost: pd.DataFrame):
    """Parameters (stacked: embeddings / encoder / MLP head) and forward time per batch against
    depth.  cost: index = blocks, columns ``embeddings``, ``encoder``, ``MLP head``,
    ``ms`` (forward time per batch) and optionally ``ms, all rows`` (drawn dashed)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.4))
    x = np.arange(len(cost))
    bottom = np.zeros(len(cost))
    for col, color in (("embeddings", "#8c8c8c"), ("encoder", "#2f6db5"),
                       ("MLP head", "#e0a030")):
        ax1.bar(x, cost[col] / 1000, bottom=bottom / 1000, color=color, label=col, width=0.6)
        bottom += cost[col].to_numpy()
    ax1.set(xticks=x, xticklabels=cost.index, xlabel="encoder blocks",
            ylabel="parameters (thousands)", title="Parameters")
    ax1.legend(fontsize=8)
    ax2.plot(cost.index, cost["ms"], "o-", color="black",
             label="as run (last block: target row only)")
    if "ms, all rows" in cost:
        ax2.plot(cost.index, cost["ms, all rows"], "s--", color="gray",
                 label="every row of every block")
        ax2.legend(fontsize=8)
    ax2.set(xticks=list(cost.index), xlabel="encoder blocks", ylabel="ms per batch",
            title="Forward time, one batch (this machine)")
    ax2.set_ylim(0, None)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Chapter 8: models on real data
# ---------------------------------------------------------------------------------------------
def plot_model_results(runs: pd.DataFrame, order: list[str], title: str):
    """Test AUC of each model, one point per seed, a bar at the mean.
    runs: columns ``model``, ``seed``, ``test_auc``."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    palette = {m: MODEL_COLORS.get(m, "gray") for m in order}
    means = runs.groupby("model")["test_auc"].mean()
    ax.bar(range(len(order)), [means[m] for m in order], color=[palette[m] for m in order],
           alpha=0.25, width=0.6)
    sns.stripplot(data=runs, x="model", y="test_auc", hue="model", palette=palette, order=order,
                  size=8, jitter=0.12, legend=False, ax=ax)
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels([f"{m}\nmean {means[m]:.3f}" for m in order])
    y = runs["test_auc"]
    span = max(y.max() - y.min(), 0.01)
    ax.set_ylim(y.min() - 1.5 * span, y.max() + 0.8 * span)
    ax.set(xlabel="", ylabel="test AUC", title=title)
    fig.tight_layout()
    return fig


def plot_gain_over_baseline(gains: pd.DataFrame):
    """AUC gain of DIN and BST over each source's pooled baseline, one group per source.
    gains: index = source (e.g. 'Taobao (paper)', 'ML-100K (ours)'), columns 'din', 'bst';
    a source may carry several rows (seeds), drawn as points."""
    fig, ax = plt.subplots(figsize=(8.5, 3.6))
    sources = list(dict.fromkeys(gains.index))
    width = 0.35
    for j, model in enumerate(("din", "bst")):
        for i, src in enumerate(sources):
            vals = np.atleast_1d(gains.loc[src, model])
            xpos = i + (j - 0.5) * width
            ax.bar(xpos, vals.mean(), width=width * 0.9, color=MODEL_COLORS[model], alpha=0.35,
                   label=model.upper() if i == 0 else None)
            if len(vals) > 1:
                ax.scatter(np.full(len(vals), xpos), vals, color=MODEL_COLORS[model], s=18,
                           zorder=3)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(sources)))
    ax.set_xticklabels(sources, rotation=15, ha="right", fontsize=9)
    ax.set_ylabel("AUC minus the baseline's")
    ax.set_title("Gain over the pooled-history baseline (WDL(+Seq) / DNN / our WDL)")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_data_overview(events: pd.DataFrame, cutoffs: tuple[int, int], category: pd.Series,
                       unseen_share: float):
    """Chapter 8's picture of MovieLens: ratings per day with the chronological cutoffs, the
    share of events per category, and how many test samples come from a user never seen in
    training.  events: columns ``timestamp`` (seconds); category: the category of every event."""
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(12, 3.4),
                                        gridspec_kw={"width_ratios": [2.2, 1.6, 0.9]})
    day = pd.to_datetime(events["timestamp"], unit="s").dt.floor("D")
    per_day = day.value_counts().sort_index()
    ax1.bar(per_day.index, per_day.values, width=1.0, color="#8c8c8c")
    t_val, t_test = (pd.to_datetime(t, unit="s") for t in cutoffs)
    ax1.axvspan(t_val, t_test, color="#e0a030", alpha=0.25, label="validation")
    ax1.axvspan(t_test, per_day.index.max() + pd.Timedelta(days=1), color="#c2571a", alpha=0.25,
                label="test")
    ax1.set(ylabel="ratings per day", title="Chronological split")
    ax1.legend(fontsize=8, loc="upper left")
    ax1.tick_params(axis="x", labelrotation=30, labelsize=8)

    shares = category.value_counts(normalize=True)
    top = shares.head(8)[::-1]
    ax2.barh(top.index, top.values, color="#2f6db5")
    ax2.set(xlabel="share of ratings", title="Category = first genre")

    ax3.bar(["seen", "new"], [1 - unseen_share, unseen_share], color=["#2f6db5", "#c2571a"])
    ax3.set(ylim=(0, 1), ylabel="share of test samples", title="Test user in training?")
    fig.tight_layout()
    return fig
