"""Chapter 8's picture of one log under several labelings (the rating protocol and the next-item
protocol with sampled negatives).

* :func:`plot_protocols` -- one panel per metric (AUC, gAUC); for each labeling, the trained
  models' seeds as dots, their mean with its 95% interval, and the baselines that need no
  training as short horizontal marks.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..results import t_interval
from .results_plots import MODEL_COLORS

BASELINE_STYLES = {"popularity": dict(color="black", ls="--"),
                   "history similarity": dict(color="#c2571a", ls=":")}


def plot_protocols(runs: pd.DataFrame, baselines: pd.DataFrame, labelings: list[str],
                   models: dict[str, str], metrics: dict[str, str]):
    """runs: columns ``labeling``, ``model``, ``seed`` and one column per key of ``metrics``;
    baselines: columns ``labeling``, ``baseline`` (a key of BASELINE_STYLES) and the metric
    columns.  ``models`` and ``metrics`` map column values to the names shown (and set their
    order); ``labelings`` sets the order of the groups on the x axis."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 4.2), sharey=True)
    axes = np.atleast_1d(axes)
    width = 0.8 / len(models)
    rng = np.random.default_rng(0)  # jitter of the seed dots only
    for ax, (metric, metric_name) in zip(axes, metrics.items()):
        for i, labeling in enumerate(labelings):
            for j, (model, model_name) in enumerate(models.items()):
                x = i + (j - (len(models) - 1) / 2) * width
                values = runs[(runs["labeling"] == labeling) & (runs["model"] == model)][metric]
                mean, lo, hi = t_interval(values)
                color = MODEL_COLORS.get(model, "gray")
                ax.scatter(x + rng.uniform(-0.15, 0.15, len(values)) * width, values, s=10,
                           color=color, alpha=0.6, zorder=3)
                ax.errorbar(x, mean, yerr=[[mean - lo], [hi - mean]], fmt="_", ms=12,
                            color=color, ecolor="black", capsize=3, zorder=4,
                            label=model_name if i == 0 else None)
            half = 0.45
            for _, row in baselines[baselines["labeling"] == labeling].iterrows():
                style = BASELINE_STYLES[row["baseline"]]
                ax.hlines(row[metric], i - half, i + half, lw=1.4, **style,
                          label=row["baseline"] if i == 0 else None)
        ax.set_xticks(range(len(labelings)))
        ax.set_xticklabels(labelings, fontsize=9)
        ax.set(title=f"Test {metric_name}", ylabel=f"test {metric_name}")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig
