"""Data sources.  Each ends as a :class:`~bst_teach.data.samples.Dataset`:

* :func:`make_synthetic` -- a seeded task where the order and recency of behaviour matter
  (``"synthetic"``), and its variant where how long ago matters beyond the order
  (``"synthetic-time"``);
* :func:`load_movielens` -- MovieLens-100K, downloaded on request and checksum-verified;
* :func:`load_movielens_large` -- MovieLens-1M and -20M from their official archives (the same);
* :func:`load_csv` -- your own interaction logs.
"""
import inspect

from .csv import load_csv
from .errors import DataError
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
                 time_scheme: str = "calendar") -> Dataset:
    """One entry point for the sources: ``"synthetic"``, ``"synthetic-time"``, ``"ml-100k"``,
    ``"ml-1m"``, ``"ml-20m"`` or ``"csv"``.  The two larger MovieLens releases are built
    with :func:`build_dataset_chunked` (the same samples, less memory); ``data_dir`` is then the
    folder holding their zip (default ``$BST_TEACH_MOVIELENS`` or ``data/``).

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
        return build_dataset(raw, max_len=max_len, time_scheme=time_scheme)
    if source in ("ml-1m", "ml-20m"):
        threshold = 4 if positive_threshold is None else positive_threshold
        raw = load_movielens_large(source, data_dir, download=download,
                                   positive_threshold=threshold)
        return build_dataset_chunked(raw, max_len=max_len, time_scheme=time_scheme)
    if interactions is None:
        raise DataError("--data csv needs --interactions FILE")
    raw = load_csv(interactions, items=items, users=users, positive_threshold=positive_threshold)
    return build_dataset(raw, max_len=max_len, time_scheme=time_scheme)
