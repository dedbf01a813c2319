"""Tables and pictures of an experiment's records (chapters 4 and 5).

The numbers come from :mod:`bst_teach.results` (``summary``, ``paired_difference``,
``load_records``); these helpers only arrange them for the page:

* :func:`interval_table` -- one row per variant, one column per data set, each cell
  "mean [lo, hi]" (the 95% t-interval over seeds);
* :func:`paired` -- ``paired_difference``, or nan while fewer than two paired seeds exist;
* :func:`paired_table` -- the paired difference of chosen pairs of variants over seeds, with
  the verdict it supports ("A beats B" only where the interval excludes zero);
* :func:`verdict` -- that verdict as a sentence for the prose;
* :func:`plot_seed_dots` -- one dot per seed, the mean and its interval, one panel per data set.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..results import load_records, paired_difference


def interval_table(summary: pd.DataFrame, labels: dict[str, str] | None = None,
                   digits: int = 3) -> pd.DataFrame:
    """Variants as rows, data sets as columns, cells "mean [lo, hi]" (``summary`` as returned by
    :func:`bst_teach.results.summary`); ``labels`` renames variants (and sets their order)."""
    s = summary.copy()
    f = f"{{:.{digits}f}}"
    s["cell"] = [f"{f.format(m)} [{f.format(lo)}, {f.format(hi)}]" if n > 1 else
                 (f.format(m) if n == 1 else "-")
                 for m, lo, hi, n in zip(s["mean"], s["lo"], s["hi"], s["n"])]
    table = s.pivot(index="variant", columns="data", values="cell")
    table = table.reindex(index=list(dict.fromkeys(s["variant"])),
                          columns=list(dict.fromkeys(s["data"])))
    if labels:
        table = table.reindex(list(labels)).rename(index=labels)
    table.index.name, table.columns.name = "variant", None
    return table


def verdict(a: str, b: str, diff: tuple[float, float, float], digits: int = 3) -> str:
    """"a beats b by ..." where the paired interval excludes zero, else "cannot be told apart"."""
    mean, lo, hi = diff
    if not np.isfinite([mean, lo, hi]).all():
        return f"{a} and {b} have fewer than two paired seeds recorded: no verdict"
    bound = lo if lo > 0 else -hi if hi < 0 else None  # the bound that decides a "beats"
    while bound is not None and digits < 6 and round(bound, digits) == 0:
        digits += 1  # so a winning interval never reads [0.000, ...]
    f = f"{{:.{digits}f}}"
    interval = f"{f.format(mean)} AUC, 95% interval [{f.format(lo)}, {f.format(hi)}]"
    if lo > 0:
        return f"{a} beats {b} by {interval}"
    if hi < 0:
        return f"{b} beats {a} by {f.format(-mean)} AUC, 95% interval " \
               f"[{f.format(-hi)}, {f.format(-lo)}]"
    return f"{a} and {b} cannot be told apart ({a} minus {b}: {interval})"


def paired(name: str, a: str, b: str, data: str) -> tuple[float, float, float]:
    """:func:`bst_teach.results.paired_difference`, or (nan, nan, nan) while fewer than two
    paired seeds of ``a`` and ``b`` are recorded (so an incomplete experiment reads as "no
    verdict" instead of failing)."""
    df = load_records(name)
    if not len(df):
        return (float("nan"),) * 3
    seeds = [set(df[(df["data"] == data) & (df["variant"] == v)]["seed"]) for v in (a, b)]
    if len(seeds[0] & seeds[1]) < 2:
        return (float("nan"),) * 3
    return paired_difference(name, a, b, data)


def paired_table(name: str, pairs: list[tuple[str, str, str]],
                 labels: dict[str, str] | None = None, digits: int = 3) -> pd.DataFrame:
    """One row per (data, a, b): mean difference a - b over paired seeds, its 95% interval, the
    number of paired seeds and the verdict ("a > b", "b > a" or "cannot tell")."""
    labels = labels or {}
    rows = []
    for data, a, b in pairs:
        mean, lo, hi = paired(name, a, b, data)
        word = ("a > b" if lo > 0 else "b > a" if hi < 0 else "cannot tell"
                if np.isfinite([lo, hi]).all() else "too few seeds")
        rows.append({"data": data, "a": labels.get(a, a), "b": labels.get(b, b),
                     "a - b": round(mean, digits), "lo": round(lo, digits),
                     "hi": round(hi, digits), "verdict": word})
    return pd.DataFrame(rows)


def plot_seed_dots(records: pd.DataFrame, summary: pd.DataFrame,
                   labels: dict[str, str] | None = None,
                   titles: dict[str, str] | None = None,
                   references: dict[str, dict[str, float]] | None = None,
                   colors: dict[str, str] | None = None, panel_width: float = 4.2,
                   metric: str = "test_auc"):
    """One panel per data set: a dot per seed (jittered), the mean as a bar-free marker with its
    95% interval as a vertical line, and reference AUCs as horizontal lines.

    records: :func:`bst_teach.results.load_records`; summary: :func:`bst_teach.results.summary`;
    labels: variant -> tick label (also the order); references: data -> {name: AUC}.
    """
    datasets = list(dict.fromkeys(summary["data"]))
    variants = list(labels or dict.fromkeys(summary["variant"]))
    labels = labels or {v: v for v in variants}
    fig, axes = plt.subplots(1, len(datasets), figsize=(panel_width * len(datasets), 4.0),
                             squeeze=False)
    rng = np.random.default_rng(0)
    for ax, data in zip(axes[0], datasets):
        df = records[records["data"] == data] if len(records) else records
        s = summary[summary["data"] == data].set_index("variant")
        values = []
        for i, v in enumerate(variants):
            color = (colors or {}).get(v, "#2f6db5")
            pts = df.loc[df["variant"] == v, metric].to_numpy() if len(df) else np.array([])
            values += list(pts)
            ax.plot(i + rng.uniform(-0.16, 0.16, len(pts)), pts, "o", ms=4.5, alpha=0.75,
                    color=color, zorder=3)
            if v in s.index and s.loc[v, "n"] > 1:
                ax.plot([i + 0.28] * 2, [s.loc[v, "lo"], s.loc[v, "hi"]], color="black", lw=1.5)
            if v in s.index and s.loc[v, "n"] > 0:
                ax.plot(i + 0.28, s.loc[v, "mean"], "_", ms=12, mew=2, color="black")
        styles = iter([":", "--", "-.", (0, (1, 3))])
        for ref, value in ((references or {}).get(data) or {}).items():
            ax.axhline(value, color="0.35", ls=next(styles), lw=1, label=f"{ref} {value:.3f}")
            values.append(value)
        if values:
            lo, hi = min(values), max(values)
            pad = max(0.1 * (hi - lo), 0.005)
            ax.set_ylim(lo - pad, hi + pad)
        if (references or {}).get(data):
            ax.legend(fontsize=7, loc="lower right", framealpha=0.9)
        ax.set_xticks(range(len(variants)), [labels[v] for v in variants], rotation=35,
                      ha="right", fontsize=8)
        ax.set_xlim(-0.5, len(variants) - 0.3)
        ax.set_title((titles or {}).get(data, data), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(metric.replace("_", " ").replace("auc", "AUC"))
    fig.tight_layout()
    return fig


def plot_histories(records: pd.DataFrame, labels: dict[str, str], colors: dict[str, str],
                   key: str = "val_auc", reference: dict[str, float] | None = None):
    """``key`` per epoch of every recorded run (one thin line per seed, one colour per variant),
    with each run's best epoch marked: what early stopping saw."""
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for v, label in labels.items():
        runs = records[records["variant"] == v] if len(records) else records
        for k, (_, run) in enumerate(runs.iterrows()):
            h = pd.DataFrame(run["history"])
            ax.plot(h["epoch"], h[key], color=colors.get(v, "gray"), lw=1, alpha=0.8,
                    label=label if k == 0 else None)
            best = h.loc[h["epoch"] == run["best_epoch"], key]
            ax.plot([run["best_epoch"]] * len(best), best, "o", ms=4, color=colors.get(v, "gray"))
    for (name, value), ls in zip((reference or {}).items(), (":", "--", "-.")):
        ax.axhline(value, color="0.35", ls=ls, lw=1, label=f"{name} {value:.3f}")
    ax.set(xlabel="epoch", ylabel={"val_auc": "validation AUC"}.get(key, key.replace("_", " ")))
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
