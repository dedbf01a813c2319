"""Pictures and small helpers for chapter 5 (BatchNorm or LayerNorm).

* :func:`plot_norm_axes` draws the (B, T, D) activation cube twice and highlights the values that
  share one mean and one variance: a token's D features for LayerNorm, one feature over every token
  of the batch (padding included) for BatchNorm.
* :func:`batch_statistics` is a context manager that makes BatchNorm layers normalise with the
  statistics of the batch they see (training behaviour) while everything else, dropout included,
  stays in evaluation mode, and puts the running statistics back afterwards.
* :func:`batch_size_dependence` scores a pool of samples inside random batches of several sizes,
  with batch statistics and with running statistics; :func:`dependence_table` summarises how far
  a sample's probability moves with its batch mates, how far it lies from its evaluation-mode
  probability and how many pairs of samples change order; :func:`plot_batch_size_dependence`
  draws the first two against batch size.
* :func:`plot_batch_dependence`, :func:`plot_norm_curves` and :func:`plot_mode_scatter` draw the
  chapter's other measurements.
"""
from __future__ import annotations

from contextlib import contextmanager

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Patch
from torch import nn

# colours of the cube
PADDING = "#e8a866"
GROUP, GROUP_PADDING = "#2f6db5", "#c2571a"


def _box(ax, B: int, T: int, D: int) -> None:
    """The 12 edges of the whole (B, T, D) block, so the highlighted values sit in context."""
    for x in (0, B):
        for y in (0, T):
            ax.plot([x, x], [y, y], [0, D], color="black", lw=0.8)
    for x in (0, B):
        for z in (0, D):
            ax.plot([x, x], [0, T], [z, z], color="black", lw=0.8)
    for y in (0, T):
        for z in (0, D):
            ax.plot([0, B], [y, y], [z, z], color="black", lw=0.8)


def _cube(ax, highlight: np.ndarray, padding: np.ndarray, title: str) -> None:
    """Draw one (B, T, D) block: x = sample b, y = token t, z = feature d.  Only the highlighted
    values and the padding slots are drawn as cubes; the rest is the outline."""
    filled = highlight | padding
    colours = np.empty(highlight.shape, dtype=object)
    colours[padding] = PADDING + "55"
    colours[highlight] = GROUP + "ee"
    colours[highlight & padding] = GROUP_PADDING + "ee"
    ax.voxels(filled, facecolors=colours, edgecolor="#00000055", linewidth=0.4)
    B, T, D = highlight.shape
    _box(ax, B, T, D)
    ax.set_xlabel("B: sample", labelpad=-6)
    ax.set_ylabel("T: token slot", labelpad=-6)
    ax.set_zlabel("D: feature", labelpad=-8)
    ax.set_xticks(np.arange(B) + 0.5, [str(i) for i in range(B)], fontsize=7)
    ax.set_yticks(np.arange(T) + 0.5, [str(i) for i in range(T)], fontsize=7)
    ax.set_zticks(np.arange(D) + 0.5, [str(i) for i in range(D)], fontsize=7)
    ax.tick_params(pad=-3)
    ax.set_box_aspect((B, T, D))
    ax.view_init(elev=22, azim=-58)
    ax.grid(False)
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.pane.set_alpha(0.0)
    ax.set_title(title, fontsize=10)


def norm_groups(lengths, n_features: int, token: tuple[int, int] = (1, 2), feature: int = 2):
    """Boolean (B, T, D) masks: padding, one LayerNorm group (a token) and one BatchNorm group
    (a feature over every token of the batch)."""
    lengths = np.asarray(lengths)
    B, T, D = len(lengths), int(lengths.max()), n_features
    padding = np.broadcast_to((np.arange(T)[None, :] >= lengths[:, None])[..., None], (B, T, D))
    layer = np.zeros((B, T, D), dtype=bool)
    layer[token[0], token[1], :] = True
    batch = np.zeros((B, T, D), dtype=bool)
    batch[:, :, feature] = True
    return padding.copy(), layer, batch


def plot_norm_axes(lengths=(6, 4, 6, 3), n_features: int = 5, token=(1, 2), feature: int = 2):
    """Side by side: which values LayerNorm and BatchNorm average over, for a padded batch.

    ``lengths`` are the real tokens of each sample (the rest of the T slots are padding).
    """
    padding, layer, batch = norm_groups(lengths, n_features, token, feature)
    fig = plt.figure(figsize=(10, 4.6))
    ax1 = fig.add_subplot(1, 2, 1, projection="3d")
    _cube(ax1, layer, padding,
          f"LayerNorm: one token (sample {token[0]}, slot {token[1]}),\n"
          f"its {n_features} features -> one mean, one variance")
    ax2 = fig.add_subplot(1, 2, 2, projection="3d")
    _cube(ax2, batch, padding,
          f"BatchNorm: feature {feature} of all B x T tokens\n"
          "-> one mean, one variance (padding included)")
    fig.legend(handles=[Patch(color=GROUP, label="normalised together"),
                        Patch(color=GROUP_PADDING, label="normalised together, but padding"),
                        Patch(color=PADDING, label="padding slot")],
               loc="lower center", ncol=3, frameon=False, fontsize=9)
    fig.subplots_adjust(left=0.0, right=1.0, bottom=0.1, top=0.9, wspace=0.05)
    return fig


@contextmanager
def batch_statistics(model: nn.Module):
    """Inside the block, BatchNorm layers use the statistics of the current batch (as in training)
    and every other layer behaves as in evaluation (no dropout).  Running statistics are restored
    on exit, so the model is unchanged.  LayerNorm has no modes: it is unaffected."""
    was_training = model.training
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [{k: v.clone() for k, v in m.state_dict().items()} for m in bns]
    model.eval()
    for m in bns:
        m.train()
    try:
        yield model
    finally:
        for m, state in zip(bns, saved):
            m.load_state_dict(state)
        model.train(was_training)


def pad_batch(batch: dict[str, torch.Tensor], extra: int) -> dict[str, torch.Tensor]:
    """Append ``extra`` empty (padding) slots to every history of a model batch."""
    out = dict(batch)
    for k in ("hist_item", "hist_cat", "hist_time"):
        out[k] = torch.cat([batch[k], torch.zeros(len(batch[k]), extra, dtype=batch[k].dtype)], 1)
    return out


def plot_batch_dependence(spreads: dict[str, dict[int, np.ndarray]], reference: dict[str, float],
                          seed: int = 0):
    """How far one sample's click probability moves when it is scored inside random batches.

    spreads: model label -> {batch size: (n_batches,) probabilities}; reference: model label ->
    the sample's evaluation-mode probability.  One panel per model, one column of jittered dots
    per batch size, showing probability minus the evaluation-mode probability.
    """
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(1, len(spreads), figsize=(4.8 * len(spreads), 3.6), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, (label, by_size) in zip(axes, spreads.items()):
        sizes = list(by_size)
        for j, size in enumerate(sizes):
            values = by_size[size] - reference[label]
            ax.scatter(j + rng.uniform(-0.18, 0.18, len(values)), values, s=9, alpha=0.6,
                       color=GROUP)
        ax.axhline(0.0, color="black", ls="--", lw=1, label="evaluation mode")
        ax.legend(fontsize=8, loc="lower right")
        ax.set_xticks(range(len(sizes)), [str(s) for s in sizes])
        ax.set_xlabel("batch size (random batch mates)")
        ax.set_title(f"{label} (evaluation-mode probability {reference[label]:.3f})", fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("probability - evaluation-mode probability")
    fig.tight_layout()
    return fig


def plot_norm_curves(histories: dict[str, list[dict]], key: str = "val_auc",
                     ceiling: float | None = None, ax=None):
    """Validation AUC (or any history key) per epoch, one line per run."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.6))
    for label, history in histories.items():
        ax.plot([h["epoch"] for h in history], [h[key] for h in history], marker="o", ms=3,
                label=label)
    if ceiling is not None:
        ax.axhline(ceiling, color="grey", ls=":", lw=1, label="best possible (Bayes)")
    ax.set_xlabel("epoch")
    ax.set_ylabel(key.replace("_", " "))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_mode_scatter(reference: np.ndarray, others: dict[str, np.ndarray]):
    """Per-sample click probabilities: evaluation mode (x) against other ways of scoring (y),
    one panel per way; points on the diagonal mean no mismatch."""
    fig, axes = plt.subplots(1, len(others), figsize=(4.2 * len(others), 4.0), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, (label, values) in zip(axes, others.items()):
        ax.scatter(reference, values, s=4, alpha=0.35, color=GROUP)
        ax.plot([0, 1], [0, 1], color="black", lw=1, ls="--")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel("evaluation mode (running statistics)")
        ax.set_title(label, fontsize=10)
    axes[0].set_ylabel("click probability with batch statistics")
    fig.tight_layout()
    return fig


def batch_size_dependence(model: nn.Module, samples: dict[str, torch.Tensor], sizes,
                          repeats: int = 8, eval_repeats: int = 2,
                          seed: int = 0) -> dict[str, dict[int, np.ndarray]]:
    """Score every sample of ``samples`` (a model batch, N rows) inside random batches of each
    size: ``repeats`` times with batch statistics (BatchNorm as in training, dropout off) and
    ``eval_repeats`` times in evaluation mode, each time a fresh random partition of the N samples
    into batches.

    Returns {"train": {size: (repeats, N) probabilities}, "eval": {size: (eval_repeats, N)}}; row
    r, column j is sample j's probability in the r-th partition.  A batch of size 1 has no batch
    mates, so it is scored once per mode.
    """
    generator = torch.Generator().manual_seed(seed)
    n = len(samples["label"])
    out = {"train": {}, "eval": {}}

    def partitions(size, count):
        probs = np.zeros((1 if size == 1 else count, n))
        for r in range(len(probs)):
            order = torch.randperm(n, generator=generator)
            for start in range(0, n, size):
                idx = order[start:start + size]
                p = torch.sigmoid(model({k: v[idx] for k, v in samples.items()}))
                probs[r, idx.numpy()] = p.numpy()
        return probs

    was_training = model.training
    model.eval()
    with torch.no_grad():
        with batch_statistics(model):  # running statistics are put back on exit
            out["train"] = {size: partitions(size, repeats) for size in sizes}
        out["eval"] = {size: partitions(size, eval_repeats) for size in sizes}
    model.train(was_training)
    return out


def pairs_reordered(probs: np.ndarray, reference: np.ndarray) -> float:
    """Share of the pairs of samples that ``probs`` (N,) puts in the other order than
    ``reference`` (N,) does (pairs tied in ``reference`` left out): how much a ranking changes."""
    ref = np.sign(reference[:, None] - reference[None, :])
    new = np.sign(probs[:, None] - probs[None, :])
    ordered = ref != 0
    return float((new[ordered] != ref[ordered]).mean()) if ordered.any() else 0.0


def dependence_table(scores: dict[str, dict[int, np.ndarray]]) -> "pd.DataFrame":
    """Per batch size and mode: how far a sample's probability moves with its batch mates (the
    standard deviation over the random batches it was scored in, averaged over samples; 0 for a
    batch of one, which has no mates), the largest range of one sample's probability over its
    batches, how far it sits from its evaluation-mode probability (mean absolute difference) and
    the share of pairs of samples ranked the other way round than in evaluation mode (averaged
    over the partitions)."""
    import pandas as pd

    reference = next(iter(scores["eval"].values()))[0]  # evaluation mode: the same in any batch
    rows = []
    for mode, by_size in scores.items():
        for size, probs in by_size.items():
            rows.append({"mode": mode, "batch size": size,
                         "spread over batches": float(probs.std(axis=0).mean()),
                         "largest spread": float(np.ptp(probs, axis=0).max()),
                         "mean |p - p_eval|": float(np.abs(probs - reference).mean()),
                         "pairs reordered": float(np.mean([pairs_reordered(p, reference)
                                                           for p in probs]))})
    return pd.DataFrame(rows)


def plot_batch_size_dependence(table: "pd.DataFrame"):
    """Two panels against batch size (log axis): the spread of a sample's probability over its
    random batches, and its mean distance from the evaluation-mode probability; one line per
    mode ("train": batch statistics, "eval": running statistics)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    styles = {"train": dict(color=GROUP, marker="o", label="batch statistics (training mode)"),
              "eval": dict(color="black", marker="s", ls="--",
                           label="running statistics (evaluation mode)")}
    for ax, col, title in ((axes[0], "spread over batches",
                            "how far a probability moves with its batch mates\n"
                            "(std over random batches, mean over samples)"),
                           (axes[1], "mean |p - p_eval|",
                            "distance from the evaluation-mode probability\n"
                            "(mean over samples)")):
        for mode, df in table.groupby("mode", sort=False):
            ax.plot(df["batch size"], df[col], **styles[mode])
        ax.set_xscale("log", base=2)
        sizes = sorted(table["batch size"].unique())
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.set_xlabel("batch size")
        ax.set_ylabel("click probability")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig
