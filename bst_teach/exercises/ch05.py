"""Checkers for chapter 5 (BatchNorm or LayerNorm).

* :func:`check_layer_norm` -- ``layer_norm(x, eps)``: normalise every token of x (B, T, D) over
  its D features (no learned scale or shift).
* :func:`check_masked_batch_norm` -- ``masked_batch_norm(x, mask, eps)``: normalise every feature
  over the *real* tokens of the batch only, so padding does not move the statistics.
"""
from __future__ import annotations

import torch

from . import ExerciseError, call_student, checker, passed

EPS = 1e-5


def reference_layer_norm(x: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def reference_masked_batch_norm(x: torch.Tensor, mask: torch.Tensor,
                                eps: float = EPS) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
    n = m.sum()
    mean = (x * m).sum((0, 1)) / n  # (D,)
    var = (((x - mean) ** 2) * m).sum((0, 1)) / n
    return (x - mean) / torch.sqrt(var + eps)


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    B, T, D = 4, 6, 8
    # every feature and every token on its own scale and offset, so mixing up axes shows
    x = (torch.randn(B, T, D, generator=g) * torch.linspace(0.5, 3.0, D)
         + torch.linspace(-2.0, 2.0, T)[None, :, None])
    lengths = torch.tensor([6, 3, 5, 2])
    mask = torch.arange(T)[None, :] < lengths[:, None]
    return x, mask


def _close(a, b) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, atol=1e-4, rtol=1e-4)


@checker
def check_layer_norm(layer_norm) -> str:
    """``layer_norm(x, eps)`` with x (B, T, D) -> (B, T, D), compared with ``F.layer_norm``."""
    x, _ = _inputs()
    out = call_student(layer_norm, x.clone(), EPS)
    if out.shape != x.shape:
        raise ExerciseError(f"the output must keep the input's shape {tuple(x.shape)}, "
                            f"got {tuple(out.shape)}")
    expected = torch.nn.functional.layer_norm(x, (x.shape[-1],), eps=EPS)
    if _close(out, expected):
        return passed("every token is normalised over its own D features, as nn.LayerNorm does.")
    for axis, name in ((0, "the batch axis B"), (1, "the token axis T")):
        wrong = (x - x.mean(axis, keepdim=True)) / torch.sqrt(
            x.var(axis, unbiased=False, keepdim=True) + EPS)
        if _close(out, wrong):
            raise ExerciseError(f"you normalised over {name} (dim={axis}); LayerNorm normalises "
                                "each token over its features, the last axis (dim=-1)")
    wrong = (x - x.mean((0, 1))) / torch.sqrt(x.var((0, 1), unbiased=False) + EPS)
    if _close(out, wrong):
        raise ExerciseError("you normalised each feature over all tokens of the batch: that is "
                            "BatchNorm; LayerNorm uses the statistics of each token (dim=-1)")
    unbiased = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + EPS)
    if _close(out, unbiased):
        raise ExerciseError("right axis, but you used the unbiased variance (divide by D - 1); "
                            "LayerNorm divides by D: x.var(-1, unbiased=False)")
    if _close(out, x - x.mean(-1, keepdim=True)):
        raise ExerciseError("you subtracted the mean but did not divide by the standard deviation")
    out_means = out.mean(-1)
    if not torch.allclose(out_means, torch.zeros_like(out_means), atol=1e-4):
        raise ExerciseError("each token's features should have mean 0 after normalisation; yours "
                            "do not (check the axis you take the mean over)")
    raise ExerciseError("the means are right but the values differ from nn.LayerNorm: divide by "
                        "sqrt(variance + eps), with the biased variance over the last axis")


@checker
def check_masked_batch_norm(masked_batch_norm) -> str:
    """``masked_batch_norm(x, mask, eps)``: x (B, T, D), mask (B, T) True at real tokens.

    Only the outputs at real tokens are checked; what you put at padding does not matter.
    """
    x, mask = _inputs(1)
    out = call_student(masked_batch_norm, x.clone(), mask.clone(), EPS)
    if out.shape != x.shape:
        raise ExerciseError(f"the output must keep the input's shape {tuple(x.shape)}, "
                            f"got {tuple(out.shape)}")
    expected = reference_masked_batch_norm(x, mask)
    if _close(out[mask], expected[mask]):
        # padding must not matter: change the padded values and append more padding
        x2 = x.clone()
        x2[~mask] = 100.0 * torch.randn(int((~mask).sum()), x.shape[-1],
                                        generator=torch.Generator().manual_seed(2))
        x2 = torch.cat([x2, torch.full((x.shape[0], 5, x.shape[-1]), 7.0)], dim=1)
        mask2 = torch.cat([mask, torch.zeros(x.shape[0], 5, dtype=torch.bool)], dim=1)
        out2 = call_student(masked_batch_norm, x2, mask2, EPS)
        if not _close(out2[mask2], expected[mask]):
            raise ExerciseError("right on this batch, but changing or adding padding changed the "
                                "outputs at real tokens: the padded values must not enter the "
                                "statistics")
        return passed("each feature is normalised over the real tokens only; padding does not "
                      "change the output of any real token.")
    plain = torch.nn.functional.batch_norm(x.reshape(-1, x.shape[-1]), None, None,
                                           training=True, eps=EPS).reshape(x.shape)
    if _close(out[mask], plain[mask]):
        raise ExerciseError("your statistics include the padding tokens (this is what "
                            "nn.BatchNorm1d does); average only over positions where mask is True")
    m = mask.unsqueeze(-1).float()
    mean = (x * m).sum((0, 1)) / m.sum()
    unbiased = (x - mean) / torch.sqrt((((x - mean) ** 2) * m).sum((0, 1)) / (m.sum() - 1) + EPS)
    if _close(out[mask], unbiased[mask]):
        raise ExerciseError("right tokens, but you used the unbiased variance (divide by n - 1); "
                            "normalisation in BatchNorm divides by n, the number of real tokens")
    per_token = reference_layer_norm(x)
    if _close(out[mask], per_token[mask]):
        raise ExerciseError("you normalised each token over its features: that is LayerNorm; "
                            "BatchNorm normalises each feature over the (real) tokens of the batch")
    per_sample_mean = (x * m).sum(1, keepdim=True) / m.sum(1, keepdim=True)
    per_sample = (x - per_sample_mean) / torch.sqrt(
        (((x - per_sample_mean) ** 2) * m).sum(1, keepdim=True) / m.sum(1, keepdim=True) + EPS)
    if _close(out[mask], per_sample[mask]):
        raise ExerciseError("you took the statistics over each sample's tokens separately; "
                            "BatchNorm pools all real tokens of all samples in the batch (B and T)")
    raise ExerciseError("the outputs at real tokens differ from the reference: per feature d, "
                        "mean and biased variance over all (b, t) with mask[b, t] True, then "
                        "(x - mean) / sqrt(var + eps)")
