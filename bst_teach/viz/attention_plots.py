"""Pictures of BST's attention (chapter 6).

``model(batch, return_attention=True)`` returns the logits and a list over blocks of weights
(B, H, T, T): ``weights[b, h, q, k]`` is how much token q (the query, a row) takes from token k (the
key, a column) in head h.  T = L + 1: the L history slots (oldest first, right-padded), then the
target in the last slot.

* :func:`token_labels` names the real tokens of one sample ("c3 | < 1 day", ..., "target c3");
* :func:`plot_attention` draws one head's map for one sample with padding removed;
* :func:`attention_by_rank` averages the target's row over samples by recency rank
  (1 = the most recent behaviour) and :func:`plot_attention_by_rank` draws it;
* :func:`plot_target_rows` compares the target's row of attention between variants of one sample.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..features import PAD, bucket_labels
from ..models.layers import recency_rank

CATEGORY_OFFSET = 2  # vocabulary indices 0 and 1 are padding and out-of-vocabulary


def real_slots(batch: dict[str, torch.Tensor], i: int) -> list[int]:
    """Token slots of sample i that are not padding: its behaviours, then the target (slot L)."""
    mask = (batch["hist_item"][i] != PAD).numpy()
    return [int(s) for s in np.flatnonzero(mask)] + [len(mask)]


def token_labels(batch: dict[str, torch.Tensor], i: int,
                 time_scheme: str = "calendar") -> list[str]:
    """One label per real token of sample i: the category and time bucket of each behaviour
    (``"c3 | < 1 day"``; categories numbered from 0 as in the planted rule) and ``"target c3"``."""
    names = bucket_labels(time_scheme)
    mask = (batch["hist_item"][i] != PAD).numpy()
    cats = batch["hist_cat"][i].numpy() - CATEGORY_OFFSET
    times = batch["hist_time"][i].numpy()
    labels = [f"c{cats[s]} | {names[times[s]]}" for s in np.flatnonzero(mask)]
    return labels + [f"target c{int(batch['target_cat'][i]) - CATEGORY_OFFSET}"]


def plot_attention(weights: torch.Tensor, batch: dict[str, torch.Tensor], i: int, head=None,
                   ax=None, title: str | None = None, time_scheme: str = "calendar",
                   vmax: float = 1.0, annotate: bool = False):
    """Heatmap of one block's attention for sample i, padding rows and columns removed.

    weights: (B, H, T, T) from one block; head: an int, or None for the mean over heads.
    Rows are queries, columns keys; the last row is what the target token reads.
    """
    w = weights[i].mean(0) if head is None else weights[i, head]
    slots = real_slots(batch, i)
    w = w[slots][:, slots].detach().numpy()
    labels = token_labels(batch, i, time_scheme)
    if ax is None:
        size = 2.2 + 0.32 * len(slots)
        _, ax = plt.subplots(figsize=(size + 1.2, size))
    im = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=vmax)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("key (what is read)")
    ax.set_ylabel("query (who reads)")
    ax.axhline(len(labels) - 1.5, color="white", lw=1)  # the target row sits below this line
    if annotate:
        for q in range(len(labels)):
            for k in range(len(labels)):
                if w[q, k] >= 0.1:
                    ax.text(k, q, f"{w[q, k]:.1f}", ha="center", va="center", fontsize=6,
                            color="black" if w[q, k] > 0.6 * vmax else "white")
    ax.set_title(title or ("mean over heads" if head is None else f"head {head}"), fontsize=10)
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def attention_by_rank(weights: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """Average attention the target pays to the behaviour of each recency rank.

    weights (B, H, T, T) of one block, T = L + 1 with the target last; mask (B, L) True at real
    behaviours.  Returns (H, L): entry [h, r - 1] is the mean, over the samples that *have* a
    behaviour r steps back, of the weight that the target (query T - 1) puts on it in head h.
    NaN where no sample has that rank.
    """
    target_row = weights[:, :, -1, :-1].detach()  # (B, H, L): the target reading the history
    rank = recency_rank(mask)  # (B, L): 1 = most recent, 0 at padding
    B, H, L = target_row.shape
    out = np.full((H, L), np.nan)
    for r in range(1, L + 1):
        has = rank == r  # (B, L), at most one True per row
        n = int(has.sum())
        if n:
            out[:, r - 1] = (target_row * has[:, None, :]).sum((0, 2)).numpy() / n
    return out


def plot_attention_by_rank(by_rank: np.ndarray, uniform: np.ndarray | None = None,
                           max_rank: int | None = None, ax=None, title: str | None = None):
    """One line per head (and their mean) of :func:`attention_by_rank`'s output."""
    H, L = by_rank.shape
    max_rank = max_rank or L
    ranks = np.arange(1, max_rank + 1)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.6))
    for h in range(H):
        ax.plot(ranks, by_rank[h, :max_rank], marker="o", ms=3, lw=1, alpha=0.7, label=f"head {h}")
    ax.plot(ranks, np.nanmean(by_rank, 0)[:max_rank], color="black", lw=2.2, label="mean of heads")
    if uniform is not None:
        ax.plot(ranks, uniform[:max_rank], color="grey", ls=":", lw=1.5,
                label="uniform (1 / number of tokens)")
    ax.set_xticks(ranks)
    ax.set_xlabel("recency rank of the behaviour (1 = most recent)")
    ax.set_ylabel("attention from the target")
    ax.set_title(title or "What the target token reads, averaged over test samples", fontsize=10)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    return ax


def uniform_by_rank(mask: torch.Tensor) -> np.ndarray:
    """What :func:`attention_by_rank` would give if every real token got equal weight:
    1 / (number of behaviours + 1) averaged over the samples that have each rank.  (L,)"""
    rank = recency_rank(mask)
    share = 1.0 / (mask.sum(1, keepdim=True) + 1.0)  # (B, 1), the target counts as a token
    out = np.full(mask.shape[1], np.nan)
    for r in range(1, mask.shape[1] + 1):
        has = rank == r
        if has.any():
            out[r - 1] = float((share * has).sum() / has.sum())
    return out


def plot_target_rows(rows: dict[str, np.ndarray], labels: dict[str, list[str]] | list[str],
                     scores: dict[str, float] | None = None, ax=None, title: str | None = None):
    """Grouped bars: the target's row of attention (real tokens only) for variants of one sample.

    rows: variant -> (n_tokens,) weights; labels: the token labels (one list for all variants,
    or one per variant, shown joined when they differ); scores: variant -> click probability.
    """
    names = list(rows)
    n = len(next(iter(rows.values())))
    if isinstance(labels, dict):
        per = [labels[k] for k in names]
        ticks = [" / ".join(dict.fromkeys(p[j] for p in per)) for j in range(n)]
    else:
        ticks = list(labels)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(7, 0.55 * n + 2), 3.8))
    width = 0.8 / len(names)
    for j, k in enumerate(names):
        label = k if scores is None else f"{k} (click prob. {scores[k]:.2f})"
        ax.bar(np.arange(n) + (j - (len(names) - 1) / 2) * width, rows[k], width, label=label)
    ax.set_xticks(range(n), ticks, rotation=90, fontsize=7)
    ax.set_ylabel("attention from the target")
    ax.set_title(title or "The target's row of attention (mean over heads)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return ax
