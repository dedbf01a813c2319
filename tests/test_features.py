import numpy as np
import pytest

from bst_teach.features import (DAY, HOUR, OOV, PAD, WEEK, Feature, Schema, Vocabulary,
                                bucket_labels, bucketize_gaps, n_time_buckets)


def test_vocabulary_reserves_padding_and_oov():
    v = Vocabulary.fit([10, 30, 20, 30])
    assert len(v) == 5
    codes = v.encode([10, 20, 30, 99])
    assert codes.tolist() == [2, 3, 4, OOV]
    assert PAD not in codes


def test_calendar_buckets_follow_the_documented_edges():
    gaps = np.array([[0, HOUR - 1, HOUR, DAY + 1, 2.5 * DAY, 6 * DAY, 400 * DAY, 0]])
    mask = np.array([[True] * 7 + [False]])
    idx = bucketize_gaps(gaps, mask, "calendar")
    names = [bucket_labels("calendar")[i] for i in idx[0]]
    assert names == ["< 1 hour", "< 1 hour", "< 1 day", "< 3 days", "< 3 days", "< 1 week",
                     ">= 1 year", "padding"]
    assert idx.max() < n_time_buckets("calendar")


def test_log_buckets_double_in_width():
    minutes = np.array([[0.5, 1, 3, 5, 1e9]]) * 60
    idx = bucketize_gaps(minutes, np.ones_like(minutes, bool), "log")
    labels = bucket_labels("log")
    assert [labels[i] for i in idx[0]][:4] == ["< 1 min", "< 2 min", "< 4 min", "< 8 min"]
    assert idx[0, -1] == n_time_buckets("log") - 1


def test_buckets_are_monotone_in_the_gap():
    gaps = np.sort(np.random.default_rng(0).uniform(0, 3 * 365 * DAY, 1000))[None]
    for scheme in ("calendar", "log"):
        idx = bucketize_gaps(gaps, np.ones_like(gaps, bool), scheme)
        assert (np.diff(idx[0]) >= 0).all()


def test_negative_gap_is_an_error():
    with pytest.raises(ValueError, match="after its target"):
        bucketize_gaps(np.array([[-5.0]]), np.array([[True]]))


def test_unknown_scheme_is_an_error():
    with pytest.raises(ValueError, match="unknown time bucket scheme"):
        n_time_buckets("weekly")


def test_schema_round_trip_and_groups():
    s = Schema((Feature("gender", "user", 4), Feature("page", "context", 7)), 10, 5, 20, 12)
    assert Schema.from_dict(s.to_dict()) == s
    assert [f.name for f in s.group("context")] == ["page"]
    with pytest.raises(ValueError, match="group"):
        Feature("x", "weather", 3)
    assert WEEK == 7 * DAY
