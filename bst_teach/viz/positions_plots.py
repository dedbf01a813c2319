"""Chapter 4's record pictures: every run of the ``positions`` experiment, and how each run ended.

* :func:`plot_positions_records` -- one panel per data set, stacked, variants as rows: a dot per
  seed, the mean over seeds with its 95% interval, reference AUCs as vertical lines (the
  labels read horizontally, so seven variants and three data sets fit the text column); hollow
  dots mark chosen runs (by default those still improving at their last epoch);
* :func:`patience_stops` -- where early stopping by patience alone, with no minimum number of
  epochs, would have ended each run, read from its history;
* :func:`plateau_epochs` -- for each run, the first epoch whose validation AUC reached a level.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def patience_stop(history: list[dict], patience: int) -> tuple[float, int, float]:
    """(epoch, best epoch, best validation AUC) at which early stopping with ``patience`` and no
    minimum number of epochs would have ended a run with this ``history`` (the rule of
    ``bst_teach.train.fit``: stop once ``patience`` epochs in a row brought no better validation
    AUC); epoch is nan if that never happened within the history.  The history up to that
    epoch does not depend on the stopping rule, so this reads the counterfactual off a record."""
    best, best_epoch, stale = -1.0, 0, 0
    for h in history:
        if h["val_auc"] > best:
            best, best_epoch, stale = h["val_auc"], h["epoch"], 0
        else:
            stale += 1
            if stale >= patience:
                return float(h["epoch"]), best_epoch, best
    return float("nan"), best_epoch, best


def patience_stops(records: pd.DataFrame, patience: int) -> pd.DataFrame:
    """For each record (rows of :func:`bst_teach.results.load_records`, same index):
    ``patience_stop`` of its history as columns ``stop_epoch``, ``stop_best_epoch`` and
    ``stop_val_auc``, next to data, variant, seed, best_epoch, epochs, val_auc, test_auc."""
    cols = ["data", "variant", "seed", "best_epoch", "epochs", "val_auc", "test_auc"]
    stops = pd.DataFrame([patience_stop(h, patience) for h in records["history"]],
                         index=records.index,
                         columns=["stop_epoch", "stop_best_epoch", "stop_val_auc"])
    return pd.concat([records[cols], stops], axis=1)


def plateau_epochs(records: pd.DataFrame, level: float) -> pd.Series:
    """For each record (same index), the first epoch whose validation AUC reached ``level``
    (nan if none did): how long the run stayed on the plateau under it."""
    def first(history):
        return next((h["epoch"] for h in history if h["val_auc"] >= level), np.nan)
    return records["history"].map(first).astype(float)


def plot_positions_records(records: pd.DataFrame, summary: pd.DataFrame, labels: dict[str, str],
                           titles: dict[str, str] | None = None,
                           references: dict[str, dict[str, float]] | None = None,
                           colors: dict[str, str] | None = None, metric: str = "test_auc",
                           hollow: pd.Series | None = None):
    """One panel per data set (stacked), one row per variant (``labels``: variant -> row label,
    also the order, top to bottom): a dot per seed (jittered vertically; hollow where ``hollow``,
    a boolean Series on the records' index, is True; by default the runs whose best epoch was
    their last, still improving when training ended), the mean (black bar) and its 95%
    t-interval (black line), reference AUCs as vertical lines with a legend.

    records: :func:`bst_teach.results.load_records`; summary: :func:`bst_teach.results.summary`;
    references: data -> {name: AUC}.
    """
    if hollow is None and len(records):
        hollow = records["best_epoch"] == records["epochs"]
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
            hollow_v = (hollow.loc[sel.index].to_numpy(bool) if len(sel)
                        else np.array([], bool))
            values += list(pts)
            y = i + rng.uniform(-0.18, 0.18, len(pts))
            ax.plot(pts[~hollow_v], y[~hollow_v], "o", ms=4.5, alpha=0.75, color=color,
                    zorder=3)
            ax.plot(pts[hollow_v], y[hollow_v], "o", ms=5, mfc="white", mew=1.3, color=color,
                    zorder=3)
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
