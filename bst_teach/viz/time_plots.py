"""Chapter 4's pictures: time gaps, the buckets they fall in, and what positions buy.

    gaps, mask = ds.train.hist_gap, ds.train.mask
    plot_gap_buckets(gaps[mask], "calendar")               # histogram coloured by bucket + occupancy
    gap_bucket_figures(gaps, mask, ["calendar", "log"], [5, 20])   # states for a precomputed widget
    plot_position_ablation(results)                        # bars (mean) and points (seeds)
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..features import (CALENDAR_EDGES, DAY, HOUR, MINUTE, MONTH, N_LOG_BUCKETS, WEEK, YEAR,
                        bucket_labels, bucketize_gaps)

TIME_TICKS = {1: "1 s", MINUTE: "1 min", HOUR: "1 h", DAY: "1 day", WEEK: "1 week",
              MONTH: "1 month", YEAR: "1 year"}


def bucket_edges(scheme: str) -> np.ndarray:
    """Upper (exclusive) edges in seconds of the gap buckets of ``scheme``, checked against
    :func:`bst_teach.features.bucketize_gaps`."""
    if scheme == "calendar":
        edges = np.asarray(CALENDAR_EDGES, dtype=np.float64)
    elif scheme == "log":
        edges = MINUTE * 2.0 ** np.arange(N_LOG_BUCKETS - 1)
    else:
        raise ValueError(f"unknown time bucket scheme {scheme!r}")
    probe = np.stack([edges - 1, edges])  # just below and exactly on every edge
    b = bucketize_gaps(probe, np.ones_like(probe, dtype=bool), scheme)
    assert np.all(b[1] == b[0] + 1), "bucket_edges disagrees with bucketize_gaps"
    return edges


def recent_mask(mask: np.ndarray, k: int) -> np.ndarray:
    """Keep only the ``k`` most recent real behaviours of each row (histories are oldest first)."""
    later = np.cumsum(mask[:, ::-1], axis=1)[:, ::-1]  # real behaviours at or after each slot
    return mask & (later <= k)


def _time_axis(ax, lo=1.0, hi=2 * YEAR, axis="x"):
    ticks = [t for t in TIME_TICKS if lo <= t <= hi]
    if axis == "x":
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.set_xticks(ticks, [TIME_TICKS[t] for t in ticks], fontsize=8)
        ax.minorticks_off()


def bucket_colors(n: int):
    cmap = plt.get_cmap("tab20" if n > 10 else "tab10")
    return [cmap(i % cmap.N) for i in range(n)]


def occupancy(gaps: np.ndarray, scheme: str) -> pd.Series:
    """Share of the given gaps (1-d, seconds) in each bucket of ``scheme``, by bucket label."""
    labels = bucket_labels(scheme)[2:]
    b = bucketize_gaps(gaps[None, :], np.ones((1, len(gaps)), dtype=bool), scheme)[0] - 2
    counts = np.bincount(b, minlength=len(labels))
    return pd.Series(counts / counts.sum(), index=labels, name="share")


def plot_gap_buckets(gaps: np.ndarray, scheme: str, title: str | None = None):
    """Left: histogram of time gaps (log axis) coloured by the bucket each gap falls in, bucket
    edges dashed.  Right: share of behaviours per bucket.  ``gaps``: 1-d seconds of real
    behaviours.  Returns the figure."""
    gaps = np.asarray(gaps, dtype=np.float64)
    labels = bucket_labels(scheme)[2:]
    b = bucketize_gaps(gaps[None, :], np.ones((1, len(gaps)), dtype=bool), scheme)[0] - 2
    colors = bucket_colors(len(labels))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.7, 1]})
    # log-spaced bins, split at the bucket edges so that every bar lies in exactly one bucket
    edges = bucket_edges(scheme)
    per_decade = 12
    top = np.log10(2 * YEAR)
    bins = np.unique(np.concatenate([np.logspace(0, top, int(top * per_decade) + 1), edges]))
    counts, _ = np.histogram(np.maximum(gaps, 1), bins=bins)
    density = counts / (np.diff(np.log10(bins)) * per_decade)  # a split bin is not shorter
    bar_bucket = bucketize_gaps(bins[None, :-1], np.ones((1, len(bins) - 1), dtype=bool),
                                scheme)[0] - 2
    ax.bar(bins[:-1], density, width=np.diff(bins), align="edge",
           color=[colors[i] for i in bar_bucket], linewidth=0)
    for e in edges:
        ax.axvline(e, color="0.35", ls="--", lw=0.7)
    _time_axis(ax)
    ax.set_xlabel("time gap t(target) - t(behaviour)")
    ax.set_ylabel(f"behaviours per 1/{per_decade} decade")
    ax.set_title(title or f"{len(gaps):,} time gaps, {scheme} buckets")
    share = occupancy(gaps, scheme)
    y = np.arange(len(labels))
    bx.barh(y, 100 * share.to_numpy(), color=colors)
    bx.set_yticks(y, labels, fontsize=8)
    bx.invert_yaxis()
    for yi, s in zip(y, share.to_numpy()):
        bx.text(100 * s + 0.5, yi, f"{100 * s:.1f}%" if s > 0 else "empty", va="center",
                fontsize=7.5, color="0.2" if s > 0 else "firebrick")
    bx.set_xlim(0, 100 * share.max() * 1.25 + 2)
    bx.set_xlabel("share of behaviours (%)")
    bx.set_title("bucket occupancy")
    fig.tight_layout()
    return fig


def gap_bucket_figures(hist_gap: np.ndarray, mask: np.ndarray, schemes, max_lens) -> dict:
    """``{(scheme, "L = k"): figure}`` for every scheme and history length k, keeping only each
    sample's k most recent behaviours: the states of a precomputed widget."""
    out = {}
    for scheme in schemes:
        for k in max_lens:
            keep = recent_mask(mask, k)
            out[(scheme, f"L = {k}")] = plot_gap_buckets(
                hist_gap[keep], scheme, f"{scheme} buckets, the {k} most recent behaviours per sample")
    return out


def plot_two_histories(histories: dict[str, dict], scheme: str = "calendar"):
    """Two (or more) histories with the same categories in the same order but different time gaps.

    ``histories``: name -> {"cats": [...], "gaps": [... seconds ...], "p": click probability}.
    Each behaviour is drawn at its gap before the target (log axis, now on the right) and labelled
    with its category, index position (1 = most recent) and time bucket.
    """
    labels = bucket_labels(scheme)
    fig, axes = plt.subplots(len(histories), 1, figsize=(11, 2.1 * len(histories)), sharex=True)
    for ax, (name, h) in zip(np.atleast_1d(axes), histories.items()):
        gaps = np.asarray(h["gaps"], dtype=np.float64)
        buckets = bucketize_gaps(gaps[None, :], np.ones((1, len(gaps)), dtype=bool), scheme)[0]
        n = len(gaps)
        ax.axhline(0, color="0.6", lw=0.8)
        for i, (c, g, bkt) in enumerate(zip(h["cats"], gaps, buckets)):
            ax.plot(g, 0, "o", ms=15, color=plt.get_cmap("tab10")(c), zorder=3)
            ax.text(g, 0, f"c{c}", ha="center", va="center", fontsize=8, color="white",
                    weight="bold", zorder=4)
            ax.text(g, 0.55, f"index {n - i}", ha="center", fontsize=8)
            ax.text(g, -0.7 - 0.4 * (i % 2), labels[bkt], ha="center", fontsize=8, color="0.25")
        ax.plot(20, 0, "*", ms=18, color="black", zorder=3)
        ax.text(20, 0.55, "target", ha="center", fontsize=8)
        ax.set_ylim(-1.4, 1.1)
        ax.set_yticks([])
        ax.invert_xaxis()
        ax.set_title(f"{name}: click probability under the planted rule {h['p']:.3f}", fontsize=10,
                     loc="left")
        for s in ("left", "right", "top"):
            ax.spines[s].set_visible(False)
    ax = np.atleast_1d(axes)[-1]
    ax.set_xscale("log")
    ticks = [t for t in TIME_TICKS if t >= MINUTE]
    ax.set_xticks(ticks, [TIME_TICKS[t] for t in ticks])
    ax.minorticks_off()
    ax.set_xlim(2 * YEAR, 10)
    ax.set_xlabel("time before the target (log scale; now is on the right)")
    fig.tight_layout()
    return fig


def plot_position_ablation(results: pd.DataFrame, references: dict[str, dict[str, float]] | None = None):
    """Test AUC per model variant: a bar per variant (mean over seeds) and a point per seed, one
    panel per data set.  ``results`` columns: data, model, seed, test_auc (variants in the order
    they first appear).  ``references``: data -> {name: AUC} drawn as horizontal lines."""
    datasets = list(dict.fromkeys(results["data"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(6.2 * len(datasets), 4.4), squeeze=False)
    for ax, name in zip(axes[0], datasets):
        df = results[results["data"] == name]
        models = list(dict.fromkeys(df["model"]))
        means = df.groupby("model", sort=False)["test_auc"].mean().reindex(models)
        colors = ["#bbbbbb" if m.startswith("DIN") else "#6a9fd4" for m in models]
        x = np.arange(len(models))
        ax.bar(x, means.to_numpy(), color=colors, edgecolor="0.3", width=0.7)
        for i, m in enumerate(models):
            pts = df.loc[df["model"] == m, "test_auc"].to_numpy()
            ax.plot(np.full(len(pts), i) + np.linspace(-0.12, 0.12, len(pts)), pts, "o", ms=4,
                    color="black", zorder=3)
            ax.text(i, means[m] + 0.004, f"{means[m]:.3f}", ha="center", va="bottom", fontsize=8)
        lo = min(0.5, float(df["test_auc"].min()) - 0.02)
        hi = float(df["test_auc"].max()) + 0.03
        styles = iter([":", "--", "-."])
        for ref, value in ((references or {}).get(name) or {}).items():
            ax.axhline(value, color="0.3", ls=next(styles), lw=1)
            ax.text(len(models) - 0.5, value, f"{ref} {value:.3f}", ha="right", va="bottom",
                    fontsize=8, color="0.25", zorder=4,
                    bbox=dict(fc="white", ec="none", alpha=0.85, pad=1))
            hi = max(hi, value + 0.03)
        ax.set_ylim(lo, hi)
        ax.set_xticks(x, models, rotation=30, ha="right", fontsize=9)
        ax.set_ylabel("test AUC")
        ax.set_title(name)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
