"""Data sources.  Each ends as a :class:`~bst_teach.data.samples.Dataset`:

* :func:`make_synthetic` -- a seeded task where the order and recency of behaviour matter
  (``"synthetic"``), and its variant where how long ago matters beyond the order
  (``"synthetic-time"``);
* :func:`load_movielens` -- MovieLens-100K, downloaded on request and checksum-verified;
* :func:`load_movielens_large` -- MovieLens-1M and -20M from their official archives (the same);
* :func:`load_csv` -- your own interaction logs.

Logs of positives only (clicks, purchases: a CSV without labels, or MovieLens read with the
``"next-item"`` protocol, every rating an interaction) get sampled negatives
(:mod:`bst_teach.data.negatives`).
"""
import inspect

from .csv import load_csv
from .errors import DataError
from .negatives import SCHEMES as NEGATIVE_SAMPLING
from .movielens import (download_movielens, download_movielens_archive, load_movielens,
                        load_movielens_large)
from .samples import (Dataset, Interactions, Samples, build_dataset, build_dataset_chunked,
                      check_history_size, check_splits)
from .synthetic import (bayes_auc, make_synthetic, order_blind_ceiling_auc,
                        time_blind_ceiling_auc)

__all__ = ["DataError", "Dataset", "Interactions", "Samples", "bayes_auc", "build_dataset",
           "build_dataset_chunked", "download_movielens", "download_movielens_archive", "load_csv",
           "load_dataset", "load_movielens", "load_movielens_large", "make_synthetic",
           "order_blind_ceiling_auc", "time_blind_ceiling_auc"]


def load_dataset(source: str = "synthetic", max_len: int = 20, seed: int = 0,
                 data_dir=None, interactions=None, items=None, users=None,
                 positive_threshold=None, download: bool = False,
                 time_scheme: str = "calendar", protocol: str = "rating",
                 negatives: int | None = None, negative_sampling: str = "uniform") -> Dataset:
    """One entry point for the sources: ``"synthetic"``, ``"synthetic-time"``, ``"ml-100k"``,
    ``"ml-1m"``, ``"ml-20m"`` or ``"csv"``.  The two larger MovieLens releases are built
    with :func:`build_dataset_chunked` (the same samples, less memory); ``data_dir`` is then the
    folder holding their zip (default ``$BST_TEACH_MOVIELENS`` or ``data/``).

    Labels (``protocol``, MovieLens only): ``"rating"`` -- a rating >= ``positive_threshold``
    (default 4) is a positive, the others negatives; ``"next-item"`` -- every rating is a
    positive (the user chose to watch the film) and ``negatives`` (default 1) items the user had
    not rated by then are sampled per event, by ``negative_sampling`` ("uniform" or
    "popularity"), seeded by ``seed``.  A CSV of positives only takes ``negatives`` too.

    Arguments that do not apply to ``source`` are refused rather than ignored (a file named for
    ``"synthetic"`` would otherwise never be read).  Every split is checked
    (:func:`~bst_teach.data.samples.check_splits`) before the data set is returned.
    """
    given = {"data_dir": data_dir, "download": download or None, "interactions": interactions,
             "items": items, "users": users, "positive_threshold": positive_threshold}
    applies = {"synthetic": (), "synthetic-time": (),
               "ml-100k": ("data_dir", "download", "positive_threshold"),
               "ml-1m": ("data_dir", "download", "positive_threshold"),
               "ml-20m": ("data_dir", "download", "positive_threshold"),
               "csv": ("interactions", "items", "users", "positive_threshold")}
    if source not in applies:
        raise DataError(f"unknown data source {source!r}: use 'synthetic', 'synthetic-time', "
                        f"'ml-100k', 'ml-1m', 'ml-20m' or 'csv'")
    extra = [k for k, v in given.items() if v is not None and k not in applies[source]]
    if extra:
        raise DataError(f"{', '.join(extra)} {'does' if len(extra) == 1 else 'do'} not apply "
                        f"to data source {source!r} (it would be ignored)")
    sampled = _negative_options(source, protocol, negatives, negative_sampling, positive_threshold)
    if sampled:
        sampled["negative_seed"] = seed
    if source in ("synthetic", "synthetic-time"):
        if max_len < 8:
            raise DataError(f"the synthetic task needs max_len >= 8 (its histories hold 8 to "
                            f"max_len behaviours), got {max_len}")
        sizes = inspect.signature(make_synthetic).parameters  # the default split sizes
        n = sum(sizes[k].default for k in ("n_train", "n_val", "n_test"))
        check_history_size(n, max_len, source)
        task = "time" if source == "synthetic-time" else "order"
        data = make_synthetic(max_len=max_len, seed=seed, time_scheme=time_scheme, task=task)
        check_splits(data)
        return data
    if source == "ml-100k":
        threshold = 4 if positive_threshold is None else positive_threshold
        raw = load_movielens(data_dir, download=download, positive_threshold=threshold)
        if protocol == "next-item":
            raw.events["label"] = 1
        return build_dataset(raw, max_len=max_len, time_scheme=time_scheme, **sampled)
    if source in ("ml-1m", "ml-20m"):
        threshold = 4 if positive_threshold is None else positive_threshold
        raw = load_movielens_large(source, data_dir, download=download,
                                   positive_threshold=threshold)
        return build_dataset_chunked(raw, max_len=max_len, time_scheme=time_scheme)
    if interactions is None:
        raise DataError("--data csv needs --interactions FILE")
    raw = load_csv(interactions, items=items, users=users, positive_threshold=positive_threshold)
    return build_dataset(raw, max_len=max_len, time_scheme=time_scheme, **sampled)


PROTOCOLS = ("rating", "next-item")


def _negative_options(source, protocol, negatives, negative_sampling, positive_threshold) -> dict:
    """build_dataset's sampling arguments for these settings ({} for none); settings that do not
    go together are refused."""
    if protocol not in PROTOCOLS:
        raise DataError(f"unknown protocol {protocol!r}: use 'rating' or 'next-item'")
    if negative_sampling not in NEGATIVE_SAMPLING:
        raise DataError(f"unknown negative sampling {negative_sampling!r}: use 'uniform' or "
                        f"'popularity'")
    if protocol == "next-item" and source != "ml-100k":
        raise DataError(f"the next-item protocol is for MovieLens-100K (ml-100k), not {source!r}"
                        + ("; a CSV of positives only takes negatives directly" if source == "csv"
                           else ""))
    if protocol == "next-item":
        if positive_threshold is not None:
            raise DataError("positive_threshold does not apply to the next-item protocol (every "
                            "rating is a positive)")
        negatives = 1 if negatives is None else negatives
    if negatives is None:
        if negative_sampling != "uniform":
            raise DataError("negative sampling applies only with sampled negatives (negatives "
                            "or the next-item protocol)")
        return {}
    if source not in ("ml-100k", "csv") or (source == "ml-100k" and protocol != "next-item"):
        raise DataError(f"sampled negatives apply to a CSV of positives only or to ml-100k with "
                        f"the next-item protocol, not to {source!r}"
                        + (" with the rating protocol" if source == "ml-100k" else ""))
    if isinstance(negatives, bool) or not isinstance(negatives, int) or negatives < 1:
        raise DataError(f"negatives must be a positive integer, got {negatives!r}")
    return {"negatives": negatives, "negative_sampling": negative_sampling}
