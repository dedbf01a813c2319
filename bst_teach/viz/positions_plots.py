"""Chapter 4's record pictures: every run of the ``positions`` experiment, and the runs that stalled.

* :func:`plot_positions_records` -- one panel per data set, stacked, variants as rows: a dot per
  seed, the mean over seeds with its 95% interval, reference AUCs as vertical lines (the
  labels read horizontally, so seven variants and three data sets fit the text column);
* :func:`stalled` -- the runs whose validation AUC never beat its first epoch's: early stopping
  ended them on the plateau at the start of training, before they learned anything;
* :func:`plateau_epochs` -- for each run, the first epoch whose validation AUC reached a level.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

def stalled(records: pd.DataFrame) -> pd.DataFrame:
    """The records (rows of :func:`bst_teach.results.load_records`) whose best epoch is the first:
    no later epoch improved on it, so early stopping ended the run after ``patience`` more.
    Columns: data, variant, seed, best epoch, epochs, best validation AUC, test AUC."""
    cols = ["data", "variant", "seed", "best_epoch", "epochs", "val_auc", "test_auc"]
    if not len(records):
        return pd.DataFrame(columns=cols)
    return records.loc[records["best_epoch"] == 1, cols].reset_index(drop=True)


def plateau_epochs(records: pd.DataFrame, level: float) -> pd.Series:
    """For each record (same index), the first epoch whose validation AUC reached ``level``
    (nan if none did): how long the run stayed on the plateau under it."""
    def first(history):
        return next((h["epoch"] for h in history if h["val_auc"] >= level), np.nan)
    return records["history"].map(first).astype(float)


def plot_positions_records(records: pd.DataFrame, summary: pd.DataFrame, labels: dict[str, str],
                           titles: dict[str, str] | None = None,
                           references: dict[str, dict[str, float]] | None = None,
                           colors: dict[str, str] | None = None, metric: str = "test_auc"):
    """One panel per data set (stacked), one row per variant (``labels``: variant -> row label,
    also the order, top to bottom): a dot per seed (jittered vertically; hollow for a run that
    stalled, see :func:`stalled`), the mean (black bar) and its 95% t-interval (black line),
    reference AUCs as vertical lines with a legend.

    records: :func:`bst_teach.results.load_records`; summary: :func:`bst_teach.results.summary`;
    references: data -> {name: AUC}.
    """
    datasets = list(dict.fromkeys(summary["data"]))
    variants = list(labels)  # the axis spans every dot, interval and reference line
    fig, axes = plt.subplots(len(datasets), 1, figsize=(7.4, 2.55 * len(datasets)),
                             squeeze=False)
    rng = np.random.default_rng(0)
    styles = (":", "--", "-.", (0, (1, 3)))
    for ax, data in zip(axes[:, 0], datasets):
        df = records[records["data"] == data] if len(records) else records
        s = summary[summary["data"] == data].set_index("variant")
        values = []
        for i, v in enumerate(variants):
            color = (colors or {}).get(v, "#2f6db5")
            sel = df[df["variant"] == v] if len(df) else df
            pts = sel[metric].to_numpy() if len(sel) else np.array([])
            hollow = (sel["best_epoch"] == 1).to_numpy() if len(sel) else np.array([], bool)
            values += list(pts)
            y = i + rng.uniform(-0.18, 0.18, len(pts))
            ax.plot(pts[~hollow], y[~hollow], "o", ms=4.5, alpha=0.75, color=color, zorder=3)
            ax.plot(pts[hollow], y[hollow], "o", ms=5, mfc="white", mew=1.3, color=color,
                    zorder=3)  # stalled: the best epoch was the first
            if v in s.index and s.loc[v, "n"] > 1:
                ax.plot([s.loc[v, "lo"], s.loc[v, "hi"]], [i + 0.32] * 2, color="black", lw=1.5)
                values += [s.loc[v, "lo"], s.loc[v, "hi"]]
            if v in s.index and s.loc[v, "n"] > 0:
                ax.plot(s.loc[v, "mean"], i + 0.32, "|", ms=8, mew=2, color="black")
        refs = (references or {}).get(data) or {}
        for (ref, value), ls in zip(refs.items(), styles):
            ax.axvline(value, color="0.35", ls=ls, lw=1, label=f"{ref} {value:.3f}")
            values.append(value)
        if values:
            lo, hi = min(values), max(values)
            pad = max(0.06 * (hi - lo), 0.002)
            ax.set_xlim(lo - pad, hi + pad)
        if refs:
            ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        ax.set_yticks(range(len(variants)), [labels[v] for v in variants], fontsize=8.5)
        ax.set_ylim(len(variants) - 0.4, -0.6)  # first variant on top
        ax.set_title((titles or {}).get(data, data), fontsize=10, loc="left")
        ax.tick_params(axis="x", labelsize=8.5)
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel(metric.replace("_", " ").replace("auc", "AUC"))
    fig.tight_layout()
    return fig
