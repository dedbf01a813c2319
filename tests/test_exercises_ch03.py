"""The chapter-3 checkers accept the reference answers and reject typical mistakes, saying why."""
import math

import pytest
import torch
import torch.nn.functional as F

from bst_teach.exercises import ExerciseError
from bst_teach.exercises.ch03 import (check_attention, check_encoder_params,
                                      reference_attention, reference_encoder_params)


def test_attention_accepts_reference_and_torch():
    assert check_attention(reference_attention).startswith("Correct")
    fused = lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m[:, None, None, :])
    assert check_attention(fused).startswith("Correct")


def _scores(q, k, scale=True):
    s = q @ k.transpose(-2, -1)
    return s / math.sqrt(q.shape[-1]) if scale else s


@pytest.mark.parametrize("wrong, message", [
    (lambda q, k, v, m: _scores(q, k, False).masked_fill(~m[:, None, None, :], -math.inf).softmax(-1) @ v,
     "sqrt"),
    (lambda q, k, v, m: _scores(q, k).masked_fill(~m[:, None, :, None], -math.inf).softmax(-1) @ v,
     "NaN"),
    (lambda q, k, v, m: _scores(q, k).masked_fill(~m[:, None, :, None], -1e9).softmax(-1) @ v,
     "queries"),
    (lambda q, k, v, m: _scores(q, k).softmax(-1) @ v, "padded keys get weight"),
    (lambda q, k, v, m: _scores(q, k).masked_fill(~m[:, None, None, :], 0.0).softmax(-1) @ v, "-inf"),
    (lambda q, k, v, m: _scores(q, k).masked_fill(~m[:, None, None, :], -math.inf).softmax(-2).nan_to_num() @ v,
     "axis"),
    (lambda q, k, v, m: (_scores(q, k).masked_fill(~m[:, None, None, :], -math.inf).softmax(-1) @ v)[:, 0],
     "shape"),
    (lambda q, k, v, m: 1 / 0, "ZeroDivisionError"),
])
def test_attention_rejects_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_attention.strict(wrong)


def test_encoder_params_accepts_reference():
    assert check_encoder_params(reference_encoder_params).startswith("Correct")


@pytest.mark.parametrize("wrong, message", [
    (lambda d, m, b: b * (4 * d * d + 2 * m * d * d + 4 * d), "biases"),
    (lambda d, m, b: b * (4 * (d * d + d) + 2 * m * d * d + (m + 1) * d), "LayerNorms"),
    (lambda d, m, b: b * (3 * (d * d + d) + 2 * m * d * d + (m + 1) * d + 4 * d), "output projection"),
    (lambda d, m, b: reference_encoder_params(d, m, 1), "number of blocks"),
])
def test_encoder_params_rejects_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_encoder_params.strict(wrong)
