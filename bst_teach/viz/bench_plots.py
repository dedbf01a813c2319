"""Tables and plots of the benchmark results for the performance appendix (chapter 9).

Every function reads the tables of ``bst_teach.bench_results()`` (``bench/run.py``'s
``results.json``) as pandas DataFrames and assumes nothing about the values: a model key the
benchmark adds later gets a neutral style and the file's own label.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

# Short names for tables and legends (the file's labels are long; ``models_table`` shows both).
SHORT = {
    "wdl": "WDL",
    "din": "DIN",
    "bst": "BST",
    "bst_full": "BST, full last block",
    "bst_reference": "reference step",
    "bst_shared": "BST, history once",
    "bst2": "BST, 2 blocks",
    "bst2_shared": "BST, 2 blocks, history once",
    "bst_server": "BST, catalogue precomputed",
    "bst2_server": "BST, 2 blocks, catalogue precomputed",
    "rechub_bst": "rechub BST, matched",
    "rechub_bst_shipped": "rechub BST, as shipped",
    "rechub_din": "rechub DIN",
    "deepctr_din": "deepctr DIN",
    "bst_default_init": "BST, N(0, 1) embeddings",
}

# (colour, line style, marker): solid = this package (dotted: our BST computing its whole last
# block, and the reference step in grey), dash-dotted = the history encoded once (stars: with
# the catalogue precomputed), dashed = a peer
STYLE = {"wdl": ("C0", "-", "o"), "din": ("C1", "-", "o"), "bst": ("C2", "-", "o"),
         "bst_full": ("C2", ":", "o"), "bst_reference": ("C7", ":", "x"),
         "bst_shared": ("C2", "-.", "D"), "bst2": ("C6", "-", "o"),
         "bst2_shared": ("C6", "-.", "D"), "bst_server": ("C2", "-.", "*"),
         "bst2_server": ("C6", "-.", "*"), "rechub_bst": ("C3", "--", "s"),
         "rechub_bst_shipped": ("C3", "--", "v"), "rechub_din": ("C4", "--", "s"),
         "deepctr_din": ("C5", "--", "^")}
_DEFAULT_STYLE = ("k", "-", ".")


def short(key: str, labels: dict | None = None) -> str:
    """The short name of a model key; the file's label (or the key) for one not listed."""
    return SHORT.get(key, (labels or {}).get(key, key))


def style(key: str) -> tuple[str, str, str]:
    return STYLE.get(key, _DEFAULT_STYLE)


def labels_of(*tables: pd.DataFrame) -> dict:
    """model key -> the file's label, from every table that has both columns."""
    out = {}
    for t in tables:
        if len(t) and {"model", "label"} <= set(t.columns):
            out.update(dict(zip(t["model"], t["label"])))
    return out


def models_table(train: pd.DataFrame, serve: pd.DataFrame) -> pd.DataFrame:
    """One row per model: its short name, what the benchmark calls it, and its parameters."""
    labels = labels_of(train, serve)
    params = (train.drop_duplicates("model").set_index("model")["parameters"]
              if "parameters" in train else pd.Series(dtype=int))
    rows = [{"model": short(k, labels), "what it is": v,
             "parameters": f"{int(params[k]):,}" if k in params.index else "-"}
            for k, v in labels.items()]
    return pd.DataFrame(rows).set_index("model")


def by_length(df: pd.DataFrame, value: str, fmt=None, index: str = "model") -> pd.DataFrame:
    """``value`` pivoted to one row per model (short names, file order) and one column per L."""
    t = df.pivot(index=index, columns="L", values=value).loc[df[index].unique()]
    if index == "model":
        t.index = [short(k, labels_of(df)) for k in t.index]
    t.columns = [f"L = {L}" for L in t.columns]
    return t.map(fmt) if fmt else t


def log_axes(ax, lengths) -> None:
    """Log-log axes whose x ticks are exactly the measured history lengths."""
    ax.set(xscale="log", yscale="log")
    ax.set_xticks(list(lengths), labels=[str(x) for x in lengths])
    ax.xaxis.set_minor_locator(plt.NullLocator())


def plot_lines(ax, df: pd.DataFrame, y: str, models=None, band: str | None = None,
               scale: float = 1.0) -> None:
    """One line per model of ``y`` against L (optionally a band from ``y`` to ``band``)."""
    labels = labels_of(df)
    for model in (models if models is not None else df["model"].unique()):
        rows = df[df["model"] == model].sort_values("L")
        if not len(rows):
            continue
        color, ls, marker = style(model)
        ax.plot(rows["L"], rows[y] * scale, ls, color=color, marker=marker,
                label=short(model, labels))
        if band:
            ax.fill_between(rows["L"], rows[y] * scale, rows[band] * scale, color=color,
                            alpha=0.12)
    log_axes(ax, sorted(df["L"].unique()))


def at_threads(train: pd.DataFrame, threads: int | None = None) -> pd.DataFrame:
    """The training rows timed on ``threads`` torch threads (default: the first row's count, the
    benchmark's primary one); a table without a "threads" column is returned whole."""
    if "threads" not in train or not len(train):
        return train
    return train[train["threads"] == (train["threads"].iloc[0] if threads is None else threads)]


def threads_table(train: pd.DataFrame) -> pd.DataFrame:
    """Samples/s at each thread count (file order) and the ratio most threads / fewest, one row
    per model (short names, file order) and L."""
    counts = [int(n) for n in train["threads"].unique()]
    lo, hi = min(counts), max(counts)
    t = train.pivot_table(index=["model", "L"], columns="threads", values="samples_per_s")
    t = t.reindex(pd.MultiIndex.from_product([train["model"].unique(), sorted(train["L"].unique())]))
    labels = labels_of(train)
    t.index = pd.MultiIndex.from_tuples([(short(k, labels), L) for k, L in t.index],
                                        names=["model", "L"])
    out = pd.DataFrame({f"{n} thread{'s' * (n > 1)}": t[n] for n in counts})
    out[f"{hi} / {lo} threads"] = t[hi] / t[lo]
    return out


def plot_training(train: pd.DataFrame, threads: int | None = None):
    """Training samples per second against L, every model of the training table, on ``threads``
    torch threads (default: the primary count, see :func:`at_threads`)."""
    fig, ax = plt.subplots(figsize=(9.5, 4.2))
    plot_lines(ax, at_threads(train, threads), "samples_per_s")
    ax.set(xlabel="history length L", ylabel="training samples / s",
           title="Training throughput, batch 256 (solid: this package, dashed: peers)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def plot_flops(serve: pd.DataFrame, models=("bst", "bst_full", "rechub_bst")):
    """MFLOP of one serving pass against L: attention only (left) and the whole pass (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, col, title in zip(axes, ["attention_flops", "flops"],
                              ["attention only (QK^T and AV)", "whole forward pass"]):
        plot_lines(ax, serve, col, models=models, scale=1e-6)
        ax.set(xlabel="history length L", ylabel="MFLOP per pass", title=title)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def loglog_slope(serve: pd.DataFrame, model: str, col: str = "attention_flops",
                 last: int = 3) -> float:
    """Slope of log(col) against log(T) = log(L + 1) over the ``last`` longest lengths."""
    rows = serve[serve["model"] == model].sort_values("L").tail(last)
    return float(np.polyfit(np.log(rows["L"] + 1), np.log(rows[col]), 1)[0])


def plot_serving(serve: pd.DataFrame, models=None, title: str = "", band: bool = True,
                 slope2_of: str | None = None, targets: dict | None = None):
    """p50 latency (line; ``band``: shaded up to p95) of one request against L.

    ``slope2_of``: draw a grey line of slope 2 through that model's p50 at the second-longest L.
    ``targets``: {L: ms} drawn as red crosses.
    """
    fig, ax = plt.subplots(figsize=(9.5, 4.2))
    plot_lines(ax, serve, "p50_ms", models=models, band="p95_ms" if band else None)
    lengths = np.array(sorted(serve["L"].unique()))
    if slope2_of is not None and len(lengths) >= 2:
        at = serve[(serve["model"] == slope2_of) & (serve["L"] == lengths[-2])]["p50_ms"]
        if len(at):
            ax.plot(lengths, float(at.iloc[0]) * (lengths / lengths[-2]) ** 2, color="grey",
                    lw=0.8, label="slope 2 (for reference)")
    if targets:
        ax.plot(list(targets), list(targets.values()), "x", color="C3", ms=9, mew=2,
                label="target (p50)")
    ax.set(xlabel="history length L", ylabel="ms per request", title=title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def plot_busy(busy: pd.DataFrame, target: float = 0.6):
    """Throughput with one busy process / without, one dot per model and L, with the target."""
    labels = labels_of(busy)
    models = list(busy["model"].unique())
    lengths = sorted(busy["L"].unique())
    fig, ax = plt.subplots(figsize=(8, 0.38 * len(models) + 1.4))
    y = np.arange(len(models))[::-1]
    markers = ["o", "s", "^", "D", "v"]
    for j, L in enumerate(lengths):
        rows = busy[busy["L"] == L].set_index("model").reindex(models)
        ax.plot(rows["ratio"], y + 0.15 * (j - (len(lengths) - 1) / 2), markers[j % 5],
                color=f"C{j}", ls="none", label=f"L = {L}")
    ax.axvline(target, color="C3", ls="--", lw=1, label=f"target {target}")
    ax.axvline(1.0, color="grey", ls=":", lw=1, label="no change")
    ax.set_yticks(y, labels=[short(m, labels) for m in models])
    ax.set(xlabel="samples / s with one busy process, divided by samples / s without it",
           xlim=(0, max(1.1, float(busy["ratio"].max()) * 1.05)))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig
