"""Checkers for chapter 7 (How deep?).

* :func:`check_block_params` -- a function ``block_params(dim, ffn_mult)`` that counts the
  parameters of one encoder block by hand;
* :func:`check_make_encoder` -- a function ``make_encoder(n_blocks, dim, heads)`` that stacks
  ``n_blocks`` encoder blocks into one module ``encoder(s, key_mask) -> s``.
"""
from __future__ import annotations

import torch
from torch import nn

from ..models.bst import EncoderBlock
from . import ExerciseError, checker, passed

FFN_MULT = 4  # the book's default feed-forward width (ffn_mult * dim)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable numbers in ``module`` (a shared tensor counts once)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def reference_block_params(dim: int, ffn_mult: int = FFN_MULT) -> int:
    """Parameters of one post-norm encoder block with LayerNorm (see ``EncoderBlock``).

    attention: qkv (D x 3D + 3D) and output (D x D + D) = 4D^2 + 4D
    two LayerNorms: a weight and a bias of size D each = 4D
    feed-forward: D x mD + mD and mD x D + D = 2mD^2 + (m + 1)D
    """
    d, m = dim, ffn_mult
    return 4 * d * d + 4 * d + 4 * d + 2 * m * d * d + (m + 1) * d


@checker
def check_block_params(block_params) -> str:
    """``block_params(dim, ffn_mult)`` must equal the parameter count of a real ``EncoderBlock``."""
    cases = [(32, 4), (16, 2), (64, 4), (24, 1)]
    for dim, m in cases:
        truth = count_parameters(EncoderBlock(dim, 4, m, 0.0, "layer"))
        try:
            got = block_params(dim, m)
        except Exception as e:  # noqa: BLE001 - any failure is reported to the student
            raise ExerciseError(f"block_params({dim}, {m}) raised {type(e).__name__}: {e}") from e
        if not isinstance(got, (int,)) and not (hasattr(got, "__int__") and float(got) == int(got)):
            raise ExerciseError(f"block_params({dim}, {m}) returned {got!r}; return a whole number")
        got = int(got)
        if got == truth:
            continue
        diff = truth - got
        biases = 3 * dim + dim + m * dim + dim  # qkv, out, ffn hidden, ffn out
        hint = ""
        if diff == 4 * dim:
            hint = (" You left out the two LayerNorms: each has a weight and a bias of size D "
                    "(4D in all).")
        elif diff == biases:
            hint = " You left out the biases of the Linear layers."
        elif diff == biases + 4 * dim:
            hint = " You counted only the weight matrices: add the biases and the two LayerNorms."
        elif diff > 0 and diff % (dim * dim) == 0:
            hint = (f" You are {diff // (dim * dim)} D x D matrices short: the attention has "
                    "W_q, W_k, W_v and W_o (4 D x D), the feed-forward D x mD and mD x D.")
        raise ExerciseError(f"block_params({dim}, {m}) = {got}, but the block has {truth} "
                            f"parameters (off by {diff:+d}).{hint}")
    return passed(f"one block with D = 32 and a 4x feed-forward has {reference_block_params(32)} "
                  "parameters, and the count grows with D squared")


def _blocks_in(module: nn.Module) -> list[EncoderBlock]:
    return [m for m in module.modules() if isinstance(m, EncoderBlock)]


@checker
def check_make_encoder(make_encoder) -> str:
    """``make_encoder(n_blocks, dim, heads)`` -> a module ``encoder(s, key_mask) -> (B, T, D)``
    made of ``n_blocks`` *separate* ``EncoderBlock``\\ s applied one after the other, each with
    the key mask."""
    torch.manual_seed(0)
    B, T, dim, heads = 4, 6, 16, 4
    s = torch.randn(B, T, dim)
    key_mask = torch.ones(B, T, dtype=torch.bool)
    key_mask[0, 3:-1] = False  # sample 0: padding in slots 3 and 4 (the target, last, stays)
    key_mask[1, 1:-1] = False
    one_block = count_parameters(EncoderBlock(dim, heads, FFN_MULT, 0.0, "layer"))
    for n in (1, 2, 3):
        try:
            enc = make_encoder(n, dim, heads)
        except Exception as e:  # noqa: BLE001
            raise ExerciseError(f"make_encoder({n}, {dim}, {heads}) raised "
                                f"{type(e).__name__}: {e}") from e
        if not isinstance(enc, nn.Module):
            raise ExerciseError(f"make_encoder returned a {type(enc).__name__}; return an "
                                "nn.Module, so its parameters are trained")
        blocks = _blocks_in(enc)
        if not blocks:
            raise ExerciseError("no EncoderBlock found inside your module: build it from "
                                "bst_teach.models.bst.EncoderBlock")
        distinct = {id(b) for b in blocks}
        if len(distinct) < n or count_parameters(enc) < n * one_block:
            raise ExerciseError(
                f"make_encoder({n}, ...) has {count_parameters(enc)} parameters, the size of "
                f"{count_parameters(enc) / one_block:.0f} block(s), not {n}. If you wrote "
                "[block] * n, that is one block repeated n times with shared weights: build a "
                "new EncoderBlock for each layer (e.g. ModuleList(EncoderBlock(...) for _ in "
                "range(n))).")
        if len(blocks) != n:
            raise ExerciseError(f"make_encoder({n}, ...) holds {len(blocks)} encoder blocks, "
                                f"expected {n}")
        enc.eval()
        with torch.no_grad():
            try:
                out = enc(s, key_mask)
            except Exception as e:  # noqa: BLE001
                raise ExerciseError(f"encoder(s, key_mask) raised {type(e).__name__}: {e}") from e
            if isinstance(out, tuple):
                raise ExerciseError("encoder(s, key_mask) returned a tuple; return only the "
                                    "tokens (B, T, D) (an EncoderBlock returns (tokens, weights):"
                                    " keep the first)")
            if tuple(out.shape) != (B, T, dim):
                raise ExerciseError(f"output shape {tuple(out.shape)}, expected {(B, T, dim)}")
            expected = s
            for b in blocks:
                expected, _ = b(expected, key_mask)
            if not torch.allclose(out, expected, atol=1e-5):
                # a typical mistake: every block reads the input instead of the previous output
                last_only, _ = blocks[-1](s, key_mask)
                if n > 1 and torch.allclose(out, last_only, atol=1e-5):
                    raise ExerciseError("each block must read the previous block's output "
                                        "(s = block(s, key_mask)[0]); yours all read the input, "
                                        "so only the last block counts")
                raise ExerciseError(f"with {n} block(s) your output differs from applying the "
                                    "blocks one after the other with the key mask")
            # padding must not leak into real tokens
            noisy = s.clone()
            noisy[~key_mask] += 100.0
            out2 = enc(noisy, key_mask)
            if not torch.allclose(out2[key_mask], out[key_mask], atol=1e-4):
                raise ExerciseError("changing the padding tokens changed the real tokens' "
                                    "output: pass key_mask to every block")
    return passed("three separate blocks, each reading the previous one's output, padding "
                  "masked throughout")
