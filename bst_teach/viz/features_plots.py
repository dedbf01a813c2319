"""Pictures and small helpers for chapter 1 (the ranking problem and its features).

* :func:`feature_table` lists a :class:`~bst_teach.features.Schema` by feature group;
* :func:`decode_sample` turns one encoded MovieLens sample back into readable values;
* :func:`plot_history_lengths` and :func:`plot_positive_rate_over_time` draw the data set;
* :func:`candidate_batch` builds "one user, one moment, many candidates" for a ranking demo.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ..features import PAD

VOCAB_OFFSET = 2  # indices 0 and 1 are padding and out-of-vocabulary


def feature_table(schema) -> pd.DataFrame:
    """One row per model input: group, name, vocabulary size (with PAD and OOV), embedding width.

    The behaviour sequence is listed last: item and category ids of up to ``max_len`` past events,
    embedded with the same tables as the candidate item.
    """
    rows = [{"group": f.group, "feature": f.name, "vocabulary": f.vocab_size,
             "embedding dim": f.embed_dim} for f in schema.features]
    rows.append({"group": "item", "feature": "target item id", "vocabulary": schema.n_items,
                 "embedding dim": None})
    rows.append({"group": "item", "feature": "target category", "vocabulary": schema.n_categories,
                 "embedding dim": None})
    rows.append({"group": "sequence", "feature": f"history: item id, category (x{schema.max_len})",
                 "vocabulary": schema.n_items, "embedding dim": None})
    order = {"user": 0, "item": 1, "context": 2, "cross": 3, "sequence": 4}
    df = pd.DataFrame(rows)
    df["embedding dim"] = [("-" if d is None or pd.isna(d) else str(int(d)))
                           for d in df["embedding dim"]]  # '-': set by the model's config
    return df.sort_values("group", key=lambda g: g.map(order), kind="stable").reset_index(drop=True)


def _decode(index: int, values) -> str:
    if index == PAD:
        return "<pad>"
    if index == 1:
        return "<OOV>"
    return str(values[index - VOCAB_OFFSET])


def decode_sample(dataset, split: str, row: int, titles: pd.DataFrame | None = None,
                  last: int = 5) -> dict:
    """Readable view of one encoded sample: its target, label and last ``last`` behaviours.

    titles: optional DataFrame with item_id and title (``movielens_titles()``) to name the movies.
    """
    s = getattr(dataset, split)
    items, cats = dataset.info["items"], dataset.info["categories"]
    name = (lambda i: _decode(i, items)) if titles is None else (
        lambda i: titles.set_index("item_id")["title"].get(int(_decode(i, items)), "?")
        if i > 1 else _decode(i, items))
    real = np.flatnonzero(s.hist_item[row] != PAD)
    hist = [f"{name(s.hist_item[row, j])} ({_decode(s.hist_cat[row, j], cats)})"
            for j in real[-last:]]
    return {"time": pd.to_datetime(int(s.timestamp[row]), unit="s"),
            "target": f"{name(s.target_item[row])} ({_decode(s.target_cat[row], cats)})",
            "label": int(s.label[row]), "history length": len(real),
            f"last {last} behaviours (oldest first)": hist}


def plot_history_lengths(events: pd.DataFrame, max_len: int, ax=None):
    """Cumulative share of events by how many earlier ratings their user has (log scale), with
    the cap L: a sample keeps only the last ``max_len`` of them."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    earlier = np.sort(events.sort_values(["user_id", "timestamp"]).groupby("user_id").cumcount()
                      .to_numpy())
    share_at_most = np.arange(1, len(earlier) + 1) / len(earlier)
    ax.plot(earlier + 1, share_at_most, color="tab:blue")
    ax.set_xscale("log")
    ax.axvline(max_len + 1, color="k", ls="--", lw=1)
    longer = float((earlier > max_len).mean())
    ax.text(1.3, 0.6, f"{longer:.0%} of the events have more than\n"
            f"L = {max_len} earlier ratings; a sample\nkeeps only the last {max_len}", fontsize=8)
    ax.set_xlabel("1 + earlier ratings by the same user (log scale)")
    ax.set_ylabel("share of events (cumulative)")
    ax.set_ylim(0, 1)
    return ax


def plot_positive_rate_over_time(events: pd.DataFrame, t_val: int, t_test: int, ax=None,
                                 freq: str = "W"):
    """Events per week (bars) and the share of positives (line), with the split cutoffs."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.2))
    ev = events.assign(time=pd.to_datetime(events["timestamp"], unit="s"))
    weekly = ev.set_index("time").resample(freq)["label"].agg(["size", "mean"])
    ax.bar(weekly.index, weekly["size"], width=5, color="lightgray", label="events per week")
    ax.set_ylabel("events per week")
    ax2 = ax.twinx()
    ax2.plot(weekly.index, weekly["mean"], color="tab:red", marker="o", ms=3,
             label="positive rate")
    ax2.set_ylabel("positive rate (rating >= 4)")
    ax2.set_ylim(0, 1)
    for t, name in ((t_val, "validation"), (t_test, "test")):
        x = pd.to_datetime(t, unit="s")
        ax.axvline(x, color="k", ls="--", lw=1)
        ax.text(x, ax.get_ylim()[1] * 0.97, name + " starts ", fontsize=8, va="top", ha="right",
                rotation=90)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    return ax


def candidate_batch(samples, context_row: int, candidate_rows, schema,
                    time_scheme: str = "calendar") -> dict[str, torch.Tensor]:
    """One user at one moment, many candidates: a model batch of ``len(candidate_rows)`` rows.

    Every row copies the user, context and history of sample ``context_row``; the candidate's
    own columns (target item and category, and the item and cross features of the schema) come
    from sample ``candidate_rows[k]``.  Use samples of the same user so that cross features such
    as gender x category stay consistent.
    """
    rows = np.asarray(candidate_rows)
    n = len(rows)
    batch = samples.subset(np.full(n, context_row)).tensors(time_scheme)
    cand = samples.subset(rows).tensors(time_scheme)
    per_item = [i for i, f in enumerate(schema.features) if f.group in ("item", "cross")]
    batch["sparse"][:, per_item] = cand["sparse"][:, per_item]
    for k in ("target_item", "target_cat", "label"):
        batch[k] = cand[k]
    return batch
