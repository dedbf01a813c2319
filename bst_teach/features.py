"""Feature handling: the schema, vocabularies and time-difference buckets.

The BST paper (Chen et al., 2019, Table 1) groups the inputs of a ranking model as

* **user profile** features (gender, age, city, ...),
* **item** features of the candidate (category, shop, tag, ...),
* **context** features (match type, display position, page, ...),
* **cross** features (age x item, gender x category, ...),
* the **behaviour sequence**: item id, category id and *position* of each past click.

A :class:`Schema` names every categorical feature with its group and vocabulary size, so a model
reads the schema instead of hard-coding column names.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PAD = 0  # index reserved for padding (an empty slot in a short history)
OOV = 1  # index reserved for values never seen while fitting the vocabulary

GROUPS = ("user", "item", "context", "cross")


@dataclass(frozen=True)
class Feature:
    """One categorical (sparse) feature: a column of ``Samples.sparse``."""

    name: str
    group: str  # one of GROUPS
    vocab_size: int  # including PAD and OOV
    embed_dim: int = 8

    def __post_init__(self):
        if self.group not in GROUPS:
            raise ValueError(f"feature {self.name!r}: group must be one of {GROUPS}, got {self.group!r}")


@dataclass(frozen=True)
class Schema:
    """Everything a model needs to size its embeddings.

    ``features`` are the non-sequence columns, in the order of ``Samples.sparse``.
    The behaviour sequence shares its item and category vocabularies with the target item.
    """

    features: tuple[Feature, ...]
    n_items: int  # item vocabulary size, including PAD and OOV
    n_categories: int  # category vocabulary size, including PAD and OOV
    max_len: int  # L, the longest history kept
    n_time_buckets: int = field(default=0)  # filled in from the bucket scheme

    def group(self, name: str) -> list[Feature]:
        return [f for f in self.features if f.group == name]

    def to_dict(self) -> dict:
        return {
            "features": [vars(f).copy() for f in self.features],
            "n_items": self.n_items,
            "n_categories": self.n_categories,
            "max_len": self.max_len,
            "n_time_buckets": self.n_time_buckets,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Schema":
        return cls(
            features=tuple(Feature(**f) for f in d["features"]),
            n_items=d["n_items"],
            n_categories=d["n_categories"],
            max_len=d["max_len"],
            n_time_buckets=d["n_time_buckets"],
        )


class Vocabulary:
    """Maps raw values (ids, strings) to contiguous indices; 0 is padding, 1 is out-of-vocabulary.

    >>> v = Vocabulary.fit(["b", "a", "b"])
    >>> v.encode(["a", "b", "zzz"]).tolist()
    [2, 3, 1]
    """

    def __init__(self, values):
        self.values = list(values)
        self.index = {v: i + 2 for i, v in enumerate(self.values)}

    @classmethod
    def fit(cls, raw) -> "Vocabulary":
        return cls(sorted(set(raw), key=lambda v: (str(type(v)), v)))

    def __len__(self) -> int:
        return len(self.values) + 2

    def encode(self, raw) -> np.ndarray:
        return np.fromiter((self.index.get(v, OOV) for v in raw), dtype=np.int64, count=len(raw))


# ---------------------------------------------------------------------------------------------
# Time positions.  The paper defines pos(v_i) = t(v_t) - t(v_i): how long before the moment of
# recommendation each behaviour happened.  A raw number of seconds cannot index an embedding table
# (one row per possible second would be hundreds of millions of rows, each seen about once), so we
# bucket it.  Bucket 0 is padding; bucket 1 holds the target item itself (gap 0, "now").
# ---------------------------------------------------------------------------------------------
MINUTE, HOUR, DAY = 60, 3600, 86400
WEEK, MONTH, YEAR = 7 * DAY, 30 * DAY, 365 * DAY

# Upper edges (exclusive) of the calendar buckets, in seconds.
CALENDAR_EDGES = (HOUR, DAY, 3 * DAY, WEEK, 2 * WEEK, MONTH, 3 * MONTH, 6 * MONTH, YEAR)
CALENDAR_LABELS = ("< 1 hour", "< 1 day", "< 3 days", "< 1 week", "< 2 weeks", "< 1 month",
                   "< 3 months", "< 6 months", "< 1 year", ">= 1 year")
N_LOG_BUCKETS = 16  # log2 buckets over minutes: [0,1), [1,2), [2,4), ... minutes, last one open


def n_time_buckets(scheme: str = "calendar") -> int:
    """Size of the time-position vocabulary: padding + target + the gap buckets."""
    if scheme == "calendar":
        return 2 + len(CALENDAR_EDGES) + 1
    if scheme == "log":
        return 2 + N_LOG_BUCKETS
    raise ValueError(f"unknown time bucket scheme {scheme!r}: use 'calendar' or 'log'")


def bucket_labels(scheme: str = "calendar") -> list[str]:
    """Human-readable name of every bucket index (index 0 = padding, 1 = the target)."""
    if scheme == "calendar":
        gaps = list(CALENDAR_LABELS)
    elif scheme == "log":
        gaps = ["< 1 min"] + [f"< {2 ** k} min" for k in range(1, N_LOG_BUCKETS - 1)]
        gaps.append(f">= {2 ** (N_LOG_BUCKETS - 2)} min")
    else:
        raise ValueError(f"unknown time bucket scheme {scheme!r}: use 'calendar' or 'log'")
    return ["padding", "target"] + gaps


def bucketize_gaps(gaps_seconds, mask, scheme: str = "calendar") -> np.ndarray:
    """Map time gaps t(target) - t(behaviour) to bucket indices.

    gaps_seconds: (N, L) non-negative seconds;  mask: (N, L) True where a real behaviour sits.
    Returns (N, L) int64 with 0 at padding and 2.. for real behaviours.
    """
    gaps = np.asarray(gaps_seconds, dtype=np.float64)
    if np.any(gaps[mask] < 0):
        raise ValueError("a behaviour happened after its target: time gaps must be >= 0")
    if scheme == "calendar":
        idx = np.searchsorted(np.asarray(CALENDAR_EDGES, dtype=np.float64), gaps, side="right")
    elif scheme == "log":
        minutes = np.maximum(gaps, 0) / MINUTE
        idx = np.where(minutes < 1, 0, np.floor(np.log2(np.maximum(minutes, 1))) + 1)
        idx = np.minimum(idx, N_LOG_BUCKETS - 1).astype(np.int64)
    else:
        raise ValueError(f"unknown time bucket scheme {scheme!r}: use 'calendar' or 'log'")
    return np.where(mask, idx + 2, PAD).astype(np.int64)
