"""The chapter-4 checkers accept the reference answers and reject typical mistakes, saying why."""
import numpy as np
import pytest
import torch

from bst_teach.exercises import ExerciseError
from bst_teach.exercises.ch04 import (check_calendar_buckets, check_recency_rank,
                                      reference_calendar_buckets, reference_recency_rank)
from bst_teach.features import CALENDAR_EDGES, bucketize_gaps
from bst_teach.models.layers import recency_rank


def test_calendar_buckets_accepts_reference_and_library():
    assert check_calendar_buckets(reference_calendar_buckets).startswith("Correct")
    assert check_calendar_buckets(lambda g, m: bucketize_gaps(g, m, "calendar")).startswith("Correct")


def _edges(gaps, side):
    return np.searchsorted(np.asarray(CALENDAR_EDGES), gaps, side=side)


@pytest.mark.parametrize("wrong, message", [
    (lambda g, m: np.where(m, _edges(g, "left") + 2, 0), "exclusive upper bound"),
    (lambda g, m: _edges(g, "right") + 2, "padding slots must stay 0"),
    (lambda g, m: np.where(m, _edges(g, "right"), 0), "off by -2"),
    (lambda g, m: np.where(m, _edges(g, "right") + 1, 0), "start at bucket 2"),
    (lambda g, m: np.where(m, _edges(g, "right") + 2, 0)[:, :3], "shape"),
    (lambda g, m: np.where(m, np.minimum(_edges(g, "right") + 2, 8), 0), "wrong bucket"),
])
def test_calendar_buckets_rejects_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_calendar_buckets.strict(wrong)


def test_recency_rank_accepts_reference_and_library():
    assert check_recency_rank(reference_recency_rank).startswith("Correct")
    assert check_recency_rank(recency_rank).startswith("Correct")


@pytest.mark.parametrize("wrong, message", [
    (lambda m: torch.cumsum(m.long(), -1) * m, "MOST RECENT"),
    (lambda m: (recency_rank(m) - 1).clamp(min=0) * m, "off by one"),
    (lambda m: (m.shape[1] - torch.arange(m.shape[1]))[None, :] * m, "end of the padded row"),
    (lambda m: recency_rank(m) + (~m).long(), "padding slots must get rank 0"),
    (lambda m: recency_rank(m)[:, 1:], "shape"),
])
def test_recency_rank_rejects_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_recency_rank.strict(wrong)
