"""The chapter-2 checker accepts the reference answer and rejects typical mistakes, saying why."""
import pytest
import torch

from bst_teach.exercises import ExerciseError
from bst_teach.exercises.ch02 import (_inputs, _permute_real, check_weighted_pool,
                                      weighted_pool_reference)


def test_accepts_reference():
    assert check_weighted_pool(weighted_pool_reference).startswith("Correct")


def test_accepts_an_einsum_answer():
    def pool(hist, weights, mask):
        return torch.einsum("bl,ble->be", weights.masked_fill(~mask, 0.0), hist)
    assert check_weighted_pool(pool).startswith("Correct")


def _masked(weights, mask):
    return weights * mask


def _slot_dependent(hist, weights, mask):
    """Right on the checker's batch only because it reads the batch's first behaviour's slot."""
    out = weighted_pool_reference(hist, weights, mask)
    if torch.equal(hist, _inputs()[0]):
        return out
    return out + 1.0


@pytest.mark.parametrize("wrong, message", [
    (lambda h, w, m: (w.unsqueeze(-1) * h).sum(1), "padding slots got their weights"),
    (lambda h, w, m: ((_masked(w, m) / _masked(w, m).sum(1, keepdim=True)).unsqueeze(-1) * h)
     .sum(1), "normalised"),
    (lambda h, w, m: (w.masked_fill(~m, float("-inf")).softmax(1).unsqueeze(-1) * h).sum(1),
     "softmax"),
    (lambda h, w, m: (h * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True), "plain mean"),
    (lambda h, w, m: weighted_pool_reference(h, w, m) / m.sum(1, keepdim=True),
     "divided by the history length"),
    (lambda h, w, m: (_masked(w, m).unsqueeze(-1) * h).sum(2), "shape"),
    (_slot_dependent, "shuffling"),
    (lambda h, w, m: weighted_pool_reference(h, w, m) * 2, "differ"),
    (lambda h, w, m: h.nope, "AttributeError"),
])
def test_rejects_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_weighted_pool.strict(wrong)


def test_inputs_have_nonzero_padding_and_weights():
    hist, weights, mask = _inputs()
    assert (~mask).any() and (weights[~mask] > 0).all() and (hist[~mask].abs() > 0).all()


def test_permute_real_keeps_padding_and_multiset():
    hist, weights, mask = _inputs()
    moved = _permute_real(weights, mask)
    assert torch.equal(moved[~mask], weights[~mask])
    assert torch.allclose(moved.sort(1).values, weights.sort(1).values)
    assert not torch.equal(moved, weights)
