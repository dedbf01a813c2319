"""The chapter 8 checkers accept the reference answers and reject typical wrong ones with a
message that says what is wrong."""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from bst_teach.data.samples import chronological_cutoffs
from bst_teach.exercises import ExerciseError
from bst_teach.exercises.ch08 import (_gauc_case, auc, check_bootstrap_auc,
                                      check_chronological_split, check_group_auc,
                                      reference_bootstrap_auc_ci, reference_chronological_split,
                                      reference_group_auc)
from bst_teach.metrics import gauc


def test_split_accepts_reference():
    assert check_chronological_split(reference_chronological_split).startswith("Correct")


def test_split_accepts_cutoff_times_like_the_package():
    def by_cutoffs(ts, vf, tf):
        t_val, t_test = chronological_cutoffs(ts, vf, tf)
        ts = np.asarray(ts)
        return (np.flatnonzero(ts < t_val), np.flatnonzero((ts >= t_val) & (ts < t_test)),
                np.flatnonzero(ts >= t_test))
    assert check_chronological_split(by_cutoffs).startswith("Correct")


def test_split_rejects_random_split():
    def random_split(ts, vf, tf):
        idx = np.random.default_rng(0).permutation(len(ts))
        a, b = int(len(ts) * (1 - vf - tf)), int(len(ts) * (1 - tf))
        return idx[:a], idx[a:b], idx[b:]
    with pytest.raises(ExerciseError, match="comes after"):
        check_chronological_split.strict(random_split)


def test_split_rejects_file_order_cut():
    def file_order(ts, vf, tf):
        idx = np.arange(len(ts))
        a, b = int(len(ts) * (1 - vf - tf)), int(len(ts) * (1 - tf))
        return idx[:a], idx[a:b], idx[b:]
    with pytest.raises(ExerciseError, match="Sort by timestamp"):
        check_chronological_split.strict(file_order)


def test_split_rejects_overlap():
    def overlap(ts, vf, tf):
        tr, va, te = reference_chronological_split(ts, vf, tf)
        return np.concatenate([tr, va[:5]]), va, te
    with pytest.raises(ExerciseError, match="exactly one part"):
        check_chronological_split.strict(overlap)


def test_fast_auc_equals_sklearn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    p = rng.integers(0, 10, 200) / 10  # with ties
    assert auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)


def test_bootstrap_accepts_reference():
    assert check_bootstrap_auc(reference_bootstrap_auc_ci).startswith("Correct")


def test_bootstrap_accepts_another_rng_use():
    """A correct answer that draws its indices differently is within the tolerance."""
    def other(y, p, n_boot=1000, alpha=0.05, seed=0):
        rng = np.random.RandomState(seed + 123)
        y, p = np.asarray(y), np.asarray(p)
        aucs = []
        for _ in range(n_boot):
            idx = rng.choice(len(y), len(y), replace=True)
            aucs.append(auc(y[idx], p[idx]))
        return tuple(np.percentile(aucs, [100 * alpha / 2, 100 * (1 - alpha / 2)]))
    assert check_bootstrap_auc(other).startswith("Correct")


def test_bootstrap_rejects_resampling_without_replacement():
    def permutation(y, p, n_boot=1000, alpha=0.05, seed=0):
        rng = np.random.default_rng(seed)
        y, p = np.asarray(y), np.asarray(p)
        aucs = [auc(y[i], p[i]) for i in (rng.permutation(len(y)) for _ in range(n_boot))]
        return tuple(np.quantile(aucs, [alpha / 2, 1 - alpha / 2]))
    with pytest.raises(ExerciseError, match="with replacement"):
        check_bootstrap_auc.strict(permutation)


def test_bootstrap_rejects_unpaired_resampling():
    def unpaired(y, p, n_boot=1000, alpha=0.05, seed=0):
        rng = np.random.default_rng(seed)
        y, p = np.asarray(y), np.asarray(p)
        n = len(y)
        aucs = [auc(y[rng.integers(0, n, n)], p[rng.integers(0, n, n)])
                for _ in range(n_boot)]
        return tuple(np.quantile(aucs, [alpha / 2, 1 - alpha / 2]))
    with pytest.raises(ExerciseError, match="pairs"):
        check_bootstrap_auc.strict(unpaired)


def test_bootstrap_rejects_wrong_quantiles():
    def one_sided_alpha(y, p, n_boot=1000, alpha=0.05, seed=0):
        return reference_bootstrap_auc_ci(y, p, n_boot, 2 * alpha, seed)  # a narrower interval
    with pytest.raises(ExerciseError, match="too narrow"):
        check_bootstrap_auc.strict(one_sided_alpha)


def test_group_auc_accepts_reference_and_the_package():
    assert check_group_auc(reference_group_auc).startswith("Correct")
    assert check_group_auc(gauc).startswith("Correct")  # bst_teach.metrics.gauc is an answer


def test_group_auc_reference_equals_the_package():
    for seed in range(3):
        users, labels, scores = _gauc_case(seed)
        want, n = gauc(users, labels, scores)
        got, n_got = reference_group_auc(users, labels, scores)
        assert got == pytest.approx(want, abs=1e-12) and n_got == n


def test_group_auc_case_tells_the_wrong_answers_apart():
    users, labels, scores = _gauc_case(0)
    want = reference_group_auc(users, labels, scores)[0]
    assert abs(roc_auc_score(labels, scores) - want) > 0.05


def _per_user(users, labels, scores):
    users, labels, scores = (np.asarray(a) for a in (users, labels, scores))
    out = []
    for u in np.unique(users):
        m = users == u
        if 0 < labels[m].sum() < m.sum():
            out.append((roc_auc_score(labels[m], scores[m]), m.sum()))
    return out


def test_group_auc_rejects_pooled_auc():
    def pooled(users, labels, scores):
        return roc_auc_score(labels, scores), len(_per_user(users, labels, scores))
    with pytest.raises(ExerciseError, match="pooled"):
        check_group_auc.strict(pooled)


def test_group_auc_rejects_unweighted_mean():
    def unweighted(users, labels, scores):
        aucs = _per_user(users, labels, scores)
        return float(np.mean([a for a, _ in aucs])), len(aucs)
    with pytest.raises(ExerciseError, match="number of samples"):
        check_group_auc.strict(unweighted)


def test_group_auc_rejects_users_with_one_class():
    def every_user(users, labels, scores):
        users = np.asarray(users)
        aucs = [roc_auc_score(labels[users == u], scores[users == u]) for u in np.unique(users)]
        return float(np.mean(aucs)), len(aucs)
    with pytest.raises(ExerciseError, match="one class"):
        check_group_auc.strict(every_user)


def test_group_auc_rejects_a_nan_average():
    def nan_mean(users, labels, scores):
        return float("nan"), 0
    with pytest.raises(ExerciseError, match="nan"):
        check_group_auc.strict(nan_mean)


def test_group_auc_stub_is_not_attempted():
    def stub(users, labels, scores):
        raise NotImplementedError()
    assert check_group_auc(stub).startswith("Not attempted")
