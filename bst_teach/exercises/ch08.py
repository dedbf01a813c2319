"""Checkers for chapter 8 (Real data, end to end).

* :func:`check_chronological_split` -- ``chronological_split(timestamps, val_frac, test_frac)``
  returns three index arrays that cut the time line: nothing in training happens after anything
  in validation or test;
* :func:`check_bootstrap_auc` -- ``bootstrap_auc_ci(y, p, n_boot, alpha, seed)`` returns a
  percentile bootstrap confidence interval ``(low, high)`` of the AUC;
* :func:`check_group_auc` -- ``group_auc(users, labels, scores)`` returns ``(gAUC, n_users)``:
  the per-user AUCs averaged with weights equal to the users' numbers of samples, over the users
  that have both classes (the package's version is :func:`bst_teach.metrics.gauc`).
"""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from . import ExerciseError, checker, passed


# ---------------------------------------------------------------------------------------------
# Chronological split
# ---------------------------------------------------------------------------------------------
def reference_chronological_split(timestamps, val_frac: float = 0.1, test_frac: float = 0.1):
    """Sort by time (stable), then cut: the oldest samples train, the newest test."""
    order = np.argsort(np.asarray(timestamps), kind="stable")
    n = len(order)
    n_train = int(round(n * (1 - val_frac - test_frac)))
    n_val = int(round(n * val_frac))
    return order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]


def _split_case(seed: int, n: int = 1000) -> np.ndarray:
    """Unsorted timestamps with ties (several events in one second, like MovieLens bursts)."""
    rng = np.random.default_rng(seed)
    return rng.integers(1_700_000_000, 1_700_000_000 + n // 2, size=n)


@checker
def check_chronological_split(chronological_split) -> str:
    for seed, (vf, tf) in enumerate([(0.1, 0.1), (0.2, 0.1), (0.1, 0.3)]):
        ts = _split_case(seed)
        n = len(ts)
        try:
            parts = chronological_split(ts, vf, tf)
        except Exception as e:  # noqa: BLE001 - any failure is reported to the student
            raise ExerciseError(f"chronological_split(ts, {vf}, {tf}) raised "
                                f"{type(e).__name__}: {e}") from e
        if not isinstance(parts, (tuple, list)) or len(parts) != 3:
            raise ExerciseError("return three index arrays: (train_idx, val_idx, test_idx)")
        try:
            tr, va, te = (np.asarray(p).astype(np.int64, casting="safe") for p in parts)
        except TypeError as e:
            raise ExerciseError("the three parts must be arrays of integer row indices "
                                "(positions in `timestamps`), not booleans or times") from e
        every = np.concatenate([tr, va, te])
        if len(every) != n or len(np.unique(every)) != n or every.min() < 0 or every.max() >= n:
            raise ExerciseError(f"every one of the {n} rows must be in exactly one part; your "
                                f"parts hold {len(every)} indices, {len(np.unique(every))} "
                                "distinct")
        for name, part, frac in (("validation", va, vf), ("test", te, tf)):
            if abs(len(part) / n - frac) > 0.05:
                raise ExerciseError(f"with {name} fraction {frac} the {name} part holds "
                                    f"{len(part)} of {n} rows ({len(part) / n:.2f})")
        for early, late, a, b in ((tr, va, "training", "validation"), (tr, te, "training", "test"),
                                  (va, te, "validation", "test")):
            if len(early) and len(late) and ts[early].max() > ts[late].min():
                raise ExerciseError(
                    f"a {a} sample at t = {ts[early].max()} comes after a {b} sample at "
                    f"t = {ts[late].min()}: the model would learn from the future it is tested "
                    "on. Sort by timestamp and cut the time line (a random split, or cutting "
                    "the rows in file order, does not).")
    return passed("the three parts cut the time line: train, then validation, then test")


# ---------------------------------------------------------------------------------------------
# Bootstrap confidence interval of the AUC
# ---------------------------------------------------------------------------------------------
def auc(y, p) -> float:
    """ROC AUC by the Mann-Whitney formula: the same number as sklearn's ``roc_auc_score``
    (ties count one half), without its input checks, so it is fast enough to call thousands
    of times.  y: 0/1 labels with both classes present, p: scores."""
    y = np.asarray(y).astype(bool)
    ranks = rankdata(p)
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def reference_bootstrap_auc_ci(y, p, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0):
    """Percentile bootstrap: resample (label, score) pairs with replacement ``n_boot`` times,
    compute the AUC of each resample (skipping one-class resamples), take the alpha/2 and
    1 - alpha/2 quantiles."""
    y, p = np.asarray(y), np.asarray(p)
    rng = np.random.default_rng(seed)
    n = len(y)
    idx = rng.integers(0, n, size=(n_boot, n))  # one resample per row
    yb, pb = y[idx], p[idx]
    # AUC of every resample at once (Mann-Whitney: ranks of the positives, ties averaged);
    # the same numbers as sklearn's roc_auc_score on each row
    ranks = rankdata(pb, axis=1)
    n_pos = yb.sum(axis=1)
    n_neg = n - n_pos
    ok = (n_pos > 0) & (n_neg > 0)  # a one-class resample has no AUC: skip it
    aucs = ((ranks * yb).sum(axis=1) - n_pos * (n_pos + 1) / 2)[ok] / (n_pos * n_neg)[ok]
    low, high = np.quantile(aucs, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _auc_case(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    p = 1 / (1 + np.exp(-(1.0 * y + rng.normal(size=n))))  # AUC about 0.76
    return y, p


@checker
def check_bootstrap_auc(bootstrap_auc_ci, n_boot: int = 2000, tolerance: float = 0.008) -> str:
    y, p = _auc_case()
    full = roc_auc_score(y, p)
    for alpha in (0.05, 0.2):
        ref_low, ref_high = reference_bootstrap_auc_ci(y, p, n_boot=n_boot, alpha=alpha, seed=0)
        try:
            out = bootstrap_auc_ci(y, p, n_boot=n_boot, alpha=alpha, seed=0)
            low, high = (float(v) for v in out)
        except Exception as e:  # noqa: BLE001
            raise ExerciseError(f"bootstrap_auc_ci(y, p, n_boot={n_boot}, alpha={alpha}, seed=0) "
                                f"should return (low, high); it raised {type(e).__name__}: "
                                f"{e}") from e
        width, ref_width = high - low, ref_high - ref_low
        if width < 0.2 * ref_width:
            raise ExerciseError(
                f"your interval ({low:.3f}, {high:.3f}) is almost a point: every bootstrap "
                "replicate must draw n indices *with replacement* (rng.integers(0, n, n)); a "
                "permutation of the rows always has the same AUC")
        if not low <= full <= high:
            raise ExerciseError(
                f"your interval ({low:.3f}, {high:.3f}) does not contain the AUC of the whole "
                f"sample, {full:.3f}: resample (label, score) *pairs* with the same indices; "
                "shuffling scores apart from labels measures a random model (AUC near 0.5)")
        if abs(low - ref_low) > tolerance or abs(high - ref_high) > tolerance:
            hint = ""
            if width < 0.9 * ref_width:
                hint = (f" It is too narrow: for a {1 - alpha:.0%} interval take the "
                        f"{alpha / 2:.1%} and {1 - alpha / 2:.1%} quantiles of the bootstrap AUCs.")
            elif width > 1.1 * ref_width:
                hint = (f" It is too wide: for a {1 - alpha:.0%} interval take the "
                        f"{alpha / 2:.1%} and {1 - alpha / 2:.1%} quantiles of the bootstrap AUCs.")
            raise ExerciseError(f"alpha={alpha}: your interval ({low:.3f}, {high:.3f}) is not "
                                f"close to the expected ({ref_low:.3f}, {ref_high:.3f}).{hint}")
    return passed(f"on {len(y)} samples with AUC {full:.3f} the 95% interval is about "
                  f"{ref_high - ref_low:.2f} wide")


# ---------------------------------------------------------------------------------------------
# gAUC: the AUC of each user, averaged
# ---------------------------------------------------------------------------------------------
def reference_group_auc(users, labels, scores):
    """Each user's AUC (sklearn), weighted by the user's number of samples, over the users
    with both classes; -> (gAUC, number of such users)."""
    users, labels, scores = (np.asarray(a) for a in (users, labels, scores))
    aucs, weights = [], []
    for u in np.unique(users):
        mine = users == u
        if 0 < labels[mine].sum() < mine.sum():  # a user with one class has no AUC
            aucs.append(roc_auc_score(labels[mine], scores[mine]))
            weights.append(mine.sum())
    return float(np.average(aucs, weights=weights)), len(aucs)


def _gauc_case(seed: int):
    """Users with very different numbers of samples and skills, some with one class only, and
    scores with ties; pooled AUC, unweighted mean and weighted mean all differ."""
    rng = np.random.default_rng(seed)
    users, labels, scores = [], [], []
    for u in range(30):
        n = int(rng.choice([2, 5, 40]))
        y = (rng.random(n) < 0.5).astype(int)
        if u % 7 == 0:
            y[:] = u % 2  # a user whose samples are all one class
        skill = 2.0 if n == 40 else -0.5  # the heavy users are ranked well, the light ones badly
        offset = rng.normal(0, 2)  # each user's scores sit at their own level
        p = np.round(offset + skill * y + rng.normal(size=n), 1)  # rounded: ties within a user
        users += [f"u{u}"] * n
        labels.append(y)
        scores.append(p)
    return np.array(users), np.concatenate(labels), np.concatenate(scores)


@checker
def check_group_auc(group_auc) -> str:
    for seed in range(3):
        users, labels, scores = _gauc_case(seed)
        want, n_want = reference_group_auc(users, labels, scores)
        try:
            out = group_auc(users, labels, scores)
            got, n_got = float(out[0]), int(out[1])
        except ValueError as e:
            raise ExerciseError(
                f"group_auc raised ValueError: {e}. Some users have samples of one class only; "
                "they have no AUC and must be left out (check both classes before calling "
                "roc_auc_score)") from e
        except Exception as e:  # noqa: BLE001
            raise ExerciseError(f"group_auc(users, labels, scores) should return (gAUC, n_users); "
                                f"it raised {type(e).__name__}: {e}") from e
        if not np.isfinite(got):
            raise ExerciseError(
                f"your gAUC is {got}: users whose samples are all one class have no AUC; leave "
                "them out instead of averaging a nan")
        if n_got != n_want:
            raise ExerciseError(f"n_users is {n_got}, expected {n_want}: count the users that "
                                "have both positives and negatives (the ones that have an AUC)")
        if abs(got - want) > 1e-9:
            pooled = roc_auc_score(labels, scores)
            uniq = [u for u in np.unique(users) if 0 < labels[users == u].sum() < (users == u).sum()]
            flat = np.mean([roc_auc_score(labels[users == u], scores[users == u]) for u in uniq])
            if abs(got - pooled) < 1e-9:
                hint = (" That is the AUC of all samples pooled; compute one AUC per user, then "
                        "average.")
            elif abs(got - flat) < 1e-9:
                hint = (" That is the plain mean of the users' AUCs; weight each by the user's "
                        "number of samples (impressions).")
            else:
                hint = " Ties count one half (roc_auc_score does that)."
            raise ExerciseError(f"your gAUC is {got:.4f}, expected {want:.4f}.{hint}")
    return passed(f"{n_want} of 30 users have an AUC; their weighted mean is {want:.3f}")
