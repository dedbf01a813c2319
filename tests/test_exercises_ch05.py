"""The chapter-5 checkers accept the reference answers and reject typical mistakes, saying why."""
import pytest
import torch

from bst_teach.exercises import ExerciseError
from bst_teach.exercises.ch05 import (check_layer_norm, check_masked_batch_norm,
                                      reference_layer_norm, reference_masked_batch_norm)


def test_layer_norm_accepts_reference_and_torch():
    assert check_layer_norm(reference_layer_norm).startswith("Correct")
    def torch_layer_norm(x, eps):
        return torch.nn.functional.layer_norm(x, x.shape[-1:], eps=eps)
    assert check_layer_norm(torch_layer_norm).startswith("Correct")


def _over(axis):
    def norm(x, eps):
        return (x - x.mean(axis, keepdim=True)) / torch.sqrt(
            x.var(axis, unbiased=False, keepdim=True) + eps)
    return norm


@pytest.mark.parametrize("wrong, message", [
    (_over(1), "token axis"),
    (_over(0), "batch axis"),
    (lambda x, eps: (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + eps),
     "unbiased"),
    (lambda x, eps: (x - x.mean((0, 1))) / torch.sqrt(x.var((0, 1), unbiased=False) + eps),
     "BatchNorm"),
    (lambda x, eps: x - x.mean(-1, keepdim=True), "standard deviation"),
    (lambda x, eps: x[0], "shape"),
    (lambda x, eps: 1 / 0, "ZeroDivisionError"),
])
def test_layer_norm_rejects_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_layer_norm.strict(wrong)


def test_masked_batch_norm_accepts_reference():
    assert check_masked_batch_norm(reference_masked_batch_norm).startswith("Correct")


def _plain_bn(x, mask, eps):
    flat = x.reshape(-1, x.shape[-1])
    return torch.nn.functional.batch_norm(flat, None, None, training=True, eps=eps).reshape(x.shape)


def _unbiased(x, mask, eps):
    m = mask.unsqueeze(-1).float()
    mean = (x * m).sum((0, 1)) / m.sum()
    return (x - mean) / torch.sqrt((((x - mean) ** 2) * m).sum((0, 1)) / (m.sum() - 1) + eps)


def _fixed_padding_count(x, mask, eps):
    # right statistics on the first call's layout only: it assumes T = 6 and ignores the mask
    # when the sequence is longer, so extra padding leaks in
    if x.shape[1] == 6:
        return reference_masked_batch_norm(x, mask, eps)
    return _plain_bn(x, mask, eps)


@pytest.mark.parametrize("wrong, message", [
    (_plain_bn, "include the padding"),
    (_unbiased, "unbiased"),
    (lambda x, mask, eps: reference_layer_norm(x, eps), "LayerNorm"),
    (_fixed_padding_count, "padding"),
    (lambda x, mask, eps: x, "differ"),
])
def test_masked_batch_norm_rejects_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_masked_batch_norm.strict(wrong)
