"""The chapter-6 checker accepts the reference answer and rejects typical mistakes, saying why."""
import numpy as np
import pytest
import torch

from bst_teach.exercises import ExerciseError
from bst_teach.exercises.ch06 import _inputs, check_attention_by_rank
from bst_teach.models.layers import recency_rank
from bst_teach.viz.attention_plots import attention_by_rank


def test_accepts_reference():
    assert check_attention_by_rank(attention_by_rank).startswith("Correct")


def test_accepts_a_vectorised_answer_returning_a_tensor():
    def by_rank(weights, mask):
        row = weights[:, :, -1, :-1]
        rank = recency_rank(mask)
        onehot = torch.nn.functional.one_hot(rank, mask.shape[1] + 1)[..., 1:].float()  # (B, L, L)
        total = torch.einsum("bhs,bsr->hr", row, onehot)
        count = onehot.sum((0, 1))
        return torch.where(count > 0, total / count.clamp(min=1), torch.tensor(float("nan")))
    assert check_attention_by_rank(by_rank).startswith("Correct")


def _zeros_for_short(weights, mask):
    row = weights[:, :, -1, :-1]
    rank = recency_rank(mask)
    B, H, L = row.shape
    return np.stack([(row * (rank == r)[:, None, :]).sum((0, 2)).numpy() / B
                     for r in range(1, L + 1)], 1)


@pytest.mark.parametrize("wrong, message", [
    (lambda w, m: w[:, :, -1, :-1].mean(0), "by slot"),
    (lambda w, m: ((w[:, :, -1, :-1] * m[:, None]).sum(0) / m.sum(0)), "oldest"),
    (_zeros_for_short, "counting a zero"),
    (lambda w, m: attention_by_rank(w.transpose(-1, -2), m), "column"),
    (lambda w, m: attention_by_rank(w.roll(-1, dims=2), m), "LAST token"),
    (lambda w, m: np.nan_to_num(attention_by_rank(w, m)), "NaN"),
    (lambda w, m: attention_by_rank(w, m).mean(0), "shape"),
    (lambda w, m: attention_by_rank(w, m) * 2, "differ"),
    (lambda w, m: w.nope, "AttributeError"),
])
def test_rejects_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_attention_by_rank.strict(wrong)


def test_inputs_have_padding_and_unused_ranks():
    weights, mask = _inputs()
    assert torch.allclose(weights.sum(-1), torch.ones(weights.shape[:-1]))
    history_keys = weights[:, :, :, :-1]
    assert (history_keys[~mask[:, None, None, :].expand_as(history_keys)] == 0).all()
    by_rank = attention_by_rank(weights, mask)
    assert np.isnan(by_rank[:, -1]).all() and not np.isnan(by_rank[:, :-1]).any()
