"""Data sources.  Each ends as a :class:`~bst_teach.data.samples.Dataset`:

* :func:`make_synthetic` -- a seeded task where the order and recency of behaviour matter
  (``"synthetic"``), and its variant where how long ago matters beyond the order
  (``"synthetic-time"``);
* :func:`load_movielens` -- MovieLens-100K, downloaded on request and checksum-verified;
* :func:`load_csv` -- your own interaction logs.
"""
from .csv import load_csv
from .errors import DataError
from .movielens import download_movielens, load_movielens
from .samples import Dataset, Interactions, Samples, build_dataset
from .synthetic import (bayes_auc, make_synthetic, order_blind_ceiling_auc,
                        time_blind_ceiling_auc)

__all__ = ["DataError", "Dataset", "Interactions", "Samples", "bayes_auc", "build_dataset",
           "download_movielens", "load_csv", "load_dataset", "load_movielens", "make_synthetic",
           "order_blind_ceiling_auc", "time_blind_ceiling_auc"]


def load_dataset(source: str = "synthetic", max_len: int = 20, seed: int = 0,
                 data_dir=None, interactions=None, items=None, users=None,
                 positive_threshold=None, download: bool = False,
                 time_scheme: str = "calendar") -> Dataset:
    """One entry point for the sources: ``"synthetic"``, ``"synthetic-time"``, ``"ml-100k"`` or
    ``"csv"``."""
    if source in ("synthetic", "synthetic-time"):
        task = "time" if source == "synthetic-time" else "order"
        return make_synthetic(max_len=max_len, seed=seed, time_scheme=time_scheme, task=task)
    if source == "ml-100k":
        threshold = 4 if positive_threshold is None else positive_threshold
        raw = load_movielens(data_dir, download=download, positive_threshold=threshold)
        return build_dataset(raw, max_len=max_len, time_scheme=time_scheme)
    if source == "csv":
        if interactions is None:
            raise DataError("--data csv needs --interactions FILE")
        raw = load_csv(interactions, items=items, users=users,
                       positive_threshold=positive_threshold)
        return build_dataset(raw, max_len=max_len, time_scheme=time_scheme)
    raise DataError(f"unknown data source {source!r}: use 'synthetic', 'synthetic-time', 'ml-100k' or 'csv'")
