"""Pictures of DIN (chapter 2): its diagram, its attention weights, and its pooled vector.

* :func:`draw_din` draws the local activation unit and the weighted sum;
* :func:`din_pool` reruns DIN's forward pass step by step and returns every intermediate;
* :func:`plot_din_weights` draws one sample's activation weights as bars, oldest behaviour first.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..features import PAD

CATEGORY_OFFSET = 2  # vocabulary indices 0 and 1 are padding and out-of-vocabulary


def _box(ax, x, y, w, h, text, color, fontsize=9):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02",
                                fc=color, ec="k", lw=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, a, b, color="k", lw=1.0, style="-|>"):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=10, color=color, lw=lw,
                                 shrinkA=2, shrinkB=2))


def draw_din(ax=None):
    """Diagram of DIN's pooling: behaviours e_1..e_L, the target e_t, one activation unit per
    behaviour giving w_i, and the weighted sum; an inset shows what the activation unit computes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(12, 4.6))
    xs = [1.0, 3.0, 5.0, 7.0]
    names = ["$e_1$", "$e_2$", "$e_3$", "$e_L$"]
    tx = 9.6  # target column
    for x, name in zip(xs, names):
        _box(ax, x, 0.6, 1.0, 0.5, name, "#cfe2f3", 12)  # behaviour
        _box(ax, x, 2.0, 1.3, 0.7, "activation\nunit $a$", "#fff2cc", 9)
        _arrow(ax, (x, 0.85), (x, 1.65))
        _arrow(ax, (tx - 0.2, 0.85), (x + 0.65, 1.75), color="#cc0000", lw=0.7)
        ax.text(x + 0.1, 2.72, name.replace("e_", "w_"), ha="left", va="center", fontsize=11)
        _box(ax, x, 3.35, 0.5, 0.4, r"$\times$", "white", 12)
        _arrow(ax, (x, 2.35), (x, 3.15))
        ax.plot([x - 0.5, x - 0.85, x - 0.85], [0.6, 0.6, 3.35], color="gray", lw=0.8)
        _arrow(ax, (x - 0.85, 3.35), (x - 0.25, 3.35), color="gray", lw=0.8)
        _arrow(ax, (x, 3.55), (4.0 + (x - 4.0) * 0.6, 4.25))
    ax.text(6.0, 0.6, "...", ha="center", va="center", fontsize=14)
    ax.text(0.2, 0.05, "the history: $L$ behaviours (item + category embeddings)", fontsize=9)
    _box(ax, tx, 0.6, 1.6, 0.5, "target $e_t$", "#f4cccc", 11)
    pooled = r"sum pooling:  $v_U = w_1 e_1 + w_2 e_2 + \dots + w_L e_L$"
    _box(ax, 4.0, 4.5, 6.6, 0.5, pooled, "#d9ead3", 12)
    _box(ax, tx + 0.4, 4.5, 2.8, 0.7, "concat [user, context,\n$e_t$, $v_U$] -> MLP", "#ead1dc", 9)
    _arrow(ax, (7.3, 4.5), (tx - 1.0, 4.5))
    _arrow(ax, (tx, 0.85), (tx, 4.15), color="#cc0000", lw=0.7)
    ax.text(tx + 1.9, 4.5, "p(click)", ha="left", va="center", fontsize=11)
    # inset: inside the activation unit
    ix = 13.6
    ax.add_patch(FancyBboxPatch((12.0, 0.2), 4.9, 3.55, boxstyle="round,pad=0.05", fc="#fffbea",
                                ec="gray", lw=0.8, ls="--"))
    ax.text(ix + 0.9, 3.5, "inside the activation unit", ha="center", fontsize=10, weight="bold")
    parts = [r"$e_i$", r"$e_t$", r"$e_i - e_t$", r"$e_i \odot e_t$"]
    for k, part in enumerate(parts):
        px = 12.6 + 1.2 * k
        _box(ax, px, 2.8, 1.05, 0.45, part, "#fff2cc", 10)
        _arrow(ax, (px, 2.57), (ix + 0.9, 2.15))
    _box(ax, ix + 0.9, 1.9, 3.2, 0.45, "MLP (Linear + LeakyReLU)", "#fff2cc", 9)
    _arrow(ax, (ix + 0.9, 1.67), (ix + 0.9, 1.3))
    _box(ax, ix + 0.9, 1.08, 3.6, 0.4, r"$w_i$: one number, no softmax", "white", 9)
    ax.text(ix + 0.9, 0.55, "depends only on $(e_i, e_t)$,\nnever on the slot $i$",
            ha="center", va="center", fontsize=9, style="italic")
    ax.set_xlim(-0.2, 17.1)
    ax.set_ylim(-0.1, 4.9)
    ax.axis("off")
    return ax


@torch.no_grad()
def din_pool(model, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """DIN's forward pass, step by step: behaviour and target vectors, weights, pooled vector,
    logits.  ``out["logits"]`` equals ``model(batch)``: compare the two to check the steps."""
    mask = batch["hist_item"] != PAD
    hist = model.items(batch["hist_item"], batch["hist_cat"])
    target = model.items(batch["target_item"], batch["target_cat"])
    if model.config.time_features:
        hist = torch.cat([hist, model.time(batch["hist_time"])], dim=-1)
        target = torch.cat([target, model.time(torch.ones_like(batch["target_item"]))], dim=-1)
    weights = model.attention(hist, target) * mask
    pooled = (weights.unsqueeze(-1) * hist).sum(1)
    logits = model.head(torch.cat([model.other(batch["sparse"]), target, pooled], -1)).squeeze(-1)
    return {"mask": mask, "hist": hist, "target": target, "weights": weights, "pooled": pooled,
            "logits": logits}


def plot_din_weights(weights: torch.Tensor, batch: dict[str, torch.Tensor], i: int, ax=None,
                     title: str | None = None, ymax: float | None = None):
    """Bars of DIN's weight on each real behaviour of sample i (oldest left, most recent right),
    coloured by whether the behaviour's category is the target's."""
    mask = (batch["hist_item"][i] != PAD).numpy()
    slots = np.flatnonzero(mask)
    w = weights[i].detach().numpy()[slots]
    cats = batch["hist_cat"][i].numpy()[slots] - CATEGORY_OFFSET
    target = int(batch["target_cat"][i]) - CATEGORY_OFFSET
    colors = np.where(cats == target, "tab:red", "tab:blue")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 2.8))
    ax.bar(range(len(slots)), w, color=colors)
    ax.set_xticks(range(len(slots)), [f"c{c}" for c in cats], fontsize=8)
    ax.set_xlabel("behaviour category, oldest -> most recent")
    ax.set_ylabel("weight $w_i$")
    if ymax is not None:
        ax.set_ylim(min(0.0, float(w.min()) * 1.1), ymax)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_title(title or f"target category c{target}  (red: same category as the target)",
                 fontsize=9)
    return ax
