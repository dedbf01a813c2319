"""Checkers for chapter 2 (DIN and what it cannot see).

* :func:`check_weighted_pool` -- ``weighted_pool(hist, weights, mask)``: DIN's pooling, the sum of
  the real behaviours weighted by their (unnormalised) activation weights, padding weighted 0.
"""
from __future__ import annotations

import torch

from . import ExerciseError, checker, passed


def weighted_pool_reference(hist: torch.Tensor, weights: torch.Tensor,
                            mask: torch.Tensor) -> torch.Tensor:
    """hist (B, L, E), weights (B, L), mask (B, L) True at real behaviours -> (B, E)."""
    w = weights * mask.to(weights.dtype)  # padding gets weight 0
    return (w.unsqueeze(-1) * hist).sum(1)


def _inputs(seed: int = 0):
    """Padding slots hold non-zero vectors *and* non-zero weights, so a missing mask shows."""
    g = torch.Generator().manual_seed(seed)
    B, L, E = 4, 6, 3
    lengths = torch.tensor([4, 6, 2, 5])
    mask = torch.arange(L)[None, :] < lengths[:, None]
    hist = torch.randn(B, L, E, generator=g) + 0.5
    weights = torch.rand(B, L, generator=g) * 2  # unnormalised, like DIN's activation unit
    return hist, weights, mask


def _permute_real(x: torch.Tensor, mask: torch.Tensor, seed: int = 1) -> torch.Tensor:
    """Shuffle the real slots of each row of x ((B, L) or (B, L, E)); padding stays in place."""
    g = torch.Generator().manual_seed(seed)
    keys = torch.rand(mask.shape, generator=g).masked_fill(~mask, 2.0)
    order = keys.argsort(1)
    idx = order if x.dim() == 2 else order.unsqueeze(-1).expand_as(x)
    return x.gather(1, idx)


@checker
def check_weighted_pool(weighted_pool) -> str:
    """Runs ``weighted_pool(hist, weights, mask)`` and names the usual mistakes."""
    hist, weights, mask = _inputs()
    try:
        out = weighted_pool(hist.clone(), weights.clone(), mask.clone())
    except Exception as err:
        raise ExerciseError(f"your function raised {type(err).__name__}: {err}") from err
    out = torch.as_tensor(out, dtype=hist.dtype)
    B, L, E = hist.shape
    if out.shape != (B, E):
        raise ExerciseError(f"return one vector per sample, shape (B, E) = {(B, E)}; got "
                            f"{tuple(out.shape)} (weight each behaviour, then sum over dim=1)")
    expected = weighted_pool_reference(hist, weights, mask)
    if torch.allclose(out, expected, atol=1e-5):
        try:
            shuffled = weighted_pool(_permute_real(hist, mask), _permute_real(weights, mask),
                                     mask.clone())
        except Exception as err:
            raise ExerciseError(f"your function raised {type(err).__name__} on a shuffled "
                                f"history: {err}") from err
        if not torch.allclose(torch.as_tensor(shuffled, dtype=hist.dtype), out, atol=1e-5):
            raise ExerciseError("right on this batch but not after shuffling the behaviours "
                                "together with their weights: does your code depend on slots?")
        return passed("padding weighted 0, the rest weighted and summed; shuffling the history "
                      "(with its weights) leaves the result unchanged.")
    m = mask.to(hist.dtype)
    if torch.allclose(out, (weights.unsqueeze(-1) * hist).sum(1), atol=1e-5):
        raise ExerciseError("the padding slots got their weights too: multiply the weights by "
                            "the mask so padding contributes nothing")
    w = weights * m
    if torch.allclose(out, ((w / w.sum(1, keepdim=True)).unsqueeze(-1) * hist).sum(1), atol=1e-5):
        raise ExerciseError("you normalised the weights to sum to 1; DIN keeps them unnormalised "
                            "(no softmax) so the pooled vector also carries how strong the "
                            "interest is")
    soft = weights.masked_fill(~mask, float("-inf")).softmax(1)
    if torch.allclose(out, (soft.unsqueeze(-1) * hist).sum(1), atol=1e-5):
        raise ExerciseError("you applied a softmax; DIN's weights are used as they are (the DIN "
                            "paper drops the softmax on purpose)")
    if torch.allclose(out, (hist * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True), atol=1e-5):
        raise ExerciseError("that is the plain mean of the history; weight each behaviour by its "
                            "activation weight")
    if torch.allclose(out, (w.unsqueeze(-1) * hist).sum(1) / m.sum(1, keepdim=True), atol=1e-5):
        raise ExerciseError("you divided by the history length; DIN sums the weighted vectors")
    raise ExerciseError("the values differ from the reference: zero the weights of padding, "
                        "multiply each behaviour vector by its weight and sum over the history "
                        "axis")
