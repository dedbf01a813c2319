"""The chapter-1 checkers accept the reference answers and reject typical mistakes, saying why."""
import numpy as np
import pytest
import torch

from bst_teach.exercises import ExerciseError
from bst_teach.exercises.ch01 import (_pool_inputs, check_encode, check_mean_pool,
                                      mean_pool_reference)
from bst_teach.features import Vocabulary


def test_mean_pool_accepts_reference():
    assert check_mean_pool(mean_pool_reference).startswith("Correct")


def test_mean_pool_accepts_a_loop_answer():
    def loop(hist, mask):
        out = torch.zeros(hist.shape[0], hist.shape[2])
        for b in range(hist.shape[0]):
            real = hist[b][mask[b]]
            if len(real):
                out[b] = real.mean(0)
        return out
    assert check_mean_pool(loop).startswith("Correct")


def _masked_sum(hist, mask):
    return (hist * mask.unsqueeze(-1)).sum(1)


@pytest.mark.parametrize("wrong, message", [
    (lambda h, m: _masked_sum(h, m) / h.shape[1], "padded length L"),  # DeepCTR's bug
    (lambda h, m: h.mean(1), "averaged the padding"),
    (lambda h, m: h.sum(1) / m.sum(1, keepdim=True).clamp(min=1), "includes the padding"),
    (_masked_sum, "divide it by each sample's true length"),
    (lambda h, m: _masked_sum(h, m) / m.sum(1, keepdim=True), "empty history"),
    (lambda h, m: mean_pool_reference(h, m) + (~m.any(1, keepdim=True)) * 1.0, "zero vector"),
    (lambda h, m: mean_pool_reference(h, m).T, "shape"),
    (lambda h, m: mean_pool_reference(h, m) * 2, "differ"),
    (lambda h, m: h.nope, "AttributeError"),
])
def test_mean_pool_rejects_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_mean_pool.strict(wrong)


def test_pool_inputs_have_nonzero_padding_and_an_empty_history():
    hist, mask = _pool_inputs()
    assert (hist[~mask].abs() > 0).all()
    assert (mask.sum(1) == 0).any() and (mask.sum(1) == mask.shape[1]).any()


def _encode_reference(train_values, values):
    return Vocabulary.fit(train_values).encode(values)


def _index_from(start, unseen):
    def encode(train_values, values):
        index = {v: i + start for i, v in enumerate(sorted(set(train_values)))}
        return np.array([index.get(v, unseen) for v in values])
    return encode


def test_encode_accepts_reference_and_any_consistent_order():
    assert check_encode(_encode_reference).startswith("Correct")

    def first_seen_order(train_values, values):
        index = {}
        for v in train_values:
            index.setdefault(v, len(index) + 2)
        return np.array([index.get(v, 1) for v in values])
    assert check_encode(first_seen_order).startswith("Correct")


def _keyerror(train_values, values):
    index = {v: i + 2 for i, v in enumerate(sorted(set(train_values)))}
    return np.array([index[v] for v in values])


@pytest.mark.parametrize("wrong, message", [
    (_index_from(0, -1), "reserved for padding"),
    (_index_from(2, 0), "unseen value got index 0"),
    (_index_from(1, 0), "unseen value got index 0"),
    (_index_from(1, 1), "reserved for unseen values"),
    (_index_from(2, 99), "out-of-vocabulary index 1"),
    (lambda t, v: _encode_reference(t, v).astype(float), "integers"),
    (lambda t, v: np.array([2 if x in t else 1 for x in v]), "share an index"),
    (lambda t, v: _encode_reference(t, v) + 10 * (_encode_reference(t, v) > 1), "indices 2 .."),
    (lambda t, v: _encode_reference(t, v)[:-1], "one index per value"),
    (_keyerror, "KeyError"),
])
def test_encode_rejects_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_encode.strict(wrong)
