"""gAUC (bst_teach.metrics.gauc) against a plain per-user loop of scikit-learn's roc_auc_score."""
import time

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from bst_teach.metrics import gauc


def gauc_by_loop(users, labels, scores):
    num = den = n_users = 0
    for u in np.unique(users):
        m = users == u
        if len(np.unique(labels[m])) == 2:
            num += roc_auc_score(labels[m], scores[m]) * m.sum()
            den += m.sum()
            n_users += 1
    return num / den, n_users


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_a_per_user_loop_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = 5000
    users = rng.integers(0, 400, n)
    labels = rng.integers(0, 2, n)
    scores = np.round(rng.random(n) + 0.3 * labels, 1)  # coarse: many ties
    got, n_users = gauc(users, labels, scores)
    want, want_users = gauc_by_loop(users, labels, scores)
    assert n_users == want_users and got == pytest.approx(want, abs=1e-12)


def test_string_users_and_users_with_one_class_are_skipped():
    users = np.array(["a", "a", "a", "b", "b", "c"])
    labels = np.array([1, 0, 0, 1, 1, 0])
    scores = np.array([0.9, 0.1, 0.95, 0.2, 0.3, 0.5])
    g, k = gauc(users, labels, scores)
    assert k == 1 and g == pytest.approx(0.5)  # only user a: one of two pairs ranked right


def test_weighting_by_impressions():
    users = np.array([0, 0, 0, 0, 1, 1])
    labels = np.array([1, 0, 1, 0, 1, 0])
    scores = np.array([0.9, 0.1, 0.8, 0.2, 0.1, 0.9])  # user 0: AUC 1, user 1: AUC 0
    assert gauc(users, labels, scores) == (pytest.approx(4 / 6), 2)


def test_undefined_without_any_user_of_both_classes():
    g, k = gauc([1, 2], [1, 0], [0.3, 0.4])
    assert np.isnan(g) and k == 0
    with pytest.raises(ValueError, match="differ in length"):
        gauc([1, 2], [1], [0.3, 0.4])


def test_100k_samples_in_well_under_a_second_printed():
    rng = np.random.default_rng(0)
    n = 100_000
    users, labels, scores = rng.integers(0, 10_000, n), rng.integers(0, 2, n), rng.random(n)
    start = time.perf_counter()
    gauc(users, labels, scores)
    print(f"gauc over {n:,} samples, 10,000 users: {time.perf_counter() - start:.3f} s")
