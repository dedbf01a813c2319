"""Checkers for chapter 1 (The ranking problem and its features).

* :func:`check_mean_pool` -- ``mean_pool(hist, mask)``: the average of a padded history's real
  behaviours, dividing by the true length (not by L, DeepCTR's old bug), zeros for an empty one;
* :func:`check_encode` -- ``encode(train_values, values)``: indices from a vocabulary fitted on
  ``train_values`` that reserves 0 for padding and 1 for unseen values.
"""
from __future__ import annotations

import numpy as np
import torch

from ..features import OOV, Vocabulary
from . import ExerciseError, call_student, checker, passed


# ---------------------------------------------------------------------------------------------
# mean pooling
# ---------------------------------------------------------------------------------------------
def mean_pool_reference(hist: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """hist (B, L, E), mask (B, L) True at real behaviours -> (B, E); zeros for an empty history."""
    m = mask.unsqueeze(-1).to(hist.dtype)
    return (hist * m).sum(1) / m.sum(1).clamp(min=1)


def _pool_inputs(seed: int = 0):
    """A padded batch whose padding slots hold *non-zero* vectors (so forgetting the mask shows),
    with one empty history and one full one."""
    g = torch.Generator().manual_seed(seed)
    B, L, E = 5, 6, 4
    lengths = torch.tensor([3, 6, 1, 0, 4])
    mask = torch.arange(L)[None, :] < lengths[:, None]
    hist = torch.randn(B, L, E, generator=g) + 1.0
    return hist, mask


@checker
def check_mean_pool(mean_pool) -> str:
    """Runs ``mean_pool(hist, mask)`` on a padded batch and names the usual mistakes."""
    hist, mask = _pool_inputs()
    out = call_student(mean_pool, hist.clone(), mask.clone(), expect_tensor=False)
    out = torch.as_tensor(out, dtype=hist.dtype)
    B, L, E = hist.shape
    if out.shape != (B, E):
        raise ExerciseError(f"return one vector per sample, shape (B, E) = {(B, E)}; got "
                            f"{tuple(out.shape)} (average over the history axis, dim=1)")
    if torch.isnan(out).any() or torch.isinf(out).any():
        raise ExerciseError("NaN or inf in the output: a user with an empty history has length 0; "
                            "clamp the count to at least 1 so the result is a zero vector")
    expected = mean_pool_reference(hist, mask)
    if torch.allclose(out, expected, atol=1e-5):
        return passed("masked sum divided by the true length, zeros for an empty history.")
    m = mask.unsqueeze(-1).float()
    if torch.allclose(out, (hist * m).sum(1) / L, atol=1e-5):
        raise ExerciseError("you divided by the padded length L, not by the number of real "
                            "behaviours (DeepCTR's old bug): a short history is shrunk towards 0")
    if torch.allclose(out, hist.mean(1), atol=1e-5):
        raise ExerciseError("you averaged the padding slots too: multiply by the mask (or select "
                            "the real slots) before summing, and divide by the true length")
    if torch.allclose(out, hist.sum(1) / m.sum(1).clamp(min=1), atol=1e-5):
        raise ExerciseError("right divisor, but the sum includes the padding slots: multiply "
                            "hist by the mask before summing")
    if torch.allclose(out, (hist * m).sum(1), atol=1e-5):
        raise ExerciseError("that is the masked sum; divide it by each sample's true length")
    nonempty = mask.any(1)
    if torch.allclose(out[nonempty], expected[nonempty], atol=1e-5):
        raise ExerciseError("right for non-empty histories, but an empty history (length 0) "
                            "must give a zero vector")
    raise ExerciseError("the values differ from the reference: zero the padding slots, sum over "
                        "the history axis and divide by the number of real behaviours")


# ---------------------------------------------------------------------------------------------
# vocabularies
# ---------------------------------------------------------------------------------------------
_TRAIN = ["drama", "comedy", "drama", "action", "thriller", "comedy"]
_QUERY = ["comedy", "horror", "action", "drama", "western", "thriller", "drama"]


@checker
def check_encode(encode) -> str:
    """Runs ``encode(train_values, values)``, compares with ``Vocabulary`` (features.py)."""
    out = call_student(encode, list(_TRAIN), list(_QUERY), expect_tensor=False)
    out = np.asarray(out)
    expected = Vocabulary.fit(_TRAIN).encode(_QUERY)
    if out.shape != expected.shape:
        raise ExerciseError(f"return one index per value, shape {expected.shape}; got {out.shape}")
    if not np.issubdtype(out.dtype, np.integer):
        raise ExerciseError(f"indices must be integers (they index an embedding table); got "
                            f"dtype {out.dtype}")
    unseen = np.array([v not in _TRAIN for v in _QUERY])
    seen_out = out[~unseen]
    if (seen_out == 0).any():
        raise ExerciseError("a known value got index 0, which is reserved for padding: start the "
                            "known values at 2")
    if (out[unseen] == 0).any():
        raise ExerciseError("an unseen value got index 0 (padding); unseen values must get the "
                            f"out-of-vocabulary index {OOV}, or the model would ignore them as if "
                            "they were empty slots")
    if (seen_out == OOV).any():
        raise ExerciseError(f"a known value got index {OOV}, which is reserved for unseen values: "
                            "start the known values at 2")
    if not (out[unseen] == OOV).all():
        raise ExerciseError(f"unseen values ({', '.join(np.array(_QUERY)[unseen])}) must all map "
                            f"to the out-of-vocabulary index {OOV}")
    mapping: dict = {}
    for value, index in zip(np.array(_QUERY)[~unseen], seen_out.tolist()):
        if mapping.setdefault(value, index) != index:
            raise ExerciseError(f"{value!r} got two different indices; a value must always get "
                                "the same index")
    if len(set(mapping.values())) != len(mapping):
        raise ExerciseError("two different known values share an index")
    if (seen_out < 2).any() or seen_out.max() > 1 + len(set(_TRAIN)):
        raise ExerciseError(f"known values must use indices 2 .. {1 + len(set(_TRAIN))}, "
                            "one per distinct training value")
    if np.array_equal(out, expected):
        return passed("0 is padding, 1 is out-of-vocabulary, known values are 2, 3, ...")
    # any consistent numbering of the known values is fine too
    return passed("0 is padding, 1 is out-of-vocabulary, known values get distinct indices from "
                  "2 (the book sorts them; any fixed order works).")
